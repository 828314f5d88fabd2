"""The content-addressed embedding cache: never encode the same item twice."""

from skmm.cache._store import CacheInfo, EmbeddingCache, open_cache

__all__ = ["CacheInfo", "EmbeddingCache", "open_cache"]
