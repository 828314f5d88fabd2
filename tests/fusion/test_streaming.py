"""Fusion heads on inputs too large to copy: rows are read as training needs them.

The size thresholds are module constants; the tests lower them so that a small
input takes the streaming path.
"""

from __future__ import annotations

import pickle
import tracemalloc

import numpy as np
import pytest

from skmm import FusionClassifier, FusionRegressor
from skmm.compose._blocks import infer_layout
from skmm.fusion import _rows

PARAMS = {"fusion": "gated", "hidden": 16, "max_epochs": 12, "random_state": 0}


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 7)).astype(np.float32)
    X[:, :3] *= 50.0  # blocks on different scales
    X[:, 3:] += 10.0
    y = (X[:, 0] / 50 + X[:, 4] - 10 > 0).astype(int)
    X[rng.random(n) < 0.2, :3] = np.nan  # block "a" absent from a fifth of the rows
    X[rng.random(n) < 0.1, 5] = np.nan  # a value missing inside a present block
    return X, y


MODALITIES = {"a": slice(0, 3), "b": slice(3, 7)}


@pytest.fixture
def stream(monkeypatch):
    """Stream every input, ``chunk_rows`` rows at a time."""

    def set_chunk(chunk_rows: int, width: int = 7) -> None:
        monkeypatch.setattr(_rows, "IN_MEMORY_BYTES", 0)
        monkeypatch.setattr(_rows, "CHUNK_BYTES", chunk_rows * 4 * width)

    return set_chunk


@pytest.mark.parametrize("chunk_rows", [1, 7, 10_000])
def test_streamed_statistics_match_numpy(chunk_rows, stream):
    X, _ = _data()
    stream(chunk_rows)
    layout = infer_layout(X, MODALITIES)
    scaler, present = _rows.streamed_scaler(X, layout)
    means, stds = scaler.means_, scaler.stds_
    for j, cols in enumerate([slice(0, 3), slice(3, 7)]):
        rows = X[present[:, j], cols].astype(np.float64)
        np.testing.assert_allclose(means[j], np.nanmean(rows, axis=0), rtol=1e-12)
        np.testing.assert_allclose(stds[j], np.nanstd(rows, axis=0), rtol=1e-10)
    assert present[:, 0].tolist() == (~np.isnan(X[:, :3]).all(axis=1)).tolist()


@pytest.mark.parametrize("chunk_rows", [64, 10_000])
def test_streamed_fit_matches_the_in_memory_fit(chunk_rows, stream):
    X, y = _data()
    plain = FusionClassifier(**PARAMS, modalities=MODALITIES).fit(X, y)
    stream(chunk_rows)
    streamed = FusionClassifier(**PARAMS, modalities=MODALITIES).fit(X, y)
    for mine, theirs in zip(
        streamed.block_means_ + streamed.block_scales_,
        plain.block_means_ + plain.block_scales_,
        strict=True,
    ):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5)
    # Same split, same batches, same initialisation: the same network up to the
    # statistics' last bits (float64 merged vs numpy's float32 reductions).
    assert streamed.n_epochs_ == plain.n_epochs_
    np.testing.assert_allclose(
        streamed.predict_proba(X), plain.predict_proba(X), atol=1e-4
    )
    # Chunked prediction is the same computation as one chunk.
    proba = streamed.predict_proba(X)
    stream(10_000)
    np.testing.assert_allclose(streamed.predict_proba(X), proba, atol=1e-6)


def test_streamed_dict_input_and_regressor(stream):
    X, _ = _data()
    target = np.nan_to_num(X[:, 3]) * 2.0
    blocks = {"a": X[:, :3], "b": X[:, 3:]}
    plain = FusionRegressor(**PARAMS).fit(blocks, target)
    stream(50)
    streamed = FusionRegressor(**PARAMS).fit(blocks, target)
    np.testing.assert_allclose(
        streamed.predict(blocks), plain.predict(blocks), atol=1e-3
    )


def test_a_block_absent_everywhere_is_still_an_error(stream):
    X, y = _data()
    X[:, :3] = np.nan
    stream(50)
    with pytest.raises(ValueError, match="'a' is absent from every row"):
        FusionClassifier(**PARAMS, modalities=MODALITIES).fit(X, y)


def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_fits_from_a_memmap_without_copying_it(tmp_path, monkeypatch):
    """A 31 MiB memory map: the in-memory path allocates several copies of it, the
    streaming path a few chunks (numpy's allocations, counted by tracemalloc;
    torch's batches are small and not counted)."""
    n, width = 16_000, 512
    path = tmp_path / "emb.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, width))
    rng = np.random.default_rng(0)
    for start in range(0, n, 4000):
        out[start : start + 4000] = rng.normal(size=(4000, width))
    out.flush()
    del out
    X = np.load(path, mmap_mode="r")
    y = (X[:, 0] > 0).astype(int)
    size_mib = X.nbytes / 2**20
    params = dict(PARAMS, max_epochs=1, early_stopping=False, batch_size=256)
    modalities = {"a": slice(0, 256), "b": slice(256, width)}

    def fit_and_predict():
        FusionClassifier(**params, modalities=modalities).fit(X, y).predict(X)

    in_memory = _peak_mib(fit_and_predict)
    monkeypatch.setattr(_rows, "IN_MEMORY_BYTES", 8 * 2**20)
    monkeypatch.setattr(_rows, "CHUNK_BYTES", 2 * 2**20)
    streamed = _peak_mib(fit_and_predict)
    # Measured: 113 MiB in memory, 11 MiB streamed (a few 2 MiB chunks in float64).
    assert in_memory > 2 * size_mib
    assert streamed < size_mib / 2, (streamed, in_memory, size_mib)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_saved_head_carries_no_training_rows(streamed, stream):
    """Early stopping's held-out rows (streamed: the whole input) stay out of the
    pickle: it holds the network, the statistics and the history, nothing more."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 400)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    if streamed:
        stream(100, width=400)
    head = FusionClassifier(
        **PARAMS, modalities={"a": slice(0, 200), "b": slice(200, 400)}
    )
    head.fit(X, y)
    held_out_bytes = int(0.1 * X.nbytes)  # 320 kB
    assert len(pickle.dumps(head)) < held_out_bytes


def test_a_batch_of_streamed_rows_equals_the_in_memory_standardisation():
    """Rows asked for in any order get exactly the values the in-memory path
    computes, and each item keeps its own target."""
    from skmm.compose._blocks import split_blocks

    X, y = _data()
    head = FusionClassifier(**PARAMS, modalities=MODALITIES).fit(X, y)
    blocks, present = split_blocks(X, head.layout_)
    expected = head._scale(blocks, present, fit=False)
    rows = np.array([250, 3, 4, 199, 0, 57])
    data = _rows.ScaledRows(X, head.layout_, present, head.scaler_, y, rows)
    batch = data.__getitems__([5, 0, 2, 1])
    for (item, target), i in zip(batch, [5, 0, 2, 1], strict=True):
        r = rows[i]
        assert target == y[r]
        for key in ("x0", "x1", "present"):
            np.testing.assert_array_equal(item[key], expected[key][r])
    np.testing.assert_array_equal(data[3][0]["x1"], expected["x1"][199])
