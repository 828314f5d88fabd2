"""The ensemble under bad input: each case names what is wrong, before any fit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, ShuffleSplit, train_test_split

from skmm import EnsembleClassifier, EnsembleRegressor
from skmm.ensemble import default_candidates


def _frame(n=120, seed=0, n_classes=2):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    X = pd.DataFrame(
        rng.normal(size=(n, 4)) + y[:, None] * 0.7,
        columns=[f"text__{i:04d}" for i in range(4)],
    )
    X["tab__size"] = rng.normal(size=n) + y
    return X, y


class _Counting(ClassifierMixin, BaseEstimator):
    """Counts its fits (class attribute: clones share it)."""

    fits = 0

    def fit(self, X, y):
        _Counting.fits += 1
        self.dummy_ = DummyClassifier(strategy="prior").fit(X, y)
        self.classes_ = self.dummy_.classes_
        return self

    def predict_proba(self, X):
        return self.dummy_.predict_proba(X)

    def predict(self, X):
        return self.dummy_.predict(X)


class _Broken(_Counting):
    def fit(self, X, y):
        raise RuntimeError("the broken estimator broke")


def _linear(task="classification"):
    return [c for c in default_candidates(task, "fast") if c[0] == "linear_all"]


# -- BAD 1: two candidates with one name ----------------------------------------


def test_duplicate_candidate_names_are_refused():
    X, y = _frame()
    ens = EnsembleClassifier(
        [("a", LogisticRegression(), ["text"]), ("a", LogisticRegression(), ["tab"])],
        cv=3,
    )
    with pytest.raises(ValueError, match=r"unique.*'a'"):
        ens.fit(X, y)


@pytest.mark.parametrize("name", ["a__b", "ensemble"])
def test_names_the_ensemble_cannot_address_are_refused(name):
    X, y = _frame()
    ens = EnsembleClassifier([(name, LogisticRegression(), "all")], cv=3)
    with pytest.raises(ValueError, match=name):
        ens.fit(X, y)


def test_a_name_that_an_expanded_candidate_also_takes_is_refused():
    # "linear" reads each embedding block as "linear[text]"; the dict adds one more.
    X, y = _frame()
    ens = EnsembleClassifier({"linear[text]": LogisticRegression()}, preset="fast")
    with pytest.raises(ValueError, match=r"unique, got \['linear\[text\]'\]"):
        ens.fit(X, y)


# -- BAD 2: test folds that are not a partition of the rows ---------------------


def _holdout(n):
    train, test = train_test_split(np.arange(n), test_size=0.3, random_state=0)
    return [(train, test)]


@pytest.mark.parametrize(
    "Ensemble, estimator",
    [(EnsembleClassifier, LogisticRegression()), (EnsembleRegressor, Ridge())],
)
@pytest.mark.parametrize(
    "cv", ["holdout", ShuffleSplit(3, random_state=0)], ids=["holdout", "shuffle"]
)
def test_cv_that_is_not_a_partition_is_refused(Ensemble, estimator, cv):
    X, y = _frame()
    X.index = [f"r{i}" for i in range(len(X))]
    cv = _holdout(len(X)) if cv == "holdout" else cv
    ens = Ensemble([("lin", estimator, "all")], cv=cv)
    with pytest.raises(ValueError, match=r"exactly once.*index 'r\d+'"):
        ens.fit(X, y.astype(float) if Ensemble is EnsembleRegressor else y)


def test_a_partition_given_as_a_list_of_folds_is_accepted():
    X, y = _frame()
    folds = list(KFold(3).split(X))
    ens = EnsembleClassifier([("lin", LogisticRegression(), "all")], cv=folds)
    assert ens.fit(X, y).oof_score_ > 0.6


# -- WEAK: the candidates' own cross-validation ---------------------------------


def _no_failure_warnings(record):
    return [str(w.message) for w in record if "failed" in str(w.message)]


def test_zero_weights_on_a_run_of_rows_do_not_break_the_linear_candidates():
    X, y = _frame(n=120)
    weight = np.ones(len(y))
    weight[:60] = 0.0  # a run of rows: unshuffled inner folds saw only these
    ens = EnsembleClassifier(_linear(), cv=3, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ens.fit(X, y, sample_weight=weight)
    assert _no_failure_warnings(record) == []
    assert "linear_all" in ens.weights_


def test_many_small_classes_adapt_the_inner_cv():
    # 50 classes of 3 rows: each outer training fold has 2 rows of a class.
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(50), 3)
    X = pd.DataFrame(
        rng.normal(size=(len(y), 3)) + y[:, None] * 0.1,
        columns=[f"text__{i:04d}" for i in range(3)],
    )
    ens = EnsembleClassifier(_linear(), cv=3, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ens.fit(X, y)
    assert _no_failure_warnings(record) == []
    assert "linear_all" in ens.weights_


# -- WEAK: messages that name what is wrong --------------------------------------


@pytest.mark.parametrize(
    "params, n_classes, match",
    [
        ({"selection_scoring": "acuracy"}, 2, r"selection_scoring='acuracy'.*accuracy"),
        ({"scoring": "no_such_metric"}, 2, r"scoring='no_such_metric'"),
        ({"scoring": "roc_auc"}, 3, r"scoring='roc_auc' cannot score.*roc_auc_ovr"),
    ],
    ids=["unknown-selection-scoring", "unknown-scoring", "roc-auc-multiclass"],
)
def test_scoring_is_checked_before_any_candidate_is_fitted(params, n_classes, match):
    X, y = _frame(n_classes=n_classes)
    _Counting.fits = 0
    ens = EnsembleClassifier([("spy", _Counting(), "all")], cv=3, **params)
    with pytest.raises(ValueError, match=match):
        ens.fit(X, y)
    assert _Counting.fits == 0


def _with(X, column, row, value):
    X = X.copy()
    if value == "abc":
        X[column] = X[column].astype(object)
    X.loc[X.index[row], column] = value
    return X


@pytest.mark.parametrize(
    "value, match",
    [("abc", r"'abc' at row 7 \(index 'r7'\).*not a number"), (np.inf, r"inf")],
    ids=["text", "inf"],
)
@pytest.mark.parametrize("when", ["fit", "predict"])
def test_bad_values_name_the_column_row_and_value(value, match, when):
    X, y = _frame()
    X.index = [f"r{i}" for i in range(len(X))]
    ens = EnsembleClassifier([("lin", LogisticRegression(), "all")], cv=3)
    bad = _with(X, "tab__size", 7, value)
    if when == "predict":
        ens.fit(X, y)
        with pytest.raises(ValueError, match="'tab__size'") as info:
            ens.predict(bad)
    else:
        with pytest.raises(ValueError, match="'tab__size'") as info:
            ens.fit(bad, y)
    assert info.match(match)


def test_a_dict_lacking_a_block_at_predict_names_it():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 90)
    X = {"text": rng.normal(size=(90, 3)) + y[:, None], "tab": rng.normal(size=(90, 2))}
    ens = EnsembleClassifier([("lin", LogisticRegression(), "all")], cv=3).fit(X, y)
    with pytest.raises(ValueError, match=r"lacks the blocks \['tab'\]"):
        ens.predict({"text": X["text"]})


def test_a_candidates_own_cv_too_large_for_its_classes_is_explained():
    # 4 classes of 3 rows: an outer training fold has 2 rows of each class, fewer
    # than the user's LogisticRegressionCV(cv=3) needs.
    from sklearn.linear_model import LogisticRegressionCV

    y = np.repeat(np.arange(4), 3)
    X = pd.DataFrame({"text__0000": y + 0.1 * np.arange(12), "tab__a": y * 1.0})
    ens = EnsembleClassifier(
        [("own", LogisticRegressionCV(cv=3), "all"), ("lin", LogisticRegression())],
        cv=3,
        verbose=0,
    )
    with pytest.warns(UserWarning, match="candidate 'own' failed") as record:
        ens.fit(X, y)
    message = next(str(w.message) for w in record if "'own'" in str(w.message))
    assert "LogisticRegressionCV" in message
    assert "inside the candidate, not the ensemble's cv" in message


def test_infinity_in_a_dict_block_names_the_block_row_and_column():
    rng = np.random.default_rng(0)
    X = {"text": rng.normal(size=(30, 3))}
    X["text"][4, 1] = np.inf
    ens = EnsembleClassifier([("lin", LogisticRegression(), "all")], cv=3)
    with pytest.raises(ValueError, match="block 'text', column 1 holds inf at row 4"):
        ens.fit(X, np.arange(30) % 2)


def test_a_failing_candidate_is_named_with_its_reason():
    X, y = _frame()
    ens = EnsembleClassifier(
        [("lin", LogisticRegression(), "all"), ("bad", _Broken(), "all")], cv=3
    )
    with pytest.warns(
        UserWarning, match=r"'bad' failed.*\(_Broken\).*the broken estimator"
    ):
        ens.fit(X, y)
    assert list(ens.weights_) == ["lin"]


def test_a_column_nan_in_every_row_is_named_and_left_out():
    # HistGradientBoosting cannot bin a column without a value ("window shape
    # cannot be larger than input array shape"): the trees failed and were left out.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    X = pd.DataFrame({"tab__a": rng.normal(size=120) + y, "tab__p": np.nan})
    ens = EnsembleClassifier(
        [("hgb", HistGradientBoostingClassifier(max_iter=20), "all")], cv=3
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ens.fit(X, y)
    messages = [str(w.message) for w in record]
    assert any("['tab__p'] are NaN in every training row" in m for m in messages)
    assert not [m for m in messages if "failed" in m]
    assert list(ens.weights_) == ["hgb"]
    assert ens.predict(X.assign(tab__p=1.0)).shape == (120,)


class _FailsOnEveryRow(_Counting):
    """Fits on a fold, fails on all 120 rows (as LogisticRegressionCV's inner log
    loss does on scikit-learn < 1.8 when a class has one row)."""

    def fit(self, X, y):
        if len(X) == 120:
            raise ValueError("no fit on every row")
        return super().fit(X, y)


def test_a_failed_refit_keeps_the_fold_models_and_says_so():
    X, y = _frame()
    ens = EnsembleClassifier([("own", _FailsOnEveryRow(), "all")], cv=3)
    with pytest.warns(UserWarning, match=r"'own' failed to refit.*no fit on every"):
        ens.fit(X, y)
    assert isinstance(ens.estimators_["own"], list)  # the 3 fold models
    board = ens.leaderboard_.set_index("candidate")
    assert board.loc["own", "status"].startswith("fold models")
    assert ens.predict_proba(X).shape == (120, 2)
