"""Dataframe helpers shared by the package, on narwhals.

One place for what the encoders, the inspection functions, the distributed helpers,
the categorical encoder and the ensemble need to know about a table: whether it is
a dataframe, its column names and row labels, its rows in slices, its columns as
lists, edits of some of its columns (shuffled, all missing, replaced) and the
categorical columns. Any eager dataframe narwhals knows (pandas, polars, pyarrow,
...) is accepted; numpy arrays, scipy sparse matrices and dicts of arrays are handled
where a caller passes them. Edits of a pandas frame go by position, so that duplicate
column names and the index are kept as pandas users expect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import scipy.sparse as sp

__all__ = [
    "assign_columns",
    "categorical_columns",
    "category_codes",
    "column_names",
    "column_values",
    "is_dataframe",
    "n_rows",
    "permute_columns",
    "row_labels",
    "set_missing",
    "slice_rows",
    "to_numpy",
]


def _eager(X: Any, *, allow_series: bool = False) -> Any:
    """The narwhals frame (or series) of ``X``, or None when ``X`` is neither.

    Not for pandas objects with duplicate column names, which narwhals refuses:
    the helpers below handle pandas by position first.
    """
    wrapped = nw.from_native(
        X, eager_only=True, allow_series=allow_series, pass_through=True
    )
    return None if wrapped is X else wrapped


def _is_pandas(X: Any) -> bool:
    """A pandas DataFrame or Series (checked without importing pandas)."""
    return nw.dependencies.is_pandas_dataframe(X) or nw.dependencies.is_pandas_series(X)


def is_dataframe(X: Any) -> bool:
    """Whether ``X`` is an eager dataframe (pandas, polars, pyarrow, ...).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmm._dataframe import is_dataframe
    >>> is_dataframe(pd.DataFrame({"a": [1]})), is_dataframe(np.ones((1, 1)))
    (True, False)
    """
    return nw.dependencies.is_pandas_dataframe(X) or _eager(X) is not None


def column_names(X: Any) -> list[str] | None:
    """The column names of a dataframe, as str; None for anything else.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._dataframe import column_names
    >>> column_names(pd.DataFrame({"a": [1], 0: [2]}))
    ['a', '0']
    """
    if nw.dependencies.is_pandas_dataframe(X):
        return [str(c) for c in X.columns]
    frame = _eager(X)
    return None if frame is None else [str(c) for c in frame.columns]


def n_rows(X: Any) -> int:
    """Rows of a dataframe, array, sparse matrix or dict of arrays (its first one).

    Examples
    --------
    >>> import numpy as np
    >>> from skmm._dataframe import n_rows
    >>> n_rows({"image": np.zeros((3, 4)), "text": np.zeros((3, 2))})
    3
    """
    if isinstance(X, Mapping):
        return len(np.asarray(next(iter(X.values()))))
    if _is_pandas(X):
        return len(X)
    frame = _eager(X, allow_series=True)
    if frame is not None:
        return len(frame)
    return X.shape[0]


def row_labels(X: Any) -> list | None:
    """A pandas object's index labels, or None when they are the positions.

    Messages name a row by its position and, when it differs, by its label: a slice
    (``df.iloc[8:]``) or a cross-validation fold keeps labels that are not
    ``0, 1, 2...``. Other libraries have no index: None.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._dataframe import row_labels
    >>> df = pd.DataFrame({"a": [1, 2, 3]}, index=["x", "y", "z"])
    >>> row_labels(df), row_labels(df.reset_index(drop=True))
    (['x', 'y', 'z'], None)
    """
    if not _is_pandas(X):
        return None
    import pandas as pd

    default = pd.RangeIndex(len(X.index))
    return None if X.index.equals(default) else list(X.index)


def column_values(column: Any) -> list:
    """The values of one column (a series, an array or a sequence) as a list.

    Missing values are kept as the library holds them (None, NaN, ``pd.NA``...).

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._dataframe import column_values
    >>> column_values(pd.Series([1.5, None])), column_values(("b", "c"))
    ([1.5, nan], ['b', 'c'])
    """
    if hasattr(column, "to_list"):
        return column.to_list()
    if hasattr(column, "tolist") and not isinstance(column, np.ndarray):
        return column.tolist()
    return list(column)


def slice_rows(X: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` (positions) of a dataframe, series, array or list.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._dataframe import slice_rows
    >>> slice_rows(pd.Series([1, 2, 3], index=[5, 6, 7]), 1, 3).tolist()
    [2, 3]
    """
    if _is_pandas(X):
        return X.iloc[start:stop]
    frame = _eager(X, allow_series=True)
    if frame is None:
        return X[start:stop]
    return nw.to_native(frame[start:stop])


def to_numpy(X: Any, dtype: Any = None) -> np.ndarray:
    """A dense numpy array of a dataframe, series, sparse matrix or array-like.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._dataframe import to_numpy
    >>> to_numpy(pd.DataFrame({"a": [1, 2]}), dtype=float).tolist()
    [[1.0], [2.0]]
    """
    if sp.issparse(X):
        out = X.toarray()
    elif hasattr(X, "to_numpy"):  # pandas, polars
        out = X.to_numpy()
    else:
        frame = _eager(X, allow_series=True)  # pyarrow and others
        out = np.asarray(X) if frame is None else frame.to_numpy()
    return out if dtype is None else np.asarray(out, dtype=dtype)


def _missing_like(values: np.ndarray) -> np.ndarray:
    """All-missing column: NaN when numeric, None otherwise."""
    if values.dtype.kind in "fiub":
        return np.full(len(values), np.nan)
    return np.full(len(values), None, dtype=object)


def permute_columns(X: Any, positions: Sequence[int], perm: np.ndarray) -> Any:
    """A copy of ``X`` whose columns ``positions`` are row-shuffled together.

    ``X`` is a dataframe, a 2-D array or a scipy sparse matrix (its format kept);
    row ``i`` of the shuffled columns is row ``perm[i]`` of ``X``; the other columns
    and the index are unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._dataframe import permute_columns
    >>> X = pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]})
    >>> permute_columns(X, [0], [2, 0, 1])["a"].tolist()
    [3, 1, 2]
    """
    if _is_pandas(X):
        out = X.copy()
        for p in positions:
            col = X.iloc[:, p]
            out.isetitem(int(p), col.take(perm).set_axis(X.index))
        return out
    frame = _eager(X)
    if frame is not None:
        perm = np.asarray(perm)
        names = [frame.columns[p] for p in positions]
        return nw.to_native(frame.with_columns(*[frame[n][perm] for n in names]))
    if sp.issparse(X):
        fmt = X.format
        X = X.tocsr()
        mask = np.zeros((1, X.shape[1]))
        mask[0, positions] = 1.0
        out = X.multiply(1.0 - mask) + X[perm].multiply(mask)
        return out.asformat(fmt)
    out = np.array(X, copy=True)
    out[:, positions] = np.asarray(X)[perm][:, positions]
    return out


def set_missing(X: Any, positions: Sequence[int]) -> Any:
    """A copy of ``X`` whose columns ``positions`` hold missing values only.

    A pandas column becomes float NaN when it was numeric (booleans excepted) and
    object None otherwise; another dataframe's column keeps its type, all null; an
    array column becomes NaN (None in an object array).

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm._dataframe import set_missing
    >>> X = set_missing(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), [0, 1])
    >>> bool(X.isna().all().all()), [str(t) for t in X.dtypes]
    (True, ['float64', 'object'])
    """
    if _is_pandas(X):
        import pandas as pd

        out = X.copy()
        for p in positions:
            col = X.iloc[:, p]
            numeric = pd.api.types.is_numeric_dtype(col) and not (
                pd.api.types.is_bool_dtype(col)
            )
            fill = np.nan if numeric else None
            dtype = float if numeric else object
            out.isetitem(int(p), pd.Series(fill, index=X.index, dtype=dtype))
        return out
    frame = _eager(X)
    if frame is not None:
        names = [frame.columns[p] for p in positions]
        backend = nw.get_native_namespace(frame)
        n = len(frame)
        nulls = [
            nw.new_series(name, [None] * n, frame.schema[name], backend=backend)
            for name in names
        ]
        return nw.to_native(frame.with_columns(*nulls))
    X = np.asarray(X)
    out = X.astype(object) if X.dtype.kind not in "fc" else np.array(X, copy=True)
    for p in positions:
        out[:, p] = _missing_like(out[:, p]) if out.dtype == object else np.nan
    return out


def assign_columns(X: Any, positions: Sequence[int], values: np.ndarray) -> Any:
    """A copy of ``X`` with ``values[:, positions]`` written into those columns.

    A dataframe keeps its other columns (and a pandas frame its index); anything
    else is replaced by ``values``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skmm._dataframe import assign_columns
    >>> X = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    >>> assign_columns(X, [1], np.zeros((2, 2)))["b"].tolist()
    [0.0, 0.0]
    """
    if _is_pandas(X):
        out = X.copy()
        for p in positions:
            out.isetitem(int(p), values[:, p])
        return out
    frame = _eager(X)
    if frame is not None:
        backend = nw.get_native_namespace(frame)
        columns = [
            nw.new_series(frame.columns[p], values[:, p], backend=backend)
            for p in positions
        ]
        return nw.to_native(frame.with_columns(*columns))
    return values


def categorical_columns(X: Any) -> list[str]:
    """Names of the columns of a DataFrame typed as categorical.

    A pandas ``category`` column or a polars ``Categorical``/``Enum`` column (a
    :class:`~skmm.CategoricalEncoder` block's output) is categorical; anything that
    is not a dataframe has none.

    Parameters
    ----------
    X : object

    Returns
    -------
    columns : list of str

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.compose import categorical_columns
    >>> X = pd.DataFrame({"a": pd.Categorical([0, 1]), "b": [0.5, 1.5]})
    >>> categorical_columns(X)
    ['a']
    """
    frame = _eager(X)
    if frame is None:
        return []
    return [
        str(name)
        for name, dtype in frame.schema.items()
        if isinstance(dtype, (nw.Categorical, nw.Enum))
    ]


def category_codes(
    X: Any,
    columns: Sequence[str],
    categories: dict[str, list] | None = None,
) -> tuple[Any, dict[str, list]]:
    """Replace categorical columns by float codes (NaN for missing).

    Parameters
    ----------
    X : pandas or polars DataFrame
    columns : sequence of str
        The categorical columns (from :func:`categorical_columns`).
    categories : dict of str to list, default=None
        The categories of each column, in code order, as returned by an earlier
        call (in fit); a value outside them becomes NaN. None reads them from the
        columns' types.

    Returns
    -------
    X_codes : DataFrame of the same library
        ``X`` with the categorical columns as float64 codes.
    categories : dict of str to list
        The categories used, in code order.

    Examples
    --------
    >>> import pandas as pd
    >>> from skmm.compose import category_codes
    >>> X = pd.DataFrame({"a": pd.Categorical(["x", "y", None])})
    >>> codes, cats = category_codes(X, ["a"])
    >>> codes["a"].tolist(), cats
    ([0.0, 1.0, nan], {'a': ['x', 'y']})
    """
    frame = nw.from_native(X, eager_only=True)
    learned = {} if categories is None else dict(categories)
    replaced = []
    for name in columns:
        series = frame[name]
        if name not in learned:
            learned[name] = _categories_of(series)
        # Each value as ``str`` of the Python value, as ``_categories_of`` names
        # the categories: a cast to String would spell an integer category of a
        # column with missing values "0.0", which names no category.
        lookup = {str(v): float(i) for i, v in enumerate(learned[name])}
        codes = [
            np.nan if _is_missing(v) else lookup.get(str(v), np.nan)
            for v in series.to_list()
        ]
        replaced.append(
            nw.new_series(
                name, codes, nw.Float64, backend=nw.get_native_namespace(frame)
            )
        )
    if replaced:
        frame = frame.with_columns(*replaced)
    return nw.to_native(frame), learned


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT or ``pd.NA``: a value that names no category."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pd.NA: its comparisons are NA, whose truth is ambiguous
        return True


def _categories_of(series: Any) -> list:
    dtype = series.dtype
    if isinstance(dtype, nw.Enum):
        return [str(c) for c in dtype.categories]
    native = nw.to_native(series)
    cats = getattr(getattr(native, "cat", None), "categories", None)
    if cats is not None and hasattr(cats, "tolist"):  # pandas: the dtype's order
        return [str(c) for c in cats.tolist()]
    return sorted(str(v) for v in series.drop_nulls().unique().to_list())
