"""3-fold cross-validation with skmm's default cache: memory vs none vs disk.

A user who sets nothing gets the in-process memory store (``skmm.set_config``'s
``cache=None``): the folds encode each item once. Measured here, in one process,
on the same rows: ``cross_validate(cv=3)`` of ``MultimodalUnion(TextEncoder(MiniLM)
on the review text + StandardScaler on two numbers) + LogisticRegression``, with

- the default memory store (emptied first),
- no cache (``skmm.config_context(cache=False)``: every fold encodes again),
- a disk cache (an empty ``EmbeddingCache`` directory, as ``SKMM_CACHE=DIR`` gives).

Printed: each wall time and the ratios none/memory and disk/memory. Rows: the first
``n_rows`` (default 300) women's clothing reviews (``Review Text``, ``Age``,
``Positive Feedback Count``; target ``Recommended IND``), texts up to 128 tokens.
Run: ``OMP_NUM_THREADS=1 python benchmarks/cv_default_cache.py [n_rows]``.
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
    X, y = dataset(n)
    print(f"cv_default_cache: {n} reviews, 3 folds, {load()}")
    TextEncoder(device="cpu").fit(["warm up"])  # the model loads once, untimed
    with skmm.config_context(progress=False):
        store = default_memory_cache()
        store.clear()
        with skmm.config_context(cache=None):
            memory_s, memory_score = timed(X, y)
        print(f"memory store (default): {memory_s:.1f} s, {store.cache_info()}")
        with skmm.config_context(cache=False):
            none_s, none_score = timed(X, y)
        print(f"no cache (cache=False): {none_s:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            disk = EmbeddingCache(tmp)
            with skmm.config_context(cache=disk):
                disk_s, disk_score = timed(X, y)
            print(f"disk cache (empty dir): {disk_s:.1f} s, {disk.cache_info()}")
    assert memory_score == none_score == disk_score, "the scores must not change"
    print(f"none / memory: {none_s / memory_s:.2f}x slower without a cache")
    print(f"disk / memory: {disk_s / memory_s:.2f}")
    print(f"mean test score {memory_score:.4f} in all three")


if __name__ == "__main__":
    main()
