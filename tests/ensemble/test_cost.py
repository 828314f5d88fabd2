"""What an ensemble fit costs: the candidates' threads, and ``time_limit``.

The time limit is tested on a fake clock that the candidates below advance by
what they claim to cost, so that skipping is deterministic (no wall-clock
assertion on real speed).
"""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info, threadpool_limits

from skmm import EnsembleClassifier, FusionClassifier, LateFusionClassifier
from skmm.ensemble import _ensemble


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Costly(ClassifierMixin, BaseEstimator):
    """A logistic regression whose fit costs ``seconds`` on the fake clock."""

    clock = None

    def __init__(self, seconds=1.0):
        self.seconds = seconds

    def fit(self, X, y):
        if _Costly.clock is not None:
            _Costly.clock.now += self.seconds
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(_ensemble, "_clock", fake)
    monkeypatch.setattr(_Costly, "clock", fake)
    return fake


def _data(n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = pd.DataFrame(
        {
            "text__0000": y + rng.normal(0, 0.7, n),
            "text__0001": rng.normal(size=n),
            "tab__a": y + rng.normal(0, 1.0, n),
        }
    )
    return X, y


def _status(clf):
    return clf.leaderboard_.set_index("candidate")["status"]


def test_a_candidate_that_no_longer_fits_is_skipped_and_a_model_comes_back(clock):
    X, y = _data()
    clf = EnsembleClassifier(
        [("fast", _Costly(1)), ("slow", _Costly(10)), ("last", _Costly(2))],
        cv=3,
        time_limit=12,
        verbose=0,
    ).fit(X, y)
    status = _status(clf)
    # fast: three folds (3 s); slow: its first fold ends past the limit, so the
    # other two are not fitted; last: nothing left when its turn comes.
    assert status["fast"].startswith("fold models: a refit")  # no time to refit
    assert status["slow"].startswith("skipped: 1 fold(s) took 10.0 s each")
    assert status["last"] == "skipped: the time limit was spent before it started"
    assert clock.now == 13  # 3 folds of fast, 1 of slow, no refit
    board = clf.leaderboard_.set_index("candidate")
    assert np.isnan(board.loc["slow", "score"]) and board.loc["slow", "weight"] == 0
    assert board.loc["slow", "fit_s"] == 10  # the fold it spent
    assert set(clf.oof_predictions_) == {"fast", "ensemble"}
    # A working model, built from the finished candidate's fold models.
    assert clf.weights_ == {"fast": 1.0}
    assert len(clf.estimators_["fast"]) == 3
    assert clf.predict_proba(X).shape == (90, 2)
    assert clf.score(X, y) > 0.7


def test_with_time_left_everything_is_fitted_and_refitted(clock):
    X, y = _data()
    candidates = [("a", _Costly(1)), ("b", _Costly(2))]
    clf = EnsembleClassifier(candidates, cv=3, time_limit=100, verbose=0).fit(X, y)
    assert set(_status(clf)) == {"fitted"}
    assert all(isinstance(m, _Costly) for m in clf.estimators_.values())
    unlimited = EnsembleClassifier(candidates, cv=3, verbose=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), unlimited.predict_proba(X))


def test_the_first_candidate_is_always_fitted(clock):
    X, y = _data()
    clf = EnsembleClassifier(
        [("slow", _Costly(10)), ("other", _Costly(1))],
        cv=3,
        time_limit=0.5,
        verbose=0,
    ).fit(X, y)
    status = _status(clf)
    assert status["slow"].startswith("fold models")
    assert status["other"].startswith("skipped")
    assert clf.predict(X).shape == (90,)


def test_cheap_candidates_go_first_under_a_time_limit(clock):
    X, y = _data()
    head = FusionClassifier(hidden=4, max_epochs=1, device="cpu", random_state=0)
    clf = EnsembleClassifier(
        [("head", head), ("lr", _Costly(5)), ("lr2", _Costly(5))],
        cv=3,
        time_limit=12,
        verbose=0,
    ).fit(X, y)
    # The neural head, listed first, waits for the linear models and finds
    # no time left.
    status = _status(clf)
    assert status["head"].startswith("skipped")
    assert status["lr"].startswith(("fitted", "fold models"))


@pytest.mark.parametrize("bad", [0, -1.0, "60"])
def test_time_limit_is_validated(bad):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match="time_limit"):
        EnsembleClassifier([("lr", LogisticRegression())], time_limit=bad).fit(X, y)


class _ThreadSpy(ClassifierMixin, BaseEstimator):
    """Records torch's and the BLAS/OpenMP libraries' threads in fit."""

    seen: list = []

    def fit(self, X, y):
        blas = {lib["num_threads"] for lib in threadpool_info()}
        _ThreadSpy.seen.append((torch.get_num_threads(), blas))
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


@pytest.fixture
def two_threads():
    """The caller runs on 2 threads (the suite runs on 1); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    with threadpool_limits(limits=2):
        yield 2
    torch.set_num_threads(before)


@pytest.mark.parametrize("where", ["ensemble", "late fusion"])
def test_candidates_run_on_scoped_threads_and_the_callers_come_back(two_threads, where):
    X, y = _data()
    _ThreadSpy.seen = []
    blas = [lib["num_threads"] for lib in threadpool_info()]
    if where == "ensemble":
        model = EnsembleClassifier([("spy", _ThreadSpy())], cv=3, verbose=0)
    else:
        model = LateFusionClassifier(_ThreadSpy())
    model.fit(X, y)
    # Small fits: one thread for torch, BLAS and OpenMP alike.
    assert _ThreadSpy.seen and set(t for t, _ in _ThreadSpy.seen) == {1}
    assert all(b <= {1} for _, b in _ThreadSpy.seen)
    assert torch.get_num_threads() == two_threads
    assert [lib["num_threads"] for lib in threadpool_info()] == blas


def test_a_neural_candidate_is_refitted_for_its_folds_best_epoch():
    # The refit on every row trains the median of the fold models' best epochs,
    # with nothing held out: not max_epochs, not another run of patience.
    X, y = _data(120)
    head = FusionClassifier(
        hidden=8, lr=0.01, max_epochs=40, patience=3, random_state=0
    )

    def fit(refit):
        return EnsembleClassifier(
            [("neural", head)], cv=3, refit=refit, random_state=0, verbose=0
        ).fit(X, y)

    folds = fit(refit=False).estimators_["neural"]  # the same folds, kept
    best = [model.best_epoch_ for model in folds]
    # Each fold stopped early, after its best epoch.
    assert all(1 <= b < model.n_epochs_ for b, model in zip(best, folds, strict=True))
    refitted = fit(refit=True).estimators_["neural"]
    assert not refitted.early_stopping
    assert refitted.n_epochs_ == round(float(np.median(best)))
    # The user's candidate is unchanged.
    assert head.early_stopping and head.max_epochs == 40
