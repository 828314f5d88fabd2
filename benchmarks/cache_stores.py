"""Which on-disk store should hold the embedding cache? Writes/s and lookups/s.

Candidates: SQLite in WAL mode (standard library), one file per entry written by atomic
rename (standard library), LMDB (``pip install lmdb``) and diskcache (``pip install
diskcache``); the last two are measured only when installed. Each store gets the same
keys (16-byte digests) and 512-d float32 vectors, written in transactions of 64 (one
encoder batch), then read back: in batches of 1,000 keys (what skmm's encoders do) and
one key at a time. Run: ``python benchmarks/cache_stores.py [n_vectors]``.

Every figure is printed as a rate and as a ratio to SQLite's, measured in this process.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 512
WRITE_BATCH = 64
READ_BATCH = 1000


def make_data(n: int):
    rng = np.random.default_rng(0)
    keys = [hashlib.blake2b(str(i).encode(), digest_size=16).digest() for i in range(n)]
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return keys, vectors


class SQLiteStore:
    """skmm's choice: a rowid table plus a unique index, 16 KiB pages, mmap reads."""

    name = "sqlite-wal"

    def __init__(self, root: Path):
        self.db = sqlite3.connect(root / "cache.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA page_size=16384")
        self.db.execute("PRAGMA mmap_size=1073741824")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE v (ns INTEGER, item BLOB, data BLOB)")
        self.db.execute("CREATE UNIQUE INDEX v_key ON v (ns, item)")

    def put(self, keys, vectors):
        self.db.execute("BEGIN IMMEDIATE")
        self.db.executemany(
            "INSERT OR IGNORE INTO v VALUES (1, ?, ?)",
            [(k, v.tobytes()) for k, v in zip(keys, vectors, strict=True)],
        )
        self.db.execute("COMMIT")

    def get_many(self, keys):
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    f"SELECT item, data FROM v WHERE ns = 1 AND item IN ({marks})",
                    chunk,
                )
            )
        return [found.get(k) for k in keys]

    def get(self, key):
        row = self.db.execute(
            "SELECT data FROM v WHERE ns = 1 AND item = ?", (key,)
        ).fetchone()
        return None if row is None else row[0]


class SQLiteWithoutRowidStore(SQLiteStore):
    """The textbook key-value layout; slow here: 2 KiB rows overflow 4 KiB pages."""

    name = "sqlite-wal-without-rowid"

    def __init__(self, root: Path):
        self.db = sqlite3.connect(root / "cache.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE v (ns INTEGER, item BLOB, data BLOB, "
            "PRIMARY KEY (ns, item)) WITHOUT ROWID"
        )


class FileStore:
    name = "file-per-entry"

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: bytes) -> Path:
        name = key.hex()
        return self.root / name[:2] / name

    def put(self, keys, vectors):
        for key, vector in zip(keys, vectors, strict=True):
            path = self._path(key)
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                f.write(vector.tobytes())
            os.replace(tmp, path)

    def get(self, key):
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def get_many(self, keys):
        return [self.get(k) for k in keys]


class LMDBStore:
    name = "lmdb"

    def __init__(self, root: Path):
        import lmdb

        self.env = lmdb.open(str(root), map_size=8 << 30)

    def put(self, keys, vectors):
        with self.env.begin(write=True) as txn:
            for key, vector in zip(keys, vectors, strict=True):
                txn.put(key, vector.tobytes(), overwrite=False)

    def get_many(self, keys):
        with self.env.begin() as txn:
            return [txn.get(k) for k in keys]

    def get(self, key):
        with self.env.begin() as txn:
            return txn.get(key)


class DiskcacheStore:
    name = "diskcache"

    def __init__(self, root: Path):
        import diskcache

        self.cache = diskcache.Cache(str(root))

    def put(self, keys, vectors):
        with self.cache.transact():
            for key, vector in zip(keys, vectors, strict=True):
                self.cache.set(key, vector.tobytes())

    def get_many(self, keys):
        return [self.cache.get(k) for k in keys]

    def get(self, key):
        return self.cache.get(key)


def measure(store_cls, keys, vectors) -> dict[str, float] | None:
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = store_cls(Path(tmp))
            start = time.perf_counter()
            for i in range(0, len(keys), WRITE_BATCH):
                store.put(keys[i : i + WRITE_BATCH], vectors[i : i + WRITE_BATCH])
            writes = len(keys) / (time.perf_counter() - start)

            order = np.random.default_rng(1).permutation(len(keys))
            shuffled = [keys[i] for i in order]
            start = time.perf_counter()
            for i in range(0, len(shuffled), READ_BATCH):
                chunk = store.get_many(shuffled[i : i + READ_BATCH])
                got = np.frombuffer(b"".join(chunk), np.float32).reshape(-1, DIM)
            batched = len(keys) / (time.perf_counter() - start)
            assert np.array_equal(got, vectors[order[-len(got) :]])

            single_keys = shuffled[: min(len(keys), 20_000)]
            start = time.perf_counter()
            for key in single_keys:
                np.frombuffer(store.get(key), np.float32)
            single = len(single_keys) / (time.perf_counter() - start)
            return {"writes": writes, "batched": batched, "single": single}
    except ImportError:
        return None


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    keys, vectors = make_data(n)
    print(f"cache_stores: {n} vectors of {DIM} float32, load {os.getloadavg()[0]:.2f}")
    results = {}
    for store_cls in (
        SQLiteStore,
        SQLiteWithoutRowidStore,
        FileStore,
        LMDBStore,
        DiskcacheStore,
    ):
        result = measure(store_cls, keys, vectors)
        if result is None:
            print(f"{store_cls.name}: skipped (not installed)")
            continue
        results[store_cls.name] = result
        base = results["sqlite-wal"]
        print(
            f"{store_cls.name}: writes {result['writes']:,.0f}/s "
            f"({result['writes'] / base['writes']:.2f}x sqlite), "
            f"batched lookups {result['batched']:,.0f}/s "
            f"({result['batched'] / base['batched']:.2f}x), "
            f"single lookups {result['single']:,.0f}/s "
            f"({result['single'] / base['single']:.2f}x)"
        )


if __name__ == "__main__":
    main()
