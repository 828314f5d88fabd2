"""Caching a grid search: each review is encoded once, not once per fit.

GridSearchCV refits the whole pipeline, encoders included, for every candidate and
every fold, so a frozen encoder computes the same vectors again and again. With an
embedding cache (``cache=`` on the encoder, or ``skmm.set_config(cache=...)`` for all
of them) every fit after the first looks the vectors up by the item's content.
This script runs the same search three times: without a cache, with an empty
cache, and again with the now-filled cache (a second session, or a bigger grid),
and checks that the scores are identical.

Runs offline on the reviews that ship with skmm.

    python examples/cached_grid_search.py [n_rows]
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from skmm import EmbeddingCache, FusionClassifier, MultimodalUnion, TextEncoder
from skmm.datasets import load_womens_reviews

n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 600
X, y = load_womens_reviews(return_X_y=True)
X, _, y, _ = train_test_split(X, y, train_size=n_rows, stratify=y, random_state=0)


def search(cache):
    union = MultimodalUnion(
        [
            ("text", TextEncoder(max_length=128, cache=cache), "Review Text"),
            ("title", TextEncoder(max_length=32, cache=cache), "Title"),
        ]
    ).set_output(transform="pandas")
    model = make_pipeline(union, FusionClassifier(max_epochs=30, random_state=0))
    grid = {
        "fusionclassifier__fusion": ["concat", "gated"],
        "fusionclassifier__hidden": [32, 64],
    }
    return GridSearchCV(model, grid, cv=3, scoring="balanced_accuracy").fit(X, y)


print(f"4 candidates x 3 folds + refit on {len(X)} reviews (text and title)")
start = time.perf_counter()
plain = search(cache=False)
seconds = {"no cache": time.perf_counter() - start}
with tempfile.TemporaryDirectory() as directory:
    cache = EmbeddingCache(directory)
    for run in ("empty cache", "filled cache"):
        cache.reset_info()
        start = time.perf_counter()
        cached = search(cache=cache)
        seconds[run] = time.perf_counter() - start
        info = cache.cache_info()
        print(f"  {run}: {info.misses} vectors computed, {info.hits} looked up")
        np.testing.assert_allclose(
            cached.cv_results_["mean_test_score"],
            plain.cv_results_["mean_test_score"],
            atol=1e-6,
        )
    on_disk = sum(f.stat().st_size for f in Path(directory).rglob("*") if f.is_file())
    print(f"  {len(cache)} vectors stored, {on_disk / 1e6:.1f} MB on disk")
for run, value in seconds.items():
    print(f"{run:>13}: {value:5.1f} s  ({seconds['no cache'] / value:.1f}x)")
print("identical cross-validation scores with and without the cache")
