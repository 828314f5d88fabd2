"""Global configuration: ``set_config``, ``get_config``, ``config_context``.

Modelled on scikit-learn's, but process-wide rather than per thread, so that threads
started by joblib see the same settings; ``config_context`` restores the previous
values on exit. The default of ``cache`` comes from the ``SKMM_CACHE`` environment
variable (a directory), so that worker processes started by joblib or
``GridSearchCV(n_jobs=...)`` see it too: ``set_config`` only affects the process that
calls it.

What ``cache`` means, wherever it is read:

- an encoder's ``cache=None`` (its default) uses the global setting below;
- the global ``cache=None`` (the default without ``SKMM_CACHE``) is the process's
  in-memory store (:func:`skmm.cache.default_memory_cache`, bounded by
  ``memory_cache_bytes``): folds and grid-search candidates in one process encode
  each item once, and nothing is written to disk;
- a directory, an :class:`~skmm.cache.EmbeddingCache` or a
  :class:`~skmm.cache.MemoryCache` is that cache;
- ``False``, for an encoder or globally, is no cache at all: every call encodes.

Like scikit-learn's ``_config.py``, this module imports nothing of the package: the
check of a ``cache`` value belongs to :mod:`skmm.cache`, which registers it here
(``_register_check``) when it is imported (``import skmm`` imports it), and
:func:`skmm.cache.resolve_cache` turns a value into the cache a call uses.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["config_context", "get_config", "set_config"]

_UNSET: Any = object()


_DEFAULT_MEMORY_CACHE_BYTES = 256 * 2**20
_PROGRESS = ("auto", True, False)


def _defaults() -> dict[str, Any]:
    return {
        "cache": os.environ.get("SKMM_CACHE") or None,
        "memory_cache_bytes": _DEFAULT_MEMORY_CACHE_BYTES,
        "progress": "auto",
    }


_config: dict[str, Any] = {}
_lock = threading.Lock()
# The checks of values owned by other parts of skmm, registered by them.
_checks: dict[str, Callable[[Any], None]] = {}


def _register_check(name: str, check: Callable[[Any], None]) -> None:
    """Have ``set_config`` run ``check(value)`` on each new value of ``name``."""
    _checks[name] = check


def _local() -> dict[str, Any]:
    if not _config:
        _config.update(_defaults())
    return _config


def get_config() -> dict[str, Any]:
    """The current values of skmm's global settings.

    Returns
    -------
    config : dict
        ``"cache"``: the embedding cache every encoder with ``cache=None`` uses (a
        directory, an :class:`~skmm.cache.EmbeddingCache` or
        :class:`~skmm.cache.MemoryCache`; None for the in-memory default, False
        for none); its default is the ``SKMM_CACHE`` environment variable.
        ``"memory_cache_bytes"``: the byte budget of the in-memory default.
        ``"progress"``: when progress bars are shown ("auto", True or False).

    See Also
    --------
    set_config : Change the settings.
    config_context : Change them inside a ``with`` block.

    Examples
    --------
    >>> import skmm
    >>> sorted(skmm.get_config())
    ['cache', 'memory_cache_bytes', 'progress']
    """
    with _lock:
        return dict(_local())


def set_config(
    *,
    cache: Any = _UNSET,
    memory_cache_bytes: Any = _UNSET,
    progress: Any = _UNSET,
) -> None:
    """Change skmm's global settings for this process.

    Parameters
    ----------
    cache : str, os.PathLike, EmbeddingCache, MemoryCache, False or None, optional
        The embedding cache of every encoder whose ``cache`` parameter is None: a
        directory (opened as an :class:`~skmm.cache.EmbeddingCache`), a cache
        object, None for the process's in-memory store (the default: each item
        is encoded once per process, within ``memory_cache_bytes``), or False for
        no cache (every call encodes). Not given: unchanged.
    memory_cache_bytes : int, optional
        The byte budget of the in-memory store (default 256 MiB); the least
        recently used vectors are dropped beyond it. 0 stores nothing.
    progress : {"auto", True, False}, optional
        When skmm shows progress bars (on stderr): "auto" (the default) for long
        work only (an encoder with more than a few hundred items or running for
        more than a few seconds, a neural head's epochs after a few seconds);
        True for all work; False for none. An estimator's own ``verbose=True``
        shows its bar whatever this says; ``verbose=False`` hides it.

    Notes
    -----
    Worker processes (``GridSearchCV(n_jobs=2)``) do not see a value set here, and
    each has its own in-memory store, empty when it starts: they share no vectors
    with the parent or each other. To share them, set the ``SKMM_CACHE``
    environment variable (a directory) before they start, or pass ``cache=DIR``
    to the encoders, which travels with them.

    See Also
    --------
    get_config, config_context

    Examples
    --------
    >>> import skmm
    >>> skmm.set_config(cache=None)
    >>> skmm.get_config()["cache"] is None
    True
    """
    changes: dict[str, Any] = {}
    if cache is not _UNSET:
        if "cache" in _checks:
            _checks["cache"](cache)
        changes["cache"] = cache
    if memory_cache_bytes is not _UNSET:
        if isinstance(memory_cache_bytes, bool) or not isinstance(
            memory_cache_bytes, int
        ):
            raise TypeError(
                "memory_cache_bytes must be an int, got "
                f"{type(memory_cache_bytes).__name__}"
            )
        if memory_cache_bytes < 0:
            raise ValueError(
                f"memory_cache_bytes must be >= 0, got {memory_cache_bytes}"
            )
        changes["memory_cache_bytes"] = memory_cache_bytes
    if progress is not _UNSET:
        if not any(progress is p or progress == p for p in _PROGRESS) or not (
            isinstance(progress, (bool, str))
        ):
            raise ValueError(
                f"progress must be 'auto', True or False, got {progress!r}"
            )
        changes["progress"] = progress
    with _lock:
        _local().update(changes)


@contextmanager
def config_context(
    *,
    cache: Any = _UNSET,
    memory_cache_bytes: Any = _UNSET,
    progress: Any = _UNSET,
) -> Iterator[None]:
    """Change skmm's global settings inside a ``with`` block.

    Parameters
    ----------
    cache : str, os.PathLike, EmbeddingCache, MemoryCache, False or None, optional
        As in :func:`set_config`.
    memory_cache_bytes : int, optional
        As in :func:`set_config`.
    progress : {"auto", True, False}, optional
        As in :func:`set_config`.

    Examples
    --------
    >>> import tempfile
    >>> import skmm
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with skmm.config_context(cache=tmp):
    ...         inside = skmm.get_config()["cache"] == tmp
    >>> inside, skmm.get_config()["cache"] == tmp
    (True, False)
    """
    old = get_config()
    set_config(cache=cache, memory_cache_bytes=memory_cache_bytes, progress=progress)
    try:
        yield
    finally:
        set_config(**old)
