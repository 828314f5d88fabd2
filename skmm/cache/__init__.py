"""The content-addressed embedding cache: never encode the same item twice."""

from skmm.cache._memory import MemoryCache, default_memory_cache
from skmm.cache._store import CacheInfo, EmbeddingCache, open_cache

__all__ = [
    "CacheInfo",
    "EmbeddingCache",
    "MemoryCache",
    "default_memory_cache",
    "open_cache",
]
