"""Quickstart: text + tabular columns in one scikit-learn pipeline.

Predict whether a shopper recommends a dress from the review's text and the
product's category, with a frozen sentence encoder and a logistic regression.
Runs offline: the data ships with skmm, the encoder with ``skmm[demo]``.

    python examples/quickstart.py [n_rows]
"""

import sys

import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from skmm import MultimodalUnion, TextEncoder
from skmm.datasets import load_womens_reviews

n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 600
X, y = load_womens_reviews(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=n_rows, test_size=n_rows // 2, stratify=y, random_state=0
)

model = make_pipeline(
    MultimodalUnion(
        [
            # Each block's name is its modality: output columns are text__0000, ...
            ("text", TextEncoder(), "Review Text"),  # a missing review is no error
            ("tab", OneHotEncoder(handle_unknown="ignore"), ["Department Name"]),
        ]
    ),
    LogisticRegression(max_iter=2000, class_weight="balanced"),
)
model.fit(X_train, y_train)
score = balanced_accuracy_score(y_test, model.predict(X_test))
print(f"balanced accuracy on {len(X_test)} held-out reviews: {score:.3f}")

union = model[0]
print("blocks:", {name: (s.start, s.stop) for name, s in union.output_indices_.items()})
print("modalities:", union.modalities_)

# The saved file holds the encoder's weights: it loads offline, anywhere.
joblib.dump(model, "quickstart.joblib")
reloaded = joblib.load("quickstart.joblib")
assert (reloaded.predict(X_test) == model.predict(X_test)).all()
print("saved to quickstart.joblib and reloaded: identical predictions")
