"""The neural heads' thread limit: scoped to fit and predict, the caller's
settings restored on return and on error."""

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from skmm import FusionClassifier
from skmm._torch import auto_num_threads, limited_threads
from skmm.fusion._network import FusionNetwork


@pytest.fixture
def two_threads():
    """The caller runs torch on 2 threads (the suite runs on 1); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info()]


def test_limited_threads_restores_torch_and_blas_even_on_error(two_threads):
    blas = _blas_threads()
    with limited_threads(1):
        assert torch.get_num_threads() == 1
        assert set(_blas_threads()) == {1}
    assert torch.get_num_threads() == two_threads
    with pytest.raises(RuntimeError, match="boom"), limited_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == two_threads
    assert _blas_threads() == blas
    with limited_threads(None):  # None changes nothing
        assert torch.get_num_threads() == two_threads


def test_auto_threads_grow_with_the_work_up_to_the_callers(two_threads):
    assert auto_num_threads(1e6) == 1
    assert auto_num_threads(1e12) == two_threads


def test_fit_and_predict_run_on_the_heads_threads_and_restore_the_callers(
    two_threads, monkeypatch
):
    rng = np.random.default_rng(0)
    X = {"a": rng.normal(size=(40, 6)), "b": rng.normal(size=(40, 3))}
    y = np.arange(40) % 2
    seen = []
    forward = FusionNetwork.forward

    def spy(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(FusionNetwork, "forward", spy)
    # n_threads=None: a small head gets one thread
    head = FusionClassifier(hidden=8, max_epochs=2, random_state=0, device="cpu")
    head.fit(X, y)
    assert set(seen) == {1}
    assert torch.get_num_threads() == two_threads
    seen.clear()
    head.predict_proba(X)
    assert set(seen) == {1}
    assert torch.get_num_threads() == two_threads
    seen.clear()
    head.set_params(n_threads=2).fit(X, y)
    assert set(seen) == {2}

    def fail(self, *args, **kwargs):
        seen.append(torch.get_num_threads())
        raise RuntimeError("forward failed")

    monkeypatch.setattr(FusionNetwork, "forward", fail)
    seen.clear()
    with pytest.raises(RuntimeError, match="forward failed"):
        head.set_params(n_threads=1).fit(X, y)
    assert seen == [1]
    assert torch.get_num_threads() == two_threads
