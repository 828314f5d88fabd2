"""Multi-task: one fused model predicts two targets at once.

From a review's text, title, and the shopper's age and product category,
``FusionMultiTask`` predicts whether the shopper recommends the product
(classification) and the star rating (regression, 1-5) with one shared fused trunk
and one output per target. A third of the ratings are hidden from training (NaN):
a row with an unknown target only leaves that task's loss out. Compared with one
FusionClassifier and one FusionRegressor trained separately.

Runs offline on the reviews that ship with skmm.

    python examples/multitask.py [n_rows]
"""

import sys
import tempfile

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.metrics import balanced_accuracy_score, mean_absolute_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmm import (
    FusionClassifier,
    FusionMultiTask,
    FusionRegressor,
    MultimodalUnion,
    TextEncoder,
    config_context,
)
from skmm.datasets import load_womens_reviews

n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
X, rating = load_womens_reviews(target="Rating", return_X_y=True)
_, recommended = load_womens_reviews(return_X_y=True)  # same rows, other target
y = pd.DataFrame({"recommended": recommended, "rating": rating.astype(float)})
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=n_rows, test_size=n_rows // 2, random_state=0
)
y_train = y_train.copy()
hidden = np.random.default_rng(0).random(len(y_train)) < 1 / 3
y_train.loc[hidden, "rating"] = np.nan  # unknown for a third of the rows

union = MultimodalUnion(
    [
        ("text", TextEncoder(max_length=128), "Review Text"),
        ("title", TextEncoder(max_length=32), "Title"),
        (
            "tab",
            make_column_transformer(
                (StandardScaler(), ["Age"]),
                (
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    ["Department Name"],
                ),
            ),
            ["Age", "Department Name"],
        ),
    ]
).set_output(transform="pandas")

with tempfile.TemporaryDirectory() as cache, config_context(cache=cache):
    # Three models over the same reviews: each is encoded once.
    both = make_pipeline(
        union,
        FusionMultiTask(
            "gated",
            tasks={"recommended": "classification", "rating": "regression"},
            random_state=0,
        ),
    ).fit(X_train, y_train)
    predicted = both.predict(X_test)  # a DataFrame, one column per target

    known = y_train["rating"].notna()
    separate_class = make_pipeline(
        union, FusionClassifier("gated", random_state=0)
    ).fit(X_train, y_train["recommended"])
    separate_rating = make_pipeline(
        union, FusionRegressor("gated", random_state=0)
    ).fit(X_train[known], y_train.loc[known, "rating"])

print(
    f"{len(X_train)} training rows, {hidden.sum()} without a rating; "
    f"{len(X_test)} test rows"
)
results = {
    "FusionMultiTask (one model)": (predicted["recommended"], predicted["rating"]),
    "two single-task models": (
        separate_class.predict(X_test),
        separate_rating.predict(X_test),
    ),
    "always the majority / mean": (
        np.full(len(y_test), y_train["recommended"].mode()[0]),
        np.full(len(y_test), y_train["rating"].mean()),
    ),
}
print(f"{'model':<30}{'recommended: bal. acc.':>24}{'rating: MAE':>14}")
for name, (label, stars) in results.items():
    accuracy = balanced_accuracy_score(y_test["recommended"], label)
    error = mean_absolute_error(y_test["rating"], stars)
    print(f"{name:<30}{accuracy:>24.3f}{error:>14.3f}")
