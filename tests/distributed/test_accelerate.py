"""Fusion heads trained through accelerate: same network, pickles without it."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

from tests.conftest import ROOT, run_python

accelerate = pytest.importorskip("accelerate")

from skmm import FusionClassifier, FusionRegressor  # noqa: E402

pytestmark = pytest.mark.timeout(120)

PARAMS = {"fusion": "gated", "hidden": 16, "max_epochs": 15, "random_state": 0}


def _data(n=80):
    rng = np.random.default_rng(0)
    X = {
        "image": rng.normal(size=(n, 8)).astype(np.float32),
        "text": rng.normal(size=(n, 4)).astype(np.float32),
    }
    y = (X["image"][:, 0] + X["text"][:, 0] > 0).astype(int)
    return X, y


def test_accelerated_head_matches_the_plain_one_and_pickles(tmp_path):
    X, y = _data()
    accelerator = accelerate.Accelerator(cpu=True)
    head = FusionClassifier(**PARAMS, accelerator=accelerator).fit(X, y)
    plain = FusionClassifier(**PARAMS, device="cpu").fit(X, y)
    # One process, full precision: accelerate trains the very same network.
    np.testing.assert_allclose(head.predict_proba(X), plain.predict_proba(X), atol=1e-6)
    assert head.n_epochs_ == plain.n_epochs_
    assert head.device_ == "cpu"

    joblib.dump(head, tmp_path / "head.joblib")
    loaded = joblib.load(tmp_path / "head.joblib")
    assert loaded.accelerator is None  # a process's accelerator is not saved
    assert type(loaded.net_).__name__ == "NeuralNet"
    np.testing.assert_array_equal(loaded.predict_proba(X), head.predict_proba(X))


def test_accelerated_head_streams_a_large_input(monkeypatch):
    """Past the in-memory size, the accelerated head reads rows as it trains."""
    from skmm.fusion import _rows

    X, y = _data()
    monkeypatch.setattr(_rows, "IN_MEMORY_BYTES", 0)
    head = FusionClassifier(**PARAMS, accelerator=accelerate.Accelerator(cpu=True))
    head.fit(X, y)
    plain = FusionClassifier(**PARAMS, device="cpu").fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X), plain.predict_proba(X), atol=1e-6)


def test_regressor_takes_an_accelerator():
    X, _ = _data()
    target = X["image"][:, 0] * 2.0
    accelerator = accelerate.Accelerator(cpu=True)
    reg = FusionRegressor(**PARAMS, accelerator=accelerator).fit(X, target)
    plain = FusionRegressor(**PARAMS, device="cpu").fit(X, target)
    np.testing.assert_allclose(reg.predict(X), plain.predict(X), atol=1e-5)


def test_bf16_head_loads_and_predicts_in_a_fresh_process(tmp_path):
    """Fitted with bf16 mixed precision in one process, predicted in another."""
    X, y = _data()
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import joblib, numpy as np
from accelerate import Accelerator
from skmm import FusionClassifier
from tests.distributed.test_accelerate import PARAMS, _data
X, y = _data()
acc = Accelerator(cpu=True, mixed_precision="bf16")
head = FusionClassifier(**PARAMS, accelerator=acc).fit(X, y)
joblib.dump(head, {str(tmp_path / "bf16.joblib")!r})
np.save({str(tmp_path / "proba.npy")!r}, head.predict_proba(X))
"""
    run_python("-c", script, timeout=100)
    loaded = joblib.load(tmp_path / "bf16.joblib")
    np.testing.assert_array_equal(
        loaded.predict_proba(X), np.load(tmp_path / "proba.npy")
    )
    # bf16 autocast changes the rounding, not the model.
    plain = FusionClassifier(**PARAMS, device="cpu").fit(X, y)
    np.testing.assert_allclose(
        loaded.predict_proba(X), plain.predict_proba(X), atol=0.02
    )


DDP_SCRIPT = """
import os, sys
sys.path.insert(0, {root!r})
import joblib, numpy as np
from accelerate import Accelerator
from skmm import FusionClassifier
from tests.distributed.test_accelerate import _data

X, y = _data(200)
acc = Accelerator(cpu=True)
# random_state=None: the main process's seed is broadcast to the other.
head = FusionClassifier("gated", hidden=16, max_epochs=60, patience=2, lr=0.05,
                        accelerator=acc).fit(X, y)
rank = acc.process_index
np.save(os.path.join({out!r}, f"proba{{rank}}.npy"), head.predict_proba(X))
np.save(os.path.join({out!r}, f"valid_loss{{rank}}.npy"),
        head.net_.history[:, "valid_loss"])
if acc.is_main_process:
    joblib.dump(head, os.path.join({out!r}, "head.joblib"))
print("processes", acc.num_processes, "epochs", head.n_epochs_)
"""


@pytest.mark.slow
def test_data_parallel_on_two_cpu_processes(tmp_path):
    """torchrun, 2 processes, gloo: DistributedDataParallel as on 2 GPUs."""
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT.format(root=str(ROOT), out=str(tmp_path)))
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        cwd=tmp_path,
        timeout=100,
    )
    assert result.stdout.count("processes 2") == 2
    # Early stopping decided alike: both processes saw the same validation losses
    # (each used to see its own shard's, stop at its own epoch, and hang the other).
    np.testing.assert_array_equal(
        np.load(tmp_path / "valid_loss0.npy"), np.load(tmp_path / "valid_loss1.npy")
    )
    proba0, proba1 = np.load(tmp_path / "proba0.npy"), np.load(tmp_path / "proba1.npy")
    np.testing.assert_array_equal(proba0, proba1)  # one model, in sync
    head = joblib.load(tmp_path / "head.joblib")
    assert head.device_ == "cpu" and head.accelerator is None
    X, y = _data(200)
    np.testing.assert_array_equal(head.predict_proba(X), proba0)
    assert (head.predict(X) == y).mean() > 0.8
