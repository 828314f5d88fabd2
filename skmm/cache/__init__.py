"""The content-addressed embedding cache: never encode the same item twice."""

from skmm.cache._memory import BoundedLRU, MemoryCache, default_memory_cache
from skmm.cache._resolve import check_cache_value, resolve_cache
from skmm.cache._store import CacheInfo, EmbeddingCache, open_cache

__all__ = [
    "BoundedLRU",
    "CacheInfo",
    "EmbeddingCache",
    "MemoryCache",
    "check_cache_value",
    "default_memory_cache",
    "open_cache",
    "resolve_cache",
]
