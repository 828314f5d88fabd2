"""What the default ensemble costs: fit time over one concat head, and time_limit.

Run from the project root, WITHOUT ``OMP_NUM_THREADS`` (the candidates scope their
own threads): ``python benchmarks/ensemble_cost.py [--quick] [--rows 1500 10000]
[--cache DIR]``. Every figure prints the machine load beside it.

Data: women's clothing reviews (``../shared/data``), target ``Recommended IND``
(balanced accuracy), a stratified pool of 12,000 reviews (seed 0): 2,000 held out,
training rows the first ``n`` of the other 10,000. Blocks as in
``ensemble_quality.py``: review text and title (all-MiniLM-L6-v2 through a
:class:`~skmm.MultimodalUnion`, cached in ``--cache``), age and feedback count, and
division, department and class through :class:`~skmm.CategoricalEncoder`. The
features are encoded once, before any timing: every fit below reads the same
cached matrix.

Per training size: one ``FusionClassifier("concat")`` fit (the baseline), the
default ``EnsembleClassifier()`` (5 folds, ``class_weight="balanced"``) with its
per-candidate seconds, and ``time_limit`` at 20, 60 and 180 s (seconds taken,
candidates fitted and skipped); each with its held-out score. Then the baseline and
the default ensemble again with two spinning processes beside them (busy cores).
``--quick``: 1,500 rows, 3 folds, no 180 s budget.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REVIEWS, load  # noqa: E402
from skmm import (  # noqa: E402
    CategoricalEncoder,
    EnsembleClassifier,
    FusionClassifier,
    MultimodalUnion,
    TextEncoder,
)

NUMBERS = ["Age", "Positive Feedback Count"]
CATEGORIES = ["Division Name", "Department Name", "Class Name"]
TARGET = "Recommended IND"
POOL, HELD_OUT = 12_000, 2_000


def pool_split(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pool of 10,000 reviews, 2,000 held out), stratified."""
    df = pd.read_parquet(REVIEWS)
    pool, _ = train_test_split(
        df, train_size=POOL, stratify=df[TARGET], random_state=seed
    )
    train, test = train_test_split(
        pool, test_size=HELD_OUT, stratify=pool[TARGET], random_state=seed
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def union(cache: str) -> MultimodalUnion:
    return MultimodalUnion(
        [
            ("text", TextEncoder(max_length=128, device="cpu", cache=cache), "Review Text"),
            ("title", TextEncoder(max_length=32, device="cpu", cache=cache), "Title"),
            ("tab", "passthrough", NUMBERS),
            ("cat", CategoricalEncoder(min_frequency=5), CATEGORIES),
        ]
    ).set_output(transform="pandas")  # fmt: skip


def features(n_train: int, cache: str):
    """Encoded training rows (the first ``n_train`` of the pool) and held-out rows."""
    train, test = pool_split()
    train = train.iloc[:n_train]
    start = time.perf_counter()
    encode = union(cache).fit(train)
    X_train, X_test = encode.transform(train), encode.transform(test)
    print(
        f"{n_train} training + {len(test)} held-out reviews encoded in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return X_train, train[TARGET].to_numpy(), X_test, test[TARGET].to_numpy()
