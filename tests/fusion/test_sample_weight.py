"""sample_weight in the neural fusion heads and in late fusion, and metadata
routing through pipelines and cross-validation."""

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import KFold, PredefinedSplit, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import (
    FusionClassifier,
    FusionMultiTask,
    FusionRegressor,
    LateFusionClassifier,
    LateFusionRegressor,
)
from skmm.fusion._network import MultiTaskLoss

FAST = {"hidden": 8, "max_epochs": 8, "random_state": 0, "device": "cpu"}


def _blocks(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(n, 6)), "b": rng.normal(size=(n, 3))}


# -- the weighted loss ---------------------------------------------------------------
def test_weighted_loss_is_the_weighted_mean_of_the_row_losses():
    torch.random.manual_seed(0)  # test-local
    logits = torch.randn(6, 3)
    regression = torch.randn(6, 2)
    labels = torch.tensor([0.0, 2, 1, -1, 0, 2])  # -1: unknown
    values = torch.randn(6, 2)
    values[1, 0] = float("nan")
    w = torch.tensor([1.0, 0.5, 2.0, 3.0, 0.0, 1.5])
    class_weight = torch.tensor([1.0, 2.0, 0.5])
    loss = MultiTaskLoss(
        [("classification", 3), ("regression", 2)],
        [1.0, 0.5],
        [class_weight, None],
        row_weights=True,
    )
    got = loss(
        torch.cat([logits, regression], 1),
        torch.cat([labels[:, None], values, w[:, None]], 1),
    )
    known = labels >= 0
    rows = torch.nn.functional.cross_entropy(
        logits[known], labels[known].long(), reduction="none"
    )
    rw = w[known] * class_weight[labels[known].long()]
    expected_ce = (rows * rw).sum() / rw.sum()
    ok = ~torch.isnan(values)
    sq = (regression - values) ** 2
    ww = w[:, None].expand_as(values)
    expected_mse = (sq[ok] * ww[ok]).sum() / ww[ok].sum()
    assert float(got) == pytest.approx(float(expected_ce + 0.5 * expected_mse))
    # Ones reduce to the unweighted loss (class weights averaged as torch does).
    plain = MultiTaskLoss([("classification", 3)], [1.0], [class_weight])
    ones = MultiTaskLoss([("classification", 3)], [1.0], [class_weight], True)
    y = labels[:, None]
    assert float(ones(logits, torch.cat([y, torch.ones(6, 1)], 1))) == pytest.approx(
        float(plain(logits, y))
    )


# -- the neural heads ------------------------------------------------------------
@pytest.mark.parametrize("head", [FusionClassifier, FusionRegressor])
def test_equal_weights_train_exactly_as_no_weights(head):
    X = _blocks()
    y = X["a"][:, 0] + X["b"][:, 0]
    if head is FusionClassifier:
        y = (y > 0).astype(int)
    method = "predict_proba" if head is FusionClassifier else "predict"

    def fitted(sample_weight):
        model = head(**FAST).fit(X, y, sample_weight=sample_weight)
        return getattr(model, method)(X)

    unweighted = fitted(None)
    np.testing.assert_array_equal(fitted(np.ones(len(y))), unweighted)
    np.testing.assert_array_equal(fitted(np.full(len(y), 2.5)), unweighted)
    uneven = np.random.default_rng(1).uniform(0.1, 3.0, len(y))
    assert not np.array_equal(fitted(uneven), unweighted)


def test_up_weighting_a_class_moves_predictions_toward_it():
    # The label is a coin flip given X: the head can only learn the base rate,
    # so weighing class 1 five times should raise its predicted probability.
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(200, 6)), "b": rng.normal(size=(200, 3))}
    y = rng.integers(0, 2, 200)  # 40% of ones; weighed, they are 77% of the mass
    w = np.where(y == 1, 5.0, 1.0)
    params = {**FAST, "max_epochs": 30, "early_stopping": False}
    plain = FusionClassifier(**params).fit(X, y).predict_proba(X)[:, 1].mean()
    weighted = FusionClassifier(**params).fit(X, y, sample_weight=w)
    up = weighted.predict_proba(X)[:, 1].mean()
    assert up > plain + 0.15
    assert (weighted.predict(X) == 1).mean() > 0.9


def test_multi_task_weights_every_task():
    rng = np.random.default_rng(0)
    X = _blocks(160)
    y = pd.DataFrame({"label": rng.integers(0, 2, 160), "value": rng.normal(size=160)})
    w = np.where(y["label"] == 1, 5.0, 1.0)
    params = {**FAST, "max_epochs": 30, "early_stopping": False}
    plain = FusionMultiTask(**params).fit(X, y)
    weighted = FusionMultiTask(**params).fit(X, y, sample_weight=w)
    # score weighs the rows too: 0/1 weights score the rows weighted 1
    half = np.arange(len(y)) < 80
    X_half = {k: v[half] for k, v in X.items()}
    assert weighted.score(X, y, sample_weight=half) == pytest.approx(
        weighted.score(X_half, y[half])
    )
    assert (
        weighted.predict_proba(X)["label"][:, 1].mean()
        > plain.predict_proba(X)["label"][:, 1].mean() + 0.05
    )


def test_bad_weights_get_scikit_learns_errors():
    X = _blocks(40)
    y = np.arange(40) % 2
    head = FusionClassifier(**FAST)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(39,\)"):
        head.fit(X, y, sample_weight=np.ones(39))
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        head.fit(X, y, sample_weight=-np.ones(40))
    with pytest.raises(ValueError, match="at least one non-zero"):
        head.fit(X, y, sample_weight=np.zeros(40))
    with pytest.raises(ValueError, match="2 classes with a positive sample_weight"):
        head.fit(X, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match="target 'label' needs at least 2 classes"):
        FusionMultiTask(**FAST).fit(
            X, pd.DataFrame({"label": y}), sample_weight=(y == 0).astype(float)
        )


def test_cross_validate_routes_weights_to_the_head(monkeypatch):
    seen = []
    fit = FusionClassifier._fit

    def spy(self, X, y, sample_weight=None):
        seen.append(None if sample_weight is None else np.asarray(sample_weight))
        return fit(self, X, y, sample_weight)

    monkeypatch.setattr(FusionClassifier, "_fit", spy)
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(60, 4)))
    X.columns = ["a__0", "a__1", "b__0", "b__1"]
    y = np.arange(60) % 2
    w = np.arange(1.0, 61.0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            FusionClassifier(**{**FAST, "max_epochs": 2})
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True),
        )
        scores = cross_validate(pipe, X, y, cv=KFold(3), params={"sample_weight": w})
    assert np.isfinite(scores["test_score"]).all()
    assert len(seen) == 3
    for fold, got in enumerate(seen):
        held_out = np.s_[fold * 20 : fold * 20 + 20]
        np.testing.assert_array_equal(got, np.delete(w, held_out))


# -- late fusion -----------------------------------------------------------------
def _late_frame(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "a__0": y + rng.normal(0, 1.0, n),
            "a__1": rng.normal(size=n),
            "b__0": y + rng.normal(0, 1.5, n),
        }
    )
    return X, y


@pytest.mark.parametrize("combiner", ["mean", "stacking"])
def test_late_fusion_integer_weights_equal_repeated_rows(combiner):
    X, y = _late_frame()
    counts = np.random.default_rng(1).integers(0, 4, len(y))
    counts[:4] = [1, 1, 2, 3]  # both classes weigh in every fold
    repeated = X.loc[X.index.repeat(counts)].reset_index(drop=True)
    y_rep = np.repeat(y, counts)
    X_new, _ = _late_frame(30, seed=2)
    # Stacking's folds: fixed so that a row and its copies share a fold.
    fold = np.arange(len(y)) % 3
    cv_w, cv_r = PredefinedSplit(fold), PredefinedSplit(np.repeat(fold, counts))
    est = LogisticRegression(C=0.3, tol=1e-10, max_iter=10_000)
    weighted = LateFusionClassifier(est, combiner=combiner, cv=cv_w)
    weighted.fit(X, y, sample_weight=counts)
    copies = LateFusionClassifier(est, combiner=combiner, cv=cv_r).fit(repeated, y_rep)
    np.testing.assert_allclose(
        weighted.predict_proba(X_new), copies.predict_proba(X_new), atol=1e-5
    )
    np.testing.assert_allclose(weighted.class_prior_, copies.class_prior_)


def test_late_fusion_default_pipelines_take_weights():
    X, y = _late_frame()
    w = np.where(y == 1, 4.0, 1.0)
    plain = LateFusionClassifier().fit(X, y).predict_proba(X)[:, 1].mean()
    up = LateFusionClassifier().fit(X, y, sample_weight=w).predict_proba(X)[:, 1].mean()
    assert up > plain + 0.05
    reg = LateFusionRegressor(combiner="stacking", cv=3)
    values = X["a__0"].to_numpy() * 2
    reg.fit(X, values, sample_weight=np.arange(1.0, len(y) + 1))
    assert reg.predict(X).shape == (len(y),)


def test_late_fusion_names_the_estimator_that_cannot_take_weights():
    class NoWeights(LinearRegression):
        def fit(self, X, y):
            return super().fit(X, y)

    X, y = _late_frame()
    late = LateFusionRegressor(estimators={"b": NoWeights()})
    with pytest.raises(TypeError, match=r"modality 'b' \(NoWeights\).*sample_weight"):
        late.fit(X, y.astype(float), sample_weight=np.ones(len(y)))
    late.fit(X, y.astype(float))  # without weights it fits


def test_late_fusion_routes_weights_when_routing_is_on():
    X, y = _late_frame()
    w = np.where(y == 1, 4.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        est = LogisticRegression().set_fit_request(sample_weight=True)
        late = LateFusionClassifier(est, combiner="stacking", cv=3)
        routed = late.fit(X, y, sample_weight=w).predict_proba(X)
        # Not requested by the estimator the user gave: scikit-learn's error.
        with pytest.raises(ValueError, match="sample_weight"):
            LateFusionClassifier(LogisticRegression()).fit(X, y, sample_weight=w)
        # In a pipeline, through cross_validate.
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=True),
            LateFusionClassifier(est)
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True),
        )
        scores = cross_validate(pipe, X, y, cv=3, params={"sample_weight": w})
        assert np.isfinite(scores["test_score"]).all()
    plain = LateFusionClassifier(LogisticRegression(), combiner="stacking", cv=3)
    np.testing.assert_allclose(
        routed, plain.fit(X, y, sample_weight=w).predict_proba(X), atol=1e-8
    )
    assert not np.allclose(routed, plain.fit(X, y).predict_proba(X), atol=1e-3)
