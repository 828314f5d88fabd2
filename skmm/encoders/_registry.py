"""A process-level registry of loaded models.

Clones of an encoder (made by ``clone``, ``GridSearchCV``, ``cross_validate``) share
one loaded model per process instead of loading it again: the registry is keyed by
everything that determines the model's weights and placement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["clear_model_registry", "get_or_load"]

_MODELS: dict[Hashable, Any] = {}
_LOCKS: dict[Hashable, threading.Lock] = {}
_GUARD = threading.Lock()


def get_or_load(key: Hashable, load: Callable[[], Any]) -> Any:
    """Return the entry under ``key``, calling ``load()`` once if there is none.

    Concurrent callers with the same key wait for one load instead of loading twice.
    """
    with _GUARD:
        if key in _MODELS:
            return _MODELS[key]
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        with _GUARD:
            if key in _MODELS:
                return _MODELS[key]
        entry = load()
        with _GUARD:
            _MODELS[key] = entry
            _LOCKS.pop(key, None)
        return entry


def clear_model_registry() -> None:
    """Forget every loaded model, so that memory can be freed.

    Fitted encoders keep their own reference to their model and go on working.

    Examples
    --------
    >>> from skmm.encoders import clear_model_registry
    >>> clear_model_registry()
    """
    with _GUARD:
        _MODELS.clear()
