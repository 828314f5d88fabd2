"""combiner="stacking": a regularised linear model on the candidates' out-of-fold
outputs, beside the greedy selection."""

from __future__ import annotations

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import InvalidParameterError

from skmm import EnsembleClassifier, EnsembleRegressor


class _Inverted(ClassifierMixin, BaseEstimator):
    """A logistic regression whose probabilities are reversed: informative, but
    only through a negative weight, which an average cannot give."""

    def fit(self, X, y):
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)[:, ::-1]

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _Scaled(RegressorMixin, BaseEstimator):
    """A linear regression whose predictions are 3 y + 10: right in shape,
    wrong in scale and offset."""

    def fit(self, X, y):
        self.model_ = LinearRegression().fit(X, y)
        return self

    def predict(self, X):
        return 3.0 * self.model_.predict(X) + 10.0


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "text__0000": y + rng.normal(0, 0.6, n),
            "text__0001": rng.normal(size=n),
            "tab__a": rng.normal(size=n),
        }
    )
    return X, y


def _split(X, y, n_train=300):
    return X.iloc[:n_train], y[:n_train], X.iloc[n_train:], y[n_train:]


def test_stacking_learns_what_an_average_cannot():
    X, y = _data()
    X_train, y_train, X_test, y_test = _split(X, y)
    candidates = [
        ("inverted", _Inverted(), "text"),
        ("prior", DummyClassifier(strategy="prior"), "tab"),
    ]
    common = dict(candidates=candidates, cv=3, random_state=0, verbose=0)
    greedy = EnsembleClassifier(**common).fit(X_train, y_train)
    stacked = EnsembleClassifier(combiner="stacking", **common).fit(X_train, y_train)
    # The greedy selection can only average: the inverted candidate is wrong on
    # most rows, so it keeps the prior. The stacker turns it round.
    assert greedy.score(X_test, y_test) < 0.6
    assert stacked.score(X_test, y_test) > 0.75  # one feature: about 0.8 at best
    assert stacked.stacker_ is not None and greedy.stacker_ is None
    # Its coefficients' mass is on the informative candidate.
    assert stacked.weights_["inverted"] > 0.9
    assert sum(stacked.weights_.values()) == pytest.approx(1.0)


def test_stacking_scores_its_own_out_of_fold_output():
    X, y = _data()
    clf = EnsembleClassifier(
        preset="fast", combiner="stacking", cv=3, random_state=0, verbose=0
    ).fit(X, y)
    # oof_score_ is the nested out-of-fold output's score (the stacker never saw
    # the rows it predicts there), the "ensemble" row of the leaderboard.
    stacked = clf.oof_predictions_["ensemble"]
    assert clf.oof_score_ == pytest.approx(accuracy_score(y, stacked.argmax(axis=1)))
    board = clf.leaderboard_.set_index("candidate")
    assert board.loc["ensemble", "score"] == pytest.approx(clf.oof_score_)
    # Every stacked candidate is refitted: the stacker reads them all.
    assert set(clf.estimators_) == set(clf.weights_) == set(board.index) - {"ensemble"}
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.selection_trace_ == []


def test_passthrough_reads_the_tabular_columns_no_candidate_reads():
    rng = np.random.default_rng(1)
    n = 500
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        {
            "text__0000": y + rng.normal(0, 1.5, n),
            "text__0001": rng.normal(size=n),
            "tab__a": 2.0 * y + rng.normal(0, 0.5, n),  # the strong signal
        }
    )
    X_train, y_train, X_test, y_test = _split(X, y, 350)
    common = dict(
        candidates=[("text_only", LogisticRegression(), "text")],
        combiner="stacking",
        cv=3,
        random_state=0,
        verbose=0,
    )
    plain = EnsembleClassifier(**common).fit(X_train, y_train)
    through = EnsembleClassifier(passthrough=True, **common).fit(X_train, y_train)
    assert through.score(X_test, y_test) > plain.score(X_test, y_test) + 0.1
    assert through.oof_score_ > plain.oof_score_ + 0.1


def test_passthrough_without_tabular_blocks_or_turned_off_on_a_refit():
    X, y = _data()
    text = X[["text__0000", "text__0001"]]
    common = dict(
        candidates=[("lr", LogisticRegression())],
        combiner="stacking",
        cv=3,
        random_state=0,
        verbose=0,
    )
    # Only embedding blocks: nothing to pass through, the stacker reads the
    # candidates alone.
    alone = EnsembleClassifier(**common).fit(text, y)
    through = EnsembleClassifier(passthrough=True, **common).fit(text, y)
    np.testing.assert_allclose(through.predict_proba(text), alone.predict_proba(text))
    # The same estimator fitted again without passthrough forgets the columns.
    clf = EnsembleClassifier(passthrough=True, **common).fit(X, y)
    clf.set_params(passthrough=False).fit(X, y)
    fresh = EnsembleClassifier(**common).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), fresh.predict_proba(X))


def test_stacking_regressor_rescales_a_candidate():
    rng = np.random.default_rng(2)
    n = 400
    X = pd.DataFrame({"text__0000": rng.normal(size=n), "tab__a": rng.normal(size=n)})
    y = 2.0 * X["text__0000"].to_numpy() + rng.normal(0, 0.3, n)
    X_train, y_train, X_test, y_test = _split(X, y)
    candidates = [
        ("scaled", _Scaled(), "text"),
        ("mean", DummyRegressor(), "tab"),
    ]
    common = dict(candidates=candidates, cv=3, random_state=0, verbose=0)
    greedy = EnsembleRegressor(**common).fit(X_train, y_train)
    stacked = EnsembleRegressor(combiner="stacking", **common).fit(X_train, y_train)
    assert r2_score(y_test, stacked.predict(X_test)) > 0.9
    assert r2_score(y_test, greedy.predict(X_test)) < 0.5


def test_stacking_with_absent_blocks_and_fold_models():
    X, y = _data()
    # The text block is absent from a fifth of the rows: the candidate that
    # reads it gives the prior there, and an indicator column says so.
    X.loc[X.index[:80], ["text__0000", "text__0001"]] = np.nan
    clf = EnsembleClassifier(
        [("text", LogisticRegression(), "text"), ("tab", LogisticRegression(), "tab")],
        combiner="stacking",
        refit=False,
        cv=3,
        random_state=0,
        verbose=0,
    ).fit(X, y)
    assert clf.stacker_.features(
        [np.full((2, 2), 0.5)] * 2, np.array([[True, True], [False, True]])
    ).shape == (2, 3)  # text's log-odds and indicator, tab's log-odds
    assert all(isinstance(m, list) for m in clf.estimators_.values())
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all() and proba.shape == (len(X), 2)
    # Rows without text are still predicted from the tabular candidate.
    assert clf.score(X.iloc[:80], y[:80]) > 0.4


@pytest.mark.parametrize("combiner", ["greedy", "stacking"])
def test_class_weight_dict_by_label_and_round_trips(tmp_path, combiner):
    # A class_weight dict names the user's labels; the candidates (and the
    # stacker) are fitted on encoded classes, and get it keyed by those: every
    # default candidate failed on string labels before.
    X, y = _data()
    labels = np.where(y == 1, "yes", "no")
    clf = EnsembleClassifier(
        preset="fast",
        combiner=combiner,
        class_weight={"yes": 3.0, "no": 1.0},
        cv=3,
        random_state=0,
        verbose=0,
    ).fit(X, labels)
    assert (clf.leaderboard_["status"] == "fitted").all()
    if combiner == "stacking":
        assert clf.stacker_.class_weight == {1: 3.0, 0: 1.0}
    # The weight moves predictions towards "yes".
    plain = EnsembleClassifier(
        preset="fast", combiner=combiner, cv=3, random_state=0, verbose=0
    ).fit(X, labels)
    assert (clf.predict(X) == "yes").sum() > (plain.predict(X) == "yes").sum()
    path = tmp_path / "ensemble.joblib"
    joblib.dump(clf, path)
    np.testing.assert_allclose(joblib.load(path).predict_proba(X), clf.predict_proba(X))
    again = clone(clf).fit(X, labels)
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize(
    "params", [{"combiner": "mean"}, {"combiner": None}, {"passthrough": "yes"}]
)
def test_bad_combiner_parameters_are_refused(params):
    X, y = _data(60)
    with pytest.raises(InvalidParameterError):
        EnsembleClassifier(preset="fast", verbose=0, **params).fit(X, y)
