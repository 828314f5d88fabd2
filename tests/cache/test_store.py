"""EmbeddingCache on its own: lookups, counters, pickling, concurrency, crashes."""

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from copy import deepcopy

import numpy as np
import pytest

from skmm.cache import CacheInfo, EmbeddingCache, open_cache
from skmm.exceptions import CacheWarning
from tests.conftest import ROOT

DIM = 8


def vectors_for(ids, dim=DIM):
    """A vector that can be recomputed from its id: what every entry must hold."""
    ids = np.asarray(ids, dtype=np.float32)[:, None]
    return ids + np.arange(dim, dtype=np.float32) / 100


def key(i: int) -> bytes:
    return int(i).to_bytes(16, "little")


def test_put_get_and_counters(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many("enc", [key(i) for i in range(5)], vectors_for(range(5)))
    found, vectors = cache.get_many("enc", [key(i) for i in (4, 9, 0, 4)], dim=DIM)
    assert found.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(vectors, vectors_for([4, 0, 4]))
    assert vectors.dtype == np.float32
    assert cache.cache_info() == CacheInfo(hits=3, misses=1, writes=5)
    assert len(cache) == 5
    cache.reset_info()
    assert cache.cache_info() == CacheInfo(0, 0, 0)


def test_fingerprints_and_widths_are_separate(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many("enc-a", [key(1)], vectors_for([1]))
    assert not cache.get_many("enc-b", [key(1)], dim=DIM)[0].any()
    # A stored vector of another width is a miss, not a wrongly shaped hit.
    assert not cache.get_many("enc-a", [key(1)], dim=DIM * 2)[0].any()
    assert cache.get_many("enc-a", [key(1)], dim=DIM)[0].all()


def test_existing_entries_are_kept_and_empty_calls_work(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many("enc", [key(1)], vectors_for([1]))
    cache.put_many("enc", [key(1)], vectors_for([7]))
    kept = cache.get_many("enc", [key(1)], DIM)[1]
    np.testing.assert_array_equal(kept, vectors_for([1]))
    found, vectors = cache.get_many("enc", [], DIM)
    assert found.shape == (0,) and vectors.shape == (0, DIM)
    cache.put_many("enc", [], np.zeros((0, DIM)))
    with pytest.raises(ValueError, match="2 keys for 1 vectors"):
        cache.put_many("enc", [key(1), key(2)], vectors_for([1]))


def test_many_keys_in_one_call(tmp_path):
    cache = EmbeddingCache(tmp_path)
    n = 2_345  # several SELECT chunks
    cache.put_many("enc", [key(i) for i in range(0, n, 2)], vectors_for(range(0, n, 2)))
    order = np.random.default_rng(0).permutation(n)
    found, vectors = cache.get_many("enc", [key(i) for i in order], DIM)
    assert found.tolist() == (order % 2 == 0).tolist()
    np.testing.assert_array_equal(vectors, vectors_for(order[order % 2 == 0]))


def test_persists_across_handles_and_clear(tmp_path):
    EmbeddingCache(tmp_path).put_many("enc", [key(1)], vectors_for([1]))
    cache = EmbeddingCache(tmp_path)
    assert cache.get_many("enc", [key(1)], DIM)[0].all()
    cache.clear()
    assert len(cache) == 0 and not cache.get_many("enc", [key(1)], DIM)[0].any()


def test_item_keys_hash_content():
    cache = EmbeddingCache.__new__(EmbeddingCache)
    cache.file_key = "content"
    assert cache.item_key("abc") == cache.item_key("abc")
    assert cache.item_key("abc") != cache.item_key("abd")
    assert cache.item_key("abc") != cache.item_key(b"abc")  # a text is not bytes
    a = np.zeros((2, 3), np.uint8)
    assert cache.item_key(a) == cache.item_key(a.copy())
    assert cache.item_key(a) != cache.item_key(a.reshape(3, 2))
    assert cache.item_key(a) != cache.item_key(a.astype(np.int8))
    assert cache.item_key(object()) is None


def test_file_keys(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    content = EmbeddingCache(tmp_path / "c1")
    stat = EmbeddingCache(tmp_path / "c2", file_key="stat")
    # A file and its bytes have the same content key; a str is a path with paths=True.
    assert content.item_key(str(path), paths=True) == content.item_key(b"one")
    assert content.item_key(path) == content.item_key(b"one")
    before = stat.item_key(path)
    assert before != content.item_key(path)
    path.write_bytes(b"two")
    os.utime(path, ns=(1, 1))
    assert content.item_key(path) == content.item_key(b"two")
    assert stat.item_key(path) != before
    assert content.item_key(tmp_path / "missing", paths=True) is None
    with pytest.raises(ValueError, match="file_key"):
        EmbeddingCache(tmp_path, file_key="mtime")


def test_pickles_as_its_settings(tmp_path):
    cache = EmbeddingCache(tmp_path, file_key="stat")
    cache.put_many("enc", [key(1)], vectors_for([1]))
    data = pickle.dumps(cache)
    assert b"sqlite3" not in data and len(data) < 500
    copy = pickle.loads(data)
    assert copy.directory == cache.directory and copy.file_key == "stat"
    assert copy.cache_info() == CacheInfo(0, 0, 0)
    assert copy.get_many("enc", [key(1)], DIM)[0].all()
    # clone() deep-copies parameters: a cache handle is shared, not copied.
    assert deepcopy(cache) is cache


def test_open_cache_shares_one_handle_per_directory(tmp_path):
    assert open_cache(tmp_path) is open_cache(str(tmp_path))
    assert open_cache(tmp_path) is not open_cache(tmp_path / "other")


def test_doubles_as_a_read_only_cache_when_writes_fail(tmp_path):
    """A write error mid-way (read-only disk, full disk) is one warning, not a crash;
    what is cached is still used."""
    cache = EmbeddingCache(tmp_path)
    cache.put_many("enc", [key(1)], vectors_for([1]))
    real = cache._connection()

    class ReadOnly:
        in_transaction = False

        def execute(self, sql, *args):
            if sql.startswith(("BEGIN", "INSERT")):
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return real.execute(sql, *args)

    cache._conn = ReadOnly()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache.put_many("enc", [key(2)], vectors_for([2]))
        cache.put_many("enc", [key(3)], vectors_for([3]))
    messages = [str(w.message) for w in caught if w.category is CacheWarning]
    assert len(messages) == 1 and "cannot store vectors" in messages[0]
    assert cache.get_many("enc", [key(1), key(2)], DIM)[0].tolist() == [True, False]


def test_directory_that_cannot_be_created_disables_the_cache(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = EmbeddingCache(blocker / "cache")
    with pytest.warns(CacheWarning, match="cannot be opened"):
        found, _ = cache.get_many("enc", [key(1)], DIM)
    assert not found.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not at every call
        cache.put_many("enc", [key(1)], vectors_for([1]))
        assert not cache.get_many("enc", [key(1)], DIM)[0].any()
    assert len(cache) == 0


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root writes into read-only directories",
)
def test_read_only_directory(tmp_path):
    EmbeddingCache(tmp_path).put_many("enc", [key(1)], vectors_for([1]))
    tmp_path.chmod(0o555)
    try:
        cache = EmbeddingCache(tmp_path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found, vectors = cache.get_many("enc", [key(1), key(2)], DIM)
            cache.put_many("enc", [key(2)], vectors_for([2]))
        assert len([w for w in caught if w.category is CacheWarning]) == 1
        if found.any():  # read-only use: the entry is right
            np.testing.assert_array_equal(vectors, vectors_for([1]))
    finally:
        tmp_path.chmod(0o755)


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skmm.cache import EmbeddingCache
    from tests.cache.test_store import key, vectors_for

    bound = int(sys.argv[5]) if len(sys.argv) > 5 else None
    cache = EmbeddingCache(sys.argv[1], max_bytes=bound)
    first, count, batch = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    for start in range(first, first + count, batch):
        ids = range(start, min(start + batch, first + count))
        cache.put_many("enc", [key(i) for i in ids], vectors_for(ids, 512))
        print(start, flush=True)
    """
)


def writer(directory, first, count, batch, max_bytes=None):
    args = (directory, first, count, batch) + (
        () if max_bytes is None else (max_bytes,)
    )
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_writers(tmp_path):
    """Two processes write overlapping keys at once: both succeed, all is stored."""
    procs = [writer(tmp_path, 0, 3000, 100), writer(tmp_path, 1500, 3000, 100)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Warning" not in err, err
    cache = EmbeddingCache(tmp_path)
    assert len(cache) == 4500
    found, vectors = cache.get_many("enc", [key(i) for i in range(4500)], 512)
    assert found.all()
    np.testing.assert_array_equal(vectors, vectors_for(range(4500), 512))


def test_killed_writer_leaves_no_corrupt_entry(tmp_path):
    """SIGKILL while a writer is inside its transactions: the database opens, passes
    SQLite's integrity check, and holds whole batches of correct vectors only."""
    batch = 2000  # 4 MB per transaction: the kill most likely lands inside one
    proc = writer(tmp_path, 0, 10_000_000, batch)
    committed = 0
    while committed < 3:
        assert proc.stdout.readline(), proc.stderr.read()
        committed += 1
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    cache = EmbeddingCache(tmp_path)
    conn = sqlite3.connect(cache.path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    n = len(cache)
    assert n >= committed * batch and n % batch == 0
    found, vectors = cache.get_many("enc", [key(i) for i in range(n + batch)], 512)
    assert found[:n].all() and not found[n:].any()
    np.testing.assert_array_equal(vectors, vectors_for(range(n), 512))
    # The cache goes on working after the crash.
    cache.put_many("enc", [key(n + 1)], vectors_for([n + 1], 512))
    assert len(cache) == n + 1


def _overwrite_in_file(path, old: bytes, new: bytes) -> None:
    """Change bytes of the database file in place, as a disk fault or a stray
    writer would: SQLite's structure stays intact."""
    raw = bytearray(path.read_bytes())
    at = raw.find(old)
    assert at >= 0 and raw.find(old, at + 1) < 0
    raw[at : at + len(new)] = new
    path.write_bytes(bytes(raw))


def test_a_damaged_vector_is_a_miss_with_one_warning_and_is_rewritten(tmp_path):
    cache = EmbeddingCache(tmp_path)
    good = vectors_for(range(3))
    cache.put_many("enc", [key(i) for i in range(3)], good)
    cache.close()  # checkpoints the WAL into the database file
    damaged = good[1].copy()
    damaged[2] += 1234.5
    _overwrite_in_file(cache.path, good[1].tobytes(), damaged.tobytes())
    conn = sqlite3.connect(cache.path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    cache = EmbeddingCache(tmp_path)
    keys = [key(i) for i in range(3)]
    with pytest.warns(
        CacheWarning, match="1 stored vector.*do not match their checksum"
    ):
        found, vectors = cache.get_many("enc", keys, DIM)
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(vectors, good[[0, 2]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning per handle, not per lookup
        assert cache.get_many("enc", keys, DIM)[0].tolist() == [True, False, True]
        # The encoder stores the recomputed vector: it replaces the damaged one.
        cache.put_many("enc", keys[1:2], good[1:2])
        found, vectors = cache.get_many("enc", keys, DIM)
    assert found.all()
    np.testing.assert_array_equal(vectors, good)


def test_a_vector_moved_to_another_item_is_a_miss(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put_many("enc", [key(1), key(2)], vectors_for([1, 2]))
    cache.close()
    conn = sqlite3.connect(cache.path)
    with conn:
        a, b = conn.execute("SELECT data, checksum FROM vectors ORDER BY rowid")
        conn.execute("UPDATE vectors SET data = ?, checksum = ? WHERE item = ?",
                     (*a, key(2)))  # fmt: skip
    conn.close()
    with pytest.warns(CacheWarning, match="checksum"):
        found, _ = EmbeddingCache(tmp_path).get_many("enc", [key(1), key(2)], DIM)
    assert found.tolist() == [True, False]


def test_a_cache_file_of_an_older_skmm_opens_and_is_rewritten(tmp_path):
    from skmm.cache._store import _FILENAME, _namespace

    # The layout of skmm 0.1's cache files: no checksum column.
    conn = sqlite3.connect(tmp_path / _FILENAME)
    conn.execute(
        "CREATE TABLE vectors (ns INTEGER NOT NULL, item BLOB NOT NULL, "
        "data BLOB NOT NULL)"
    )
    conn.execute("CREATE UNIQUE INDEX vectors_key ON vectors (ns, item)")
    conn.execute(
        "CREATE TABLE encoders (ns INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, "
        "description TEXT)"
    )
    conn.execute(
        "INSERT INTO vectors VALUES (?, ?, ?)",
        (_namespace("enc"), key(1), vectors_for([1]).tobytes()),
    )
    conn.commit()
    conn.close()

    cache = EmbeddingCache(tmp_path, max_bytes=10**6)
    with pytest.warns(CacheWarning, match="1 stored vector.*no checksum"):
        found, _ = cache.get_many("enc", [key(1)], DIM)
    assert not found.any() and len(cache) == 1
    conn = sqlite3.connect(tmp_path / _FILENAME)
    columns = [c[1] for c in conn.execute("PRAGMA table_info(vectors)")]
    uses = conn.execute("SELECT used FROM uses").fetchall()
    conn.close()
    assert columns[-1] == "checksum" and uses == [(0,)]  # the oldest
    cache.put_many("enc", [key(1)], vectors_for([1]))
    found, vectors = cache.get_many("enc", [key(1)], DIM)
    assert found.all() and len(cache) == 1
    np.testing.assert_array_equal(vectors, vectors_for([1]))


# -- the bound: max_bytes, least recently used vectors evicted -----------------------
def _pages(cache) -> tuple[int, int]:
    conn = sqlite3.connect(cache.path)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return pages, free
    finally:
        conn.close()


def test_max_bytes_evicts_the_least_recently_used(tmp_path, monkeypatch):
    """Writes beyond max_bytes delete the vectors read or stored longest ago; the
    ones read since survive, and the file gives its freed pages back."""
    from skmm.cache import _store

    clock = [1_000_000]
    monkeypatch.setattr(_store, "_now", lambda: clock[0])
    limit = 2 * 1024**2
    cache = EmbeddingCache(tmp_path, max_bytes=limit)
    dim = 512  # 2 KiB a vector: about 800 of them fit (pages, keys, indexes)
    for start in range(0, 800, 100):
        ids = range(start, start + 100)
        cache.put_many("enc", [key(i) for i in ids], vectors_for(ids, dim))
        clock[0] += 60
    assert len(cache) == 800 and cache.nbytes <= limit  # under the bound: all kept
    clock[0] += 2 * 3600  # two hours later, the first 50 are read again
    read = [key(i) for i in range(50)]
    assert cache.get_many("enc", read, dim)[0].all()
    for start in range(800, 1200, 100):
        clock[0] += 60
        ids = range(start, start + 100)
        cache.put_many("enc", [key(i) for i in ids], vectors_for(ids, dim))
        assert cache.nbytes <= limit
    kept = cache.get_many("enc", [key(i) for i in range(1200)], dim)[0]
    assert kept[:50].all()  # read recently: kept
    assert not kept[50:300].any()  # stored first and not read since: evicted
    assert kept[800:].all()  # stored last: kept
    n = int(kept.sum())
    assert len(cache) == n and 600 <= n <= 900, n
    # Evicted in order of last use: what is left of the first 800 is their end.
    left = np.flatnonzero(kept[50:800]) + 50
    assert left.tolist() == list(range(left[0], 800))
    _, vectors = cache.get_many("enc", [key(i) for i in range(1200)], dim)
    np.testing.assert_array_equal(vectors, vectors_for(np.flatnonzero(kept), dim))
    cache.close()  # checkpoints the WAL: the file is what stays on disk
    pages, free = _pages(cache)
    assert pages * 16384 <= limit and free < pages
    assert cache.path.stat().st_size <= limit
    # The bound lowered: the next write evicts, and the file shrinks to it.
    cache.max_bytes = limit // 2
    cache.put_many("enc", [key(5000)], vectors_for([5000], dim))
    cache.close()
    assert cache.path.stat().st_size <= limit // 2


def test_a_read_records_its_use_at_most_once_an_hour(tmp_path, monkeypatch):
    from skmm.cache import _store

    clock = [1_000_000]
    monkeypatch.setattr(_store, "_now", lambda: clock[0])
    cache = EmbeddingCache(tmp_path)
    cache.put_many("enc", [key(1), key(2)], vectors_for([1, 2]))

    def used():
        conn = sqlite3.connect(cache.path)
        try:
            return dict(
                conn.execute(
                    "SELECT item, used FROM vectors JOIN uses ON id = vectors.rowid"
                )
            )
        finally:
            conn.close()

    clock[0] += 1800
    cache.get_many("enc", [key(1)], DIM)
    assert used() == {key(1): 1_000_000, key(2): 1_000_000}  # read within the hour
    clock[0] += 3600
    cache.get_many("enc", [key(1)], DIM)
    assert used() == {key(1): 1_005_400, key(2): 1_000_000}


def test_no_bound_keeps_everything_and_the_bound_is_a_setting(tmp_path):
    cache = EmbeddingCache(tmp_path)
    assert cache.max_bytes is None
    for start in range(0, 600, 200):
        ids = range(start, start + 200)
        cache.put_many("enc", [key(i) for i in ids], vectors_for(ids, 512))
    assert len(cache) == 600 and cache.nbytes > 1024**2
    cache.max_bytes = 1024**2  # lowered on an open handle: the next write evicts
    cache.put_many("enc", [key(600)], vectors_for([600], 512))
    assert cache.nbytes <= 1024**2 and len(cache) < 600
    assert cache.get_many("enc", [key(600)], 512)[0].all()
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.max_bytes == 1024**2 and "max_bytes=1048576" in repr(copy)
    assert open_cache(tmp_path, max_bytes=5000).max_bytes == 5000
    assert open_cache(tmp_path).max_bytes == 5000  # None leaves it as it is
    for wrong in (-1, 1.5, True, "1G"):
        with pytest.raises(ValueError, match="max_bytes must be"):
            EmbeddingCache(tmp_path, max_bytes=wrong)


def test_concurrent_writers_under_a_bound(tmp_path):
    """Two processes write at once with a bound that both pass many times: both
    succeed, the file is sound and under the bound, and every vector left is
    right."""
    limit = 3 * 1024**2
    procs = [
        writer(tmp_path, 0, 3000, 100, limit),
        writer(tmp_path, 1500, 3000, 100, limit),
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Warning" not in err, err
    cache = EmbeddingCache(tmp_path)
    conn = sqlite3.connect(cache.path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert cache.nbytes <= limit
    found, vectors = cache.get_many("enc", [key(i) for i in range(4500)], 512)
    assert 0 < found.sum() < 4500 and len(cache) == found.sum()
    np.testing.assert_array_equal(vectors, vectors_for(np.flatnonzero(found), 512))


def test_killed_writer_under_a_bound_leaves_a_sound_file(tmp_path):
    """SIGKILL while a writer evicts and writes: the file passes SQLite's integrity
    check, stays under the bound, and holds only correct vectors."""
    limit = 6 * 1024**2
    proc = writer(tmp_path, 0, 10_000_000, 1000, limit)
    for _ in range(8):  # past the bound: the later transactions evict
        assert proc.stdout.readline(), proc.stderr.read()
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    cache = EmbeddingCache(tmp_path, max_bytes=limit)
    conn = sqlite3.connect(cache.path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    assert cache.nbytes <= limit
    found, vectors = cache.get_many("enc", [key(i) for i in range(20_000)], 512)
    assert found.sum() == len(cache) > 0
    np.testing.assert_array_equal(vectors, vectors_for(np.flatnonzero(found), 512))
