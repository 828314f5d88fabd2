"""MemoryCache: an in-process, size-bounded store of vectors (the default cache).

Keyed exactly as the disk cache is, by (encoder fingerprint, item digest), so a
vector found here is the one the encoder would compute. Bounded by a byte budget,
least recently used entries evicted first; one lock makes it safe with threads.
It lives in one process: worker processes (``GridSearchCV(n_jobs=2)``, joblib's
loky workers) each have their own, empty when they start.

The byte-bounded map itself is :class:`BoundedLRU`, which the fine-tuning
estimators' store of frozen-prefix activations uses too (arrays of any shape
under the same ``(namespace, item digest)`` keys).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from skmm._config import get_config
from skmm.cache._keys import item_digest
from skmm.cache._store import CacheInfo

__all__ = ["BoundedLRU", "MemoryCache", "default_memory_cache"]

_ENTRY_OVERHEAD = 120  # bytes per entry besides the vector: key, dict slot, array


def _check_budget(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"max_bytes must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"max_bytes must be >= 0, got {value}")
    return int(value)


class BoundedLRU:
    """A byte-bounded, least-recently-used map of keys to numpy arrays.

    The store under :class:`MemoryCache` and the fine-tuning estimators' store of
    frozen-prefix activations: when the arrays (plus ``entry_overhead`` bytes
    each) exceed ``max_bytes``, the least recently used are dropped. An array
    larger than the whole budget is not stored. Safe to share between threads;
    ``lock`` (reentrant) holds the map still across several calls.

    Parameters
    ----------
    max_bytes : int
        The byte budget. 0 stores nothing.
    entry_overhead : int, default=0
        Bytes counted per entry besides its array (key, dict slot, array header).

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.cache import BoundedLRU
    >>> store = BoundedLRU(max_bytes=16)
    >>> store.put("a", np.zeros(2))
    >>> store.put("b", np.zeros(2))  # 32 bytes: "a", the oldest, is dropped
    >>> store.get("a") is None, store.get("b").shape, store.nbytes
    (True, (2,), 16)
    """

    def __init__(self, max_bytes: int, *, entry_overhead: int = 0):
        self.lock = threading.RLock()
        self.entry_overhead = int(entry_overhead)
        self._entries: OrderedDict[Any, np.ndarray] = OrderedDict()
        self._nbytes = 0
        self._max_bytes = _check_budget(max_bytes)

    @property
    def max_bytes(self) -> int:
        """The byte budget; setting it evicts what no longer fits."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        value = _check_budget(value)
        with self.lock:
            self._max_bytes = value
            self._evict()

    @property
    def nbytes(self) -> int:
        """The bytes the stored entries take (arrays and per-entry overhead)."""
        with self.lock:
            return self._nbytes

    def __len__(self) -> int:
        with self.lock:
            return len(self._entries)

    def fits(self, nbytes: int) -> bool:
        """Whether an array of ``nbytes`` bytes is small enough to be stored.

        Parameters
        ----------
        nbytes : int
            The array's size in bytes (``entry_overhead`` is added).

        Returns
        -------
        fits : bool
        """
        return nbytes + self.entry_overhead <= self._max_bytes

    def get(self, key: Any) -> np.ndarray | None:
        """The array stored under ``key`` (now the most recently used), or None.

        Parameters
        ----------
        key : hashable
            The entry's key.

        Returns
        -------
        value : ndarray or None
            The stored array itself (not a copy).
        """
        with self.lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Any, value: np.ndarray) -> None:
        """Store ``value`` under ``key``, dropping the least recently used beyond
        the budget; an array larger than the budget is not stored.

        Parameters
        ----------
        key : hashable
            The entry's key; an entry already under it is replaced.
        value : ndarray
            Stored as it is (not copied).
        """
        with self.lock:
            if not self.fits(value.nbytes):
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._nbytes -= old.nbytes + self.entry_overhead
            self._entries[key] = value
            self._nbytes += value.nbytes + self.entry_overhead
            self._evict()

    def clear(self) -> None:
        """Drop every entry."""
        with self.lock:
            self._entries.clear()
            self._nbytes = 0

    def _evict(self) -> None:
        while self._nbytes > self._max_bytes and self._entries:
            _, value = self._entries.popitem(last=False)
            self._nbytes -= value.nbytes + self.entry_overhead


class MemoryCache:
    """An in-memory, content-addressed cache of embedding vectors.

    The default cache of every encoder when no other is configured (see
    :func:`skmm.set_config`): the folds of a cross-validation or the candidates
    of a grid search encode each item once per process. Entries are keyed by
    (encoder fingerprint, item content), as in
    :class:`~skmm.cache.EmbeddingCache`; when the vectors exceed ``max_bytes``,
    the least recently used ones are dropped. Safe to share between threads.

    Parameters
    ----------
    max_bytes : int, default=268435456
        The byte budget of the stored vectors (256 MiB: about 170,000 vectors of
        384 float32). 0 stores nothing.
    file_key : {"content", "stat"}, default="content"
        How a file path is keyed, as in :class:`~skmm.cache.EmbeddingCache`.

    See Also
    --------
    skmm.cache.EmbeddingCache : The on-disk cache, shared by processes.

    Notes
    -----
    The store is per process and is not pickled: a pickled handle (an encoder
    sent to a worker process) arrives empty. Use an
    :class:`~skmm.cache.EmbeddingCache` directory to share vectors between
    processes or sessions.

    Examples
    --------
    >>> import numpy as np
    >>> from skmm.cache import MemoryCache
    >>> cache = MemoryCache(max_bytes=1024)
    >>> keys = [cache.item_key("a"), cache.item_key("b")]
    >>> cache.put_many("my-encoder", keys[:1], np.ones((1, 3), dtype=np.float32))
    >>> found, vectors = cache.get_many("my-encoder", keys, dim=3)
    >>> found.tolist(), vectors.shape
    ([True, False], (1, 3))
    >>> cache.cache_info()
    CacheInfo(hits=1, misses=1, writes=1)
    """

    def __init__(self, max_bytes: int = 256 * 2**20, *, file_key: str = "content"):
        if file_key not in ("content", "stat"):
            raise ValueError(f"file_key must be 'content' or 'stat', got {file_key!r}")
        self.file_key = file_key
        self._entries = BoundedLRU(max_bytes, entry_overhead=_ENTRY_OVERHEAD)
        self._lock = self._entries.lock
        self._hits = self._misses = self._writes = 0

    @property
    def max_bytes(self) -> int:
        """The byte budget; setting it evicts what no longer fits."""
        return self._entries.max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        self._entries.max_bytes = value

    @property
    def nbytes(self) -> int:
        """The bytes the stored entries take (vectors and per-entry overhead)."""
        return self._entries.nbytes

    # -- pickling and cloning: the settings travel, the vectors do not ------------
    def __getstate__(self) -> dict[str, Any]:
        return {"max_bytes": self.max_bytes, "file_key": self.file_key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["max_bytes"], file_key=state["file_key"])

    def __deepcopy__(self, memo: dict) -> MemoryCache:
        # ``clone`` deep-copies non-estimator parameters: clones share the store.
        return self

    def __repr__(self) -> str:
        return f"MemoryCache(max_bytes={self.max_bytes})"

    def __len__(self) -> int:
        return len(self._entries)

    # -- the cache interface of the encoders --------------------------------------
    def item_key(self, value: Any, *, paths: bool = False) -> bytes | None:
        """The content key of one item (16 bytes), or None if it cannot be keyed.

        Parameters
        ----------
        value : str, os.PathLike, bytes, numpy.ndarray or PIL.Image.Image
            A text (or, with ``paths=True``, a file path), bytes, an array or an
            image.
        paths : bool, default=False
            Whether a ``str`` names a file (keyed by ``file_key``) or is a text.

        Returns
        -------
        key : bytes or None
        """
        return item_digest(value, paths=paths, file_key=self.file_key)

    def get_many(
        self, fingerprint: str, keys: Sequence[bytes], dim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Look up many items of one encoder at once.

        Parameters
        ----------
        fingerprint : str
            The encoder's fingerprint.
        keys : sequence of bytes
            Item keys (from :meth:`item_key`).
        dim : int
            The vector width; a stored vector of another width counts as a miss.

        Returns
        -------
        found : ndarray of bool, shape (len(keys),)
            Which keys were found.
        vectors : ndarray of float32, shape (found.sum(), dim)
            The vectors of the found keys, in the order of ``keys``.
        """
        keys = list(keys)
        found = np.zeros(len(keys), dtype=bool)
        rows = []
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._entries.get((fingerprint, key))
                if vector is None or vector.shape[0] != dim:
                    continue
                found[i] = True
                rows.append(vector)
            self._hits += len(rows)
            self._misses += len(keys) - len(rows)
        if not rows:
            return found, np.zeros((0, dim), dtype=np.float32)
        return found, np.stack(rows)

    def put_many(
        self,
        fingerprint: str,
        keys: Sequence[bytes],
        vectors: np.ndarray,
        *,
        description: str | None = None,
    ) -> None:
        """Store the vectors of many items of one encoder.

        Parameters
        ----------
        fingerprint : str
            The encoder's fingerprint.
        keys : sequence of bytes
            Item keys, one per row of ``vectors``.
        vectors : ndarray of shape (len(keys), dim)
            The vectors, stored as float32 copies (one per row).
        description : str, optional
            Ignored (the disk cache stores it for inspection).
        """
        keys = list(keys)
        vectors = np.asarray(vectors, dtype=np.float32)
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        with self._lock:
            if not self._entries.fits(vectors.shape[1] * 4 if vectors.ndim == 2 else 0):
                return
            for key, row in zip(keys, vectors, strict=True):
                # Its own copy: a view would keep the whole batch alive.
                vector = row.copy()
                vector.flags.writeable = False
                self._entries.put((fingerprint, key), vector)
            self._writes += len(keys)

    # -- inspection and maintenance -------------------------------------------------
    def cache_info(self) -> CacheInfo:
        """Hits, misses and writes of this store.

        Returns
        -------
        info : CacheInfo
            A named tuple ``(hits, misses, writes)``.
        """
        with self._lock:
            return CacheInfo(self._hits, self._misses, self._writes)

    def reset_info(self) -> None:
        """Set the counters of :meth:`cache_info` back to zero."""
        with self._lock:
            self._hits = self._misses = self._writes = 0

    def clear(self) -> None:
        """Drop every stored vector."""
        self._entries.clear()


_DEFAULT: MemoryCache | None = None
_DEFAULT_LOCK = threading.Lock()


def default_memory_cache() -> MemoryCache:
    """The process's default cache: what encoders use when none is configured.

    Its budget is ``skmm.get_config()["memory_cache_bytes"]``.

    Returns
    -------
    cache : MemoryCache

    Examples
    --------
    >>> from skmm.cache import default_memory_cache
    >>> default_memory_cache() is default_memory_cache()
    True
    """
    global _DEFAULT
    budget = get_config()["memory_cache_bytes"]
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MemoryCache(budget)
        elif _DEFAULT.max_bytes != budget:
            _DEFAULT.max_bytes = budget
        return _DEFAULT
