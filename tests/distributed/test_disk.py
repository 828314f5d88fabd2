"""transform_to_npy: chunked, memory-mapped output that is never left half-written."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import SGDClassifier
from sklearn.preprocessing import StandardScaler

from skmm.distributed import transform_to_npy
from tests.conftest import ROOT

pytest.importorskip("dask")

pytestmark = pytest.mark.timeout(120)


def _table(n=50):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})


class _FailOnChunk(TransformerMixin, BaseEstimator):
    """Scales by 2, and fails on the chunk that starts at row ``at``."""

    def __init__(self, at=20):
        self.at = at

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        if X.index[0] == self.at:
            raise RuntimeError("disk full")
        return X.to_numpy(dtype=np.float32) * 2


def test_chunks_give_the_whole_transform(tmp_path, df_module):
    X = _table()
    scaler = StandardScaler().fit(X)
    data = X if df_module.__name__ == "pandas" else df_module.from_pandas(X)
    out = transform_to_npy(scaler, data, tmp_path / "out.npy", chunk_size=7)
    assert isinstance(out, np.memmap) and not out.flags.writeable
    np.testing.assert_allclose(out, scaler.transform(X))
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy"]


def test_failure_leaves_no_file_that_looks_complete(tmp_path):
    X = _table()
    path = tmp_path / "emb.npy"
    with pytest.raises(RuntimeError, match="disk full"):
        transform_to_npy(_FailOnChunk(at=20), X, path, chunk_size=10)
    assert list(tmp_path.iterdir()) == []

    # An earlier complete file stays as it was.
    good = transform_to_npy(_FailOnChunk(at=-1), X, path, chunk_size=10)
    expected = np.array(good)
    with pytest.raises(RuntimeError):
        transform_to_npy(_FailOnChunk(at=30), X, path, chunk_size=10)
    np.testing.assert_array_equal(np.load(path), expected)


def test_killed_process_leaves_no_file_that_looks_complete(tmp_path):
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
import numpy as np, pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from skmm.distributed import transform_to_npy

class DieOnSecondChunk(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self
    def transform(self, X):
        if X.index[0] > 0:
            os._exit(9)  # killed mid-way: no exception handler runs
        return X.to_numpy(dtype=np.float32)

X = pd.DataFrame({{"a": np.arange(40.0)}})
transform_to_npy(DieOnSecondChunk(), X, {str(tmp_path / "emb.npy")!r}, chunk_size=10)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 9, result.stderr[-2000:]
    assert not (tmp_path / "emb.npy").exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert all(".partial-" in name for name in leftovers)


def test_a_sklearn_head_learns_from_the_memmap_slice_by_slice(tmp_path):
    X = _table(200)
    y = (X["a"] > 0).astype(int).to_numpy()
    emb = transform_to_npy(StandardScaler().fit(X), X, tmp_path / "e.npy")
    head = SGDClassifier(random_state=0)
    for start in range(0, len(emb), 50):  # one slice in memory at a time
        head.partial_fit(emb[start : start + 50], y[start : start + 50], classes=[0, 1])
    assert head.score(emb, y) > 0.9


def test_bad_chunk_size(tmp_path):
    with pytest.raises(ValueError, match="chunk_size"):
        transform_to_npy(StandardScaler(), _table(), tmp_path / "x.npy", chunk_size=0)
