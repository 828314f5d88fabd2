"""GridSearchCV over a multimodal pipeline: no cache vs cold cache vs warm cache.

1,500 rows: the title (text), age, positive feedback count (numbers) and department
(category) of women's clothing reviews, target ``Recommended IND``, plus one grocery
photo per row (the first 1,500 training photos: an image column of real photos; it
carries no signal about the target, which does not matter for timing). The pipeline is
``MultimodalUnion(ImageEncoder + TextEncoder + StandardScaler + OneHotEncoder)`` then
``LogisticRegression``; GridSearchCV tries 6 values of C over 5 folds (30 fits,
``refit=False``), all in this process (``n_jobs=1``: on 2 cores, torch already uses
both).

Models, so that the no-cache run (45,000 image and 45,000 text encodings) fits in 5
minutes on 2 cores: timm's tiny ``test_vit`` (random weights, 160 px) on the photos and,
on the titles, a tiny sentence-transformers model built here (MiniLM's tokenizer, one
random BERT layer of width 32, seed 0). Real models (10 ms per photo for
EfficientNet-Lite0, 7 ms per title for MiniLM on these cores) would make the no-cache
run about 10 minutes longer and the warm/none ratio several times larger: the ratio
here is a lower bound.

Printed, each against the no-cache run in this process: the warm cache (the same
cache, already filled; target: >= 20x faster), the cold cache (empty at the start;
target: not slower than no cache by more than 10%), and, stricter, one encoding pass of
the 1,500 rows into an empty cache against one without a cache (the cost of hashing
and storing). Run: ``python benchmarks/gridsearch_cache.py [n_rows]``.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
import pandas as pd
from _common import REVIEWS, grocery_photos, load
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmm import ImageEncoder, MultimodalUnion, TextEncoder
from skmm.cache import EmbeddingCache
from skmm.encoders._backends import resolve_text_model

GRID = {"logisticregression__C": [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]}


def dataset(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    reviews = pd.read_parquet(REVIEWS).sample(n, random_state=0)
    X = pd.DataFrame(
        {
            "photo": grocery_photos(n),
            "title": reviews["Title"].to_numpy(dtype=object),
            "age": reviews["Age"].to_numpy(dtype=float),
            "feedback": reviews["Positive Feedback Count"].to_numpy(dtype=float),
            "department": reviews["Department Name"].fillna("none").to_numpy(),
        }
    )
    return X, reviews["Recommended IND"].to_numpy()


def tiny_text_model(directory: str) -> str:
    """A one-layer, 32-wide random BERT with MiniLM's tokenizer, saved in
    ``directory`` as a sentence-transformers model."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    minilm = SentenceTransformer(resolve_text_model("all-MiniLM-L6-v2"), device="cpu")
    word = minilm[0]
    config = BertConfig(
        vocab_size=word.model.config.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        word.model = BertModel(config)
    SentenceTransformer(modules=[word, models.Pooling(32)], device="cpu").save(
        directory
    )
    return directory


TEXT_MODEL = ""  # set in main()


def pipeline(cache) -> object:
    union = MultimodalUnion(
        [
            (
                "image",
                ImageEncoder("test_vit", pretrained=False, cache=cache),
                "photo",
            ),
            ("text", TextEncoder(TEXT_MODEL, cache=cache), "title"),
            ("num", StandardScaler(), ["age", "feedback"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["department"]),
        ]
    )
    return make_pipeline(union, LogisticRegression(max_iter=500))


def search(model, X, y) -> tuple[float, float]:
    start = time.perf_counter()
    grid = GridSearchCV(model, GRID, cv=5, refit=False).fit(X, y)
    return time.perf_counter() - start, float(grid.best_score_)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    print(f"gridsearch_cache: {n} rows, 5 folds x 6 candidates, {load()}")
    X, y = dataset(n)
    with tempfile.TemporaryDirectory() as tmp:
        global TEXT_MODEL
        TEXT_MODEL = tiny_text_model(f"{tmp}/tiny-text")
        # Load both models once (the registry shares them), outside every timing.
        pipeline(False)[0].fit(X.head(4))

        # One encoding pass: empty cache vs no cache (the cost of keys and writes).
        union_none = pipeline(False)[0]
        start = time.perf_counter()
        union_none.fit_transform(X)
        one_none = time.perf_counter() - start
        single = EmbeddingCache(f"{tmp}/single")
        start = time.perf_counter()
        pipeline(single)[0].fit_transform(X)
        one_cold = time.perf_counter() - start
        print(
            f"one pass, {n} rows: no cache {one_none:.1f} s, empty cache "
            f"{one_cold:.1f} s, ratio {one_cold / one_none:.3f} (target <= 1.10)"
        )

        none_s, none_score = search(pipeline(False), X, y)
        print(f"no cache: {none_s:.1f} s (best score {none_score:.3f})")
        cache = EmbeddingCache(f"{tmp}/grid")
        cold_s, cold_score = search(pipeline(cache), X, y)
        cold_info = cache.cache_info()
        cache.reset_info()
        print(
            f"cold cache: {cold_s:.1f} s, {cold_s / none_s:.3f} of no cache "
            f"(target <= 1.10); {cold_info}"
        )
        warm = []
        for _ in range(2):
            warm_s, warm_score = search(clone(pipeline(cache)), X, y)
            warm.append(warm_s)
        warm_info = cache.cache_info()
        print(
            f"warm cache: {min(warm):.2f} s (runs "
            + " / ".join(f"{w:.2f}" for w in warm)
            + f"), no cache / warm = {none_s / min(warm):.1f}x (target >= 20x); "
            f"{warm_info}"
        )
        assert none_score == cold_score == warm_score, "the cache changed the scores"
        print(f"{len(cache):,} vectors in the cache; scores identical in all runs")
    print(f"done, {load()}")


if __name__ == "__main__":
    main()
