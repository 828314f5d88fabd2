"""What every skmm encoder shares.

Input handling (pandas, polars, lists, arrays; one or several columns), missing values,
bad values with precise errors, device resolution, model loading through the
process-level registry, and the pickling policy (weights stored in the pickle by
default, so that a saved pipeline works offline and on a CPU-only machine).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from numbers import Integral
from typing import Any, ClassVar

import narwhals.stable.v1 as nw
import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from skmm.encoders._registry import get_or_load
from skmm.exceptions import UnreadableValuesWarning

__all__ = ["BaseEncoder", "is_missing", "resolve_device"]

_MAX_LISTED_FAILURES = 5


def is_missing(value: Any) -> bool:
    """Whether ``value`` stands for "this modality is absent for this row".

    None, NaN, ``pd.NA`` and ``pd.NaT`` are missing; anything else, an empty string
    included, is a value.

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


def resolve_device(device: str | torch.device, *, fallback: bool = False) -> str:
    """Turn a ``device`` parameter into a torch device string.

    ``"auto"`` picks CUDA, then MPS, then the CPU. With ``fallback=True`` (used when
    a saved model is loaded), a device this machine lacks becomes the CPU instead of
    an error.

    Examples
    --------
    >>> from skmm.encoders import resolve_device
    >>> resolve_device("cpu")
    'cpu'
    """
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    try:
        parsed = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', "
            "'cuda:1' or 'mps'"
        ) from exc
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available()
        and (parsed.index or 0) < torch.cuda.device_count(),
        "mps": getattr(torch.backends, "mps", None) is not None
        and torch.backends.mps.is_available(),
    }.get(parsed.type, False)
    if not available:
        if fallback:
            return "cpu"
        raise ValueError(f"device={device!r} is not available on this machine")
    return name


def _short_repr(value: Any, limit: int = 80) -> str:
    if isinstance(value, np.ndarray):
        return f"<array shape={value.shape} dtype={value.dtype}>"
    if isinstance(value, (bytes, bytearray, memoryview)) and len(value) > 32:
        return f"<{len(value)} bytes>"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _column_values(column: Any) -> list:
    """The values of one column as a Python list (missing values kept as is)."""
    if hasattr(column, "to_list"):
        return column.to_list()
    if hasattr(column, "tolist") and not isinstance(column, np.ndarray):
        return column.tolist()
    return list(column)


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
    if isinstance(X, (pd.DataFrame, pd.Series)):
        labels = None if isinstance(X.index, pd.RangeIndex) else list(X.index)
    else:
        labels = None
    frame = nw.from_native(X, allow_series=True, pass_through=True)
    if isinstance(frame, nw.DataFrame):
        names = [str(c) for c in frame.columns]
        columns = [
            _Column(name, _column_values(nw.to_native(frame[col])), labels)
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


class BaseEncoder(TransformerMixin, BaseEstimator):
    """Base class of skmm's encoders: a column of raw values in, vectors out.

    Subclasses define ``modality``, ``_load`` (build the registry entry),
    ``_registry_key``, ``_check_value`` (cheap per-value validation) and ``_encode``
    (values to vectors, in batches), plus ``_export_weights``/``_import_weights``.

    Each input column is encoded separately; the outputs are concatenated. A missing
    value gives a row of NaN for that column's block. A bad value raises a
    ``ValueError`` naming the column, the row and the value, or, with
    ``on_error="missing"``, is treated as missing and reported in one warning.
    """

    modality: ClassVar[str] = "unknown"

    # -- subclass hooks ---------------------------------------------------------
    def _registry_key(self) -> tuple:
        raise NotImplementedError

    def _load(self) -> Any:
        raise NotImplementedError

    def _check_value(self, value: Any) -> str | None:
        raise NotImplementedError

    def _encode(
        self, values: list, fail: Callable[[int, str], None]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(positions, vectors)`` for batches of ``values``.

        ``fail(position, reason)`` reports a value that could not be decoded; it
        raises when ``on_error="raise"``.
        """
        raise NotImplementedError

    def _export_weights(self) -> Any:
        raise NotImplementedError

    def _import_weights(self, saved: Any) -> Any:
        raise NotImplementedError

    # -- scikit-learn API -------------------------------------------------------
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
        self._check_common_params()
        columns, names = _split_columns(X)
        self.n_features_in_ = len(columns)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.device_ = resolve_device(self.device)
        self.model_ = get_or_load(self._registry_key(), self._load)
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
        columns, names = _split_columns(X)
        if len(columns) != self.n_features_in_:
            raise ValueError(
                f"X has {len(columns)} columns, but {type(self).__name__} was fitted "
                f"with {self.n_features_in_}"
            )
        failures: list[str] = []
        blocks = [self._transform_column(column, failures) for column in columns]
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
    def _check_common_params(self) -> None:
        if self.on_error not in ("raise", "missing"):
            raise ValueError(
                f"on_error must be 'raise' or 'missing', got {self.on_error!r}"
            )
        batch_size = self.batch_size
        if batch_size != "auto" and not (
            isinstance(batch_size, Integral) and batch_size >= 1
        ):
            raise ValueError(
                f"batch_size must be a positive int or 'auto', got {batch_size!r}"
            )

    def _set_fitted_metadata(self) -> None:
        """Set the attributes derived from the loaded model (``embedding_dim_``...)."""
        self.embedding_dim_ = int(self.model_.dim)

    def _transform_column(self, column: _Column, failures: list[str]) -> np.ndarray:
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
        rows_array = np.asarray(rows)
        for positions, vectors in self._encode(
            items, lambda pos, reason: bad(rows[pos], reason)
        ):
            out[rows_array[positions]] = vectors
        return out

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
                state["_saved_weights"] = self._export_weights()
            state["model_"] = None
        return state

    def __setstate__(self, state):
        saved = state.pop("_saved_weights", None)
        super().__setstate__(state)
        if "model_" in state:
            # A model saved on a GPU machine loads on the CPU of one without it.
            self.device_ = resolve_device(self.device, fallback=True)
            if saved is not None:
                self.model_ = self._import_weights(saved)
            else:
                self.model_ = get_or_load(self._registry_key(), self._load)
            # Per-device choices (batch_size="auto") follow the new device.
            self._set_fitted_metadata()
