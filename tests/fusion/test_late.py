"""LateFusionClassifier / LateFusionRegressor: per-modality estimators, per-row mean."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmm import (
    ImageEncoder,
    LateFusionClassifier,
    LateFusionRegressor,
    MultimodalUnion,
)
from tests.conftest import TINY_IMAGE_MODEL, make_image


@parametrize_with_checks(
    [
        LateFusionClassifier(),
        LateFusionClassifier(combiner="stacking", cv=3),
        LateFusionRegressor(),
        LateFusionRegressor(combiner="stacking", cv=3),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def decisive_frame(n=120, seed=0, labels=("no", "yes")):
    """``a`` alone decides the label; ``b`` is noise; both have an indicator."""
    rng = np.random.default_rng(seed)
    y = np.asarray(labels)[rng.integers(0, 2, n)]
    sign = np.where(y == labels[1], 1.0, -1.0)
    X = pd.DataFrame(
        {
            "a__0": 2 * sign + rng.normal(0, 0.5, n),
            "a__1": rng.normal(size=n),
            "a__missing": 0.0,
            "b__0": rng.normal(size=n),
            "b__1": rng.normal(size=n),
            "b__missing": 0.0,
        }
    )
    return X, y


def drop(X, modality, rows):
    X = X.copy()
    cols = [c for c in X.columns if c.startswith(f"{modality}__")]
    X.loc[rows, cols] = 0.0
    X.loc[rows, f"{modality}__missing"] = 1.0
    return X


@pytest.mark.parametrize("combiner", ["mean", "stacking"])
def test_row_uses_only_the_modalities_it_has(combiner):
    X, y = decisive_frame()
    clf = LateFusionClassifier(combiner=combiner).fit(X, y)
    assert list(clf.estimators_) == ["a", "b"]
    assert clf.layout_.names == ("a", "b")

    X_test, y_test = decisive_frame(60, seed=1)
    # Without "b" every row is decided by "a": exactly its own estimator's call,
    # whatever "b" would have said (zeros would be a value to a naive model).
    no_b = drop(X_test, "b", slice(None))
    a_alone = clf.estimators_["a"].predict(X_test[["a__0", "a__1"]].to_numpy())
    np.testing.assert_array_equal(clf.predict(no_b), a_alone)
    assert (clf.predict(no_b) == y_test).mean() > 0.95
    if combiner == "mean":
        proba_a = clf.estimators_["a"].predict_proba(
            X_test[["a__0", "a__1"]].to_numpy()
        )
        np.testing.assert_allclose(clf.predict_proba(no_b), proba_a)

    # Without "a" only noise is left: the informative signal is gone, no error.
    no_a = drop(X_test, "a", slice(None))
    assert (clf.predict(no_a) == y_test).mean() < 0.8

    # A row without any modality gets the training prior, never an error.
    none = drop(drop(X_test, "a", [0, 1]), "b", [0, 1])
    proba = clf.predict_proba(none)
    np.testing.assert_allclose(proba[:2], np.tile(clf.class_prior_, (2, 1)))
    expected_prior = [(y == c).mean() for c in clf.classes_]
    np.testing.assert_allclose(clf.class_prior_, expected_prior)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_each_modality_is_fitted_on_the_rows_that_have_it():
    X, y = decisive_frame()
    rows = np.arange(len(X)) % 3 == 0
    X.loc[rows, "b__0"] = 100.0  # would shift the mean if these rows were used
    X = drop(X, "b", rows)
    X.loc[rows, "b__0"] = 100.0  # an absent row's values must not matter
    clf = LateFusionClassifier().fit(X, y)
    imputer = clf.estimators_["b"][0]
    np.testing.assert_allclose(
        imputer.statistics_, X.loc[~rows, ["b__0", "b__1"]].mean().to_numpy()
    )


def test_nan_block_without_indicator_is_absent():
    """An array with ``modalities=`` and a NaN block (union missing="nan")."""
    X, y = decisive_frame()
    A = X[["a__0", "a__1", "b__0", "b__1"]].to_numpy()
    clf = LateFusionClassifier(modalities={"a": [0, 1], "b": slice(2, 4)}).fit(A, y)
    A_test = A[:20].copy()
    A_test[:, 2:] = np.nan
    np.testing.assert_array_equal(
        clf.predict(A_test), clf.estimators_["a"].predict(A_test[:, :2])
    )
    A_test[:5] = np.nan
    np.testing.assert_array_equal(
        clf.predict(A_test)[:5], [clf.classes_[np.argmax(clf.class_prior_)]] * 5
    )


def test_stacking_learns_to_trust_the_informative_modality():
    X, y = decisive_frame(200)
    rng = np.random.default_rng(3)
    for k in range(2, 6):  # three more noise modalities dilute a plain mean
        X[f"n{k}__0"] = rng.normal(size=len(X))
    X_test, y_test = X.iloc[150:], y[150:]
    X, y = X.iloc[:150], y[:150]
    mean = LateFusionClassifier().fit(X, y)
    stack = LateFusionClassifier(combiner="stacking").fit(X, y)
    loss_mean = log_loss(y_test, mean.predict_proba(X_test), labels=mean.classes_)
    loss_stack = log_loss(y_test, stack.predict_proba(X_test), labels=stack.classes_)
    assert loss_stack < 0.7 * loss_mean
    # Meta-features: one probability per modality (binary) + one presence flag.
    assert stack.final_estimator_.n_features_in_ == 2 * 6
    # Weighting the mean does the same by hand.
    only_a = {name: 0.0 for name in ["b", "n2", "n3", "n4", "n5"]}  # "a": 1
    for weights in [only_a, [1, 0, 0, 0, 0, 0]]:
        weighted = LateFusionClassifier(weights=weights).fit(X, y)
        np.testing.assert_allclose(
            weighted.predict_proba(X_test),
            weighted.estimators_["a"].predict_proba(
                X_test[["a__0", "a__1"]].to_numpy()
            ),
        )
        # Rows whose only present modalities weigh 0 get the prior, not NaN.
        no_a = drop(X_test, "a", X_test.index[:3])
        np.testing.assert_allclose(
            weighted.predict_proba(no_a)[:3], np.tile(weighted.class_prior_, (3, 1))
        )


def test_string_multiclass_labels_and_a_modality_seen_with_some_classes():
    rng = np.random.default_rng(0)
    y = np.array(["red", "green", "blue"])[np.arange(90) % 3]
    X = {
        "a": (y[:, None] == np.array(["red", "green", "blue"])) * 3.0
        + rng.normal(0, 0.5, (90, 3)),
        "b": rng.normal(size=(90, 2)),
    }
    X["b"][y == "blue"] = np.nan  # "b" never seen with "blue"
    for combiner in ["mean", "stacking"]:
        clf = LateFusionClassifier(combiner=combiner, cv=3).fit(X, y)
        assert clf.classes_.tolist() == ["blue", "green", "red"]
        assert clf.estimators_["b"].classes_.tolist() == ["green", "red"]
        proba = clf.predict_proba(X)
        assert proba.shape == (90, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert (clf.predict(X) == y).mean() > 0.9
        assert set(clf.predict(X)) <= {"red", "green", "blue"}


def test_modality_seen_with_one_class_only_predicts_it():
    X, y = decisive_frame()
    X = drop(X, "b", y == "no")
    with pytest.warns(UserWarning, match="modality 'b' is present only in rows"):
        clf = LateFusionClassifier().fit(X, y)
    assert clf.estimators_["b"].predict(np.zeros((1, 2))).tolist() == ["yes"]


@pytest.mark.parametrize("combiner", ["mean", "stacking"])
def test_regressor_missing_rows_and_multioutput(combiner):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(100, 3)), "b": rng.normal(size=(100, 2))}
    y = np.c_[3 * X["a"][:, 0], X["a"][:, 1] - X["a"][:, 2]]
    reg = LateFusionRegressor(combiner=combiner).fit(X, y)
    np.testing.assert_allclose(reg.y_mean_, y.mean(axis=0))
    X_test = {k: v[:10].copy() for k, v in X.items()}
    X_test["b"][:] = np.nan
    pred = reg.predict(X_test)
    assert pred.shape == (10, 2)
    np.testing.assert_allclose(pred, y[:10], atol=0.2)
    X_test["a"][:3] = np.nan
    np.testing.assert_allclose(reg.predict(X_test)[:3], np.tile(reg.y_mean_, (3, 1)))
    reg1 = clone(reg).fit(X, y[:, 0])
    assert reg1.predict(X_test).shape == (10,)


def test_per_modality_estimators_and_nested_params():
    X, y = decisive_frame()
    clf = LateFusionClassifier(
        estimators={"a": LogisticRegression(C=0.1), "b": "drop"}
    ).fit(X, y)
    assert list(clf.estimators_) == ["a"]
    assert clf.estimators_["a"].C == 0.1
    params = clf.get_params()
    assert params["estimators__a__C"] == 0.1
    clf.set_params(estimators__a__C=2.0)
    assert clf.estimators["a"].C == 2.0
    with pytest.raises(ValueError, match="no modality 'c' in estimators"):
        clf.set_params(estimators__c__C=1.0)
    with pytest.raises(ValueError, match=r"lacks: \['img'\]"):
        LateFusionClassifier(estimators={"img": LogisticRegression()}).fit(X, y)
    with pytest.raises(ValueError, match="weights apply to combiner='mean'"):
        LateFusionClassifier(combiner="stacking", weights=[1, 2]).fit(X, y)


def test_errors_name_the_modality():
    X, y = decisive_frame()
    with pytest.raises(ValueError, match="modality 'b' is absent from every"):
        LateFusionClassifier().fit(drop(X, "b", slice(None)), y)
    clf = LateFusionClassifier().fit(X, y)
    with pytest.raises(ValueError, match="fitted on a matrix"):
        clf.predict({"a": np.ones((2, 2)), "b": np.ones((2, 2))})
    reg = LateFusionRegressor().fit(
        {"a": np.ones((4, 1)), "b": np.eye(4)}, [1, 2, 3, 4]
    )
    with pytest.raises(ValueError, match="modality 'b' has 3 features"):
        reg.predict({"a": np.ones((2, 1)), "b": np.ones((2, 3))})
    with pytest.raises(TypeError, match="modality 'a'.*has no predict_proba"):
        LateFusionClassifier(estimator=LinearRegression()).fit(X, y == "yes")


def test_polars_and_pandas_frames(df_module):
    X, y = decisive_frame(60)
    frame = df_module.DataFrame({c: X[c].to_numpy() for c in X.columns})
    clf = LateFusionClassifier().fit(frame, y)
    assert clf.feature_names_in_.tolist() == list(X.columns)
    assert clf.n_features_in_ == 6
    assert clf.layout_.names == ("a", "b")
    np.testing.assert_array_equal(clf.predict(frame), clf.predict(X))


def numeric_frame(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["cheap", "dear"])[rng.integers(0, 2, n)]
    return (
        pd.DataFrame(
            {
                "size": (y == "dear") * 2.0 + rng.normal(0, 0.5, n),
                "weight": rng.normal(size=n),
                "noise": rng.normal(size=n),
            }
        ),
        y,
    )


def test_grid_search_in_a_pipeline_after_a_union():
    X, y = numeric_frame()
    union = MultimodalUnion(
        [("tab", StandardScaler(), ["size", "weight"]), ("other", "passthrough", [2])]
    ).set_output(transform="pandas")
    head = LateFusionClassifier(
        estimators={"tab": LogisticRegression(), "other": "drop"}
    )
    pipe = make_pipeline(union, head)
    search = GridSearchCV(
        pipe,
        {
            "latefusionclassifier__combiner": ["mean", "stacking"],
            "latefusionclassifier__estimators__tab__C": [1e-4, 1.0],
        },
        cv=3,
    ).fit(X, y)
    assert search.best_params_["latefusionclassifier__estimators__tab__C"] == 1.0
    head = search.best_estimator_[-1]
    assert list(head.estimators_) == ["tab"]
    assert head.layout_.names == ("tab", "other")
    assert search.score(X, y) > 0.9


def test_pipeline_with_an_image_encoder_and_missing_images():
    rng = np.random.default_rng(0)
    n = 16
    X = pd.DataFrame(
        {
            "photo": [None if i % 4 == 0 else make_image(i) for i in range(n)],
            "price": rng.normal(size=n),
        }
    )
    y = (X["price"] > 0).to_numpy().astype(int)
    encoder = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu")
    union = MultimodalUnion(
        [("image", encoder, "photo"), ("tab", StandardScaler(), ["price"])]
    ).set_output(transform="pandas")
    pipe = make_pipeline(union, LateFusionClassifier()).fit(X, y)
    head = pipe[-1]
    assert head.layout_.names == ("image", "tab")
    assert head.layout_.indicators[0] is not None
    # The image estimator saw only the 12 rows that have a photo.
    assert head.estimators_["image"][0].statistics_.shape[0] == head.layout_.widths[0]
    Xt = pipe[0].transform(X)
    photo_rows = Xt["image__missing"].to_numpy() == 0
    assert photo_rows.sum() == 12
    # A row without a photo is the tabular estimator's call alone.
    tab_alone = head.estimators_["tab"].predict_proba(Xt[["tab__price"]].to_numpy())
    proba = pipe.predict_proba(X)
    np.testing.assert_allclose(proba[~photo_rows], tab_alone[~photo_rows])
    assert not np.allclose(proba[photo_rows], tab_alone[photo_rows])


@pytest.mark.parametrize("combiner", ["mean", "stacking"])
def test_joblib_round_trip_and_clone(tmp_path, combiner):
    X, y = decisive_frame(60)
    clf = LateFusionClassifier(combiner=combiner, cv=3).fit(X, y)
    path = tmp_path / "late.joblib"
    joblib.dump(clf, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.layout_.names == clf.layout_.names
    fresh = clone(clf)
    assert not hasattr(fresh, "estimators_")
    assert fresh.get_params()["combiner"] == combiner
