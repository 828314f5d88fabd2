"""Quality with real pretrained weights on real data (the slow layer of the suite)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skmm import ImageEncoder, MultimodalUnion, TextEncoder
from skmm.datasets import load_womens_reviews
from tests.conftest import DATA, EFFICIENTNET_LITE0, require_shared

pytestmark = pytest.mark.slow


def grocery_split(split: str, per_class: int) -> pd.DataFrame:
    """``per_class`` photos of each coarse class, spread over the class's list."""
    root = require_shared(DATA / "grocery")
    rows = pd.read_csv(
        root / f"{split}.txt", names=["path", "fine", "coarse"], skipinitialspace=True
    )
    picked = pd.concat(
        group.iloc[np.linspace(0, len(group) - 1, per_class).astype(int)]
        for _, group in rows.groupby("coarse")
    )
    return pd.DataFrame(
        {"photo": [str(root / p) for p in picked["path"]], "label": picked["coarse"]}
    )


def test_efficientnet_lite0_linear_probe_on_grocery_photos():
    weights = require_shared(EFFICIENTNET_LITE0)
    train, test = grocery_split("train", 8), grocery_split("test", 4)
    model = make_pipeline(
        MultimodalUnion(
            [
                (
                    "image",
                    ImageEncoder(
                        "tf_efficientnet_lite0", pretrained=weights, device="cpu"
                    ),
                    "photo",
                )
            ]
        ),
        LogisticRegression(max_iter=3000, C=0.5),
    ).fit(train[["photo"]], train["label"])
    accuracy = (model.predict(test[["photo"]]) == test["label"]).mean()
    n_classes = train["label"].nunique()
    print(f"grocery coarse classes: {n_classes}, accuracy {accuracy:.3f}")
    # Measured 2026-11-27: 0.750 on 43 coarse classes (chance 0.023), 344 training
    # photos, 172 test photos.
    assert n_classes == 43
    assert accuracy > 0.55


def test_minilm_on_review_texts_beats_chance_by_far():
    X, y = load_womens_reviews(return_X_y=True)
    X = X[X["Review Text"].notna()]
    y = y[X.index]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=600, test_size=400, stratify=y, random_state=0
    )
    model = make_pipeline(
        MultimodalUnion([("text", TextEncoder(device="cpu"), "Review Text")]),
        LogisticRegression(max_iter=2000, class_weight="balanced"),
    ).fit(X_train, y_train)
    score = balanced_accuracy_score(y_test, model.predict(X_test))
    print(f"reviews: balanced accuracy {score:.3f}")
    # Measured 2026-11-27: 0.790 (chance 0.5), 600 training reviews, 400 test.
    assert score > 0.70
