"""3-fold cross-validation with skmm's default cache: memory vs none vs disk.

A user who sets nothing gets the in-process memory store (``skmm.set_config``'s
``cache=None``): the folds encode each item once. Measured here, in one process,
on the same rows: ``cross_validate(cv=3)`` of ``MultimodalUnion(TextEncoder(MiniLM)
on the review text + StandardScaler on two numbers) + LogisticRegression``, with

- the default memory store (emptied first),
- no cache (``skmm.config_context(cache=False)``: every fold encodes again),
- a disk cache (an empty ``EmbeddingCache`` directory, as ``SKMM_CACHE=DIR`` gives).

Printed: each wall time (after an untimed pass that loads the model and encodes
every text once; modes alternate, best of ``rounds``) and the ratios none/memory and
disk/memory. Rows: the first
``n_rows`` (default 300) women's clothing reviews (``Review Text``, ``Age``,
``Positive Feedback Count``; target ``Recommended IND``), texts up to 128 tokens.
Run: ``OMP_NUM_THREADS=1 python benchmarks/cv_default_cache.py [n_rows] [rounds]``.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import pandas as pd
from _common import REVIEWS, load
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmm
from skmm import MultimodalUnion, TextEncoder
from skmm.cache import EmbeddingCache, default_memory_cache


def dataset(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    reviews = pd.read_parquet(REVIEWS).dropna(subset=["Review Text"]).head(n)
    X = pd.DataFrame(
        {
            "review": reviews["Review Text"].to_numpy(dtype=object),
            "age": reviews["Age"].to_numpy(dtype=float),
            "feedback": reviews["Positive Feedback Count"].to_numpy(dtype=float),
        }
    )
    return X, reviews["Recommended IND"].to_numpy()


def pipeline():
    union = MultimodalUnion(
        [
            ("text", TextEncoder(device="cpu", max_length=128), "review"),
            ("num", StandardScaler(), ["age", "feedback"]),
        ]
    )
    return make_pipeline(union, LogisticRegression(max_iter=500))


def timed(X, y) -> tuple[float, float]:
    start = time.perf_counter()
    scores = cross_validate(pipeline(), X, y, cv=3, error_score="raise")
    return time.perf_counter() - start, float(scores["test_score"].mean())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    X, y = dataset(n)
    print(f"cv_default_cache: {n} reviews, 3 folds, {rounds} rounds, {load()}")
    store = default_memory_cache()
    best: dict[str, float] = {}
    scores: set[float] = set()
    with skmm.config_context(progress=False):
        # Untimed: the model loads and every text goes through it once.
        with skmm.config_context(cache=False):
            pipeline().fit(X, y)
        for round_ in range(rounds):
            store.clear()
            with skmm.config_context(cache=None):
                seconds, score = timed(X, y)
            print(f"round {round_}: memory store (default) {seconds:.1f} s")
            best["memory"] = min(best.get("memory", seconds), seconds)
            scores.add(score)
            with skmm.config_context(cache=False):
                seconds, score = timed(X, y)
            print(f"round {round_}: no cache (cache=False) {seconds:.1f} s")
            best["none"] = min(best.get("none", seconds), seconds)
            scores.add(score)
            with tempfile.TemporaryDirectory() as tmp:
                disk = EmbeddingCache(tmp)
                with skmm.config_context(cache=disk):
                    seconds, score = timed(X, y)
                disk.close()
            print(f"round {round_}: disk cache (empty dir) {seconds:.1f} s")
            best["disk"] = min(best.get("disk", seconds), seconds)
            scores.add(score)
    assert len(scores) == 1, f"the scores must not change: {scores}"
    print(
        f"best of {rounds}: memory {best['memory']:.1f} s, none {best['none']:.1f} s, "
        f"disk {best['disk']:.1f} s"
    )
    print(f"none / memory: {best['none'] / best['memory']:.2f}x slower without a cache")
    print(f"disk / memory: {best['disk'] / best['memory']:.2f}")
    print(f"mean test score {scores.pop():.4f} in every run; {load()}")


if __name__ == "__main__":
    main()
