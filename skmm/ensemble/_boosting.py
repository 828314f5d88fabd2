"""Gradient-boosted trees from LightGBM and CatBoost, as scikit-learn estimators.

Both libraries are optional (``pip install skmm[boosting]``): this module imports
them only when a model is fitted, so it loads without them. The estimators read
what the ensemble gives a candidate, a DataFrame whose ``category`` columns are
split on natively (LightGBM's categorical splits, CatBoost's ordered target
statistics, which is what makes it strong on high-cardinality categories such as
shop or user ids), and any numeric matrix. They are quiet (no log lines, no
``catboost_info/`` folder), draw their seeds from ``random_state``, take
``sample_weight`` (a row of weight 0 is dropped before the library sees it) and
``class_weight``, and run on the threads of the scope they are called in (see
``n_jobs``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from skmm._torch import auto_num_threads, limited_threads
from skmm.fusion._weights import check_sample_weight

__all__ = [
    "INSTALL_HINT",
    "LIBRARIES",
    "BoostedTreesClassifier",
    "BoostedTreesRegressor",
    "is_installed",
]

LIBRARIES = ("lightgbm", "catboost")
INSTALL_HINT = "pip install skmm[boosting]"

# Rows the early-stopping split needs at least (else the trees use every row and
# every iteration): fewer than this many held-out rows stop at noise.
_MIN_VALIDATION_ROWS = 50


def is_installed(library: str) -> bool:
    """Whether ``library`` ("lightgbm" or "catboost") can be imported.

    Examples
    --------
    >>> from skmm.ensemble._boosting import is_installed
    >>> is_installed("no-such-library")
    False
    """
    return importlib.util.find_spec(library) is not None


def _import(library: str):
    try:
        return importlib.import_module(library)
    except ImportError as exc:
        raise ImportError(
            f"BoostedTrees(library={library!r}) needs {library}, which is not "
            f"installed: {INSTALL_HINT} (or pip install {library})"
        ) from exc


def _threads(n_jobs, shape) -> int:
    """Threads for one fit or predict on a ``shape`` matrix: ``n_jobs``, or
    (None) one per ``skmm._torch.WORK_PER_THREAD`` cells, never more than torch
    uses where it is called, which ``skmm._torch.limited_threads`` scopes (the
    ensemble's candidates run inside it). Two OpenMP threads on two cores that
    other processes keep busy wait on each other: a LightGBM fit on 900 rows
    took 54 s on two threads against 0.2 s on one (load 2 on 2 cores)."""
    if n_jobs is None:
        return auto_num_threads(float(shape[0]) * max(1, shape[1]))
    return max(1, effective_n_jobs(n_jobs))


def _codes(col: pd.Series, categories: pd.Index) -> np.ndarray:
    """Each value's position in ``categories`` (-1: missing or not there)."""
    if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.categories.equals(
        categories
    ):
        return np.asarray(col.cat.codes)
    return categories.get_indexer(np.asarray(col, dtype=object))


def _numbers(name, col: pd.Series, index) -> np.ndarray:
    try:
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        values = pd.to_numeric(col, errors="coerce")
        bad = int(np.flatnonzero(values.isna() & col.notna())[0])
        raise ValueError(
            f"column {name!r} holds {col.iloc[bad]!r} (row {bad}, index "
            f"{index[bad]!r}), which is not a number; give it the category dtype "
            "to split on it as a category"
        ) from None


class _BoostedTrees(BaseEstimator):
    """What the classifier and the regressor share."""

    #: Categories a column may have and still be split on natively (read by
    #: ``skmm.ensemble._views.takes_categories``): both libraries take any number.
    _native_categories = np.iinfo(np.int64).max

    _parameter_constraints: dict = {
        "library": [StrOptions(set(LIBRARIES))],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "params": [dict, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        library="lightgbm",
        *,
        n_estimators=300,
        learning_rate=None,
        max_depth=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        params=None,
        n_jobs=None,
        random_state=None,
    ):
        self.library = library
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.params = params
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- input -----------------------------------------------------------------
    def _matrix(self, X, *, reset: bool) -> np.ndarray:
        """X as float64, each ``category`` column as its codes (NaN: missing or a
        category not seen in fit)."""
        if not isinstance(X, pd.DataFrame):
            X = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
        validate_data(self, X, reset=reset, skip_check_array=True)
        if reset:
            self.categories_ = {}
            if isinstance(X, pd.DataFrame):
                for j, (_, col) in enumerate(X.items()):
                    if isinstance(col.dtype, pd.CategoricalDtype):
                        self.categories_[j] = col.cat.categories
        if not isinstance(X, pd.DataFrame):
            return X
        columns = []
        for j, (name, col) in enumerate(X.items()):
            if j in self.categories_:
                codes = _codes(col, self.categories_[j])
                columns.append(np.where(codes < 0, np.nan, codes.astype(np.float64)))
            elif isinstance(col.dtype, pd.CategoricalDtype):
                raise ValueError(
                    f"column {name!r} is categorical but was not in fit; give the "
                    "columns the types they had in fit"
                )
            else:
                columns.append(_numbers(name, col, X.index))
        values = np.column_stack(columns) if columns else np.empty((len(X), 0))
        return check_array(values, dtype=np.float64, ensure_all_finite="allow-nan")

    def _catboost_frame(self, values: np.ndarray) -> pd.DataFrame:
        """CatBoost's input: category codes as integers (-1: missing), the rest
        as floats (NaN stays missing)."""
        data = {}
        for j in range(values.shape[1]):
            col = values[:, j]
            if j in self.categories_:
                data[j] = np.where(np.isnan(col), -1, col).astype(np.int64)
            else:
                data[j] = col
        return pd.DataFrame(data)

    # -- fit -------------------------------------------------------------------
    def _seed(self) -> int:
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def _split(self, y, weight, seed):
        """(train rows, validation rows) of the early-stopping split, or None."""
        n_val = int(round(self.validation_fraction * len(y)))
        if not self.early_stopping or n_val < _MIN_VALIDATION_ROWS:
            return None
        stratify = y if self._stratify(y, n_val) else None
        return train_test_split(
            np.arange(len(y)), test_size=n_val, stratify=stratify, random_state=seed
        )

    def _stratify(self, y, n_val) -> bool:
        return False

    def _rows(self, X, y) -> np.ndarray:
        """X as a matrix (``_matrix``), checked against ``y``: as many rows, at
        least 2 of them."""
        values = self._matrix(X, reset=True)
        check_consistent_length(values, y)
        if len(values) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples, got "
                f"{len(values)} sample"
            )
        return values

    def _fit(self, values, y, sample_weight, *, n_classes: int | None):
        weight = None
        if sample_weight is not None:
            weight = check_sample_weight(sample_weight, len(y))
            keep = weight > 0  # a row of weight 0 is a dropped row
            values, y, weight = values[keep], y[keep], weight[keep]
            if n_classes and len(np.unique(y)) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes "
                    "among the rows of positive weight, but they hold one class"
                )
        seed = self._seed()
        split = self._split(y, weight, seed)
        threads = _threads(self.n_jobs, values.shape)
        fit = self._fit_lightgbm if self.library == "lightgbm" else self._fit_catboost
        with limited_threads(threads):
            self.model_ = fit(values, y, weight, split, seed, threads, n_classes)
        return self

    def _fit_lightgbm(self, values, y, weight, split, seed, threads, n_classes):
        lightgbm = _import("lightgbm")
        make = lightgbm.LGBMClassifier if n_classes else lightgbm.LGBMRegressor
        options = {
            "n_estimators": self.n_estimators,
            "max_depth": -1 if self.max_depth is None else self.max_depth,
            "random_state": seed,
            "n_jobs": threads,
            "verbose": -1,
            # LightGBM's 100 rows per category group leave the categories of a
            # table of a few thousand rows unsplit; 20 is its min_child_samples.
            "min_data_per_group": 20,
            **(
                {}
                if self.learning_rate is None
                else {"learning_rate": self.learning_rate}
            ),
            **(self.params or {}),
        }
        model = make(**options)
        cats = sorted(self.categories_)
        kwargs: dict[str, Any] = {"categorical_feature": cats or "auto"}
        if split is None:
            model.fit(values, y, sample_weight=weight, **kwargs)
            self.n_iter_ = self.n_estimators
            return model
        train, val = split
        # LightGBM 4.7 renamed eval_set (a list of pairs) to eval_X and eval_y.
        if "eval_X" in inspect.signature(model.fit).parameters:
            kwargs.update(eval_X=(values[val],), eval_y=(y[val],))
        else:
            kwargs["eval_set"] = [(values[val], y[val])]
        model.fit(
            values[train],
            y[train],
            sample_weight=None if weight is None else weight[train],
            eval_sample_weight=None if weight is None else [weight[val]],
            callbacks=[lightgbm.early_stopping(self.n_iter_no_change, verbose=False)],
            **kwargs,
        )
        self.n_iter_ = int(model.best_iteration_ or self.n_estimators)
        return model

    def _fit_catboost(self, values, y, weight, split, seed, threads, n_classes):
        catboost = _import("catboost")
        if n_classes:
            make = catboost.CatBoostClassifier
            loss = "MultiClass" if n_classes > 2 else "Logloss"
        else:
            make, loss = catboost.CatBoostRegressor, "RMSE"
        options = {
            "iterations": self.n_estimators,
            "loss_function": loss,
            "random_seed": seed,
            "thread_count": threads,
            "verbose": False,
            "allow_writing_files": False,
            **({} if self.max_depth is None else {"depth": self.max_depth}),
            **(
                {}
                if self.learning_rate is None
                else {"learning_rate": self.learning_rate}
            ),
            **(self.params or {}),
        }
        model = make(**options)
        frame = self._catboost_frame(values)
        cats = sorted(self.categories_)

        def pool(rows):
            return catboost.Pool(
                frame.iloc[rows],
                y[rows],
                cat_features=cats,
                weight=None if weight is None else weight[rows],
            )

        if split is None:
            model.fit(pool(np.arange(len(y))))
            self.n_iter_ = int(model.tree_count_)
            return model
        train, val = split
        model.fit(
            pool(train),
            eval_set=pool(val),
            early_stopping_rounds=self.n_iter_no_change,
            use_best_model=True,
        )
        self.n_iter_ = int(model.tree_count_)
        return model

    # -- predict ---------------------------------------------------------------
    def _output(self, X, method: str) -> np.ndarray:
        check_is_fitted(self, "model_")
        values = self._matrix(X, reset=False)
        threads = _threads(self.n_jobs, values.shape)
        with limited_threads(threads):
            if self.library == "lightgbm":
                return np.asarray(getattr(self.model_, method)(values, n_jobs=threads))
            frame = self._catboost_frame(values)
            return np.asarray(getattr(self.model_, method)(frame, thread_count=threads))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags


class BoostedTreesClassifier(ClassifierMixin, _BoostedTrees):
    """Gradient-boosted trees from LightGBM or CatBoost, categories native.

    A ``category`` column of a DataFrame is split on as categories, with any
    number of them: LightGBM groups categories by their gradient statistics,
    CatBoost encodes each by ordered target statistics (the target mean of the
    rows before it in a random order), which is what wins on high-cardinality
    columns such as shop, user or product ids. A NaN is a missing value; a
    category not seen in fit is missing too. Needs ``pip install
    skmm[boosting]`` (or the one library).

    Parameters
    ----------
    library : {"lightgbm", "catboost"}, default="lightgbm"
    n_estimators : int, default=300
        Boosting iterations at most.
    learning_rate : float, default=None
        None: the library's (LightGBM 0.1; CatBoost picks one from the data size
        and ``n_estimators``).
    max_depth : int, default=None
        None: the library's (LightGBM: 31 leaves at any depth; CatBoost 6).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows (stratified) and stop after
        ``n_iter_no_change`` iterations without a better validation loss,
        keeping the best iteration. Off when that would hold out fewer than 50
        rows.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=20
    class_weight : {"balanced"} or dict, default=None
        Class weights, multiplied into ``sample_weight``.
    params : dict, default=None
        Other parameters of the library's estimator (``LGBMClassifier``,
        ``CatBoostClassifier``), passed as they are.
    n_jobs : int, default=None
        Threads (-1: every core). None: one per 2**25 cells of the matrix (one
        for a few thousand rows), never more than torch uses where it is
        called, which the ensemble scopes per candidate
        (``skmm._torch.limited_threads``): the trees never run more threads
        than their scope allows.
    random_state : int, RandomState instance or None, default=None
        Seed of the library and of the early-stopping split.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : lightgbm.LGBMClassifier or catboost.CatBoostClassifier
        The fitted model (on the codes of ``y``).
    n_iter_ : int
        Iterations kept (the best one with early stopping).
    categories_ : dict of int to Index
        Position and categories of each ``category`` column seen in fit.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X was a DataFrame.

    See Also
    --------
    sklearn.ensemble.HistGradientBoostingClassifier : scikit-learn's own, at most
        255 categories per column.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmm.ensemble import BoostedTreesClassifier
    >>> rng = np.random.default_rng(0)
    >>> shop = rng.integers(0, 40, 400)
    >>> X = pd.DataFrame({"shop": pd.Categorical(shop), "x": rng.normal(size=400)})
    >>> y = (shop % 3 == 0).astype(int)
    >>> clf = BoostedTreesClassifier(random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **_BoostedTrees._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        library="lightgbm",
        *,
        n_estimators=300,
        learning_rate=None,
        max_depth=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        class_weight=None,
        params=None,
        n_jobs=None,
        random_state=None,
    ):
        super().__init__(
            library,
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            max_depth=max_depth,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            params=params,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the trees.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            ``category`` columns are split on natively; NaN is missing.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights (a row of weight 0 is left out).

        Returns
        -------
        self : object
        """
        y = column_or_1d(y, warn=True)
        values = self._rows(X, y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {self.classes_[0]!r}"
            )
        codes = encoder.transform(y)
        if self.class_weight is not None:
            sample_weight = self._class_weighted(codes, sample_weight)
        return self._fit(values, codes, sample_weight, n_classes=len(self.classes_))

    def _class_weighted(self, codes, sample_weight) -> np.ndarray:
        """``sample_weight`` times each row's class weight; "balanced" from the
        weighted class totals, so that integer weights are repeated rows."""
        weight = (
            np.ones(len(codes))
            if sample_weight is None
            else check_sample_weight(sample_weight, len(codes))
        )
        k = len(self.classes_)
        if isinstance(self.class_weight, dict):
            per_class = np.array([self.class_weight.get(c, 1.0) for c in self.classes_])
        else:
            totals = np.bincount(codes, weights=weight, minlength=k)
            per_class = np.divide(
                weight.sum(), k * totals, out=np.zeros(k), where=totals > 0
            )
        return weight * per_class[codes]

    def _stratify(self, y, n_val) -> bool:
        counts = np.bincount(y)
        return bool(counts[counts > 0].min() >= 2 and n_val >= len(counts))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._output(X, "predict_proba")
        full = np.zeros((len(proba), len(self.classes_)))
        seen = np.asarray(getattr(self.model_, "classes_", np.arange(proba.shape[1])))
        full[:, seen.astype(int)] = proba
        return full

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class BoostedTreesRegressor(RegressorMixin, _BoostedTrees):
    """Gradient-boosted trees from LightGBM or CatBoost for regression.

    The regression counterpart of :class:`BoostedTreesClassifier` (squared
    error; early stopping on a random split). Needs ``pip install
    skmm[boosting]``.

    Parameters
    ----------
    library : {"lightgbm", "catboost"}, default="lightgbm"
    n_estimators : int, default=300
    learning_rate : float, default=None
    max_depth : int, default=None
    early_stopping : bool, default=True
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=20
    params : dict, default=None
    n_jobs : int, default=None
    random_state : int, RandomState instance or None, default=None
        As in :class:`BoostedTreesClassifier`.

    Attributes
    ----------
    model_ : lightgbm.LGBMRegressor or catboost.CatBoostRegressor
    n_iter_ : int
    categories_ : dict of int to Index
    n_features_in_ : int
    feature_names_in_ : ndarray of str

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.ensemble import BoostedTreesRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> reg = BoostedTreesRegressor("catboost", random_state=0)
    >>> bool(reg.fit(X, X[:, 0] ** 2).score(X, X[:, 0] ** 2) > 0.9)
    True
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the trees.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        y = column_or_1d(y, warn=True)
        return self._fit(self._rows(X, y), y, sample_weight, n_classes=None)

    def predict(self, X) -> np.ndarray:
        """Predicted values.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._output(X, "predict").reshape(-1)
