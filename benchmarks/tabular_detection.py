"""Tabular column types: skmm's hand-written rules vs skrub's TableVectorizer.

The reviews table's tabular columns (Age, Positive Feedback Count, Clothing ID,
Division / Department / Class Name) predict ``Recommended IND``; the text columns
are left out, so that only the tabular preprocessing differs. Two heads:

- linear: skmm's union (``make_multimodal_union(X)``: median-imputed, standardised
  numbers, one-hot categories) + StandardScaler + LogisticRegression, against
  ``skrub.tabular_pipeline(LogisticRegression)`` (TableVectorizer, imputer,
  scaler);
  and, to tell the vectorizer from the scaling, TableVectorizer + imputer +
  StandardScaler ("TV+std", the same head as skmm's) and skmm's union + skrub's
  SquashingScaler ("skmm+sq");
- trees: skmm's union with ``categories="native"`` (raw numbers, categorical
  codes) + HistGradientBoosting(categorical_features="from_dtype"), against
  ``skrub.tabular_pipeline(HistGradientBoosting)`` (TableVectorizer with
  categories as ``category``).

Each on the table as read (typed columns) and with every column as strings (a CSV
read without type inference: numbers and identifiers stored as strings). Stratified
5-fold ROC AUC and balanced accuracy, mean ± std, and fit seconds per fold; the
ratio is skrub / skmm. Run with ``OMP_NUM_THREADS=1`` on a busy machine::

    OMP_NUM_THREADS=1 python benchmarks/tabular_detection.py [n_rows=23486]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from _common import REVIEWS
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import make_multimodal_union

COLUMNS = [
    "Age",
    "Positive Feedback Count",
    "Clothing ID",
    "Division Name",
    "Department Name",
    "Class Name",
]


def models(X: pd.DataFrame) -> dict[str, object]:
    import skrub

    linear = LogisticRegression(max_iter=2000, class_weight="balanced")
    trees = HistGradientBoostingClassifier(
        categorical_features="from_dtype", class_weight="balanced", random_state=0
    )
    return {
        "linear skmm": make_pipeline(
            make_multimodal_union(X), StandardScaler(), linear
        ),
        "linear skrub": skrub.tabular_pipeline(linear),
        # The vectorizer alone, with skmm's scaling: the same head on either side.
        "linear TV+std": make_pipeline(
            skrub.TableVectorizer(), SimpleImputer(), StandardScaler(), linear
        ),
        # skmm's blocks with skrub's scaling.
        "linear skmm+sq": make_pipeline(
            make_multimodal_union(X),
            skrub.SquashingScaler(max_absolute_value=5),
            linear,
        ),
        "trees skmm": make_pipeline(
            make_multimodal_union(X, categories="native"), trees
        ),
        "trees skrub": skrub.tabular_pipeline(trees),
    }


def main(n_rows: int) -> None:
    import os
    import warnings

    # Categories first seen in a test fold: encoded as zeros, as intended.
    warnings.filterwarnings("ignore", message="Found unknown categories")

    table = pd.read_parquet(REVIEWS)
    table = table.sample(n=min(n_rows, len(table)), random_state=0)
    y = table["Recommended IND"].to_numpy()
    typed = table[COLUMNS].reset_index(drop=True)
    strings = typed.astype(str)
    print(
        f"{len(y)} rows, {y.mean():.3f} positive; load {os.getloadavg()[0]:.2f}; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for label, X in (("typed", typed), ("strings", strings)):
        results = {}
        for name, model in models(X).items():
            scores = cross_validate(
                model, X, y, cv=folds, scoring=["roc_auc", "balanced_accuracy"]
            )
            results[name] = scores
            auc, bacc = scores["test_roc_auc"], scores["test_balanced_accuracy"]
            print(
                f"{label:<8} {name:<14} ROC AUC {auc.mean():.4f} ± {auc.std():.4f}  "
                f"balanced accuracy {bacc.mean():.4f} ± {bacc.std():.4f}  "
                f"fit {np.mean(scores['fit_time']):.2f} s"
            )
        pairs = [("linear", "skrub"), ("linear", "TV+std"), ("trees", "skrub")]
        for head, other in pairs:
            ours, theirs = results[f"{head} skmm"], results[f"{head} {other}"]
            delta = theirs["test_roc_auc"] - ours["test_roc_auc"]
            ratio = np.mean(theirs["fit_time"]) / np.mean(ours["fit_time"])
            print(
                f"{label:<8} {head:<6} {other} - skmm ROC AUC {delta.mean():+.4f} "
                f"(per fold {', '.join(f'{d:+.4f}' for d in delta)}); fit time "
                f"{other} / skmm {ratio:.2f}"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 23486)
