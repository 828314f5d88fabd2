"""Whether pretrained weights can come from the network, decided in seconds.

Without network access, huggingface_hub retries each file five times with back-off
(measured: 53 s before timm's error for one model). Before such a download skmm
checks, within :data:`PROBE_SECONDS`, that the hub's host answers; when it does not
(or ``HF_HUB_OFFLINE`` is set), weights come only from the local caches, and a
model that is in none of them fails at once.
"""

from __future__ import annotations

import os
import socket
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["PROBE_SECONDS", "cached_timm_weights", "offline_reason", "timm_weights_url"]

# The longest wait for the hub's host to accept a connection (DNS included).
PROBE_SECONDS = 3.0


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _unreachable(url: str, timeout: float) -> str | None:
    """Why ``url``'s host (or the proxy for it) takes no connection within
    ``timeout`` seconds, or None when it does."""
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


def offline_reason(url: str | None) -> str | None:
    """Why weights at ``url`` cannot be downloaded now, or None when they can.

    ``HF_HUB_OFFLINE`` set, or the host taking no connection within
    :data:`PROBE_SECONDS`.
    """
    if _env_true("HF_HUB_OFFLINE"):
        return "HF_HUB_OFFLINE is set"
    if url is None:
        return None
    reason = _unreachable(url, PROBE_SECONDS)
    return None if reason is None else f"cannot reach {reason}"


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
