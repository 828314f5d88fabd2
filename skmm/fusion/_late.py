"""Late fusion: one classical estimator per modality, predictions combined per row.

Each modality block of the joined matrix (ARCHITECTURE.md) gets its own estimator,
fitted on the rows that have that modality. At predict time a row is scored by the
estimators of the modalities it has, and only those are combined:

- ``combiner="mean"``: the (weighted) mean of their probabilities (classifier) or
  predictions (regressor);
- ``combiner="stacking"``: a ``final_estimator`` learns how to combine them from
  out-of-fold predictions. An absent modality enters the meta-features as the
  training prior (class frequencies) or mean, next to a 0/1 presence flag per
  modality, so the final estimator can tell "absent" from "predicts the prior".

A row without any modality gets the training prior (classifier) or the training
mean of ``y`` (regressor); it never raises.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    _fit_context,
    clone,
    is_classifier,
)
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_method_params,
    check_is_fitted,
    column_or_1d,
)

from skmm._composition import NamedEstimatorsMixin
from skmm._docs import DocLinkMixin
from skmm._torch import auto_num_threads, limited_threads
from skmm.compose._blocks import BlockLayout, split_blocks, validate_modality_input
from skmm.fusion._weights import check_sample_weight, requesting_weights, weight_params

__all__ = ["LateFusionClassifier", "LateFusionRegressor"]

_DROP = "drop"


def _threads_for(X) -> int:
    """Threads (BLAS, OpenMP, torch) of one modality's fit or predict: one per
    ``skmm._torch.WORK_PER_THREAD`` cells of its block (one for a few thousand
    rows, where more threads only wait on each other on shared cores)."""
    return auto_num_threads(float(X.shape[0]) * max(1, X.shape[1]))


def _fit_one(estimator, X, y, params):
    with limited_threads(_threads_for(X)):
        return estimator.fit(X, y, **params)


def _cross_val_predict(estimator, X, y, cv, method, params):
    with limited_threads(_threads_for(X)):
        return cross_val_predict(estimator, X, y, cv=cv, method=method, params=params)


class _BaseLateFusion(
    NamedEstimatorsMixin, DocLinkMixin, MetaEstimatorMixin, BaseEstimator
):
    """What the late-fusion classifier and regressor share."""

    _composition_attr = "estimators"
    _composition_what = "modality"

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "estimators": [dict, None],
        "combiner": [StrOptions({"mean", "stacking"})],
        "weights": [dict, "array-like", None],
        "final_estimator": [HasMethods(["fit", "predict"]), None],
        "cv": ["cv_object"],
        "modalities": [Mapping, None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        estimators=None,
        combiner="mean",
        weights=None,
        final_estimator=None,
        cv=5,
        modalities=None,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.estimators = estimators
        self.combiner = combiner
        self.weights = weights
        self.final_estimator = final_estimator
        self.cv = cv
        self.modalities = modalities
        self.n_jobs = n_jobs

    # -- parameters: ``estimators__<modality>__<param>`` reaches into the dict ----
    def _named_estimators(self, editable: bool = False):
        if not isinstance(self.estimators, Mapping):
            return None
        return [[name, est] for name, est in self.estimators.items()]

    def _store_named_estimators(self, items) -> None:
        self.estimators = dict((name, est) for name, est in items)

    # -- input ------------------------------------------------------------------
    def _validate_X(self, X, y=None, *, reset: bool):
        """Numeric X (array, DataFrame or dict of arrays) and, in fit, y."""
        if not reset:
            X, _ = validate_modality_input(self, X, reset=False)
            return X, None, self.layout_
        if y is None and self.__sklearn_tags__().target_tags.required:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        X, y = validate_modality_input(
            self,
            X,
            y,
            reset=True,
            modalities=self.modalities,
            multi_output=self._multi_output_y,
            y_numeric=self._multi_output_y,
        )
        return X, self._validate_y(y), self.layout_

    @staticmethod
    def _blocks(X, layout: BlockLayout) -> tuple[list[np.ndarray], np.ndarray]:
        """float64 feature blocks (no indicator) and the presence mask."""
        return split_blocks(X, layout, dtype=np.float64)

    # -- the per-modality estimators -------------------------------------------
    def _resolve_estimators(self, layout: BlockLayout) -> dict[str, Any]:
        given = dict(self.estimators or {})
        unknown = [name for name in given if name not in layout.names]
        if unknown:
            raise ValueError(
                f"estimators names modalities that the input lacks: {unknown}; "
                f"the input's modalities are {list(layout.names)}"
            )
        base = self._base_estimator()
        resolved = {}
        for name in layout.names:
            est = given.get(name, base)
            if isinstance(est, str) and est == _DROP:
                continue
            if not hasattr(est, "fit") or not hasattr(est, "predict"):
                raise TypeError(
                    f"estimators[{name!r}] must be an estimator or 'drop', got {est!r}"
                )
            resolved[name] = clone(est)
        if not resolved:
            raise ValueError("every modality is dropped; keep at least one")
        return resolved

    def _resolve_weights(self, names: list[str]) -> np.ndarray:
        if self.weights is None:
            return np.ones(len(names))
        if self.combiner != "mean":
            raise ValueError(
                "weights apply to combiner='mean' only; with 'stacking' the final "
                "estimator learns the weights"
            )
        if isinstance(self.weights, Mapping):
            unknown = [k for k in self.weights if k not in self.layout_.names]
            if unknown:
                raise ValueError(
                    f"weights names modalities that the input lacks: {unknown}; "
                    f"the input's modalities are {list(self.layout_.names)}"
                )
            w = np.array([float(self.weights.get(n, 1.0)) for n in names])
        else:
            w = np.asarray(self.weights, dtype=float).ravel()
            if len(w) != len(names):
                raise ValueError(
                    f"weights has {len(w)} values for {len(names)} modalities "
                    f"{names}; give a dict name -> weight to be explicit"
                )
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(f"weights must be finite, >= 0 and not all 0; got {w}")
        return w

    def _present_rows(self, present: np.ndarray, j: int, name: str) -> np.ndarray:
        rows = present[:, j]
        if not rows.any():
            raise ValueError(
                f"modality {name!r} is absent from every training row; drop it "
                f"with estimators={{{name!r}: 'drop'}}"
            )
        return rows

    # -- metadata routing -------------------------------------------------------
    def _routing_estimators(self) -> dict[str, Any]:
        """Router name to each inner estimator that fit may route metadata to."""
        out = {"estimator": self._base_estimator()}
        for name, est in (self.estimators or {}).items():
            if not (isinstance(est, str) and est == _DROP):
                out[f"estimators__{name}"] = est
        if self.combiner == "stacking":
            out["final_estimator"] = self._final_estimator()
        return out

    def get_metadata_routing(self) -> MetadataRouter:
        """The metadata routing of this estimator: ``fit`` routes to the
        per-modality estimators (``estimator``, ``estimators__<modality>``) and,
        with stacking, to ``final_estimator``.

        Returns
        -------
        routing : MetadataRouter
        """
        # It consumes some itself: sample_weight in the prior and in score.
        router = MetadataRouter(owner=self).add_self_request(self)
        for name, est in self._routing_estimators().items():
            router.add(
                **{name: est},
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        return router

    def _base_estimator(self):
        if self.estimator is not None:
            return self.estimator
        return requesting_weights(self._default())

    def _final_estimator(self):
        if self.final_estimator is not None:
            return self.final_estimator
        return requesting_weights(self._default_final())

    def _route(self, sample_weight, fit_params, names):
        """Fit parameters of each modality's estimator (all rows) and of the
        final estimator."""
        given = dict(self.estimators or {})
        if _routing_enabled():
            if sample_weight is not None:
                fit_params = {**fit_params, "sample_weight": sample_weight}
            routed = process_routing(self, "fit", **fit_params)
            per_block = {
                n: routed[f"estimators__{n}" if n in given else "estimator"].fit
                for n in names
            }
            final = routed.final_estimator.fit if self.combiner == "stacking" else {}
            return per_block, final
        base = self._base_estimator()
        per_block = {
            n: weight_params(
                given.get(n, base), sample_weight, f"the estimator of modality {n!r}"
            )
            for n in names
        }
        final = {}
        if self.combiner == "stacking":
            final = weight_params(
                self._final_estimator(), sample_weight, "final_estimator"
            )
        return per_block, final

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit one estimator per modality on the rows that have it.

        Parameters
        ----------
        X : array-like, DataFrame or dict of str to array-like
            The joined matrix (see the class docstring for how blocks are found).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to each modality's estimator (on its rows), to
            the stacking's out-of-fold fits and final estimator, and used in the
            prior. With metadata routing off, a pipeline gets them in every step
            that takes them, and an estimator that takes none is an error; with
            routing on, they go where the estimators request them.
        **fit_params : dict
            Other metadata, only with metadata routing enabled
            (``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : object
        """
        _raise_for_params(fit_params, self, "fit")
        X, y, layout = self._validate_X(X, y, reset=True)
        self.layout_ = layout
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, len(y))
        estimators = self._resolve_estimators(layout)
        names = list(estimators)
        self._weights = self._resolve_weights(names)
        blocks, present = self._blocks(X, layout)
        index = {name: layout.names.index(name) for name in names}
        self._set_prior(y, sample_weight)
        per_block, final_params = self._route(sample_weight, fit_params, names)

        rows = {n: self._present_rows(present, index[n], n) for n in names}
        all_rows = np.empty((len(y), 0))
        params = {
            n: _check_method_params(all_rows, per_block[n], np.flatnonzero(rows[n]))
            for n in names
        }
        estimators = {
            n: self._check_labels(est, y[rows[n]], n) for n, est in estimators.items()
        }
        for n, est in estimators.items():
            if isinstance(est, DummyClassifier) and params[n]:
                # Stands for a single-class modality: only the weights apply.
                weight = [
                    v for k, v in params[n].items() if k.endswith("sample_weight")
                ]
                params[n] = {"sample_weight": weight[0]} if weight else {}
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_one)(est, blocks[index[n]][rows[n]], y[rows[n]], params[n])
            for n, est in estimators.items()
        )
        self.estimators_ = dict(zip(names, fitted, strict=True))
        self._check_methods()

        if self.combiner == "stacking":
            cv = self.cv
            if not isinstance(cv, Integral) and not hasattr(cv, "split"):
                # Fixed train/test indices number the rows of X: they hold only
                # for modalities that every row has.
                cv = list(cv)
                partial = [n for n in names if not rows[n].all()]
                if partial:
                    raise ValueError(
                        "cv must be an int or a splitter when a modality is absent "
                        f"from some rows (here {partial}): it is applied to each "
                        "modality's present rows, so fixed train/test indices do "
                        "not fit"
                    )
            cv = check_cv(cv, y, classifier=is_classifier(self))
            oof = Parallel(n_jobs=self.n_jobs)(
                delayed(_cross_val_predict)(
                    clone(estimators[n]),
                    blocks[index[n]][rows[n]],
                    y[rows[n]],
                    cv,
                    self._method,
                    params[n],
                )
                for n in names
            )
            outputs = [
                self._fill(pred, rows[n], self.estimators_[n])
                for n, pred in zip(names, oof, strict=True)
            ]
            meta = self._meta_features(outputs, present[:, [index[n] for n in names]])
            final = clone(self._final_estimator())
            self.final_estimator_ = _fit_one(final, meta, y, final_params)
        elif hasattr(self, "final_estimator_"):
            del self.final_estimator_
        return self

    def _check_labels(self, estimator, y, name):
        return estimator

    def _check_methods(self) -> None:
        for name, est in self.estimators_.items():
            if not hasattr(est, self._method):
                raise TypeError(
                    f"the estimator of modality {name!r} ({type(est).__name__}) "
                    f"has no {self._method}, which late fusion needs"
                )

    def _fill(self, pred, rows: np.ndarray, estimator) -> np.ndarray:
        """Per-row outputs of one modality; absent rows get the prior."""
        out = np.tile(self._prior, (len(rows), 1))
        if rows.any():
            out[rows] = self._align(np.asarray(pred, dtype=float), estimator)
        return out

    def _meta_features(self, outputs: list[np.ndarray], present: np.ndarray):
        cols = [self._meta_columns(out) for out in outputs]
        return np.hstack([*cols, present.astype(float)])

    def _combine(self, X) -> np.ndarray:
        """Combined output (probabilities or predictions), shape (n, k)."""
        check_is_fitted(self)
        X, _, layout = self._validate_X(X, reset=False)
        blocks, present = self._blocks(X, layout)
        names = list(self.estimators_)
        index = [layout.names.index(n) for n in names]
        present = present[:, index]
        outputs = []
        for j, est in enumerate(self.estimators_.values()):
            rows = present[:, j]
            pred = None
            if rows.any():
                block = blocks[index[j]][rows]
                with limited_threads(_threads_for(block)):
                    pred = getattr(est, self._method)(block)
            outputs.append(self._fill(pred, rows, est))
        if self.combiner == "stacking":
            meta = self._meta_features(outputs, present)
            with limited_threads(_threads_for(meta)):
                result = np.asarray(
                    getattr(self.final_estimator_, self._method)(meta), dtype=float
                )
            result = self._align(result, self.final_estimator_)
            none = ~present.any(axis=1)
        else:
            w = self._weights[None, :] * present
            total = w.sum(axis=1)
            stacked = np.stack(outputs, axis=1)  # (n, n_modalities, k)
            summed = np.einsum("nm,nmk->nk", w, stacked)
            result = summed / np.where(total > 0, total, 1.0)[:, None]
            none = total <= 0  # no modality, or only modalities weighted 0
        result[none] = self._prior
        return result

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # An all-NaN block row is an absent modality (the block contract).
        tags.input_tags.allow_nan = True
        return tags


class LateFusionClassifier(ClassifierMixin, _BaseLateFusion):
    """One classifier per modality; each row averages the modalities it has.

    The input is the joined matrix of a :class:`~skmm.MultimodalUnion`: a DataFrame
    whose columns are named ``"{modality}__{feature}"`` (a ``"{modality}__missing"``
    column is that block's missing indicator), a dict of arrays (one per
    modality), or any 2-D array with ``modalities=`` naming the column blocks;
    anything else is one block. A block is absent from a row when its indicator is
    set or all its values are NaN.

    Each modality's estimator is fitted on the rows that have that modality. At
    predict time a row is scored only by the modalities it has. A row with none
    gets the training class frequencies (its prediction is the majority class).

    Parameters
    ----------
    estimator : classifier, default=None
        Cloned for every modality that ``estimators`` does not name. It needs
        ``predict_proba``. ``None`` means ``SimpleImputer -> StandardScaler ->
        LogisticRegression(max_iter=1000)``: blocks are normalised so that a
        wide, weak block does not drown a narrow, strong one, and a NaN inside a
        present block (a missing tabular value) is mean-imputed.
    estimators : dict of str to (classifier or "drop"), default=None
        Per-modality estimators by block name; ``"drop"`` leaves a modality out.
        Their parameters are reachable as ``estimators__<modality>__<param>``.
    combiner : {"mean", "stacking"}, default="mean"
        ``"mean"``: the (weighted) mean of the present modalities' probabilities.
        ``"stacking"``: ``final_estimator`` is fitted on out-of-fold
        probabilities (absent modalities filled with the class prior) plus one
        presence flag per modality; the per-modality estimators are then refitted
        on all their rows.
    weights : dict of str to float or array-like, default=None
        Weight of each modality in the mean (dict by name, missing names
        weigh 1; or a sequence in block order); renormalised over the
        modalities a row has. A row whose present modalities all weigh 0 gets
        the prior, as a row without modalities. Only with ``combiner="mean"``.
    final_estimator : classifier, default=None
        The stacking combiner; ``None`` means ``LogisticRegression()``.
    cv : int, cross-validation generator or iterable, default=5
        Folds for the out-of-fold predictions of stacking (stratified for an
        int), applied to each modality's present rows (fixed train/test indices
        only when every row has every modality).
    modalities : dict, default=None
        Block name to a slice, column positions or column names; overrides the
        column prefixes. ``MultimodalUnion.output_indices_`` works as it is.
    n_jobs : int, default=None
        Modalities fitted in parallel (joblib, through ``sklearn.utils.parallel``
        so that scikit-learn's configuration reaches the workers). Each fit and
        predict runs on one thread per 2**25 cells of its block, the caller's
        thread settings restored after.

    Attributes
    ----------
    estimators_ : dict of str to estimator
        The fitted per-modality estimators, in block order (dropped ones left
        out). A modality whose present training rows hold a single class gets a
        ``DummyClassifier`` predicting it.
    final_estimator_ : estimator
        The fitted stacking combiner (``combiner="stacking"`` only).
    layout_ : BlockLayout
        The modality blocks found in the training input.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_prior_ : ndarray of shape (n_classes,)
        Training class frequencies: the prediction for a row without modalities.
    n_features_in_ : int
        Number of input columns (the total width for dict input).
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` was a DataFrame.

    See Also
    --------
    LateFusionRegressor : The regression counterpart.
    sklearn.ensemble.StackingClassifier : Stacking over the same features.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmm import LateFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.array(["cat", "dog"] * 20)
    >>> X = pd.DataFrame({
    ...     "image__0": (y == "dog") + rng.normal(0, 0.2, 40),
    ...     "image__missing": 0.0,
    ...     "tab__size": (y == "dog") + rng.normal(0, 0.4, 40),
    ... })
    >>> clf = LateFusionClassifier().fit(X, y)
    >>> list(clf.estimators_)
    ['image', 'tab']
    >>> X_new = pd.DataFrame({  # rows 2 and 3 have no image: tab alone decides
    ...     "image__0": [1.0, 0.0, 0.0],
    ...     "image__missing": [0.0, 1.0, 1.0],
    ...     "tab__size": [1.0, 1.0, 0.0],
    ... })
    >>> clf.predict(X_new).tolist()
    ['dog', 'dog', 'cat']
    """

    _method = "predict_proba"
    _multi_output_y = False

    @staticmethod
    def _default():
        return make_pipeline(
            SimpleImputer(keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(max_iter=1000),
        )

    @staticmethod
    def _default_final():
        return LogisticRegression()

    def _validate_y(self, y):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                "LateFusionClassifier needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {self.classes_[0]!r}"
            )
        return y

    def _set_prior(self, y, sample_weight=None) -> None:
        weight = np.ones(len(y)) if sample_weight is None else sample_weight
        counts = np.array([weight[y == c].sum() for c in self.classes_])
        self.class_prior_ = counts / counts.sum()
        self._prior = self.class_prior_

    def _check_labels(self, estimator, y, name):
        if len(np.unique(y)) < 2:
            warnings.warn(
                f"modality {name!r} is present only in rows of class {y[0]!r}; it "
                "predicts that class wherever it is present",
                UserWarning,
                stacklevel=3,
            )
            return DummyClassifier(strategy="prior")
        return estimator

    def _align(self, proba, estimator) -> np.ndarray:
        """``proba`` (columns in ``estimator.classes_`` order) on all classes_."""
        out = np.zeros((len(proba), len(self.classes_)))
        cols = np.searchsorted(self.classes_, estimator.classes_)
        out[:, cols] = proba
        return out

    def _meta_columns(self, proba) -> np.ndarray:
        # Binary: one column (the other is its complement), as StackingClassifier.
        return proba[:, 1:] if proba.shape[1] == 2 else proba

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, combined over the modalities each row has.

        Parameters
        ----------
        X : array-like, DataFrame or dict of str to array-like
            Input laid out as in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._combine(X)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row.

        Parameters
        ----------
        X : array-like, DataFrame or dict of str to array-like
            Input laid out as in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class LateFusionRegressor(RegressorMixin, _BaseLateFusion):
    """One regressor per modality; each row averages the modalities it has.

    The input is the joined matrix of a :class:`~skmm.MultimodalUnion`: a DataFrame
    whose columns are named ``"{modality}__{feature}"`` (a ``"{modality}__missing"``
    column is that block's missing indicator), a dict of arrays (one per
    modality), or any 2-D array with ``modalities=`` naming the column blocks;
    anything else is one block. A block is absent from a row when its indicator is
    set or all its values are NaN.

    Each modality's estimator is fitted on the rows that have that modality. At
    predict time a row is predicted only by the modalities it has. A row with
    none gets the training mean of ``y``.

    Parameters
    ----------
    estimator : regressor, default=None
        Cloned for every modality that ``estimators`` does not name. ``None``
        means ``SimpleImputer -> StandardScaler -> RidgeCV(alphas=10**[-3..3])``:
        normalised blocks and a regularisation strength chosen per modality by
        leave-one-out (wide embedding blocks want more than narrow tabular ones).
    estimators : dict of str to (regressor or "drop"), default=None
        Per-modality estimators by block name; ``"drop"`` leaves a modality out.
        Their parameters are reachable as ``estimators__<modality>__<param>``.
    combiner : {"mean", "stacking"}, default="mean"
        ``"mean"``: the (weighted) mean of the present modalities' predictions.
        ``"stacking"``: ``final_estimator`` is fitted on out-of-fold predictions
        (absent modalities filled with the training mean) plus one presence
        flag per modality; the per-modality estimators are then refitted on all
        their rows.
    weights : dict of str to float or array-like, default=None
        Weight of each modality in the mean (dict by name, missing names
        weigh 1; or a sequence in block order); renormalised over the
        modalities a row has. A row whose present modalities all weigh 0 gets
        the prior, as a row without modalities. Only with ``combiner="mean"``.
    final_estimator : regressor, default=None
        The stacking combiner; ``None`` means ``RidgeCV()``.
    cv : int, cross-validation generator or iterable, default=5
        Folds for the out-of-fold predictions of stacking, applied to each
        modality's present rows (fixed train/test indices only when
        every row has every modality).
    modalities : dict, default=None
        Block name to a slice, column positions or column names; overrides the
        column prefixes. ``MultimodalUnion.output_indices_`` works as it is.
    n_jobs : int, default=None
        Modalities fitted in parallel (joblib, through ``sklearn.utils.parallel``);
        each fit and predict on one thread per 2**25 cells of its block.

    Attributes
    ----------
    estimators_ : dict of str to estimator
        The fitted per-modality estimators, in block order (dropped ones left out).
    final_estimator_ : estimator
        The fitted stacking combiner (``combiner="stacking"`` only).
    layout_ : BlockLayout
        The modality blocks found in the training input.
    y_mean_ : ndarray of shape (n_outputs,)
        Training mean of ``y``: the prediction for a row without modalities.
    n_features_in_ : int
        Number of input columns (the total width for dict input).
    feature_names_in_ : ndarray of str
        Input column names, when ``X`` was a DataFrame.

    See Also
    --------
    LateFusionClassifier : The classification counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm import LateFusionRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = {"a": rng.normal(size=(50, 3)), "b": rng.normal(size=(50, 2))}
    >>> y = 2 * X["a"][:, 0] + X["b"][:, 1]
    >>> reg = LateFusionRegressor(combiner="stacking").fit(X, y)
    >>> X_new = {"a": np.array([[1.0, 0, 0]]), "b": np.full((1, 2), np.nan)}
    >>> bool(reg.predict(X_new)[0] > 1.0)  # "b" is absent: "a" alone predicts
    True
    """

    _method = "predict"
    _multi_output_y = True

    @staticmethod
    def _default():
        return make_pipeline(
            SimpleImputer(keep_empty_features=True),
            StandardScaler(),
            RidgeCV(alphas=np.logspace(-3, 3, 7)),
        )

    @staticmethod
    def _default_final():
        return RidgeCV()

    def _validate_y(self, y):
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        self._y_ndim = y.ndim
        return y

    def _set_prior(self, y, sample_weight=None) -> None:
        self.y_mean_ = np.atleast_1d(np.average(y, axis=0, weights=sample_weight))
        self._prior = self.y_mean_

    def _align(self, pred, estimator) -> np.ndarray:
        return pred.reshape(len(pred), -1)

    def _meta_columns(self, pred) -> np.ndarray:
        return pred

    def predict(self, X) -> np.ndarray:
        """Predictions, combined over the modalities each row has.

        Parameters
        ----------
        X : array-like, DataFrame or dict of str to array-like
            Input laid out as in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        pred = self._combine(X)
        return pred.ravel() if self._y_ndim == 1 else pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        est = self.estimator
        tags.target_tags.multi_output = est is None or (
            get_tags(est).target_tags.multi_output
        )
        tags.target_tags.single_output = True
        return tags
