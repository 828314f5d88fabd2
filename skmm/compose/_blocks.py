"""Modality block bookkeeping: which columns of a joined matrix belong to which
modality, and which rows have each modality.

Every head that treats modalities separately (the neural fusion heads, late fusion,
the inspection tools) reads its input through this module, so the rules are the same
everywhere (ARCHITECTURE.md, "The block contract"):

- a DataFrame whose columns are named ``"{modality}__{feature}"`` (the output of a
  :class:`~skmm.MultimodalUnion` with ``set_output(transform="pandas")``) is split
  by prefix; a ``"{modality}__missing"`` column holding only 0 and 1 is that
  block's missing indicator, not a feature (``missing`` is a reserved name: the
  union refuses a feature of that name, and a ``__missing`` column with any other
  value is a feature);
- a dict of arrays is split by key;
- an explicit ``modalities=`` mapping (name to slice, column positions or column
  names; ``MultimodalUnion.output_indices_`` works as it is) wins over both;
- anything else is one block.

A block is *absent* from a row when its indicator is set or when all its values in
that row are NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_consistent_length, validate_data

__all__ = [
    "MISSING_INDICATOR",
    "BlockLayout",
    "infer_layout",
    "remove_blocks",
    "split_blocks",
    "validate_modality_input",
]

_SEPARATOR = "__"
#: The name a block's missing indicator has after its prefix ("text__missing").
MISSING_INDICATOR = "missing"
_INDICATOR = MISSING_INDICATOR
_SINGLE = "X"
_UNPREFIXED = "other"


@dataclass(frozen=True)
class BlockLayout:
    """Where each modality block sits in the input of a head.

    Parameters
    ----------
    names : tuple of str
        Block names, in input order.
    columns : tuple of ndarray
        Positions of each block's feature columns (in the 2-D input, or in the
        block's own array for dict input).
    indicators : tuple of (int or None)
        Position of each block's missing-indicator column, or None.
    n_features : int
        Width of the 2-D input (0 for dict input).
    from_dict : bool
        Whether the input is a dict of arrays.
    """

    names: tuple[str, ...]
    columns: tuple[np.ndarray, ...]
    indicators: tuple[int | None, ...]
    n_features: int
    from_dict: bool = False
    widths: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(len(c) for c in self.columns))

    def slices(self) -> dict[str, np.ndarray]:
        """Column positions of each block, features and indicator together."""
        out = {}
        for name, cols, ind in zip(
            self.names, self.columns, self.indicators, strict=True
        ):
            out[name] = cols if ind is None else np.append(cols, ind)
        return out


def _as_positions(spec: Any, n_features: int, names: np.ndarray | None, key: str):
    if isinstance(spec, slice):
        return np.arange(n_features)[spec]
    if isinstance(spec, str):
        spec = [spec]
    spec = list(spec)
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in spec):
        pos = np.asarray(spec, dtype=int)
        if pos.size and (pos.min() < -n_features or pos.max() >= n_features):
            raise ValueError(
                f"modalities[{key!r}] has column positions outside 0..{n_features - 1}"
            )
        return pos % max(n_features, 1)
    if names is None:
        raise ValueError(
            f"modalities[{key!r}] names columns, but the input has no column names; "
            "give a slice or column positions instead"
        )
    lookup = {str(n): i for i, n in enumerate(names)}
    unknown = [s for s in spec if str(s) not in lookup]
    if unknown:
        raise ValueError(
            f"modalities[{key!r}] names columns that the input lacks: {unknown[:5]}"
        )
    return np.asarray([lookup[str(s)] for s in spec], dtype=int)


def _split_indicator(
    positions: np.ndarray, names: np.ndarray | None, X: Any = None
) -> tuple[np.ndarray, int | None]:
    """The feature positions of a block and its indicator's position (or None).

    The indicator is the block's one column named ``missing`` (after its prefix)
    whose values in ``X`` are all 0 or 1, as :class:`~skmm.MultimodalUnion` writes
    them: a column of that name holding anything else is a feature, not taken for
    an indicator.
    """
    if names is None:
        return positions, None
    is_ind = [
        str(names[p]) == _INDICATOR or str(names[p]).endswith(_SEPARATOR + _INDICATOR)
        for p in positions
    ]
    if sum(is_ind) != 1:
        return positions, None
    ind = int(positions[is_ind.index(True)])
    if X is not None and not _is_flag_column(X, ind):
        return positions, None
    return positions[~np.asarray(is_ind)], ind


def _is_flag_column(X: Any, position: int) -> bool:
    """Whether column ``position`` of ``X`` holds only 0 and 1 (no NaN)."""
    if hasattr(X, "iloc"):
        column = X.iloc[:, position]
    elif sp.issparse(X):
        column = X[:, [position]].toarray().ravel()
    else:
        column = X[:, position]
    try:
        column = np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):  # text: not an indicator
        return False
    return bool(np.isin(column, (0.0, 1.0)).all())


def infer_layout(
    X: Any,
    modalities: Mapping[str, Any] | None = None,
    feature_names: Sequence[str] | None = None,
) -> BlockLayout:
    """Find the modality blocks of ``X``.

    Parameters
    ----------
    X : 2-D array or dict of str to array
        The joined matrix (already converted to numbers), or one array per modality.
    modalities : dict, default=None
        Name to slice, column positions or column names. Overrides the prefixes.
    feature_names : sequence of str, default=None
        Column names of ``X`` (from a DataFrame), used for prefixes and indicators.
        A block's indicator is its column named ``missing`` whose values in ``X``
        are all 0 or 1; one holding other values is a feature.

    Returns
    -------
    BlockLayout

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.compose._blocks import infer_layout
    >>> names = ["image__0", "image__1", "image__missing", "tab__age"]
    >>> layout = infer_layout(np.zeros((2, 4)), feature_names=names)
    >>> layout.names, layout.widths, layout.indicators
    (('image', 'tab'), (2, 1), (2, None))
    """
    if isinstance(X, Mapping):
        if modalities is not None:
            raise ValueError(
                "modalities= cannot be combined with a dict of arrays: the keys are "
                "the modalities"
            )
        if not X:
            raise ValueError("the dict of modality arrays is empty")
        names, columns = [], []
        for key, value in X.items():
            arr = np.asarray(value)
            width = 1 if arr.ndim == 1 else int(np.prod(arr.shape[1:]))
            names.append(str(key))
            columns.append(np.arange(width))
        return BlockLayout(
            tuple(names), tuple(columns), (None,) * len(names), 0, from_dict=True
        )

    n_features = int(np.shape(X)[1])
    fnames = None if feature_names is None else np.asarray(feature_names, dtype=object)
    if modalities is not None:
        if not isinstance(modalities, Mapping) or not modalities:
            raise ValueError(
                "modalities must be a non-empty dict of name to slice, column "
                f"positions or column names; got {modalities!r}"
            )
        names, columns, indicators = [], [], []
        seen: set[int] = set()
        for key, spec in modalities.items():
            pos = _as_positions(spec, n_features, fnames, key)
            if pos.size == 0:
                continue  # e.g. an empty "remainder" entry of output_indices_
            overlap = seen.intersection(pos.tolist())
            if overlap:
                raise ValueError(
                    f"modalities[{key!r}] overlaps another block at columns "
                    f"{sorted(overlap)[:5]}"
                )
            seen.update(pos.tolist())
            feats, ind = _split_indicator(pos, fnames, X)
            names.append(str(key))
            columns.append(feats)
            indicators.append(ind)
        if not names:
            raise ValueError("modalities selects no columns")
        return BlockLayout(tuple(names), tuple(columns), tuple(indicators), n_features)

    if fnames is None or not any(_SEPARATOR in str(n) for n in fnames):
        return BlockLayout((_SINGLE,), (np.arange(n_features),), (None,), n_features)

    groups: dict[str, list[int]] = {}
    for i, name in enumerate(map(str, fnames)):
        prefix = name.split(_SEPARATOR, 1)[0] if _SEPARATOR in name else _UNPREFIXED
        groups.setdefault(prefix, []).append(i)
    names, columns, indicators = [], [], []
    for key, pos in groups.items():
        feats, ind = _split_indicator(np.asarray(pos, dtype=int), fnames, X)
        if feats.size == 0:
            continue
        names.append(key)
        columns.append(feats)
        indicators.append(ind)
    return BlockLayout(tuple(names), tuple(columns), tuple(indicators), n_features)


def split_blocks(
    X: Any, layout: BlockLayout, dtype: Any = np.float32
) -> tuple[list[np.ndarray], np.ndarray]:
    """Cut ``X`` into blocks and tell which rows have each one.

    Parameters
    ----------
    X : 2-D array or dict of str to array
        Input laid out as when ``layout`` was inferred.
    layout : BlockLayout
    dtype : numpy dtype, default=np.float32
        dtype of the returned blocks.

    Returns
    -------
    blocks : list of ndarray of shape (n_samples, width)
        Feature columns of each block; NaN where a value is missing.
    present : ndarray of bool, shape (n_samples, n_blocks)
        False where the block is absent from the row.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.compose._blocks import infer_layout, split_blocks
    >>> X = {"a": np.array([[1.0, 2.0], [np.nan, np.nan]]), "b": np.ones((2, 1))}
    >>> blocks, present = split_blocks(X, infer_layout(X))
    >>> present.tolist()
    [[True, True], [False, True]]
    """
    if layout.from_dict:
        if not isinstance(X, Mapping):
            raise ValueError(
                "this estimator was fitted on a dict of modality arrays; pass a dict "
                f"with the keys {list(layout.names)}"
            )
        missing = [n for n in layout.names if n not in X]
        extra = [k for k in X if str(k) not in layout.names]
        if missing or extra:
            raise ValueError(
                f"the dict's keys differ from those seen in fit: missing {missing}, "
                f"unexpected {extra}"
            )
        arrays = []
        n_rows = None
        for name, width in zip(layout.names, layout.widths, strict=True):
            arr = np.asarray(X[name], dtype=dtype)
            arr = arr.reshape(len(arr), -1) if arr.ndim != 1 else arr[:, None]
            if arr.shape[1] != width:
                raise ValueError(
                    f"modality {name!r} has {arr.shape[1]} features, but the "
                    f"estimator was fitted with {width}"
                )
            if n_rows is not None and len(arr) != n_rows:
                raise ValueError(
                    f"modality {name!r} has {len(arr)} rows, the others {n_rows}"
                )
            n_rows = len(arr)
            arrays.append(arr)
        indicators: list[np.ndarray | None] = [None] * len(arrays)
    else:
        X = np.asarray(X)
        arrays = [np.asarray(X[:, cols], dtype=dtype) for cols in layout.columns]
        indicators = [
            None if ind is None else np.asarray(X[:, ind], dtype=np.float64)
            for ind in layout.indicators
        ]

    present = np.ones((len(arrays[0]), len(arrays)), dtype=bool)
    for j, (arr, ind) in enumerate(zip(arrays, indicators, strict=True)):
        if arr.shape[1]:
            present[:, j] &= ~np.isnan(arr).all(axis=1)
        if ind is not None:
            present[:, j] &= ~(ind > 0.5)
    return arrays, present


def remove_blocks(
    X: Any, layout: BlockLayout, names: Sequence[str], rows: Any = None
) -> Any:
    """A copy of ``X`` with the blocks ``names`` made absent.

    Absent is written the way :class:`~skmm.MultimodalUnion` writes it: zeros and
    the indicator set for a block that has an indicator, NaN otherwise. ``rows``
    (a boolean mask or positions) limits the change to some rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.compose._blocks import infer_layout, remove_blocks
    >>> names = ["a__0", "a__missing", "b__0"]
    >>> layout = infer_layout(np.ones((1, 3)), feature_names=names)
    >>> remove_blocks(np.ones((1, 3)), layout, ["a"]).tolist()
    [[0.0, 1.0, 1.0]]
    """
    unknown = [n for n in names if n not in layout.names]
    if unknown:
        raise ValueError(f"unknown modalities {unknown}; known: {list(layout.names)}")
    sel = slice(None) if rows is None else rows
    if layout.from_dict:
        out = {k: np.array(v, dtype=np.float32, copy=True) for k, v in X.items()}
        for name in names:
            block = out[name]
            block[sel] = np.nan
        return out
    out = np.array(X, dtype=np.float64, copy=True)
    for name in names:
        j = layout.names.index(name)
        cols, ind = layout.columns[j], layout.indicators[j]
        if ind is None:
            out[np.ix_(np.arange(len(out))[sel], cols)] = np.nan
        else:
            out[np.ix_(np.arange(len(out))[sel], cols)] = 0.0
            out[sel, ind] = 1.0
    return out


def validate_modality_input(
    estimator: Any,
    X: Any,
    y: Any = None,
    *,
    reset: bool,
    modalities: Mapping[str, Any] | None = None,
    dtype: Any = np.float64,
    warn_single_block: bool = True,
    **check_params: Any,
) -> tuple[Any, Any]:
    """Validate the input of a head that reads modality blocks.

    The one place where such heads check ``X``: a dict of arrays (one per
    modality) or anything :func:`~sklearn.utils.validation.validate_data` takes
    (NaN allowed: it marks absent modalities). With ``reset=True`` it sets
    ``estimator.layout_``, ``n_features_in_`` and, for a DataFrame,
    ``feature_names_in_``; otherwise it checks that ``X`` has the form seen in fit.

    Parameters
    ----------
    estimator : estimator
    X : 2-D array-like, DataFrame or dict of str to array-like
    y : array-like, default=None
        Validated together with a matrix ``X`` (with ``check_params``); for a dict,
        only its length is checked.
    reset : bool
        True in ``fit``.
    modalities : dict, default=None
        See :func:`infer_layout`.
    dtype : numpy dtype or list of them, default=np.float64
    warn_single_block : bool, default=True
        In fit, warn when nothing in ``X`` names its modalities, so the whole input
        becomes one block ``"X"``: a union's default numpy output passed to a
        fusion head looks like this, and the head then fuses nothing.
    **check_params : dict
        More arguments of ``validate_data`` (e.g. ``multi_output=True``).

    Returns
    -------
    X : ndarray or dict of str to ndarray
    y : the validated ``y`` (None when not given)
    """
    is_dict = isinstance(X, Mapping) and not sp.issparse(X)  # dok_matrix is a dict
    if not reset and is_dict != estimator.layout_.from_dict:
        if estimator.layout_.from_dict:
            raise ValueError(
                "this estimator was fitted on a dict of modality arrays; pass a dict "
                f"with the keys {list(estimator.layout_.names)}"
            )
        raise ValueError("this estimator was fitted on a matrix; pass the same form")
    if not is_dict:
        kwargs = dict(
            reset=reset, dtype=dtype, ensure_all_finite="allow-nan", **check_params
        )
        if y is None:
            X = validate_data(estimator, X, **kwargs)
        else:
            X, y = validate_data(estimator, X, y, **kwargs)
        if reset:
            names = getattr(estimator, "feature_names_in_", None)
            estimator.layout_ = infer_layout(X, modalities, names)
            if warn_single_block and modalities is None:
                _warn_if_single_block(estimator, estimator.layout_, names)
        return X, y

    accepted = list(dtype) if isinstance(dtype, (list, tuple)) else [dtype]
    arrays = {}
    for key, value in X.items():
        # An accepted dtype is kept: a memory-mapped block is not copied.
        own = getattr(value, "dtype", None)
        arr = np.asarray(value, dtype=own if own in accepted else accepted[-1])
        if arr.ndim != 2:
            arr = arr.reshape(len(arr), -1) if arr.ndim > 2 else arr[:, None]
        if _has_inf(arr):
            raise ValueError(f"modality {key!r} contains infinity")
        arrays[str(key)] = arr
    if reset:
        estimator.layout_ = infer_layout(arrays, modalities)
        estimator.n_features_in_ = int(sum(estimator.layout_.widths))
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    if y is not None:
        check_consistent_length(*arrays.values(), y)
    return arrays, y


def _warn_if_single_block(estimator: Any, layout: BlockLayout, names: Any) -> None:
    """Warn that ``X`` named no modalities, so it is one block ``"X"``."""
    if layout.names != (_SINGLE,):
        return
    source = (
        "a DataFrame whose column names have no '{modality}__' prefix"
        if names is not None
        else "a plain array"
    )
    warnings.warn(
        f"{type(estimator).__name__} got {source}, so all {layout.n_features} "
        "columns form one modality block 'X' and there is nothing to fuse. If "
        "they come from a MultimodalUnion, give it .set_output(transform='pandas') "
        "(or pass modalities=union.output_indices_); to fit on one block on "
        "purpose, pass modalities={'X': slice(None)}.",
        UserWarning,
        stacklevel=4,
    )


def _has_inf(arr: np.ndarray, chunk_rows: int = 65536) -> bool:
    """Whether ``arr`` holds an infinity, checked a chunk of rows at a time."""
    if np.isfinite(np.sum(arr, dtype=np.float64)):
        return False  # no inf, no NaN: the fast path
    return any(
        np.isinf(arr[i : i + chunk_rows]).any() for i in range(0, len(arr), chunk_rows)
    )
