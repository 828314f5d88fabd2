"""Global configuration: ``set_config``, ``get_config``, ``config_context``.

Modelled on scikit-learn's, but process-wide rather than per thread, so that threads
started by joblib see the same settings; ``config_context`` restores the previous
values on exit. The default of ``cache`` comes from the ``SKMM_CACHE`` environment
variable (a directory), so that worker processes started by joblib or
``GridSearchCV(n_jobs=...)`` see it too: ``set_config`` only affects the process that
calls it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["config_context", "get_config", "set_config"]

_UNSET: Any = object()


def _defaults() -> dict[str, Any]:
    return {"cache": os.environ.get("SKMM_CACHE") or None}


_config: dict[str, Any] = {}
_lock = threading.Lock()


def _local() -> dict[str, Any]:
    if not _config:
        _config.update(_defaults())
    return _config


def get_config() -> dict[str, Any]:
    """The current values of skmm's global settings.

    Returns
    -------
    config : dict
        ``{"cache": ...}``: the embedding cache every encoder with ``cache=None``
        uses (a directory, an :class:`~skmm.cache.EmbeddingCache`, or None for no
        cache). Its default is the ``SKMM_CACHE`` environment variable.

    See Also
    --------
    set_config : Change the settings.
    config_context : Change them inside a ``with`` block.

    Examples
    --------
    >>> import skmm
    >>> sorted(skmm.get_config())
    ['cache']
    """
    with _lock:
        return dict(_local())


def set_config(*, cache: Any = _UNSET) -> None:
    """Change skmm's global settings for this process.

    Parameters
    ----------
    cache : str, os.PathLike, EmbeddingCache, False or None, optional
        The embedding cache of every encoder whose ``cache`` parameter is None: a
        directory (opened as an :class:`~skmm.cache.EmbeddingCache`), a cache
        object, or None (or False) for no cache. Not given: unchanged.

    Notes
    -----
    Worker processes (``GridSearchCV(n_jobs=2)``) do not see a value set here; set
    the ``SKMM_CACHE`` environment variable before they start, or pass ``cache=``
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
    if cache is not _UNSET:
        _check_cache_value(cache)
        with _lock:
            _local()["cache"] = cache


@contextmanager
def config_context(*, cache: Any = _UNSET) -> Iterator[None]:
    """Change skmm's global settings inside a ``with`` block.

    Parameters
    ----------
    cache : str, os.PathLike, EmbeddingCache, False or None, optional
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
    set_config(cache=cache)
    try:
        yield
    finally:
        set_config(**old)


def _check_cache_value(cache: Any) -> None:
    from skmm.cache import EmbeddingCache

    if cache is None or cache is False:
        return
    if isinstance(cache, (str, os.PathLike, EmbeddingCache)):
        return
    raise TypeError(
        "cache must be a directory (str or os.PathLike), an EmbeddingCache, None or "
        f"False, got {type(cache).__name__}"
    )
