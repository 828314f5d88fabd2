"""The device path, tested on the CPU: precision, workers, streaming, and the
halve-and-retry answer to an out-of-memory error (injected, since there is no GPU)."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from skmm import ImageEncoder, TextEncoder, _torch
from skmm.encoders import _text, autocast, is_out_of_memory, resolve_precision
from skmm.exceptions import OutOfMemoryWarning
from tests.conftest import TINY_IMAGE_MODEL, make_image


def image_encoder(**params):
    params.setdefault("pretrained", False)
    params.setdefault("cache", False)  # these tests watch every forward pass
    return ImageEncoder(TINY_IMAGE_MODEL, device="cpu", **params)


@pytest.mark.parametrize(
    "device, bf16, expected",
    [("cpu", True, "fp32"), ("mps", True, "fp32"), ("cuda", True, "bf16"),
     ("cuda", False, "fp16"), ("cuda:1", True, "bf16")],
)  # fmt: skip
def test_auto_precision_per_device(monkeypatch, device, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert resolve_precision("auto", device) == expected
    assert resolve_precision("fp16", device) == "fp16"


def test_bad_precision_is_an_error():
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        image_encoder(precision="half").fit([make_image(0)])


def test_autocast_contexts():
    x = torch.ones(2, 2)
    with autocast("cpu", "bf16"):
        assert (x @ x).dtype == torch.bfloat16
    with autocast("cpu", "fp32"):
        assert (x @ x).dtype == torch.float32


def test_fitted_device_settings_are_recorded():
    encoder = image_encoder().fit([make_image(0)])
    assert encoder.precision_ == "fp32"
    assert encoder.batch_size_ == 4 and encoder.num_workers_ == 0
    assert image_encoder(num_workers=2).fit([make_image(0)]).num_workers_ == 2
    with pytest.raises(ValueError, match="num_workers"):
        image_encoder(num_workers=-1).fit([make_image(0)])


def test_auto_workers_per_device(monkeypatch):
    monkeypatch.setattr(_torch.os, "cpu_count", lambda: 16)
    assert _torch.auto_num_workers("cpu") == 0
    assert _torch.auto_num_workers("cuda") == 4
    monkeypatch.setattr(_torch.os, "cpu_count", lambda: 2)
    assert _torch.auto_num_workers("cuda") == 1


def test_reduced_precision_stays_close_and_returns_float32():
    images = [make_image(i) for i in range(3)]
    exact = image_encoder().fit_transform(images)
    bf16 = image_encoder(precision="bf16").fit(images)
    assert bf16.precision_ == "bf16"
    X = bf16.transform(images)
    assert X.dtype == np.float32
    np.testing.assert_allclose(X, exact, rtol=0.1, atol=0.1)


class FlakyModule(torch.nn.Module):
    """Raises CUDA's out-of-memory error for batches above ``limit``."""

    def __init__(self, module, limit, error=None):
        super().__init__()
        self.module, self.limit, self.sizes = module, limit, []
        self.error = error or torch.cuda.OutOfMemoryError("CUDA out of memory.")

    def forward(self, x):
        self.sizes.append(len(x))
        if len(x) > self.limit:
            raise self.error
        return self.module(x)


def with_flaky_model(encoder, limit, error=None):
    flaky = FlakyModule(encoder.model_.module, limit, error)
    encoder.model_ = dataclasses.replace(encoder.model_, module=flaky)
    return flaky


def test_out_of_memory_halves_the_batch_and_retries():
    images = [make_image(i) for i in range(10)]
    expected = image_encoder(batch_size=1).fit_transform(images)
    encoder = image_encoder(batch_size=8).fit(images)
    flaky = with_flaky_model(encoder, limit=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = encoder.transform(images)
    assert [str(w.message) for w in caught] == [
        "ImageEncoder: cpu ran out of memory at batch size 8; retrying with 4",
        "ImageEncoder: cpu ran out of memory at batch size 4; retrying with 2",
    ]
    assert all(w.category is OutOfMemoryWarning for w in caught)
    np.testing.assert_allclose(X, expected, atol=1e-5)
    assert encoder.batch_size_ == 2  # kept for the next calls
    assert flaky.sizes[:3] == [8, 4, 2]
    flaky.sizes.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder.transform(images)
    assert max(flaky.sizes) == 2


def test_out_of_memory_at_batch_one_and_other_errors_are_raised():
    images = [make_image(i) for i in range(3)]
    encoder = image_encoder(batch_size=2).fit(images)
    with_flaky_model(encoder, limit=0)
    with pytest.warns(OutOfMemoryWarning), pytest.raises(torch.cuda.OutOfMemoryError):
        encoder.transform(images)
    encoder = image_encoder(batch_size=2).fit(images)
    flaky = with_flaky_model(encoder, limit=1, error=RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        encoder.transform(images)
    assert flaky.sizes == [2] and encoder.batch_size_ == 2


def test_is_out_of_memory():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated)"))
    assert not is_out_of_memory(RuntimeError("something else"))


class FlakySentenceModel:
    def __init__(self, model, limit):
        self.model, self.limit, self.batch_sizes = model, limit, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __setattr__(self, name, value):
        if name == "max_seq_length":
            self.model.max_seq_length = value
        else:
            super().__setattr__(name, value)

    def encode(self, texts, batch_size, **kwargs):
        self.batch_sizes.append(batch_size)
        if batch_size > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory.")
        return self.model.encode(texts, batch_size=batch_size, **kwargs)


def test_text_out_of_memory_halves_the_batch(minilm_path):
    texts = ["short", "a somewhat longer text", "mid length"]
    expected = TextEncoder(minilm_path, device="cpu").fit_transform(texts)
    encoder = TextEncoder(minilm_path, device="cpu", batch_size=16).fit(texts)
    flaky = FlakySentenceModel(encoder.model_.model, limit=4)
    encoder.model_ = dataclasses.replace(encoder.model_, model=flaky)
    with pytest.warns(OutOfMemoryWarning):
        X = encoder.transform(texts)
    np.testing.assert_allclose(X, expected, atol=1e-5)
    assert flaky.batch_sizes == [16, 8, 4] and encoder.batch_size_ == 4


def test_text_is_encoded_in_chunks_in_input_order(minilm_path, monkeypatch):
    """Texts go to the model longest first in bounded chunks; rows get their own
    vectors back, duplicates included."""
    texts = [f"text {'x' * (i % 7)} {i % 5}" for i in range(40)]
    expected = TextEncoder(minilm_path, device="cpu").fit_transform(texts)
    monkeypatch.setattr(_text, "_MIN_CHUNK", 3)
    monkeypatch.setattr(_text, "_CHUNK_BATCHES", 2)
    encoder = TextEncoder(minilm_path, device="cpu", batch_size=4, cache=False)
    encoder.fit(texts)
    chunks = []
    real = encoder._encode_texts
    monkeypatch.setattr(
        encoder, "_encode_texts", lambda t: chunks.append(list(t)) or real(t)
    )
    X = encoder.transform(texts)
    np.testing.assert_allclose(X, expected, atol=1e-5)
    assert max(len(c) for c in chunks) == 8  # 2 batches of 4
    lengths = [len(t) for c in chunks for t in c]
    assert lengths == sorted(lengths, reverse=True)
    assert sum(len(c) for c in chunks) == len(set(texts))


def test_torch_helpers_are_a_leaf_module():
    """skmm._torch imports nothing from skmm: the heads use it without the encoders."""
    import ast
    from pathlib import Path

    import skmm._torch

    tree = ast.parse(Path(skmm._torch.__file__).read_text())
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ] + [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ]
    assert not [name for name in imported if name.split(".")[0] == "skmm"]
