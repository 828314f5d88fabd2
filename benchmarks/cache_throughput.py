"""Lookups per second of EmbeddingCache for 100,000 cached 512-d vectors.

The cache is filled through ``put_many`` in batches of 64 (as an encoder stores its
batches), then read back with ``get_many`` in shuffled batches of 1,000 keys (what an
encoder does for a column) and in one call of all 100,000 keys. The baseline, measured
in the same process, is gathering the same rows from an in-memory numpy array: the
ceiling of any lookup. Also printed: the cost of keying texts and files (content hash
and the ``file_key="stat"`` mode), per item.

Target: >= 100,000 lookups/s. Run: ``python benchmarks/cache_throughput.py [n]``.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
from _common import grocery_photos, load

from skmm.cache import EmbeddingCache

DIM = 512
WRITE_BATCH = 64
READ_BATCH = 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"cache_throughput: {n} vectors of {DIM} float32, {load()}")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(tmp)
        start = time.perf_counter()
        keys = [cache.item_key(f"item {i}") for i in range(n)]
        key_time = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(0, n, WRITE_BATCH):
            cache.put_many(
                "bench", keys[i : i + WRITE_BATCH], vectors[i : i + WRITE_BATCH]
            )
        write_rate = n / (time.perf_counter() - start)
        order = rng.permutation(n)
        shuffled = [keys[i] for i in order]

        for run in (1, 2):
            cache.close()  # a fresh connection: nothing in SQLite's page cache
            start = time.perf_counter()
            for i in range(0, n, READ_BATCH):
                found, got = cache.get_many("bench", shuffled[i : i + READ_BATCH], DIM)
            batched = n / (time.perf_counter() - start)
            assert found.all()
            np.testing.assert_array_equal(got, vectors[order[-READ_BATCH:]])
            start = time.perf_counter()
            found, got = cache.get_many("bench", shuffled, DIM)
            one_call = n / (time.perf_counter() - start)
            assert found.all()
            start = time.perf_counter()
            for i in range(0, n, READ_BATCH):
                vectors[order[i : i + READ_BATCH]]
            baseline = n / (time.perf_counter() - start)
            print(
                f"run {run}: batched lookups (1,000 keys per call) {batched:,.0f}/s "
                f"(target >= 100,000/s; {batched / baseline:.3f}x in-memory gather "
                f"{baseline:,.0f}/s); one call of {n:,} keys {one_call:,.0f}/s"
            )
        print(f"writes (put_many of 64) {write_rate:,.0f}/s; {len(cache):,} entries")
        print(f"text keys: {n / key_time:,.0f}/s ({key_time / n * 1e6:.1f} us each)")

    photos = sorted(set(grocery_photos(2000)))
    for path in photos:  # warm the page cache: measure hashing, not the disk
        open(path, "rb").read()
    for mode in ("content", "stat"):
        keyer = EmbeddingCache(tmp, file_key=mode)
        start = time.perf_counter()
        for path in photos:
            keyer.item_key(path, paths=True)
        per_file = (time.perf_counter() - start) / len(photos)
        print(f"file keys, {mode}: {per_file * 1e6:.1f} us per grocery photo")
    print(f"done, {load()}")


if __name__ == "__main__":
    main()
