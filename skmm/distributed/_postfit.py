"""ParallelPostFit: run a fitted estimator on a dask DataFrame, partition by partition.

Our own thin wrapper rather than dask-ml's class of the same name: dask-ml 2025.1
pulls numba, llvmlite, sparse and dask-glm (about 150 MB) for this one class, and
its default output metadata comes from running the estimator on fake data, which an
image encoder cannot read. Here the metadata comes from the fitted estimator
(``get_feature_names_out``, ``classes_``) and nothing runs until ``compute``.
"""

from __future__ import annotations

import os
import warnings
import weakref
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from skmm._dataframe import to_numpy
from skmm._docs import DocLinkMixin
from skmm.encoders._base import BaseEncoder
from skmm.exceptions import SkmmWarning

__all__ = [
    "MALLOC_CONFIG",
    "ParallelPostFit",
    "SlowWorkersWarning",
    "is_dask_collection",
    "ship_estimator",
]

#: The dask setting that keeps Dask's workers from slowing torch down (see
#: :class:`SlowWorkersWarning`): ``dask.config.set(MALLOC_CONFIG)`` before the
#: cluster starts its workers.
MALLOC_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


class SlowWorkersWarning(SkmmWarning):
    """Dask workers run with ``MALLOC_TRIM_THRESHOLD_`` set (Dask's default).

    Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` in every worker process, so
    that glibc returns freed memory to the system. It also disables glibc's
    adaptive mmap threshold: every large tensor torch allocates is then mapped and
    unmapped again, and CPU inference ran about 3x slower (EfficientNet-Lite0 on
    this project's 2-core machine: 14 against 42 img/s in the same process). Start
    the workers without it: ``dask.config.set(skmm.distributed.MALLOC_CONFIG)``
    before creating the cluster in Python, or, for ``dask worker`` on other
    machines, a dask YAML config file (``~/.config/dask/skmm.yaml``)::

        distributed:
          nanny:
            pre-spawn-environ:
              MALLOC_TRIM_THRESHOLD_: null

    (An environment variable ``DASK_DISTRIBUTED__...`` cannot unset it: dask
    lower-cases its key.) A nanny also copies these variables into the
    ``os.environ`` of the process running it, so once a ``LocalCluster`` has started
    with Dask's defaults, later clusters of that process inherit the setting:
    configure before the first one, or delete ``os.environ["MALLOC_TRIM_THRESHOLD_"]``.
    """


_INSTALL_HINT = 'install the distributed extra: pip install "skmm[distributed]"'


def _import_dask():
    try:
        import dask
        import dask.dataframe  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise ImportError(
            f"dask is needed for dask collections; {_INSTALL_HINT}"
        ) from exc
    return dask


def is_dask_collection(X: Any) -> bool:
    """Whether ``X`` is a lazy dask collection (without importing dask if absent).

    Parameters
    ----------
    X : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.distributed import is_dask_collection
    >>> is_dask_collection(pd.DataFrame({"a": [1]}))
    False
    """
    if not hasattr(X, "__dask_graph__"):
        return False
    try:
        import dask
    except ImportError:  # pragma: no cover
        return False
    return bool(dask.is_dask_collection(X))


def _current_client():
    """The active ``distributed.Client``, or None (local dask schedulers)."""
    try:
        from distributed import Client
    except ImportError:
        return None
    try:
        return Client.current()  # the one of ``as_current()``, else the default
    except ValueError:  # no client started
        return None


def ship_estimator(estimator: Any) -> Any:
    """A handle on ``estimator`` that dask tasks take as an argument.

    With a ``distributed.Client`` active, the estimator is scattered to every worker
    once (``broadcast=True``): each worker process unpickles it, hence loads the
    model, once per call, however many partitions it then encodes. Otherwise it is
    wrapped in ``dask.delayed`` (one copy in the graph, shared by every task).

    Parameters
    ----------
    estimator : object
        A fitted estimator (anything picklable).

    Returns
    -------
    handle : distributed.Future or dask.delayed.Delayed

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skmm.distributed import ship_estimator
    >>> import dask
    >>> handle = ship_estimator(StandardScaler())  # no client: a dask.delayed
    >>> dask.is_dask_collection(handle)
    True
    """
    dask = _import_dask()
    client = _current_client()
    if client is not None:
        _check_workers(client)
        return client.scatter(estimator, broadcast=True, hash=False)
    return dask.delayed(estimator, pure=False, traverse=False)


_CHECKED_CLIENTS: weakref.WeakSet = weakref.WeakSet()


def _malloc_setting() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _check_workers(client: Any) -> None:
    """Warn once per client when its workers run with MALLOC_TRIM_THRESHOLD_."""
    if client in _CHECKED_CLIENTS:
        return
    _CHECKED_CLIENTS.add(client)
    try:
        settings = client.run(_malloc_setting)
    except Exception:  # a worker that cannot answer: nothing to say
        return
    slow = sorted(w for w, value in settings.items() if value is not None)
    if slow:
        warnings.warn(
            f"{len(slow)} of {len(settings)} Dask workers run with "
            f"MALLOC_TRIM_THRESHOLD_={settings[slow[0]]} (Dask's default), which "
            "made torch inference about 3x slower: start the cluster after "
            "dask.config.set(skmm.distributed.MALLOC_CONFIG); see "
            "skmm.distributed.SlowWorkersWarning",
            SlowWorkersWarning,
            stacklevel=4,
        )


def _is_encoder_output(estimator: Any) -> bool:
    """Whether ``transform`` returns float32 embeddings only (encoders, unions of
    encoders, pipelines ending in one)."""
    if isinstance(estimator, BaseEncoder):
        return True
    if isinstance(estimator, Pipeline):
        return _is_encoder_output(estimator.steps[-1][1])
    if isinstance(estimator, ColumnTransformer):
        used = [
            t
            for _, t, cols in getattr(estimator, "transformers_", [])
            if not (isinstance(t, str) and t == "drop") and len(np.atleast_1d(cols))
        ]
        return bool(used) and all(_is_encoder_output(t) for t in used)
    return False


def _transform_partition(part, estimator, columns, dtype):
    if len(part) == 0:
        return pd.DataFrame(
            np.empty((0, len(columns)), dtype=dtype), index=part.index, columns=columns
        )
    values = to_numpy(estimator.transform(part)).astype(dtype, copy=False)
    return pd.DataFrame(values, index=part.index, columns=columns)


def _predict_partition(part, estimator, method, meta):
    if len(part) == 0:
        return meta.copy()
    out = getattr(estimator, method)(part)
    if isinstance(meta, pd.Series):
        return pd.Series(np.asarray(out), index=part.index, name=meta.name).astype(
            meta.dtype
        )
    values = to_numpy(out)
    return pd.DataFrame(values, index=part.index, columns=meta.columns).astype(
        meta.dtypes.to_dict()
    )


class ParallelPostFit(DocLinkMixin, MetaEstimatorMixin, BaseEstimator):
    """Transform and predict on a dask DataFrame, partition by partition.

    Wraps a scikit-learn estimator (an skmm pipeline, a
    :class:`~skmm.MultimodalUnion`, an encoder): ``fit`` trains it in memory as
    usual, and ``transform``, ``predict``, ``predict_proba`` and
    ``decision_function`` on a ``dask.dataframe.DataFrame`` return lazy dask
    collections computed partition by partition on the workers. The fitted estimator
    is shipped once per worker per call (scattered with ``broadcast=True`` when a
    ``distributed.Client`` is active), so each worker process loads the model once
    and keeps it for all its partitions. Give the encoders an
    :class:`~skmm.EmbeddingCache` on a path every worker sees (a shared or network
    file system) and the workers share one cache: an item encoded by one worker is
    read by the others. Plain (pandas, polars, numpy) input goes straight to the
    estimator.

    The output keeps the input's index and its metadata comes from the fitted
    estimator: ``transform`` columns are ``get_feature_names_out()`` (float32 for
    encoders and unions of encoders, else float64), ``predict`` is a Series of the
    ``classes_`` dtype (float64 for a regressor), ``predict_proba`` a DataFrame
    with one column per class. A task whose worker dies is rerun elsewhere by the
    scheduler (up to ``distributed.scheduler.allowed-failures`` times).

    Parameters
    ----------
    estimator : estimator object
        The estimator to fit (cloned) or, when ``fit`` is not called, an already
        fitted estimator used as it is.
    transform_meta, predict_meta, predict_proba_meta : pandas object, default=None
        Empty DataFrame or Series describing the output of each method, to override
        the metadata read from the fitted estimator (for example for a multi-output
        regressor's ``predict``).

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator`` (only after ``fit``).
    n_features_in_ : int
        Number of input columns of the fitted estimator.
    classes_ : ndarray
        Class labels, for a classifier.

    See Also
    --------
    skmm.distributed.transform_to_npy : write a transform to disk chunk by chunk.

    Notes
    -----
    ``fit`` is not distributed: a dask collection passed to it is computed into
    memory first. Fit on a sample, then encode and predict the whole collection in
    parallel; for a distributed grid search run ``GridSearchCV`` under
    ``joblib.parallel_backend("dask")`` (see :mod:`skmm.distributed`).

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmm.distributed import ParallelPostFit
    >>> df = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    >>> y = (df["a"] > 9).astype(int)
    >>> model = ParallelPostFit(LogisticRegression()).fit(df, y)
    >>> ddf = dd.from_pandas(df, npartitions=4)
    >>> pred = model.predict(ddf)  # lazy: nothing ran yet
    >>> pred.compute().equals(pd.Series(model.estimator_.predict(df), index=df.index))
    True
    """

    def __init__(
        self,
        estimator: Any,
        *,
        transform_meta: Any = None,
        predict_meta: Any = None,
        predict_proba_meta: Any = None,
    ):
        self.estimator = estimator
        self.transform_meta = transform_meta
        self.predict_meta = predict_meta
        self.predict_proba_meta = predict_proba_meta

    # -- fitting: in memory ----------------------------------------------------------
    def fit(self, X, y=None, **fit_params) -> ParallelPostFit:
        """Fit a clone of ``estimator`` on ``X`` (a dask collection is computed).

        Parameters
        ----------
        X : DataFrame, array or dask DataFrame
            Training input.
        y : array-like, Series or dask Series, default=None
            Targets.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : ParallelPostFit
        """
        X = X.compute() if is_dask_collection(X) else X
        y = y.compute() if is_dask_collection(y) else y
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        return self

    def _fitted(self) -> Any:
        estimator = getattr(self, "estimator_", None)
        if estimator is not None:
            return estimator
        check_is_fitted(self.estimator)
        return self.estimator

    def __sklearn_is_fitted__(self) -> bool:
        try:
            self._fitted()
        except Exception:
            return False
        return True

    @property
    def n_features_in_(self) -> int:
        """Number of input columns of the fitted estimator.

        Read from ``estimator_`` after ``fit``, else from the already fitted
        ``estimator``; raises ``NotFittedError`` when neither is fitted.
        """
        return self._fitted().n_features_in_

    @property
    def classes_(self) -> np.ndarray:
        """Class labels of the fitted classifier.

        Read from ``estimator_`` after ``fit``, else from the already fitted
        ``estimator``; ``AttributeError`` for an estimator without ``classes_``
        (a regressor or a transformer).
        """
        return self._fitted().classes_

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output feature names of the fitted estimator's ``transform``.

        These are the columns of a dask ``transform``'s output (unless
        ``transform_meta`` is given).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Passed to the fitted estimator's ``get_feature_names_out``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            What the fitted estimator's ``get_feature_names_out`` returns.
        """
        return self._fitted().get_feature_names_out(input_features)

    # -- metadata --------------------------------------------------------------------
    def _transform_meta(self, estimator) -> pd.DataFrame:
        if self.transform_meta is not None:
            return self.transform_meta
        try:
            columns = [str(c) for c in estimator.get_feature_names_out()]
        except (AttributeError, ValueError, TypeError) as exc:
            raise ValueError(
                f"{type(estimator).__name__} cannot name its output columns "
                "(get_feature_names_out failed); pass transform_meta=, an empty "
                "DataFrame with the output's columns and dtypes"
            ) from exc
        dtype = np.float32 if _is_encoder_output(estimator) else np.float64
        return pd.DataFrame(np.empty((0, len(columns)), dtype=dtype), columns=columns)

    def _predict_meta(self, estimator, method: str):
        if method == "predict" and self.predict_meta is not None:
            return self.predict_meta
        if method == "predict_proba" and self.predict_proba_meta is not None:
            return self.predict_proba_meta
        classes = getattr(estimator, "classes_", None)
        if method == "predict":
            dtype = np.float64 if classes is None else np.asarray(classes).dtype
            return pd.Series([], dtype=dtype)
        if classes is None or np.ndim(classes) != 1:
            raise ValueError(
                f"cannot describe the output of {method} for "
                f"{type(estimator).__name__}; pass predict_proba_meta="
            )
        columns = list(classes)
        width = 1 if method == "decision_function" and len(columns) == 2 else None
        if width == 1:
            return pd.Series([], dtype=np.float64)
        return pd.DataFrame(np.empty((0, len(columns))), columns=columns)

    # -- the parallel methods ---------------------------------------------------------
    def _check_frame(self, X) -> None:
        _import_dask()
        import dask.dataframe as dd

        if not isinstance(X, dd.DataFrame):
            raise TypeError(
                "ParallelPostFit takes a dask DataFrame (one row per sample, one "
                f"column per input) or in-memory input; got {type(X).__name__}"
            )

    def transform(self, X):
        """Transform ``X``; lazily, partition by partition, for a dask DataFrame.

        Parameters
        ----------
        X : DataFrame, array or dask DataFrame
            Raw input, with the columns the estimator was fitted on.

        Returns
        -------
        X_out : ndarray, DataFrame or dask DataFrame
            For a dask DataFrame: a dask DataFrame with the input's index and the
            columns of ``get_feature_names_out()``.
        """
        estimator = self._fitted()
        if not is_dask_collection(X):
            return estimator.transform(X)
        self._check_frame(X)
        meta = self._transform_meta(estimator)
        columns = list(meta.columns)
        dtype = meta.dtypes.iloc[0] if len(columns) else np.float32
        return X.map_partitions(
            _transform_partition,
            ship_estimator(estimator),
            columns,
            dtype,
            meta=meta,
            enforce_metadata=False,
        )

    def _predict_like(self, X, method: str):
        estimator = self._fitted()
        if not hasattr(estimator, method):
            raise AttributeError(f"{type(estimator).__name__} has no {method}")
        if not is_dask_collection(X):
            return getattr(estimator, method)(X)
        self._check_frame(X)
        meta = self._predict_meta(estimator, method)
        return X.map_partitions(
            _predict_partition,
            ship_estimator(estimator),
            method,
            meta,
            meta=meta,
            enforce_metadata=False,
        )

    def predict(self, X):
        """Predict ``X``; lazily, partition by partition, for a dask DataFrame.

        Parameters
        ----------
        X : DataFrame, array or dask DataFrame

        Returns
        -------
        y_pred : ndarray or dask Series
            For a dask DataFrame: a dask Series with the input's index.
        """
        return self._predict_like(X, "predict")

    def predict_proba(self, X):
        """Class probabilities; a dask DataFrame (one column per class) for dask
        input.

        Parameters
        ----------
        X : DataFrame, array or dask DataFrame

        Returns
        -------
        proba : ndarray or dask DataFrame
        """
        return self._predict_like(X, "predict_proba")

    def decision_function(self, X):
        """Decision function; a dask Series (binary) or DataFrame for dask input.

        Parameters
        ----------
        X : DataFrame, array or dask DataFrame

        Returns
        -------
        scores : ndarray, dask Series or dask DataFrame
        """
        return self._predict_like(X, "decision_function")

    def score(self, X, y, sample_weight=None) -> float:
        """The estimator's score; predictions of dask input are computed in
        parallel, then scored in memory.

        Parameters
        ----------
        X : DataFrame, array or dask DataFrame
        y : array-like or dask Series
        sample_weight : array-like, default=None

        Returns
        -------
        score : float
        """
        estimator = self._fitted()
        if not is_dask_collection(X):
            return estimator.score(X, y, sample_weight=sample_weight)
        y_true = y.compute() if is_dask_collection(y) else y
        y_pred = self.predict(X).compute().to_numpy()
        from sklearn.base import is_classifier
        from sklearn.metrics import accuracy_score, r2_score

        metric = accuracy_score if is_classifier(estimator) else r2_score
        return float(metric(np.asarray(y_true), y_pred, sample_weight=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            from sklearn.utils import get_tags

            inner = get_tags(self.estimator)
        except Exception:  # pragma: no cover
            return tags
        tags.estimator_type = inner.estimator_type
        tags.input_tags = inner.input_tags
        return tags
