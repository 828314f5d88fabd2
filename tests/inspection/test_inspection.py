"""modality_importance / modality_ablation on union pipelines and joined matrices."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import (
    FusionClassifier,
    ImageEncoder,
    LateFusionClassifier,
    MultimodalUnion,
)
from skmm.inspection import modality_ablation, modality_importance
from tests.conftest import TINY_IMAGE_MODEL, make_image


def raw_frame(n=120, seed=0):
    """Columns a1, a2 decide the label; b1 is noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "a1": 2.0 * y + rng.normal(0, 0.5, n),
            "a2": rng.normal(size=n),
            "b1": rng.normal(size=n),
        }
    )
    return X, y


def joined(X):
    """The joined matrix a union would write: prefixes and indicators."""
    return pd.DataFrame(
        {
            "a__0": X["a1"],
            "a__1": X["a2"],
            "a__missing": 0.0,
            "b__0": X["b1"],
            "b__missing": 0.0,
        }
    )


def by_modality(result, column):
    return result.set_index("modality")[column].to_dict()


def assert_a_matters_b_does_not(importance, ablation):
    imp = by_modality(importance, "importance_mean")
    assert imp["a"] > 0.25
    assert abs(imp["b"]) < 0.05
    drop = by_modality(ablation, "drop")
    assert drop["a"] > 0.25
    assert abs(drop["b"]) < 0.05


def test_head_on_a_joined_frame(df_module):
    X, y = raw_frame()
    Xj = joined(X)
    model = LateFusionClassifier().fit(Xj, y)
    frame = df_module.DataFrame({c: Xj[c].to_numpy() for c in Xj.columns})
    importance = modality_importance(model, frame, y, n_repeats=3, random_state=0)
    ablation = modality_ablation(model, frame, y)
    assert importance.columns.tolist() == [
        "modality",
        "importance_mean",
        "importance_std",
        "baseline_score",
        "importances",
    ]
    assert importance["modality"].tolist() == ["a", "b"]
    assert importance["importances"][0].shape == (3,)
    np.testing.assert_allclose(
        importance["importance_mean"], [d.mean() for d in importance["importances"]]
    )
    assert importance["baseline_score"][0] == pytest.approx(model.score(Xj, y))
    assert ablation.columns.tolist() == [
        "modality",
        "full_score",
        "ablated_score",
        "drop",
    ]
    assert_a_matters_b_does_not(importance, ablation)
    # Removing "a" writes it absent (zeros + indicator): the head then uses "b"
    # alone, which is what the ablated score must be.
    no_a = Xj.assign(a__0=0.0, a__1=0.0, a__missing=1.0)
    assert ablation["ablated_score"][0] == pytest.approx(model.score(no_a, y))


def test_plain_estimator_on_prefixed_columns_and_scoring():
    X, y = raw_frame()
    Xj = joined(X)
    model = LogisticRegression().fit(Xj, y)
    importance = modality_importance(
        model, Xj, y, scoring="neg_log_loss", n_repeats=2, random_state=0
    )
    assert importance["baseline_score"][0] < 0  # a log loss, not the accuracy
    imp = by_modality(importance, "importance_mean")
    assert imp["a"] > 0.3 and abs(imp["b"]) < 0.05
    only_b = modality_ablation(model, Xj, y, modalities=["b"])
    assert only_b["modality"].tolist() == ["b"]
    with pytest.raises(ValueError, match=r"unknown modalities \['c'\]"):
        modality_ablation(model, Xj, y, modalities=["c"])
    with pytest.raises(ValueError, match="one metric"):
        modality_importance(model, Xj, y, scoring=["accuracy", "f1"])


def test_head_on_an_array_with_modalities_and_on_a_dict():
    X, y = raw_frame()
    A = X.to_numpy()
    model = LateFusionClassifier(modalities={"a": [0, 1], "b": [2]}).fit(A, y)
    assert_a_matters_b_does_not(
        modality_importance(model, A, y, n_repeats=3, random_state=0),
        modality_ablation(model, A, y),
    )
    D = {"a": A[:, :2], "b": A[:, 2:]}
    model = LateFusionClassifier().fit(D, y)
    assert_a_matters_b_does_not(
        modality_importance(model, D, y, n_repeats=3, random_state=0),
        modality_ablation(model, D, y),
    )


def union_pipeline(head=None):
    union = MultimodalUnion(
        [("a", StandardScaler(), ["a1", "a2"]), ("b", StandardScaler(), ["b1"])]
    ).set_output(transform="pandas")
    return make_pipeline(union, head or LateFusionClassifier())


def test_raw_frame_pipeline(df_module):
    X, y = raw_frame()
    pipe = union_pipeline().fit(X, y)
    frame = df_module.DataFrame({c: X[c].to_numpy() for c in X.columns})
    importance = modality_importance(pipe, frame, y, n_repeats=3, random_state=0)
    ablation = modality_ablation(pipe, frame, y)
    assert importance["modality"].tolist() == ["a", "b"]
    assert_a_matters_b_does_not(importance, ablation)
    # Shuffling the union's output block equals shuffling the raw input columns
    # together (the groups given explicitly are permuted in the raw frame).
    raw = modality_importance(
        pipe,
        frame,
        y,
        n_repeats=3,
        random_state=0,
        modalities={"a": ["a1", "a2"], "b": ["b1"]},
    )
    np.testing.assert_allclose(
        np.stack(raw["importances"]), np.stack(importance["importances"])
    )
    # Removing "a" sets its raw columns to missing; the scaler passes NaN and
    # the late-fusion head treats the NaN block as absent.
    no_a = X.assign(a1=np.nan, a2=np.nan)
    assert ablation["ablated_score"][0] == pytest.approx(pipe.score(no_a, y))


def test_search_object_and_a_head_that_cannot_take_missing_values():
    X, y = raw_frame()
    search = GridSearchCV(
        union_pipeline(LogisticRegression()),
        {"logisticregression__C": [1.0]},
        cv=2,
        scoring="neg_log_loss",
    ).fit(X, y)
    imp = modality_importance(search, X, y, n_repeats=2, random_state=0)
    assert imp["modality"].tolist() == ["a", "b"]
    assert imp["baseline_score"][0] == pytest.approx(search.score(X, y))
    assert imp["baseline_score"][0] < 0  # the search's own metric: a log loss
    with pytest.raises(
        ValueError,
        match=r"modality 'a' removed \(its input columns \['a1', 'a2'\] set to missing",
    ):
        modality_ablation(search, X, y)


def test_union_with_an_image_encoder():
    n = 24
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "photo": [make_image(i, size=(16, 16)) for i in range(n)],
            "price": 2.0 * y + rng.normal(0, 0.3, n),
        }
    )
    encoder = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")
    union = MultimodalUnion(
        [("image", encoder, "photo"), ("tab", StandardScaler(), ["price"])]
    )
    pipe = make_pipeline(union, LogisticRegression()).fit(X, y)
    ablation = modality_ablation(pipe, X, y, modalities=["image"])
    # The photo column became None: the encoder's block is zeros + indicator,
    # which a plain LogisticRegression takes; the score is computed, not refused.
    Xt = union.transform(X.assign(photo=None))
    assert (Xt[:, union.output_indices_["image"]][:, -1] == 1).all()
    assert ablation["ablated_score"][0] == pytest.approx(pipe[-1].score(Xt, y))
    importance = modality_importance(pipe, X, y, n_repeats=2, random_state=0)
    imp = by_modality(importance, "importance_mean")
    assert imp["tab"] > 0.2


@pytest.mark.parametrize("fusion", ["attention", "late"])
def test_neural_fusion_heads_are_inspected_through_their_layout(fusion):
    """A FusionClassifier on a dict of blocks: removing the informative block costs
    about half the accuracy, removing the noise block costs nothing (it is masked)."""
    X_raw, y = raw_frame(n=200)
    X = {"a": X_raw[["a1", "a2"]].to_numpy(), "b": X_raw[["b1"]].to_numpy()}
    head = FusionClassifier(fusion, hidden=8, random_state=0, device="cpu").fit(X, y)
    ablation = modality_ablation(head, X, y).set_index("modality")
    assert ablation.loc["a", "drop"] > 0.3
    assert abs(ablation.loc["b", "drop"]) < 0.05
    importance = modality_importance(head, X, y, n_repeats=3, random_state=0)
    importance = importance.set_index("modality")["importance_mean"]
    assert importance["a"] > 0.3 > abs(importance["b"])
