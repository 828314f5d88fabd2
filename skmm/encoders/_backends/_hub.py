"""Where timm takes a model's pretrained weights from, and a local copy of them
(timm's exact lookups; the decision before timm is imported is
:mod:`skmm._weights`)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from skmm._weights import write_timm_index

__all__ = ["cached_timm_weights", "remember_timm_index", "timm_weights_url"]


def remember_timm_index() -> None:
    """Write, once per timm version, where each pretrained timm model's weights
    live, so that later processes decide without timm
    (:func:`skmm._weights.missing_timm_weights`). About 0.2 s, the first time."""
    write_timm_index(_timm_index)


def _timm_index() -> dict[str, tuple[str | None, str | None]]:
    import timm
    from timm.models import get_pretrained_cfg

    entries: dict[str, tuple[str | None, str | None]] = {}
    for name in timm.list_pretrained():
        for key in (name, name.partition(".")[0]):  # the default tag's too
            if key in entries:
                continue
            try:
                cfg = get_pretrained_cfg(key)
            except (RuntimeError, ValueError, KeyError):
                cfg = None
            if cfg is not None:
                entries[key] = (cfg.hf_hub_id or None, cfg.url or None)
    return entries


def timm_weights_url(model: str) -> str | None:
    """The address timm downloads ``model``'s pretrained weights from."""
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(model)
    except (RuntimeError, ValueError, KeyError):
        cfg = None
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import constants

        return f"{constants.ENDPOINT}/{cfg.hf_hub_id}"
    return cfg.url or None


def cached_timm_weights(model: str) -> str | None:
    """A local copy of timm ``model``'s pretrained weights (the Hugging Face cache,
    then torch hub's), or None."""
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(model)
    except (RuntimeError, ValueError, KeyError):
        return None
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = cfg.hf_hub_id.partition("@")
        names = (
            [cfg.hf_hub_filename]
            if cfg.hf_hub_filename
            else ["model.safetensors", "pytorch_model.bin"]
        )
        for name in names:
            found = try_to_load_from_cache(repo, name, revision=revision or None)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    if cfg.url:
        import torch.hub

        path = Path(
            torch.hub.get_dir(), "checkpoints", Path(urlsplit(cfg.url).path).name
        )
        if path.is_file():
            return str(path)
    return None
