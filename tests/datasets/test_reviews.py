import pandas as pd
import pytest

from skmm.datasets import load_womens_reviews
from tests.conftest import DATA, require_shared


def test_shape_columns_and_missing_values():
    data = load_womens_reviews()
    assert data.data.shape == (23486, 8)
    assert data.target_name == "Recommended IND"
    assert data.target.value_counts().to_dict() == {1: 19314, 0: 4172}
    assert data.data["Title"].isna().sum() == 3810
    assert data.data["Review Text"].isna().sum() == 845
    assert list(data.frame.columns) == [*data.feature_names, "Recommended IND"]


def test_the_other_target_never_leaks_into_the_inputs():
    X, y = load_womens_reviews(target="Rating", return_X_y=True)
    assert "Recommended IND" not in X.columns and "Rating" not in X.columns
    assert sorted(y.unique()) == [1, 2, 3, 4, 5]
    X, _ = load_womens_reviews(return_X_y=True)
    assert "Rating" not in X.columns


def test_unknown_target():
    with pytest.raises(ValueError, match="target must be one of"):
        load_womens_reviews(target="Age")


def test_shipped_copy_equals_the_source():
    pytest.importorskip("pyarrow")
    source = pd.read_parquet(
        require_shared(DATA / "womens_reviews" / "womens_clothing_reviews.parquet")
    )
    frame = load_womens_reviews(target="Rating").frame
    for column in frame.columns:
        pd.testing.assert_series_equal(
            frame[column], source[column], check_dtype=False, check_names=True
        )
