"""The one block scaler: float64 statistics, streaming merges, and a head that
learns from a block of very large values as a standard scaler would let it."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmm import FusionClassifier
from skmm.compose._scaling import BlockScaler
from skmm.crossmodal import CrossModalAligner


def _huge_block_data(n=300, seed=0):
    """A block of values near 1e20 that holds the label, and a noise block."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, 4))
    y = (signal[:, 0] + 0.5 * signal[:, 1] > 0).astype(int)
    X = {
        "huge": (1.0 + signal) * 1e20,
        "noise": rng.normal(size=(n, 3)),
    }
    return X, y


def test_a_block_near_1e20_is_learned_as_by_a_standard_scaler():
    X, y = _huge_block_data()
    joined = np.hstack([X["huge"], X["noise"]])
    reference = make_pipeline(StandardScaler(), LogisticRegression()).fit(joined, y)
    reference_accuracy = reference.score(joined, y)
    assert reference_accuracy > 0.95

    head = FusionClassifier(hidden=16, max_epochs=60, random_state=0).fit(X, y)
    assert head.score(X, y) >= reference_accuracy - 0.03
    assert all(np.isfinite(s).all() for s in head.block_scales_)
    np.testing.assert_allclose(head.block_scales_[0], X["huge"].std(axis=0), rtol=1e-6)


def test_the_aligner_standardises_a_block_near_1e20():
    X, _ = _huge_block_data()
    aligner = CrossModalAligner(method="cca", n_components=2).fit(X)
    np.testing.assert_allclose(
        aligner.block_scales_[0], X["huge"].std(axis=0), rtol=1e-6
    )
    z = aligner.transform({"huge": X["huge"][:5]})
    assert np.isfinite(z).all() and np.abs(z).max() > 0


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_partial_fit_merges_to_the_statistics_of_one_fit(chunk):
    rng = np.random.default_rng(1)
    blocks = [rng.normal(size=(100, 3)) * 1e3 + 5, rng.normal(size=(100, 2))]
    blocks[0][rng.random((100, 3)) < 0.1] = np.nan
    present = rng.random((100, 2)) > 0.2
    whole = BlockScaler().fit(blocks, present)
    merged = BlockScaler()
    for start in range(0, 100, chunk):
        rows = slice(start, start + chunk)
        merged.partial_fit([b[rows] for b in blocks], present[rows])
    for j, block in enumerate(blocks):
        rows = block[present[:, j]]
        np.testing.assert_allclose(whole.means_[j], np.nanmean(rows, axis=0))
        np.testing.assert_allclose(whole.stds_[j], np.nanstd(rows, axis=0))
        np.testing.assert_allclose(merged.means_[j], whole.means_[j], rtol=1e-12)
        np.testing.assert_allclose(merged.stds_[j], whole.stds_[j], rtol=1e-10)
    for a, b in zip(
        merged.transform(blocks, present), whole.transform(blocks, present), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_transform_zeroes_absent_rows_and_missing_values():
    block = np.array([[1.0, 10.0], [3.0, np.nan], [100.0, 100.0]])
    present = np.array([[True], [True], [False]])
    scaler = BlockScaler().fit([block], present)
    (out,) = scaler.transform([block], present)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    # A constant feature (one value) is scaled by 1.
    np.testing.assert_array_equal(scaler.scales_[0], [1.0, 1.0])
