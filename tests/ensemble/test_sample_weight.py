"""sample_weight in the ensemble: every candidate's fold fits and refit, the
out-of-fold scores of the selection, and metadata routing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import PredefinedSplit, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import EnsembleClassifier, EnsembleRegressor


def _frame(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "a__0000": y + rng.normal(0, 1.0, n),
            "a__0001": rng.normal(size=n),
            "tab__b": y + rng.normal(0, 1.5, n),
        }
    )
    return X, y


class _Recorder(ClassifierMixin, BaseEstimator):
    """Logistic regression that records the weights each fit gets."""

    log: list = []

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y, sample_weight=None):
        type(self).log.append(None if sample_weight is None else len(sample_weight))
        self.model_ = LogisticRegression(C=self.C).fit(X, y, sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


def test_integer_weights_equal_repeated_rows():
    X, y = _frame()
    counts = np.random.default_rng(1).integers(0, 4, len(y))
    counts[:6] = [1, 1, 2, 3, 1, 2]
    fold = np.arange(len(y)) % 3
    est = LogisticRegression(tol=1e-10, max_iter=10_000)
    candidates = [("lr", est), ("lr_a", est, "a"), ("lr_tab", est, "tab")]

    def ensemble(cv):
        return EnsembleClassifier(candidates, cv=cv, scoring="neg_log_loss", verbose=0)

    weighted = ensemble(PredefinedSplit(fold)).fit(X, y, sample_weight=counts)
    rows = X.index.repeat(counts)
    copies = ensemble(PredefinedSplit(np.repeat(fold, counts)))
    copies.fit(X.loc[rows].reset_index(drop=True), np.repeat(y, counts))
    assert weighted.oof_score_ == pytest.approx(copies.oof_score_, rel=1e-6)
    assert weighted.weights_ == copies.weights_
    X_new, _ = _frame(30, seed=2)
    np.testing.assert_allclose(
        weighted.predict_proba(X_new), copies.predict_proba(X_new), atol=1e-6
    )
    np.testing.assert_allclose(weighted.class_prior_, copies.class_prior_)


def test_weights_reach_every_fold_fit_and_the_refit_and_weigh_the_scores():
    X, y = _frame()
    _Recorder.log = []
    w = np.where(y == 1, 3.0, 1.0)
    clf = EnsembleClassifier([("rec", _Recorder())], cv=3, verbose=0)
    clf.fit(X, y, sample_weight=w)
    # three fold fits on two thirds of the rows, then the refit on all of them
    assert _Recorder.log == [60, 60, 60, 90]
    oof = clf.oof_predictions_["rec"].argmax(axis=1)
    assert clf.leaderboard_.set_index("candidate").loc["rec", "score"] == (
        pytest.approx(accuracy_score(y, oof, sample_weight=w))
    )
    assert accuracy_score(y, oof, sample_weight=w) != pytest.approx(
        accuracy_score(y, oof)
    )


def test_a_candidate_without_weights_is_named():
    class NoWeights(LogisticRegression):
        def fit(self, X, y):
            return super().fit(X, y)

    X, y = _frame()
    clf = EnsembleClassifier([("plain", NoWeights())], cv=3, verbose=0)
    with pytest.raises(TypeError, match=r"candidate 'plain' \(NoWeights\)"):
        clf.fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        clf.fit(X, y, sample_weight=-np.ones(len(y)))


def test_routing_reaches_the_candidates_through_cross_validate():
    X, y = _frame()
    w = np.arange(1.0, len(y) + 1)
    _Recorder.log = []
    with sklearn.config_context(enable_metadata_routing=True):
        ens = (
            EnsembleClassifier(
                [("rec", _Recorder().set_fit_request(sample_weight=True))],
                cv=3,
                verbose=0,
            )
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True)
        )
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=True), ens)
        scores = cross_validate(pipe, X, y, cv=3, params={"sample_weight": w})
        # The default library requests the weights by itself.
        default = EnsembleRegressor(preset="fast", cv=2, verbose=0)
        default.fit(X, y.astype(float), sample_weight=w)
    assert np.isfinite(scores["test_score"]).all()
    # 3 outer folds x (3 inner fold fits + 1 refit), each with its rows' weights
    assert _Recorder.log == [40, 40, 40, 60] * 3
    assert np.isfinite(default.oof_score_)
