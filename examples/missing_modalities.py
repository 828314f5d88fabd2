"""Missing modalities: rows without a text, at training and at predict time.

Real tables have holes: 16% of the reviews have no title and 4% no text. This
script trains on the reviews as they are, then removes the review text from a
growing share of the *test* rows (``None``, as a user's table would have it) and
compares how three ways of fusing cope:

- early fusion: the union's ``missing="indicator"`` (zeros + ``text__missing``)
  feeding one logistic regression;
- late fusion: one classifier per modality, averaged over the modalities a row has;
- a neural fusion head: an absent block is masked, and ``modality_dropout`` hides
  modalities at random during training so that the head learns to do without.

Runs offline on the reviews that ship with skmm.

    python examples/missing_modalities.py [n_rows]
"""

import sys
import tempfile

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmm import (
    FusionClassifier,
    LateFusionClassifier,
    MultimodalUnion,
    TextEncoder,
    config_context,
)
from skmm.datasets import load_womens_reviews

n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
X, y = load_womens_reviews(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=n_rows, test_size=n_rows // 2, stratify=y, random_state=0
)
print(
    f"training rows without a title: {X_train['Title'].isna().mean():.0%}, "
    f"without a text: {X_train['Review Text'].isna().mean():.0%}"
)


def union():
    return MultimodalUnion(
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
        ],
        missing="indicator",  # an absent block: zeros + {modality}__missing = 1
    ).set_output(transform="pandas")


linear = LogisticRegression(max_iter=2000, class_weight="balanced")
models = {
    "early fusion (indicator + LR)": make_pipeline(union(), StandardScaler(), linear),
    "late fusion (mean)": make_pipeline(
        union(), LateFusionClassifier(make_pipeline(StandardScaler(), linear))
    ),
    "FusionClassifier, no modality dropout": make_pipeline(
        union(),
        FusionClassifier(
            "gated", modality_dropout=0.0, class_weight="balanced", random_state=0
        ),
    ),
    "FusionClassifier, modality_dropout=0.3": make_pipeline(
        union(),
        FusionClassifier(
            "gated", modality_dropout=0.3, class_weight="balanced", random_state=0
        ),
    ),
}
shares = [0.0, 0.5, 1.0]
rng = np.random.default_rng(0)
order = rng.permutation(len(X_test))
rows = {}
with tempfile.TemporaryDirectory() as cache, config_context(cache=cache):
    # With a cache, each review is encoded once however often it is seen.
    for name, model in models.items():
        model.fit(X_train, y_train)
        scores = []
        for share in shares:
            X_holes = X_test.copy()
            hidden = order[: int(share * len(X_test))]
            X_holes.iloc[hidden, X_holes.columns.get_loc("Review Text")] = None
            scores.append(balanced_accuracy_score(y_test, model.predict(X_holes)))
        rows[name] = scores

table = pd.DataFrame(rows, index=[f"{s:.0%} removed" for s in shares]).T
table.columns.name = "texts"
with pd.option_context(
    "display.width", 120, "display.max_columns", 10, "display.precision", 3
):
    print(f"balanced accuracy on {len(X_test)} test reviews")
    print(table)
