"""What the bound of EmbeddingCache (``max_bytes``) costs, against the same store
without one, in one process.

- writes: ``put_many`` in batches of 64 of n 512-d vectors, without a bound and with
  one at half of what they take (so that the second half of the writes evicts);
- reads: ``get_many`` of every key in shuffled batches of 1,000, when the vectors were
  used within the hour (no write) and when they were used more than an hour ago (each
  batch records its use: one UPDATE per batch), the clock moved forward by the script;
- the file after the bounded writes: its pages in use, its size on disk, the bound.

Run: ``python benchmarks/cache_bound.py [n=20000]``.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
from _common import load

from skmm.cache import EmbeddingCache, _store

DIM = 512
WRITE_BATCH = 64
READ_BATCH = 1000


def _write(cache: EmbeddingCache, keys: list, vectors: np.ndarray) -> float:
    start = time.perf_counter()
    for i in range(0, len(keys), WRITE_BATCH):
        cache.put_many("bench", keys[i : i + WRITE_BATCH], vectors[i : i + WRITE_BATCH])
    return len(keys) / (time.perf_counter() - start)


def _read(cache: EmbeddingCache, keys: list) -> float:
    cache.close()  # a fresh connection: nothing in SQLite's page cache
    start = time.perf_counter()
    for i in range(0, len(keys), READ_BATCH):
        cache.get_many("bench", keys[i : i + READ_BATCH], DIM)
    return len(keys) / (time.perf_counter() - start)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(f"cache_bound: {n} vectors of {DIM} float32, {load()}")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    clock = [int(time.time())]
    _store._now = lambda: clock[0]  # the script's clock: reads an hour later
    with tempfile.TemporaryDirectory() as tmp:
        free = EmbeddingCache(f"{tmp}/free")
        keys = [free.item_key(f"item {i}") for i in range(n)]
        unbounded = _write(free, keys, vectors)
        bound = free.nbytes // 2
        bounded_cache = EmbeddingCache(f"{tmp}/bounded", max_bytes=bound)
        bounded = _write(bounded_cache, keys, vectors)
        print(
            f"writes: {unbounded:,.0f}/s without a bound, {bounded:,.0f}/s with one "
            f"at half the data (evicting): ratio {bounded / unbounded:.2f}"
        )
        bounded_cache.close()
        size = bounded_cache.path.stat().st_size
        print(
            f"bounded file: {bounded_cache.nbytes / 2**20:.1f} MiB of pages in use, "
            f"{size / 2**20:.1f} MiB on disk, bound {bound / 2**20:.1f} MiB, "
            f"{len(bounded_cache):,} of {n:,} vectors kept"
        )
        shuffled = [keys[i] for i in rng.permutation(n)]
        recent = _read(free, shuffled)
        clock[0] += 2 * 3600
        stale = _read(free, shuffled)
        again = _read(free, shuffled)  # recorded by the pass before: no writes
        print(
            f"reads (1,000 keys a call): {recent:,.0f}/s used within the hour, "
            f"{stale:,.0f}/s used over an hour ago (each call records its use): "
            f"ratio {stale / recent:.2f}; the next pass {again:,.0f}/s"
        )
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
