"""The in-process memory store: the default cache when none is configured."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline

import skmm
from skmm import ImageEncoder
from skmm.cache import CacheInfo, MemoryCache, default_memory_cache
from tests.conftest import TINY_IMAGE_MODEL, make_image


def _vectors(n, dim=4, start=0):
    return np.arange(start, start + n * dim, dtype=np.float32).reshape(n, dim)


def test_lookups_return_the_stored_vectors_in_key_order():
    cache = MemoryCache()
    keys = [cache.item_key(t) for t in ("a", "b", "c")]
    cache.put_many("enc", keys[:2], _vectors(2))
    found, vectors = cache.get_many("enc", [keys[1], keys[2], keys[0]], dim=4)
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(vectors, _vectors(2)[[1, 0]])
    # Another encoder's fingerprint or another width is a miss.
    assert not cache.get_many("other", keys, dim=4)[0].any()
    assert not cache.get_many("enc", keys, dim=3)[0].any()
    assert cache.cache_info() == CacheInfo(hits=2, misses=7, writes=2)


def test_the_byte_budget_evicts_the_least_recently_used():
    one = MemoryCache()
    one.put_many("enc", [b"k"], _vectors(1))
    per_entry = one.nbytes
    cache = MemoryCache(max_bytes=3 * per_entry)
    keys = [bytes([i]) for i in range(4)]
    cache.put_many("enc", keys[:3], _vectors(3))
    cache.get_many("enc", keys[:1], dim=4)  # key 0 is now the most recent
    cache.put_many("enc", keys[3:], _vectors(1, start=99))
    found, _ = cache.get_many("enc", keys, dim=4)
    assert found.tolist() == [True, False, True, True]
    assert len(cache) == 3 and cache.nbytes <= cache.max_bytes
    cache.max_bytes = per_entry  # shrinking evicts at once
    assert len(cache) == 1
    cache.max_bytes = 0
    cache.put_many("enc", keys[:1], _vectors(1))
    assert len(cache) == 0
    with pytest.raises(ValueError, match="max_bytes"):
        MemoryCache(max_bytes=-1)


def test_safe_with_threads():
    cache = MemoryCache(max_bytes=200 * 300)

    def work(t):
        keys = [f"{t}-{i}".encode() for i in range(50)]
        for i in range(0, 50, 5):
            cache.put_many("enc", keys[i : i + 5], _vectors(5, start=t))
            found, vectors = cache.get_many("enc", keys[: i + 5], dim=4)
            # Whatever eviction did, every hit is a whole, right vector.
            assert vectors.shape == (found.sum(), 4)
            assert np.all(vectors[:, 1] - vectors[:, 0] == 1)
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))
    assert cache.nbytes <= cache.max_bytes


def test_pickles_empty_and_clones_share_the_store():
    cache = MemoryCache(max_bytes=10_000)
    cache.put_many("enc", [b"k"], _vectors(1))
    restored = pickle.loads(pickle.dumps(cache))
    assert restored.max_bytes == 10_000 and len(restored) == 0
    encoder = ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, cache=cache)
    assert clone(encoder).cache is cache


def _images(n):
    return [make_image(i % 5, size=(16, 16)) for i in range(n)]


def _encoder(**params):
    return ImageEncoder(TINY_IMAGE_MODEL, pretrained=False, device="cpu", **params)


def test_encoders_use_the_memory_store_unless_configured_otherwise():
    images = _images(10)
    store = default_memory_cache()
    with skmm.config_context(cache=None):
        encoder = _encoder().fit(images)
        store.clear()
        store.reset_info()
        first = encoder.transform(images)
        assert store.cache_info() == CacheInfo(hits=0, misses=10, writes=5)
        np.testing.assert_array_equal(encoder.transform(images), first)
        assert store.cache_info().hits == 10
    store.reset_info()
    with skmm.config_context(cache=False):  # no cache at all
        np.testing.assert_allclose(encoder.transform(images), first, atol=1e-6)
    _encoder(cache=False).fit(images).transform(images)
    with skmm.config_context(cache=None, memory_cache_bytes=0):
        encoder.transform(images)
    assert store.cache_info() == CacheInfo(0, 0, 0)
    assert skmm.get_config()["memory_cache_bytes"] == 256 * 2**20
    assert default_memory_cache().max_bytes == 256 * 2**20
    with pytest.raises(TypeError, match="memory_cache_bytes"):
        skmm.set_config(memory_cache_bytes="1GB")


def test_cross_validation_encodes_each_item_once_by_default():
    X, y = _images(30), np.arange(30) % 2
    model = make_pipeline(_encoder(), LogisticRegression(max_iter=50))
    store = default_memory_cache()
    store.clear()
    with skmm.config_context(cache=None):
        store.reset_info()
        cross_validate(model, X, y, cv=3)
        # 5 distinct images, encoded in the first fold; every later lookup hits.
        info = store.cache_info()
    assert info.writes == 5
    assert info.hits + info.misses == 3 * 30
