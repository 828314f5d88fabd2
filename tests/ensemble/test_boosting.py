"""LightGBM and CatBoost trees: as estimators and as the ensemble's candidates.

The libraries are optional (``skmm[boosting]``): the tests that fit them skip
without them; the ones about their absence simulate it.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_info

from skmm import EnsembleClassifier
from skmm._torch import limited_threads
from skmm.ensemble import (
    BoostedTreesClassifier,
    BoostedTreesRegressor,
    _candidates,
    _ensemble,
    default_candidates,
)
from skmm.ensemble._candidates import not_installed_candidates
from skmm.ensemble._views import EmbeddingProjection, takes_categories

LIBRARIES = ["lightgbm", "catboost"]
HINT = "not installed: pip install skmm[boosting]"


@pytest.fixture(params=LIBRARIES)
def library(request):
    pytest.importorskip(request.param)
    return request.param


def _shops(n, seed, n_shops=300):
    """A category with more values than HistGradientBoosting splits on
    (255) whose effect is not monotonic in its code, a number, and NaN in both."""
    rng = np.random.default_rng(seed)
    shop = rng.integers(0, n_shops, n)
    x = rng.normal(size=n)
    y = ((shop % 2 == 0) ^ (x > 1.0)).astype(int)
    X = pd.DataFrame({"shop": pd.Categorical(shop, categories=range(n_shops)), "x": x})
    return X, y


def test_categories_are_split_natively_whatever_their_number(library):
    X, y = _shops(3000, 0)
    X_test, y_test = _shops(1000, 1)
    native = BoostedTreesClassifier(library, random_state=0).fit(X, y)
    assert list(native.categories_) == [0] and len(native.categories_[0]) == 300
    codes = BoostedTreesClassifier(library, random_state=0).fit(
        X.assign(shop=X["shop"].astype(float)), y
    )
    as_numbers = codes.score(X_test.assign(shop=X_test["shop"].astype(float)), y_test)
    # Even or odd shop: one categorical split, hundreds of numeric ones.
    assert native.score(X_test, y_test) > 0.9 > as_numbers + 0.15


def test_the_ensemble_gives_them_every_category_and_hgb_at_most_255():
    tree = BoostedTreesClassifier()
    hgb = HistGradientBoostingClassifier(categorical_features="from_dtype")
    assert takes_categories(hgb) == 255
    assert takes_categories(tree) > 10**9
    assert takes_categories(make_pipeline(EmbeddingProjection(), hgb)) == 255
    assert takes_categories(make_pipeline(EmbeddingProjection(), tree)) > 10**9
    assert takes_categories(LogisticRegression()) == 0
    assert takes_categories(make_pipeline(LogisticRegression())) == 0
    X, y = _shops(200, 0)
    X.columns = ["tab__shop", "tab__x"]
    table = EnsembleClassifier([("t", tree)])._table(X, y, reset=True)[0]
    columns = table.columns_of(list(table.layout.names))
    rows = np.arange(10)
    assert table.frame(columns, rows, takes_categories(tree))["tab__shop"].dtype == (
        "category"
    )
    assert table.frame(columns, rows, takes_categories(hgb))["tab__shop"].dtype == (
        "float64"
    )


def test_missing_values_and_unseen_categories_are_missing(library):
    X, y = _shops(1500, 0, n_shops=6)
    # NaN carries the signal: the model must route it, not fail on it.
    X.loc[y == 1, "x"] = np.where(np.arange((y == 1).sum()) % 2, np.nan, 5.0)
    X.loc[::9, "shop"] = np.nan
    clf = BoostedTreesClassifier(library, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    new = pd.DataFrame(
        {
            "shop": pd.Categorical([np.nan, 1.0], categories=[1.0, 99.0]),
            "x": [np.nan, 0.0],
        }
    )
    proba = clf.predict_proba(new)
    assert proba.shape == (2, 2) and np.isfinite(proba).all()
    assert proba[0, 1] > 0.5  # x missing: class 1, as in training


def test_a_column_of_text_is_named_with_its_row():
    X, y = _shops(60, 0, n_shops=4)
    X["x"] = X["x"].astype(object)
    X.loc[7, "x"] = "seven"
    with pytest.raises(ValueError, match=r"column 'x' holds 'seven' \(row 7, index 7"):
        BoostedTreesClassifier().fit(X, y)


def test_rows_whose_block_is_absent_reach_only_the_candidates_that_see_them(library):
    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 2, n)
    emb = rng.normal(size=(n, 8))
    emb[:, 0] += 1.5 * y
    X = pd.DataFrame(emb, columns=[f"text__{i:04d}" for i in range(8)])
    absent = np.arange(n) < 40
    X.loc[absent, X.columns] = 0.0
    X["text__missing"] = absent.astype(float)
    X["tab__size"] = np.where(rng.random(n) < 0.2, np.nan, y + rng.normal(0, 1, n))
    X["cat__colour"] = pd.Categorical(
        np.where(y == 1, rng.integers(0, 3, n), rng.integers(2, 5, n)),
        categories=range(5),
    )
    tree = BoostedTreesClassifier(library, n_estimators=50, random_state=0)
    text_only = make_pipeline(EmbeddingProjection(4, random_state=0), clone(tree))
    clf = EnsembleClassifier(
        [
            ("tab", tree, "tabular"),
            ("projected", make_pipeline(EmbeddingProjection(4), clone(tree)), "all"),
            ("text", text_only, "text"),
        ],
        cv=3,
        verbose=0,
    ).fit(X, y)
    oof = clf.oof_predictions_
    assert np.isnan(oof["text"][absent]).all()
    assert not np.isnan(oof["text"][~absent]).any()
    assert not np.isnan(oof["projected"]).any()  # it reads the rows' tab block
    board = clf.leaderboard_.set_index("candidate")
    assert (board.loc[["tab", "projected"], "score"] > 0.85).all()
    assert board.loc["text", "score"] > 0.65  # the weaker signal; chance: 0.5
    proba = clf.predict_proba(X.iloc[:50])
    assert np.isfinite(proba).all()


def test_zero_weight_is_a_dropped_row(library):
    X, y = _shops(400, 0, n_shops=8)
    weight = np.random.default_rng(1).integers(0, 3, len(y)).astype(float)
    keep = weight > 0
    X_new, _ = _shops(100, 2, n_shops=8)
    weighted = BoostedTreesClassifier(library, random_state=0)
    weighted.fit(X, y, sample_weight=weight)
    dropped = BoostedTreesClassifier(library, random_state=0)
    dropped.fit(X[keep], y[keep], sample_weight=weight[keep])
    np.testing.assert_allclose(
        weighted.predict_proba(X_new), dropped.predict_proba(X_new), atol=1e-12
    )


def _smooth(n, seed):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 6, n)
    x = np.round(rng.normal(size=n), 1)
    p = 1 / (1 + np.exp(-(2 * x + (c % 2) - 0.5)))
    X = pd.DataFrame({"c": pd.Categorical(c, categories=range(6)), "x": x})
    return X, (rng.random(n) < p).astype(int)


def test_integer_weights_are_repeated_rows_within_tolerance(library):
    # As close as the libraries allow: their minimum leaf sizes count rows, and
    # CatBoost's ordered statistics see a repeated row several times.
    X, y = _smooth(600, 2)
    X_test, y_test = _smooth(1000, 1)
    counts = np.random.default_rng(3).integers(0, 4, len(y))
    kw = dict(early_stopping=False, n_estimators=100, learning_rate=0.05)
    weighted = BoostedTreesClassifier(library, random_state=0, **kw)
    weighted.fit(X, y, sample_weight=counts)
    repeated = BoostedTreesClassifier(library, random_state=0, **kw)
    repeated.fit(X.loc[X.index.repeat(counts)], np.repeat(y, counts))
    p_w = weighted.predict_proba(X_test)[:, 1]
    p_r = repeated.predict_proba(X_test)[:, 1]
    assert np.abs(p_w - p_r).mean() < 0.08  # measured: 0.04 (both libraries)
    assert weighted.score(X_test, y_test) == pytest.approx(
        repeated.score(X_test, y_test), abs=0.03
    )
    # and far from ignoring the weights
    plain = BoostedTreesClassifier(library, random_state=0, **kw).fit(X, y)
    assert np.abs(plain.predict_proba(X_test)[:, 1] - p_w).mean() > 0.01


def test_class_weight_balanced_weighs_classes_by_their_weighted_totals(library):
    X, y = _smooth(400, 0)
    y[:300] = 0  # a rare class 1
    clf = BoostedTreesClassifier(library, class_weight="balanced", random_state=0)
    plain = BoostedTreesClassifier(library, random_state=0)
    assert clf.fit(X, y).predict(X).mean() > plain.fit(X, y).predict(X).mean()
    weight = clf._class_weighted(np.asarray(y), None)
    assert weight[y == 0].sum() == pytest.approx(weight[y == 1].sum())


def test_grid_search_over_a_parameter(library):
    X, y = _smooth(300, 0)
    search = GridSearchCV(
        BoostedTreesClassifier(library, early_stopping=False, random_state=0),
        {"n_estimators": [1, 60]},
        cv=3,
        scoring="neg_log_loss",
    ).fit(X, y)
    assert search.best_params_ == {"n_estimators": 60}  # one tree underfits
    assert search.best_estimator_.n_iter_ == 60
    assert search.best_estimator_.model_ is not None


def test_clone_and_pickle(library):
    X, y = _smooth(200, 0)
    clf = BoostedTreesClassifier(library, max_depth=3, params={"reg_lambda": 2.0})
    clf.set_params(random_state=0)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not hasattr(copy, "model_")
    clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    reg = BoostedTreesRegressor(library, random_state=0).fit(X, X["x"] * 2)
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(again.predict(X), reg.predict(X))
    assert reg.score(X, X["x"] * 2) > 0.9


def test_same_seed_same_model_and_multiclass(library):
    X, _ = _smooth(300, 0)
    y = np.array(["a", "b", "c"])[np.digitize(X["x"], [-0.5, 0.5])]
    a = BoostedTreesClassifier(library, random_state=3).fit(X, y)
    b = BoostedTreesClassifier(library, random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert list(a.classes_) == ["a", "b", "c"] and a.score(X, y) > 0.9


def test_quiet_and_no_files(library, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    X, y = _smooth(300, 0)
    BoostedTreesClassifier(library, random_state=0).fit(X, y).predict(X)
    BoostedTreesRegressor(library, random_state=0).fit(X, X["x"]).predict(X)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert list(tmp_path.iterdir()) == []  # no catboost_info/


def _threads_of(model) -> int:
    params = model.model_.get_params()
    return params["n_jobs"] if "n_jobs" in params else params["thread_count"]


def test_threads_follow_the_scope_and_the_callers_come_back(library):
    X, y = _smooth(200, 0)
    before = [lib["num_threads"] for lib in threadpool_info()]
    with limited_threads(1):
        clf = BoostedTreesClassifier(library, random_state=0).fit(X, y)
    assert _threads_of(clf) == 1
    # A small matrix gets one thread even where more are allowed; n_jobs wins.
    assert _threads_of(BoostedTreesClassifier(library).fit(X, y)) == 1
    assert _threads_of(BoostedTreesClassifier(library, n_jobs=2).fit(X, y)) == 2
    assert [lib["num_threads"] for lib in threadpool_info()] == before


def test_the_library_missing_is_an_error_that_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "catboost", None)  # import fails
    X, y = _smooth(60, 0)
    with pytest.raises(ImportError, match=r"pip install skmm\[boosting\]"):
        BoostedTreesClassifier("catboost").fit(X, y)


# -- in the default library -------------------------------------------------------


def _names(candidates):
    return [name for name, *_ in candidates]


def test_presets_place_them_when_installed(monkeypatch):
    monkeypatch.setattr(_candidates, "is_installed", lambda library: True)
    best = _names(default_candidates(preset="best"))
    assert best[:2] == ["hgb", "hgb_projected"]
    for name in ["lightgbm", "lightgbm_projected", "catboost", "catboost_projected"]:
        assert name in best
    default = _names(default_candidates(preset="default"))
    assert set(best) - set(default) == {"fusion_gated"} | {
        name
        for library, presets in _candidates.BOOSTED_PRESETS.items()
        if "default" not in presets
        for name in (library, f"{library}_projected")
    }
    assert not any("lightgbm" in n or "catboost" in n for n in _names(
        default_candidates(preset="fast")
    ))  # fmt: skip
    # Cheap first under a time limit: trees like hgb (cost class 0).
    for _, est, _ in default_candidates(preset="best"):
        if isinstance(est, BoostedTreesClassifier) or (
            hasattr(est, "steps") and isinstance(est[-1], BoostedTreesClassifier)
        ):
            assert _ensemble._cost_class(est) == 0


def _data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = pd.DataFrame(
        rng.normal(size=(n, 6)), columns=[f"text__{i:04d}" for i in range(6)]
    )
    X["text__0000"] += y
    X["tab__size"] = rng.normal(size=n) + y
    X["cat__colour"] = pd.Categorical(
        np.where(y == 1, rng.integers(0, 3, n), rng.integers(2, 5, n)),
        categories=range(5),
    )
    return X, y


def test_their_absence_changes_nothing_but_the_leaderboard(monkeypatch):
    for library in LIBRARIES:
        pytest.importorskip(library)
    X, y = _data()
    no_heads = {"fusion_concat": "drop", "fusion_gated": "drop"}
    common = dict(preset="best", cv=3, random_state=0, verbose=0)
    present = EnsembleClassifier(no_heads, **common).fit(X, y)
    monkeypatch.setattr(_candidates, "is_installed", lambda library: False)
    absent = EnsembleClassifier(no_heads, **common).fit(X, y)
    boosted = {"lightgbm", "lightgbm_projected", "catboost", "catboost_projected"}
    assert boosted <= set(present.oof_predictions_)
    others = set(present.oof_predictions_) - boosted - {"ensemble"}
    assert set(absent.oof_predictions_) == others | {"ensemble"}
    for name in others:
        np.testing.assert_array_equal(
            absent.oof_predictions_[name], present.oof_predictions_[name]
        )
    board = absent.leaderboard_.set_index("candidate")
    assert set(board.index) == set(present.leaderboard_["candidate"])
    assert (board.loc[sorted(boosted), "status"] == HINT).all()
    assert board.loc[sorted(boosted), "score"].isna().all()
    assert (board.loc[sorted(boosted), "weight"] == 0).all()
    assert set(board.drop(index=sorted(boosted))["status"]) == {"fitted"}
    assert (present.leaderboard_["status"] == "fitted").all()
    # Dropping a candidate that is not installed is no error; it leaves no row.
    dropped = EnsembleClassifier({**no_heads, "catboost": "drop"}, **common).fit(X, y)
    assert "catboost" not in set(dropped.leaderboard_["candidate"])
    assert "lightgbm" in set(dropped.leaderboard_["candidate"])


def test_not_installed_names_only_the_presets_ones(monkeypatch):
    monkeypatch.setattr(_candidates, "is_installed", lambda library: False)
    assert not_installed_candidates("fast") == []
    names = [name for name, *_ in not_installed_candidates("best")]
    assert names == [
        "lightgbm", "lightgbm_projected", "catboost", "catboost_projected"
    ]  # fmt: skip
    assert {why for *_, why in not_installed_candidates("best")} == {HINT}
    # A user's own list of candidates is never reported as not installed.
    X, y = _data()
    clf = EnsembleClassifier([("lr", LogisticRegression())], preset="best", cv=3,
                             verbose=0).fit(X, y)  # fmt: skip
    assert list(clf.leaderboard_["status"]) == ["fitted", "fitted"]


def _checked():
    """The four estimators with few trees, for scikit-learn's checks."""
    out = []
    for library in LIBRARIES:
        try:
            __import__(library)
        except ImportError:
            continue
        for make in (BoostedTreesClassifier, BoostedTreesRegressor):
            out.append(make(library, n_estimators=20, random_state=0))
    return out


def _expected_failures(estimator):
    if estimator.library == "catboost":
        # Its ordered target statistics and ordered boosting see a repeated row
        # several times (see the within-tolerance test above).
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "CatBoost: integer weights are repeated rows only within tolerance"
            )
        }
    return {}


@parametrize_with_checks(_checked(), expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    check(estimator)
