"""Pipeline + GridSearchCV + joblib: tune a multimodal model, save it, load it.

The search tunes the head *and* which modalities the model reads: a union block set
to "drop" leaves that modality out, so one grid compares text alone with text +
title + tabular. An embedding cache makes the search encode each review once, not
once per fold and candidate. Runs offline on the reviews that ship with skmm.

    python examples/gridsearch_and_save.py [n_rows]
"""

import sys
import tempfile
import time

import joblib
from sklearn.compose import make_column_transformer
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmm import FusionClassifier, MultimodalUnion, TextEncoder, config_context
from skmm.datasets import load_womens_reviews

n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
X, y = load_womens_reviews(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=n_rows, test_size=n_rows // 2, stratify=y, random_state=0
)

tabular = make_column_transformer(
    (StandardScaler(), ["Age"]),
    # Dense output: the union's pandas output cannot hold a sparse matrix.
    (OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["Department Name"]),
)
union = MultimodalUnion(
    [
        ("text", TextEncoder(max_length=128), "Review Text"),
        ("title", TextEncoder(max_length=32), "Title"),
        ("tab", tabular, ["Age", "Department Name"]),
    ]
).set_output(transform="pandas")  # the fusion head reads the blocks by name
model = make_pipeline(union, FusionClassifier(class_weight="balanced", random_state=0))

grid = [
    {  # which modalities: text alone, or all three
        "multimodalunion__title": ["drop", union.transformers[1][1]],
        "multimodalunion__tab": ["drop", tabular],
        "fusionclassifier__fusion": ["concat"],
    },
    {  # how to fuse all three
        "fusionclassifier__fusion": ["gated", "attention"],
        "fusionclassifier__hidden": [32, 64],
    },
]
search = GridSearchCV(model, grid, cv=3, scoring="balanced_accuracy")
start = time.perf_counter()
with tempfile.TemporaryDirectory() as cache, config_context(cache=cache):
    # Every encoder in the search looks vectors up here before computing them.
    search.fit(X_train, y_train)
n_candidates = len(search.cv_results_["params"])
print(f"{n_candidates} candidates x 3 folds in {time.perf_counter() - start:.0f} s")


def short(value):
    return value if isinstance(value, (str, int)) else type(value).__name__


for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(f"  {score:.3f}", {k.split("__")[1]: short(v) for k, v in params.items()})
best_params = {k.split("__")[1]: short(v) for k, v in search.best_params_.items()}
print(f"best: {best_params}, cv balanced accuracy {search.best_score_:.3f}")

best = search.best_estimator_
score = balanced_accuracy_score(y_test, best.predict(X_test))
print(f"balanced accuracy on {len(X_test)} held-out reviews: {score:.3f}")

# The saved file holds the encoders' weights and the head: it loads offline.
joblib.dump(best, "gridsearch_best.joblib")
reloaded = joblib.load("gridsearch_best.joblib")
assert (reloaded.predict(X_test) == best.predict(X_test)).all()
print("saved to gridsearch_best.joblib and reloaded: identical predictions")
