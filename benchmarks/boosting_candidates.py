"""LightGBM and CatBoost as ensemble candidates: seconds per fold fit and score.

Run from the project root, WITHOUT ``OMP_NUM_THREADS`` (the candidates scope their
own threads): ``python benchmarks/boosting_candidates.py [--rows 1200] [--cache
DIR]``. Needs ``pip install skmm[boosting]``.

Data: women's clothing reviews (``../shared/data``), target ``Recommended IND``, a
stratified draw of ``--rows`` reviews (seed 0) encoded as in
``ensemble_quality.py`` (review text and title through all-MiniLM-L6-v2, cached in
``--cache``; age and feedback count; division, department and class as
categories). Every candidate is fitted by ``EnsembleClassifier(candidates=[...],
refit=False)`` on the same 5 folds, so each reads exactly the view the default
ensemble gives it (the tabular blocks with native categories, or every block
with each embedding projected to 16 components), with ``class_weight="balanced"``.
Printed per candidate and setting: seconds per fold fit (the mean of 5), the
out-of-fold balanced accuracy and log loss, and the machine load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import load  # noqa: E402
from benchmarks.ensemble_quality import reviews_frame  # noqa: E402
from skmm import EnsembleClassifier  # noqa: E402
from skmm.ensemble import BoostedTreesClassifier  # noqa: E402
from skmm.ensemble._views import EmbeddingProjection  # noqa: E402

FOLDS = 5


def settings(seed: int) -> dict[str, object]:
    """Name -> a tree estimator (before the projection)."""

    def lgbm(**kw):
        return BoostedTreesClassifier(
            "lightgbm", class_weight="balanced", random_state=seed, **kw
        )

    def cat(**kw):
        return BoostedTreesClassifier(
            "catboost", class_weight="balanced", random_state=seed, **kw
        )

    return {
        "hgb": HistGradientBoostingClassifier(
            class_weight="balanced", random_state=seed
        ),
        "lgbm 300 es": lgbm(),
        "lgbm 100": lgbm(n_estimators=100, early_stopping=False),
        "lgbm 500 lr.05 es": lgbm(n_estimators=500, learning_rate=0.05),
        "lgbm 300 es 15 leaves": lgbm(params={"num_leaves": 15}),
        "lgbm 300 es 7 leaves": lgbm(params={"num_leaves": 7}),
        "cat 300 es": cat(),
        "cat 300 es d4": cat(max_depth=4),
        "cat 100": cat(n_estimators=100, early_stopping=False),
        "cat 100 d4 lr.1": cat(
            n_estimators=100, max_depth=4, learning_rate=0.1, early_stopping=False
        ),  # fmt: skip
        "cat 200 d4 lr.1": cat(
            n_estimators=200, max_depth=4, learning_rate=0.1, early_stopping=False
        ),  # fmt: skip
        "cat 500 lr.05 es": cat(n_estimators=500, learning_rate=0.05),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1200)
    parser.add_argument("--cache", help="embedding cache folder (default: temporary)")
    parser.add_argument("--only", nargs="+", help="setting names to run")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="skmm-bench-") as scratch:
        X, y, _ = reviews_frame(args.rows, args.cache or scratch)
    rows = []
    for name, tree in settings(0).items():
        if args.only and name not in args.only:
            continue
        for view, est, blocks in [
            ("tabular", tree, "tabular"),
            (
                "projected",
                make_pipeline(EmbeddingProjection(16, random_state=0), tree),
                "all",
            ),
        ]:
            ens = EnsembleClassifier(
                [(view, est, blocks)],
                cv=FOLDS,
                refit=False,
                scoring="balanced_accuracy",
                random_state=0,
                verbose=0,
            ).fit(X, y)
            board = ens.leaderboard_.set_index("candidate").loc[view]
            proba = ens.oof_predictions_[view]
            row = {
                "setting": name,
                "view": view,
                "s per fold fit": board["fit_s"] / FOLDS,
                "oof balanced acc": board["score"],
                "oof log loss": log_loss(y, np.clip(proba, 1e-7, 1)),
            }
            print(
                f"{name:<26}{view:<10}{row['s per fold fit']:>7.2f} s"
                f"{row['oof balanced acc']:>8.4f}{row['oof log loss']:>8.4f}; {load()}"
            )
            rows.append(row)
    print("\n" + pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
