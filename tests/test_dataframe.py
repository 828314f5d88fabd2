"""The dataframe helpers: the same answer for pandas, polars, pyarrow and arrays."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp

from skmm._dataframe import (
    assign_columns,
    categorical_columns,
    category_codes,
    column_names,
    column_values,
    is_dataframe,
    n_rows,
    permute_columns,
    row_labels,
    set_missing,
    slice_rows,
    to_numpy,
)

DATA = {"a": [1.0, 2.0, 3.0, 4.0], "b": ["w", "x", "y", "z"], "c": [10, 20, 30, 40]}
FRAMES = {
    "pandas": lambda: pd.DataFrame(DATA, index=[7, 8, 9, 10]),
    "polars": lambda: pl.DataFrame(DATA),
    "pyarrow": lambda: pa.table(DATA),
}


def _column(X, name):
    if isinstance(X, pa.Table):
        return X.column(name).to_pylist()
    return list(X[name])


@pytest.mark.parametrize("library", FRAMES)
def test_frames_are_recognised_with_their_names_and_rows(library):
    X = FRAMES[library]()
    assert is_dataframe(X)
    assert column_names(X) == ["a", "b", "c"]
    assert n_rows(X) == 4


@pytest.mark.parametrize(
    "X", [np.ones((3, 2)), [[1, 2]], sp.csr_matrix(np.eye(3)), None, pd.Series([1])]
)
def test_non_frames_have_no_column_names(X):
    assert not is_dataframe(X)
    assert column_names(X) is None


def test_rows_of_arrays_sparse_and_dicts():
    assert n_rows(np.zeros((5, 2))) == 5
    assert n_rows(sp.csr_matrix((6, 3))) == 6
    assert n_rows({"image": np.zeros((4, 8)), "text": np.zeros((4, 2))}) == 4


def test_pandas_frames_with_duplicate_column_names_keep_working():
    # narwhals refuses duplicate names; pandas users may have them.
    X = pd.DataFrame([[1, 2], [3, 4], [5, 6]], columns=["a", "a"], index=[5, 6, 7])
    assert is_dataframe(X)
    assert column_names(X) == ["a", "a"]
    assert slice_rows(X, 1, 3).index.tolist() == [6, 7]
    shuffled = permute_columns(X, [1], np.array([2, 0, 1]))
    assert shuffled.to_numpy().tolist() == [[1, 6], [3, 2], [5, 4]]
    assert set_missing(X, [0]).iloc[:, 0].isna().all()


def test_row_labels_are_the_index_unless_it_is_the_positions():
    X = pd.DataFrame({"a": [1, 2, 3]})
    assert row_labels(X) is None
    assert row_labels(X.iloc[1:]) == [1, 2]
    assert row_labels(X["a"].iloc[1:]) == [1, 2]
    assert row_labels(X.set_index(pd.Index(["x", "y", "z"]))) == ["x", "y", "z"]
    assert row_labels(pl.DataFrame({"a": [1]})) is None
    assert row_labels([1, 2]) is None


def test_column_values_are_lists_with_missing_values_kept():
    assert column_values(pd.Series([1.0, None])) == pytest.approx(
        [1.0, np.nan], nan_ok=True
    )
    assert column_values(pl.Series(["a", None])) == ["a", None]
    values = column_values(np.array([[1, 2], [3, 4]]))  # an array: its rows
    assert [v.tolist() for v in values] == [[1, 2], [3, 4]]
    assert column_values(("x", "y")) == ["x", "y"]


@pytest.mark.parametrize("library", FRAMES)
def test_slice_rows_takes_positions_not_labels(library):
    part = slice_rows(FRAMES[library](), 1, 3)
    assert type(part) is type(FRAMES[library]())
    assert _column(part, "b") == ["x", "y"]


def test_slice_rows_of_series_arrays_and_lists():
    assert slice_rows(pd.Series([1, 2, 3], index=[9, 8, 7]), 0, 2).tolist() == [1, 2]
    assert slice_rows(pl.Series([1, 2, 3]), 2, 3).to_list() == [3]
    assert slice_rows(np.arange(5), 1, 3).tolist() == [1, 2]
    assert slice_rows([1, 2, 3], 1, 2) == [2]


NUMBERS = {"a": [1.0, 2.0], "c": [3, 4]}


@pytest.mark.parametrize(
    "X",
    [
        pd.DataFrame(NUMBERS),
        pl.DataFrame(NUMBERS),
        pa.table(NUMBERS),
        sp.csr_matrix([[1.0, 3.0], [2.0, 4.0]]),
        [[1, 3], [2, 4]],
    ],
    ids=["pandas", "polars", "pyarrow", "sparse", "list"],
)
def test_to_numpy_gives_a_dense_array(X):
    out = to_numpy(X, dtype=np.float64)
    assert out.dtype == np.float64
    assert out.tolist() == [[1.0, 3.0], [2.0, 4.0]]


def test_to_numpy_keeps_the_dtype_unless_asked():
    assert to_numpy(pd.DataFrame({"a": [1, 2]})).dtype.kind == "i"
    assert to_numpy(pd.Series([1.5])).tolist() == [1.5]


@pytest.mark.parametrize("library", FRAMES)
def test_permute_columns_shuffles_those_columns_together(library):
    X = FRAMES[library]()
    out = permute_columns(X, [0, 2], np.array([3, 2, 1, 0]))
    assert type(out) is type(X)
    assert _column(out, "a") == [4.0, 3.0, 2.0, 1.0]
    assert _column(out, "c") == [40, 30, 20, 10]
    assert _column(out, "b") == DATA["b"]
    assert _column(X, "a") == DATA["a"]  # a copy
    if library == "pandas":
        assert out.index.tolist() == [7, 8, 9, 10]


def test_permute_columns_of_arrays_and_sparse_matrices():
    X = np.arange(6).reshape(3, 2)
    assert permute_columns(X, [1], np.array([2, 1, 0])).tolist() == [
        [0, 5],
        [2, 3],
        [4, 1],
    ]
    S = sp.csc_matrix(X)
    out = permute_columns(S, [1], np.array([2, 1, 0]))
    assert out.format == "csc"
    assert out.toarray().tolist() == [[0, 5], [2, 3], [4, 1]]


def test_set_missing_pandas_numbers_become_nan_others_object():
    X = pd.DataFrame({"n": [1, 2], "t": ["a", "b"], "f": [True, False]})
    out = set_missing(X, [0, 1, 2])
    assert [str(t) for t in out.dtypes] == ["float64", "object", "object"]
    assert out.isna().all().all()
    assert X["n"].tolist() == [1, 2]  # a copy


def test_set_missing_other_frames_keep_the_column_types():
    X = pl.DataFrame(
        {"n": [1, 2], "e": pl.Series(["x", "y"], dtype=pl.Enum(["x", "y"]))}
    )
    out = set_missing(X, [0, 1])
    assert out.schema == X.schema
    assert out.null_count().row(0) == (2, 2)
    assert set_missing(pa.table({"n": [1, 2]}), [0]).column("n").null_count == 2


def test_set_missing_arrays():
    assert np.isnan(set_missing(np.ones((2, 2)), [1])[:, 1]).all()
    out = set_missing(np.array([["a", "b"]], dtype=object), [0])
    assert out.tolist() == [[None, "b"]]


@pytest.mark.parametrize("library", FRAMES)
def test_assign_columns_writes_only_those_columns(library):
    X = FRAMES[library]()
    values = np.full((4, 3), -1.0)
    out = assign_columns(X, [0], values)
    assert _column(out, "a") == [-1.0] * 4
    assert _column(out, "c") == DATA["c"]
    assert np.array_equal(assign_columns(np.zeros((4, 3)), [0], values), values)


def test_categorical_columns_and_codes():
    X = pd.DataFrame({"a": pd.Categorical(["x", "y", None]), "b": [1.0, 2.0, 3.0]})
    assert categorical_columns(X) == ["a"]
    assert categorical_columns(pl.from_pandas(X)) == ["a"]
    assert categorical_columns(np.ones((2, 2))) == []
    codes, learned = category_codes(X, ["a"])
    assert learned == {"a": ["x", "y"]}
    assert codes["a"].tolist() == pytest.approx([0.0, 1.0, np.nan], nan_ok=True)
    again, _ = category_codes(
        pd.DataFrame({"a": pd.Categorical(["y", "z"])}), ["a"], learned
    )
    assert again["a"].tolist() == pytest.approx([1.0, np.nan], nan_ok=True)


def test_category_codes_of_integer_categories_with_missing_values():
    # A categorical column of integer codes (what the column-type detector's native
    # blocks give) with a missing value: each value keeps its code, in pandas and
    # polars; the codes were all NaN when the values were cast to strings ("0.0").
    X = pd.DataFrame({"a": pd.Categorical([0, 12, None, 1], categories=range(13))})
    codes, learned = category_codes(X, ["a"])
    assert learned["a"][:3] == ["0", "1", "2"]
    assert codes["a"].tolist() == pytest.approx([0.0, 12.0, np.nan, 1.0], nan_ok=True)
    text = pd.DataFrame({"a": pd.array(["x", pd.NA, "y"], dtype="string")})
    codes, learned = category_codes(text, ["a"])
    assert codes["a"].tolist() == pytest.approx([0.0, np.nan, 1.0], nan_ok=True)
    polars = pl.DataFrame({"a": ["x", None, "y"]}).cast({"a": pl.Categorical})
    codes, _ = category_codes(polars, ["a"])
    assert codes["a"].to_list()[0::2] == [0.0, 1.0]
    assert np.isnan(codes["a"].to_list()[1])
