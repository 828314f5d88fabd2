"""Ensemble quality: does the out-of-fold ensemble beat its best single candidate?

Run from the project root, one core for torch (the 2 cores are shared):
``OMP_NUM_THREADS=1 python benchmarks/ensemble_quality.py [--quick] [--tasks ...]``.

Three tasks, each split once into a stratified training three quarters and a
held-out quarter (seed 0):

1. **reviews**: 2,000 women's clothing reviews (``../shared/data``), target
   ``Recommended IND`` (balanced accuracy). Blocks: the review text and the title
   (all-MiniLM-L6-v2 through a :class:`~skmm.MultimodalUnion`; missing ones masked),
   ``tab`` = age and feedback count as raw numbers, ``cat`` = division, department
   and class through :class:`~skmm.CategoricalEncoder`.
2. **digits**: audio-visual digits (AV-MNIST style, as ``fusion_quality.py``): each
   FSDD recording paired with an MNIST image of the same digit (seed 0); the 784
   pixels and 81 spectral statistics of the recording (accuracy).
3. **synthetic**: a tree's home ground with a weaker signal in real embeddings.
   The reviews' text and title embeddings (real), five tabular columns drawn here
   (four numbers, one 6-way category) and a binary target
   ``1[sin(2 x1) * (x2 > 0) + 0.8 * (c in {0, 3}) - 0.5 * x3**2 + 0.9 * (2 r - 1)
   + noise > median]`` where ``r`` is the review's real ``Recommended IND``, which
   only the text blocks know (balanced accuracy).

Per task: the default ensemble (``EnsembleClassifier()``, 5 folds, selection under
the task's metric) is fitted once keeping every candidate's fold models
(``refit=False``) and once refitting the chosen ones (``refit=True``, the default).
Printed: every candidate's out-of-fold score and held-out score (its fold models
averaged), its weight, the ensemble's scores both ways, and the ratios of the
ensemble's scores to the best single candidate's. On the reviews it also times the
default and the ``"fast"`` ensemble against one ``FusionClassifier`` fit on the same
features.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import REVIEWS, load  # noqa: E402
from benchmarks.fusion_quality import digits_blocks  # noqa: E402
from skmm import (  # noqa: E402
    CategoricalEncoder,
    EnsembleClassifier,
    FusionClassifier,
    MultimodalUnion,
    TextEncoder,
)

NUMBERS = ["Age", "Positive Feedback Count"]
CATEGORIES = ["Division Name", "Department Name", "Class Name"]


def reviews_frame(n_rows: int, cache: str, seed: int = 0):
    df = pd.read_parquet(REVIEWS)
    df, _ = train_test_split(
        df, train_size=n_rows, stratify=df["Recommended IND"], random_state=seed
    )
    df = df.reset_index(drop=True)
    union = MultimodalUnion(
        [
            (
                "text",
                TextEncoder(max_length=128, device="cpu", cache=cache),
                "Review Text",
            ),
            ("title", TextEncoder(max_length=32, device="cpu", cache=cache), "Title"),
            ("tab", "passthrough", NUMBERS),
            ("cat", CategoricalEncoder(min_frequency=5), CATEGORIES),
        ]
    ).set_output(transform="pandas")
    start = time.perf_counter()
    X = union.fit_transform(df)
    print(f"reviews: {len(df)} rows encoded in {time.perf_counter() - start:.0f} s")
    return X, df["Recommended IND"].to_numpy(), df


def digits_frame(n_rows: int | None):
    blocks, y = digits_blocks(n_rows)
    parts = [
        pd.DataFrame(v, columns=[f"{k}__{i:04d}" for i in range(v.shape[1])])
        for k, v in blocks.items()
    ]
    return pd.concat(parts, axis=1), y


def synthetic_frame(X_reviews: pd.DataFrame, recommended: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = len(X_reviews)
    x = rng.normal(size=(n, 4))
    c = rng.integers(0, 6, n)
    signal = (
        np.sin(2 * x[:, 0]) * (x[:, 1] > 0)
        + 0.8 * np.isin(c, [0, 3])
        - 0.5 * x[:, 2] ** 2
        + 0.9 * (2 * recommended - 1)
        + rng.normal(0, 0.5, n)
    )
    y = (signal > np.median(signal)).astype(int)
    media = [col for col in X_reviews.columns if col.startswith(("text__", "title__"))]
    X = X_reviews[media].copy()
    for j in range(4):
        X[f"tab__x{j + 1}"] = x[:, j]
    X["cat__c"] = pd.Categorical(c, categories=range(6))
    return X, y


def run_task(name, X, y, scoring, *, cv, class_weight, seed=0):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    print(
        f"\n== {name}: {len(X_train)} training rows, {len(X_test)} held out, "
        f"{scoring}; {load()}"
    )
    common = dict(
        cv=cv,
        scoring=scoring,
        class_weight=class_weight,
        random_state=seed,
        device="cpu",
        verbose=0,
    )
    start = time.perf_counter()
    kept = EnsembleClassifier(refit=False, **common).fit(X_train, y_train)
    kept_s = time.perf_counter() - start
    start = time.perf_counter()
    refit = EnsembleClassifier(**common).fit(X_train, y_train)
    refit_s = time.perf_counter() - start
    held = kept.score_candidates(X_test, y_test).set_index("candidate")["score"]
    board = kept.leaderboard_.set_index("candidate")
    refit_score = refit.score(X_test, y_test)
    print(
        f"{'candidate':<22}{'blocks':<26}{'oof':>8}{'held-out':>10}{'weight':>8}"
        f"{'fit s':>8}"
    )
    for cand, row in board.drop(index="ensemble").iterrows():
        print(
            f"{cand:<22}{row['blocks']:<26}{row['score']:>8.4f}{held[cand]:>10.4f}"
            f"{row['weight']:>8.2f}{row['fit_s']:>8.1f}"
        )
    singles = board.drop(index="ensemble")
    best_oof = singles["score"].max()
    best_held = held.drop(index="ensemble").max()
    print(
        f"{'ensemble (fold models)':<48}{kept.oof_score_:>8.4f}{held['ensemble']:>10.4f}"
        f"{'':>8}{kept_s:>8.1f}"
    )
    print(
        f"{'ensemble (refit)':<48}{refit.oof_score_:>8.4f}{refit_score:>10.4f}"
        f"{'':>8}{refit_s:>8.1f}"
    )
    print(
        f"ratio ensemble / best single: out of fold {kept.oof_score_ / best_oof:.4f}; "
        f"held-out {held['ensemble'] / best_held:.4f} (fold models), "
        f"{refit_score / best_held:.4f} (refit); best single held-out "
        f"{best_held:.4f} ({held.drop(index='ensemble').idxmax()})"
    )
    return {
        "task": name,
        "best_single_oof": best_oof,
        "ensemble_oof": kept.oof_score_,
        "best_single_held_out": best_held,
        "ensemble_held_out_fold_models": held["ensemble"],
        "ensemble_held_out_refit": refit_score,
    }


def cost(X, y, seed=0):
    """Wall time of the ensembles against one FusionClassifier fit."""
    print(f"\n== cost on the reviews ({len(X)} rows, cached features); {load()}")
    timings = {}
    for label, make in [
        (
            "FusionClassifier('concat')",
            lambda: FusionClassifier(
                "concat", class_weight="balanced", device="cpu", random_state=seed
            ),
        ),
        (
            "FusionClassifier('gated')",
            lambda: FusionClassifier(
                "gated", class_weight="balanced", device="cpu", random_state=seed
            ),
        ),
        (
            "EnsembleClassifier(preset='fast')",
            lambda: EnsembleClassifier(
                preset="fast",
                scoring="balanced_accuracy",
                class_weight="balanced",
                random_state=seed,
                device="cpu",
                verbose=0,
            ),
        ),
        (
            "EnsembleClassifier()",
            lambda: EnsembleClassifier(
                scoring="balanced_accuracy",
                class_weight="balanced",
                random_state=seed,
                device="cpu",
                verbose=0,
            ),
        ),
    ]:
        start = time.perf_counter()
        make().fit(X, y)
        timings[label] = time.perf_counter() - start
    base = timings["FusionClassifier('concat')"]
    for label, seconds in timings.items():
        print(f"{label:<36}{seconds:>8.1f} s  {seconds / base:>6.1f}x")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rows, 3 folds")
    parser.add_argument(
        "--tasks", nargs="+", default=["reviews", "digits", "synthetic", "cost"]
    )
    parser.add_argument("--cache", help="embedding cache folder (default: temporary)")
    args = parser.parse_args(argv)
    n_reviews, n_digits, cv = (800, 600, 3) if args.quick else (2000, 1500, 5)
    results = []
    with tempfile.TemporaryDirectory(prefix="skmm-bench-") as scratch:
        cache = args.cache or scratch
        if {"reviews", "synthetic", "cost"} & set(args.tasks):
            X_rev, y_rev, _ = reviews_frame(n_reviews, cache)
        if "reviews" in args.tasks:
            results.append(
                run_task(
                    "reviews",
                    X_rev,
                    y_rev,
                    "balanced_accuracy",
                    cv=cv,
                    class_weight="balanced",
                )
            )
        if "digits" in args.tasks:
            X_dig, y_dig = digits_frame(n_digits)
            results.append(
                run_task("digits", X_dig, y_dig, "accuracy", cv=cv, class_weight=None)
            )
        if "synthetic" in args.tasks:
            X_syn, y_syn = synthetic_frame(X_rev, y_rev)
            results.append(
                run_task(
                    "synthetic",
                    X_syn,
                    y_syn,
                    "balanced_accuracy",
                    cv=cv,
                    class_weight=None,
                )
            )
        if "cost" in args.tasks:
            cost(X_rev, y_rev)
    if results:
        table = pd.DataFrame(results).set_index("task")
        print("\n" + table.round(4).to_string())


if __name__ == "__main__":
    main()
