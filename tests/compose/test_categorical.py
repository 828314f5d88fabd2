"""CategoricalEncoder: category codes that heads recognise as categorical."""

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmm import CategoricalEncoder, MultimodalUnion
from skmm.compose import categorical_columns, category_codes

COLOURS = pd.DataFrame({"colour": ["red", "blue", None, "red", "green", "red"]})


def test_codes_are_typed_categorical_and_unseen_values_are_missing():
    enc = CategoricalEncoder().set_output(transform="pandas").fit(COLOURS)
    out = enc.transform(pd.DataFrame({"colour": ["red", "purple", None]}))
    assert str(out["colour"].dtype) == "category"
    assert list(out["colour"].cat.categories) == [0, 1, 2]  # blue, green, red
    assert out["colour"].tolist()[0] == 2 and out["colour"].isna().tolist() == [
        False,
        True,
        True,
    ]
    assert enc.n_codes_ == [3]
    # The default (numpy) output is the same codes as floats, NaN for missing.
    raw = CategoricalEncoder().fit(COLOURS).transform(COLOURS)
    np.testing.assert_array_equal(raw[:, 0], [2, 0, np.nan, 2, 1, 2])


def test_rare_categories_share_one_code():
    enc = CategoricalEncoder(min_frequency=2).fit(COLOURS)
    codes = enc.transform(COLOURS)[:, 0]
    assert enc.n_codes_ == [2]  # red, and blue + green together
    assert codes[1] == codes[4] != codes[0]


def test_polars_output_is_an_enum_the_heads_find():
    pl = pytest.importorskip("polars")
    enc = CategoricalEncoder().set_output(transform="polars").fit(COLOURS)
    out = enc.transform(COLOURS)
    assert isinstance(out.schema["colour"], pl.Enum)
    assert categorical_columns(out) == ["colour"]
    codes, categories = category_codes(out, ["colour"])
    assert codes["colour"].to_list()[:2] == [2.0, 0.0]
    assert categories == {"colour": ["0", "1", "2"]}


def test_union_records_a_categorical_block_and_keeps_the_type():
    X = COLOURS.assign(price=np.arange(6.0))
    union = MultimodalUnion(
        [("cat", CategoricalEncoder(), ["colour"]), ("tab", "passthrough", ["price"])]
    ).set_output(transform="pandas")
    out = union.fit_transform(X)
    assert union.modalities_ == {"cat": "categorical", "tab": "tabular"}
    assert categorical_columns(out) == ["cat__colour"]


@parametrize_with_checks([CategoricalEncoder()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
