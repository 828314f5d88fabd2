"""The size of a saved pipeline whose encoders share one model (the demo's case).

``MultimodalUnion`` of two ``TextEncoder`` on all-MiniLM-L6-v2 (the review text and
its title, as in ``python -m skmm demo``) + ``LogisticRegression``, fitted on a few
rows and saved with ``joblib.dump``. Printed: the file's size, the size of one
encoder saved alone (one copy of the weights) and their ratio (1.0: the weights are
written once; about 2.0 before skmm wrote each shared model once per file), and
that the loaded pipeline predicts the same and its two encoders share one model.
Run: ``python benchmarks/saved_size.py``.
"""

from __future__ import annotations

import os
import tempfile

import joblib
import numpy as np
import pandas as pd
from _common import load
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skmm import MultimodalUnion, TextEncoder


def main() -> None:
    print(f"saved_size: {load()}")
    X = pd.DataFrame(
        {
            "title": ["Lovely dress", "Too small", "Great fit", "Returned it"],
            "review": ["I love it", "It runs small", "Fits well", "Poor fabric"],
        }
    )
    y = np.array([1, 0, 1, 0])
    union = MultimodalUnion(
        [
            ("text", TextEncoder(device="cpu", max_length=128), "review"),
            ("title", TextEncoder(device="cpu", max_length=32), "title"),
        ]
    )
    model = make_pipeline(union, LogisticRegression()).fit(X, y)
    with tempfile.TemporaryDirectory() as tmp:
        both = os.path.join(tmp, "model.joblib")
        one = os.path.join(tmp, "encoder.joblib")
        joblib.dump(model, both)
        joblib.dump(union.named_transformers_["text"], one)
        both_mb, one_mb = os.path.getsize(both) / 1e6, os.path.getsize(one) / 1e6
        loaded = joblib.load(both)
    encoders = [loaded[0].named_transformers_[n] for n in ("text", "title")]
    shared = encoders[0].model_ is encoders[1].model_
    same = np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    print(f"pipeline with two encoders on MiniLM: {both_mb:.1f} MB")
    print(f"one encoder alone: {one_mb:.1f} MB")
    print(f"ratio: {both_mb / one_mb:.2f} (1.0 = the weights are written once)")
    print(f"loaded: same predictions {same}, one model in memory {shared}")


if __name__ == "__main__":
    main()
