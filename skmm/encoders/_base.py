"""What every skmm encoder shares.

Input handling (pandas, polars, lists, arrays; one or several columns), missing values,
bad values with precise errors, device resolution, model loading through the
process-level registry, and the pickling policy (weights stored in the pickle by
default, so that a saved pipeline works offline and on a CPU-only machine).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar, TypeVar

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from skmm._dataframe import column_values as _column_values
from skmm._dataframe import row_labels
from skmm._docs import DocLinkMixin
from skmm._torch import (
    resolve_device,
    resolve_precision,
    retry_on_out_of_memory,
)
from skmm._version import __version__
from skmm.cache import EmbeddingCache, MemoryCache, check_cache_value, resolve_cache
from skmm.cache._keys import fingerprint_of
from skmm.encoders._backends import Backend
from skmm.exceptions import OutOfMemoryWarning, UnreadableValuesWarning

__all__ = ["BaseEncoder", "is_missing"]

_MAX_LISTED_FAILURES = 5
_T = TypeVar("_T")


def is_missing(value: Any) -> bool:
    """Whether ``value`` stands for "this modality is absent for this row".

    None, NaN, ``pd.NA`` and ``pd.NaT`` are missing; anything else, an empty string
    included, is a value.

    Parameters
    ----------
    value : object
        One cell of an encoder's input column.

    Returns
    -------
    bool
        True for None, ``pd.NA``, ``pd.NaT`` and a float (Python or numpy) NaN;
        False for everything else (the encoder then reads ``value`` and raises, or
        with ``on_error="missing"`` warns, if it cannot).

    Examples
    --------
    >>> from skmm.encoders import is_missing
    >>> [is_missing(v) for v in (None, float("nan"), "", "a")]
    [True, True, False, False]
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return math.isnan(value)
    return False


def _short_repr(value: Any, limit: int = 240) -> str:
    if isinstance(value, np.ndarray):
        return f"<array shape={value.shape} dtype={value.dtype}>"
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) > 32:
        return f"<{len(value)} bytes>"
    text = repr(value)
    if len(text) <= limit:
        return text
    # The limit leaves a whole absolute path readable (and copyable); past it,
    # keep both ends: a long path's file name is at its end.
    half = (limit - 3) // 2
    return text[:half] + "..." + text[-half:]


class _Column:
    """One input column: its name for messages, its values, its row labels."""

    def __init__(self, name: str, values: list, labels: Sequence | None = None):
        self.name = name
        self.values = values
        self.labels = labels

    def where(self, row: int) -> str:
        where = f"column {self.name!r}, row {row}"
        if self.labels is not None and self.labels[row] != row:
            where += f" (index {self.labels[row]!r})"
        return where


def _split_columns(X: Any) -> tuple[list[_Column], list[str] | None]:
    """Split an encoder input into columns; return them and their names, if any.

    Accepted: a pandas or polars DataFrame or Series, a list or tuple of values (one
    column), a 1-D array (one column), a 2-D object array (columns), and a 3-D or
    4-D uint8 array (a column of images).
    """
    labels = row_labels(X)
    frame = nw.from_native(X, allow_series=True, pass_through=True)
    if isinstance(frame, nw.DataFrame):
        names = [str(c) for c in frame.columns]
        columns = [
            _Column(name, _column_values(nw.to_native(frame.get_column(col))), labels)
            for name, col in zip(names, frame.columns, strict=True)
        ]
        return columns, names
    if isinstance(frame, nw.Series):
        name = "x0" if frame.name is None else str(frame.name)
        return [_Column(name, _column_values(nw.to_native(frame)), labels)], None
    if isinstance(X, np.ndarray):
        if X.ndim == 1 or (X.ndim in (3, 4) and X.dtype == np.uint8):
            return [_Column("x0", list(X))], None
        if X.ndim == 2:
            return [_Column(f"x{j}", list(X[:, j])) for j in range(X.shape[1])], None
        raise ValueError(f"Expected a 1-D or 2-D array of values, got shape {X.shape}")
    if isinstance(X, (list, tuple)):
        return [_Column("x0", list(X))], None
    raise TypeError(
        "Expected a DataFrame, a Series, a list or an array of values, got "
        f"{type(X).__name__}"
    )


class NumberInterval(Interval):
    """scikit-learn's ``Interval``, which a bool does not satisfy (``n_frames=True``
    is a mistake, not 1 frame)."""

    def is_satisfied_by(self, val: Any) -> bool:
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def positive(kind: type) -> NumberInterval:
    """The constraint "a positive int" (``Integral``) or "a positive number"."""
    if kind is Integral:
        return NumberInterval(Integral, 1, None, closed="left")
    return NumberInterval(Real, 0, None, closed="neither")


# The constraint of the encoders that decode in DataLoader worker processes.
NUM_WORKERS = [NumberInterval(Integral, 0, None, closed="left"), StrOptions({"auto"})]


class BaseEncoder(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Base class of skmm's encoders: a column of raw values in, vectors out.

    Subclasses do the modality's own work: ``_make_backend`` (the model backend
    that their parameters name, see :mod:`skmm.encoders._backends`: it owns the
    loading, the registry key, the saved weights and their digest),
    ``_check_value`` (cheap per-value validation), ``_encode`` (decode and batch
    the values, run them through the backend) and ``_output_params``.

    Each input column is encoded separately; the outputs are concatenated. A missing
    value gives a row of NaN for that column's block. A bad value raises a
    ``ValueError`` naming the column, the row and the value, or, with
    ``on_error="missing"``, is treated as missing and reported in one warning.

    Each item is looked up by its content first in the embedding cache (the
    ``cache`` parameter, else that of :func:`skmm.set_config`, by default the
    process's in-memory store; ``cache=False`` for none); only the misses are
    decoded and encoded (each distinct one once), and their vectors are stored
    batch by batch as they come, so an interrupted call keeps its finished
    batches. The cache's encoder fingerprint is made of the backend's weights
    digest and the subclass's ``_output_params`` (what changes the vectors).

    See Also
    --------
    ImageEncoder, TextEncoder, AudioEncoder, VideoEncoder : the concrete encoders.

    Examples
    --------
    Every encoder is a ``BaseEncoder`` and reads its input the same way: here an
    :class:`ImageEncoder` (a tiny random-weight timm model) encodes two columns of
    a DataFrame, each into its own block of ``embedding_dim_`` features.

    >>> import numpy as np
    >>> import pandas as pd
    >>> from skmm.encoders import BaseEncoder, ImageEncoder
    >>> enc = ImageEncoder("test_convnext", pretrained=False, device="cpu")
    >>> isinstance(enc, BaseEncoder)
    True
    >>> image = np.zeros((32, 32, 3), dtype=np.uint8)
    >>> photos = pd.DataFrame({"front": [image, image], "back": [image, None]})
    >>> X = enc.fit_transform(photos)
    >>> X.shape, enc.embedding_dim_
    ((2, 128), 64)
    >>> enc.get_feature_names_out()[[0, -1]].tolist()
    ['front_0000', 'back_0063']
    >>> bool(np.isnan(X[1, 64:]).all())  # the missing back photo
    True
    """

    modality: ClassVar[str] = "unknown"
    # Whether a str value is a file path (images) or the item itself (text).
    _str_is_path: ClassVar[bool] = False
    # The parameters that choose the loaded model: changed after fit, they need a
    # new fit (fitted attributes stay as they are until then, as in scikit-learn).
    _model_params: ClassVar[tuple[str, ...]] = ("model", "pretrained")
    # The parameters every encoder has; subclasses add theirs. ``cache`` and
    # ``precision`` are checked by the validators they share with ``set_config``
    # and the heads (one rule, one message).
    _parameter_constraints: ClassVar[dict] = {
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "device": [str, torch.device],
        "precision": "no_validation",
        "cache": "no_validation",
        "on_error": [StrOptions({"raise", "missing"})],
        "save_weights": ["boolean"],
        "verbose": ["verbose", None],
    }

    # -- subclass hooks ---------------------------------------------------------
    def _make_backend(self) -> Backend:
        """The backend of the model that the parameters name (on ``device_``)."""
        raise NotImplementedError

    def _check_value(self, value: Any) -> str | None:
        raise NotImplementedError

    def _check_params(self) -> None:
        """Rules that span parameters (each parameter alone is checked by
        ``_parameter_constraints``)."""

    def _encode(
        self, values: list, fail: Callable[[int, str], None]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(positions, vectors)`` for batches of ``values``.

        ``fail(position, reason)`` reports a value that could not be decoded; it
        raises when ``on_error="raise"``.
        """
        raise NotImplementedError

    def _output_params(self) -> dict[str, Any]:
        """The parameters, besides the weights, that change the vectors."""
        raise NotImplementedError

    # -- scikit-learn API -------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Load the model (once per process) and record the input's shape.

        The encoder is frozen: nothing is learnt from ``X``.

        Parameters
        ----------
        X : DataFrame, Series, list or array, shape (n_samples,) or (n_samples, n_cols)
            The raw values, one column per input column.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted encoder.
        """
        self._check_params_together()
        columns, names = _split_columns(X)
        self.n_features_in_ = len(columns)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.device_ = resolve_device(self.device)
        self.model_ = self._make_backend().load()
        self._fitted_model = self._model_identity()
        self._set_fitted_metadata()
        return self

    def transform(self, X):
        """Encode every value of every column.

        Parameters
        ----------
        X : DataFrame, Series, list or array, shape (n_samples,) or (n_samples, n_cols)
            The raw values, with the same columns as in ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_columns * embedding_dim_), float32
            One vector per value; a missing value gives a row of NaN.
        """
        check_is_fitted(self, "model_")
        self._check_fitted_model()
        columns, names = _split_columns(X)
        if len(columns) != self.n_features_in_:
            raise ValueError(
                f"X has {len(columns)} columns, but {type(self).__name__} was fitted "
                f"with {self.n_features_in_}"
            )
        failures: list[str] = []
        cache = self._resolve_cache()
        # Once per call, for every column (set_params after fit is taken into
        # account); the weights' hash is computed once per loaded model.
        key = self._cache_key() if cache is not None else None
        blocks = [
            self._transform_column(column, failures, cache, key) for column in columns
        ]
        if failures:
            listed = "\n  ".join(failures[:_MAX_LISTED_FAILURES])
            more = len(failures) - _MAX_LISTED_FAILURES
            warnings.warn(
                f"{type(self).__name__}: {len(failures)} value(s) could not be read "
                f"and were treated as missing:\n  {listed}"
                + (f"\n  ... and {more} more" if more > 0 else ""),
                UnreadableValuesWarning,
                stacklevel=2,
            )
        return blocks[0] if len(blocks) == 1 else np.hstack(blocks)

    def get_feature_names_out(self, input_features=None):
        """Output feature names: ``0000, 0001, ...`` (one column) or
        ``{column}_0000, ...`` (several columns).

        Parameters
        ----------
        input_features : array-like of str or None
            Input column names; defaults to ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "model_")
        if input_features is None:
            input_features = getattr(
                self, "feature_names_in_", [f"x{j}" for j in range(self.n_features_in_)]
            )
        input_features = list(input_features)
        if len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(input_features)} names, expected "
                f"{self.n_features_in_}"
            )
        width = max(4, len(str(self.embedding_dim_ - 1)))
        suffixes = [f"{i:0{width}d}" for i in range(self.embedding_dim_)]
        if len(input_features) == 1:
            return np.asarray(suffixes, dtype=object)
        return np.asarray(
            [f"{col}_{s}" for col in input_features for s in suffixes], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # -- shared machinery -------------------------------------------------------
    def _check_params_together(self) -> None:
        """The checks besides ``_parameter_constraints`` (run by ``fit``'s
        ``_fit_context``): the values shared with ``set_config``, then the rules
        that span parameters."""
        check_cache_value(self.cache)
        resolve_precision(self.precision, "cpu")  # validates
        self._check_params()

    def _model_identity(self) -> dict[str, Any]:
        return {
            name: os.fspath(value) if isinstance(value, os.PathLike) else value
            for name in self._model_params
            if (value := getattr(self, name, None)) is not None
        }

    def _check_fitted_model(self) -> None:
        """Refuse to encode with a model other than the one the parameters name."""
        fitted = getattr(self, "_fitted_model", None)
        if fitted is None:  # pickled before this check existed
            return
        now = self._model_identity()
        changed = [name for name in now if now[name] != fitted.get(name)]
        if changed:
            what = ", ".join(
                f"{name}={now[name]!r} (fitted with {fitted.get(name)!r})"
                for name in changed
            )
            raise NotFittedError(
                f"{type(self).__name__}: {what} was set after fit; the loaded model "
                "is still the fitted one. Call fit again to load the new model."
            )

    def _set_fitted_metadata(self) -> None:
        """Set the attributes derived from the loaded model (``embedding_dim_``...)."""
        self.embedding_dim_ = int(self.model_.dim)
        self.precision_ = resolve_precision(self.precision, self.device_)

    # -- cache ------------------------------------------------------------------
    def _resolve_cache(self) -> EmbeddingCache | MemoryCache | None:
        """The cache of this call: the ``cache`` parameter, else the global one,
        else (global None) the process's in-memory store; False is none."""
        return resolve_cache(self.cache)

    def _fingerprint_parts(self) -> dict[str, Any]:
        return {
            "encoder": f"{type(self).__module__}.{type(self).__qualname__}",
            "skmm": __version__,
            "weights": self.model_.weights_digest(),
            "dim": self.embedding_dim_,
            "precision": self.precision_,
            **self._output_params(),
        }

    def _cache_key(self) -> tuple[str, str]:
        """The key of this encoder's output (model, weights, preprocessing, version)
        and its description, stored with the vectors."""
        parts = self._fingerprint_parts()
        return fingerprint_of(parts), json.dumps(parts, sort_keys=True, default=str)

    # -- device -----------------------------------------------------------------
    def _retry_on_oom(self, run: Callable[[], _T]) -> _T:
        """Call ``run()``; on a device out-of-memory error, halve ``batch_size_``
        and call it again (``run`` reads ``batch_size_``), down to batch size 1
        (:func:`skmm._torch.retry_on_out_of_memory`, as fine-tuning does)."""
        return retry_on_out_of_memory(run, self, OutOfMemoryWarning, stacklevel=4)

    # -- encoding -----------------------------------------------------------------
    def _transform_column(
        self,
        column: _Column,
        failures: list[str],
        cache: EmbeddingCache | MemoryCache | None = None,
        key: tuple[str, str] | None = None,
    ) -> np.ndarray:
        values = column.values
        out = np.full((len(values), self.embedding_dim_), np.nan, dtype=np.float32)
        rows: list[int] = []
        items: list = []

        def bad(row: int, reason: str) -> None:
            message = (
                f"{type(self).__name__} cannot read {column.where(row)}: "
                f"{_short_repr(values[row])} ({reason})"
            )
            if self.on_error == "raise":
                raise ValueError(message)
            failures.append(message)

        for row, value in enumerate(values):
            if is_missing(value):
                continue
            reason = self._check_value(value)
            if reason is not None:
                bad(row, reason)
                continue
            rows.append(row)
            items.append(value)
        if not items:
            return out
        if cache is not None and key is not None:
            self._encode_cached(items, rows, out, bad, cache, key)
            return out
        rows_array = np.asarray(rows)
        for positions, vectors in self._encode(
            items, lambda pos, reason: bad(rows[pos], reason)
        ):
            out[rows_array[positions]] = vectors
        return out

    def _encode_cached(
        self,
        items: list,
        rows: list[int],
        out: np.ndarray,
        bad: Callable[[int, str], None],
        cache: EmbeddingCache | MemoryCache,
        key: tuple[str, str],
    ) -> None:
        """Fill ``out`` from the cache; decode and encode the misses, each distinct
        item once, storing their vectors batch by batch. ``key`` is
        ``_cache_key()``, computed once per call."""
        fingerprint, description = key
        keys = [cache.item_key(v, paths=self._str_is_path) for v in items]
        keyed = [i for i, k in enumerate(keys) if k is not None]
        found, vectors = cache.get_many(
            fingerprint, [keys[i] for i in keyed], self.embedding_dim_
        )
        rows_array = np.asarray(rows)
        hits = np.asarray(keyed, dtype=np.intp)[found] if keyed else []
        out[rows_array[hits]] = vectors
        # The misses, grouped by key: each distinct item is encoded once.
        todo: list[list[int]] = []
        slot: dict[bytes, int] = {}
        for i, hit in zip(keyed, found, strict=True):
            if hit:
                continue
            if keys[i] in slot:
                todo[slot[keys[i]]].append(i)
            else:
                slot[keys[i]] = len(todo)
                todo.append([i])
        todo.extend([i] for i, k in enumerate(keys) if k is None)
        if not todo:
            return

        def fail(position: int, reason: str) -> None:
            for i in todo[position]:
                bad(rows[i], reason)

        todo_items = [items[group[0]] for group in todo]
        for positions, batch in self._encode(todo_items, fail):
            store_keys, store_rows = [], []
            for position, vector in zip(positions.tolist(), batch, strict=True):
                group = todo[position]
                out[rows_array[group]] = vector
                if keys[group[0]] is not None:
                    store_keys.append(keys[group[0]])
                    store_rows.append(vector)
            if store_keys:
                cache.put_many(
                    fingerprint,
                    store_keys,
                    np.stack(store_rows),
                    description=description,
                )

    def _batch_size(self, auto: dict[str, int]) -> int:
        if self.batch_size != "auto":
            return int(self.batch_size)
        return auto.get(torch.device(self.device_).type, auto["cpu"])

    # -- pickling ---------------------------------------------------------------
    def __getstate__(self):
        # A copy: object.__getstate__ may return the instance's own __dict__.
        state = dict(super().__getstate__())
        if state.get("model_") is not None:
            if self.save_weights:
                state["_saved_weights"] = self.model_.export()
            else:
                # Checked at load against the weights found then.
                state["_saved_weights_digest"] = self.model_.weights_digest()
            state["model_"] = None
        return state

    def __setstate__(self, state):
        saved = state.pop("_saved_weights", None)
        expected_digest = state.pop("_saved_weights_digest", None)
        super().__setstate__(state)
        if "model_" in state:
            # A model saved on a GPU machine loads on the CPU of one without it.
            self.device_ = resolve_device(self.device, fallback=True)
            backend = self._make_backend()
            if saved is not None:
                self.model_ = backend.restore(saved)
            else:
                self.model_ = backend.load()
                if expected_digest is not None:
                    self._check_reloaded_weights(expected_digest)
            # Per-device choices (batch_size="auto") follow the new device.
            self._set_fitted_metadata()

    def _check_reloaded_weights(self, expected: str) -> None:
        """A model saved without its weights must find the same weights again."""
        found = self.model_.weights_digest()
        if found == expected:
            return
        source = ", ".join(f"{k}={v!r}" for k, v in self._model_identity().items())
        raise ValueError(
            f"{type(self).__name__}({source}) was saved with save_weights=False, and "
            "the weights loaded now from that source are not the ones it was fitted "
            f"with (weights digest {expected[:16]} when saved, {found[:16]} now): "
            "the pipeline would silently give other results. Put the original "
            "weights back at that source, or fit the pipeline again on the new "
            "ones (save_weights=True keeps the weights inside the saved file)."
        )
