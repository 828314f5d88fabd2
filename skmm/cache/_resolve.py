"""Which cache a call uses: the one check of a ``cache`` value and its resolution.

An encoder's ``cache`` parameter, else :func:`skmm.set_config`'s ``cache``, else
(both None) the process's :class:`~skmm.cache.MemoryCache`; ``False`` is none. The
check is registered with :mod:`skmm._config` when this package is imported, so
``set_config(cache=...)`` refuses what an encoder would refuse, while
``_config`` itself imports nothing of skmm.
"""

from __future__ import annotations

import os
from typing import Any

from skmm._config import _register_check, get_config
from skmm.cache._memory import MemoryCache, default_memory_cache
from skmm.cache._store import EmbeddingCache, open_cache

__all__ = ["check_cache_value", "resolve_cache"]


def check_cache_value(cache: Any) -> None:
    """Refuse a value that is not a ``cache`` setting.

    Parameters
    ----------
    cache : object
        A directory (str or os.PathLike), an :class:`~skmm.cache.EmbeddingCache`,
        a :class:`~skmm.cache.MemoryCache`, None or False.

    Raises
    ------
    TypeError
        For anything else.

    Examples
    --------
    >>> from skmm.cache import check_cache_value
    >>> check_cache_value("embeddings/")
    >>> check_cache_value(3)
    Traceback (most recent call last):
    ...
    TypeError: cache must be a directory (str or os.PathLike), an EmbeddingCache, \
a MemoryCache, None or False, got int
    """
    if cache is None or cache is False:
        return
    if isinstance(cache, (str, os.PathLike, EmbeddingCache, MemoryCache)):
        return
    raise TypeError(
        "cache must be a directory (str or os.PathLike), an EmbeddingCache, a "
        f"MemoryCache, None or False, got {type(cache).__name__}"
    )


def resolve_cache(cache: Any = None) -> EmbeddingCache | MemoryCache | None:
    """The cache a call uses for its ``cache`` parameter.

    Parameters
    ----------
    cache : str, os.PathLike, EmbeddingCache, MemoryCache, False or None
        The caller's own setting; None defers to ``skmm.get_config()["cache"]``,
        whose None is the process's in-memory store
        (:func:`~skmm.cache.default_memory_cache`).

    Returns
    -------
    cache : EmbeddingCache, MemoryCache or None
        A directory opened as the process's shared
        :class:`~skmm.cache.EmbeddingCache` handle (:func:`~skmm.cache.open_cache`);
        None for no cache: ``False``, or the in-memory store with a budget of 0.

    Examples
    --------
    >>> import skmm
    >>> from skmm.cache import default_memory_cache, resolve_cache
    >>> resolve_cache(False) is None
    True
    >>> with skmm.config_context(cache=None):
    ...     resolve_cache() is default_memory_cache()
    True
    """
    if cache is None:
        cache = get_config()["cache"]
    if cache is False:
        return None
    if cache is None:
        store = default_memory_cache()
        return store if store.max_bytes > 0 else None
    if isinstance(cache, (EmbeddingCache, MemoryCache)):
        return cache
    check_cache_value(cache)
    return open_cache(cache)


_register_check("cache", check_cache_value)
