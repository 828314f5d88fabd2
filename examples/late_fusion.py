"""Late fusion: one model per modality, combined at the decision.

``LateFusionClassifier`` fits one classifier per modality block on the rows that
have it and averages their probabilities over the modalities each row has
(``combiner="mean"``, with optional ``weights``), or learns the combination from
out-of-fold probabilities (``combiner="stacking"``). Each modality may get its own
estimator: here gradient boosting for the tabular columns, logistic regression for
the two texts. ``modality_ablation`` then shows what each modality adds.

Runs offline on the reviews that ship with skmm.

    python examples/late_fusion.py [n_rows]
"""

import sys
import tempfile

from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler

from skmm import LateFusionClassifier, MultimodalUnion, TextEncoder, config_context
from skmm.datasets import load_womens_reviews
from skmm.inspection import modality_ablation

n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1500


X, y = load_womens_reviews(return_X_y=True)
X, _, y, _ = train_test_split(X, y, train_size=n_rows, stratify=y, random_state=0)
categories = ["Division Name", "Department Name", "Class Name"]

union = MultimodalUnion(
    [
        ("text", TextEncoder(max_length=128), "Review Text"),
        ("title", TextEncoder(max_length=32), "Title"),
        (
            "tab",
            make_column_transformer(
                (SimpleImputer(strategy="median"), ["Age", "Positive Feedback Count"]),
                (
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=-1,
                        encoded_missing_value=-1,
                    ),
                    categories,
                ),
            ),
            ["Age", "Positive Feedback Count", *categories],
        ),
    ]
).set_output(transform="pandas")  # the late-fusion head reads the blocks by name


def linear():
    return make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced")
    )


heads = {
    "mean": LateFusionClassifier(linear()),
    "mean, boosting for tab": LateFusionClassifier(
        linear(),
        estimators={"tab": HistGradientBoostingClassifier(class_weight="balanced")},
    ),
    "mean, weights text 2 title 2 tab 1": LateFusionClassifier(
        linear(), weights={"text": 2, "title": 2, "tab": 1}
    ),
    "stacking": LateFusionClassifier(linear(), combiner="stacking"),
}
with tempfile.TemporaryDirectory() as cache, config_context(cache=cache):
    # Cross-validation refits the union on every fold: the cache encodes each
    # review once for all folds and all four heads.
    print(f"5-fold balanced accuracy on {len(X)} reviews")
    for name, head in heads.items():
        scores = cross_val_score(
            make_pipeline(union, head), X, y, cv=5, scoring="balanced_accuracy"
        )
        print(f"  {name:<36} {scores.mean():.3f} ± {scores.std():.3f}")

    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    model = make_pipeline(union, heads["mean"]).fit(X_train, y_train)
    ablation = modality_ablation(model, X_test, y_test, scoring="balanced_accuracy")
print("mean on a held-out 30%, each modality removed from every row:")
print(ablation.round(3).to_string(index=False))
