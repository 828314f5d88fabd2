"""EmbeddingCache: a content-addressed store of vectors in one SQLite file (WAL mode).

Why SQLite (measured by ``benchmarks/cache_stores.py``: 100,000 vectors of 512 float32,
2 cores): it is in the standard library, its transactions are atomic across a killed
process, and in WAL mode readers never wait for the one writer while writers queue
behind a busy timeout, which is what ``GridSearchCV(n_jobs=...)`` needs. Layout: a
rowid table with a unique index on (encoder, item), 16 KiB pages and memory-mapped
reads; the textbook ``WITHOUT ROWID`` layout is 5x slower here because a 2 KiB vector
overflows its 4 KiB pages.

Integrity: each vector is stored with a CRC-32 of (encoder, item, vector bytes), checked
on every read (about 0.9 us per 2 KiB vector). SQLite's own integrity check does not
see a vector's bytes changed in place; the checksum does, and a mismatch is a miss.

Size: when each vector was last stored or read is kept apart from it, in a table of
small rows (``uses``: the vector's rowid, unix seconds), so that recording a read
rewrites a 16-byte row, not the page of a 2-5 KiB vector; a read records it at most
once an hour. With ``max_bytes``, a write that takes the file's pages in use beyond
it deletes the least recently used vectors, in the same transaction, down to 90% of
it (so that not every write evicts), and the file gives back the pages beyond the
bound (``auto_vacuum=INCREMENTAL``, set on the files it creates; a file of an earlier
skmm keeps its size and reuses its free pages).
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from skmm.cache._keys import item_digest
from skmm.exceptions import CacheWarning

__all__ = ["CacheInfo", "EmbeddingCache", "open_cache"]

_FILENAME = "embeddings-v1.sqlite3"
_QUERY_CHUNK = 500  # keys per SELECT ... IN (...): well under SQLite's variable limit
_FILE_KEYS = ("content", "stat")
# A read writes a row's ``used`` again only when it is older than this: an hour of
# resolution for the eviction order, and reads that seldom write.
_TOUCH_SECONDS = 3600
# How long a read waits to record its use while another process writes: past it,
# the use is not recorded (the vectors are returned all the same).
_TOUCH_WAIT_MS = 50
# Eviction goes down to this share of ``max_bytes``, so that not every write evicts.
_EVICT_TO = 0.9

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS vectors (ns INTEGER NOT NULL, item BLOB NOT NULL, "
    "data BLOB NOT NULL, checksum INTEGER)",
    "CREATE UNIQUE INDEX IF NOT EXISTS vectors_key ON vectors (ns, item)",
    "CREATE TABLE IF NOT EXISTS encoders (ns INTEGER PRIMARY KEY, "
    "fingerprint TEXT NOT NULL, description TEXT)",
)
# The last use of each vector (``id``: its rowid in ``vectors``), and its order.
_USES_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS uses (id INTEGER PRIMARY KEY, used INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS uses_used ON uses (used)",
)
# ``PRAGMA user_version`` of a file whose every vector has a row in ``uses``.
_VERSION = 1


def _now() -> int:
    """The time a row's use is recorded with (unix seconds)."""
    return int(time.time())


class CacheInfo(NamedTuple):
    """Counters of one cache handle in this process (as ``functools`` has them).

    Returned by :meth:`EmbeddingCache.cache_info`; a named tuple, so it also
    unpacks as ``hits, misses, writes``. The counters start at zero when the
    handle is created (or unpickled) and after :meth:`EmbeddingCache.reset_info`;
    the clones of an encoder share its handle, hence its counters.

    Parameters
    ----------
    hits : int
        Item lookups that found a stored vector of the requested width with a
        valid checksum.
    misses : int
        Item lookups that did not: not stored, stored at another width, damaged or
        without a checksum, or the cache unreadable.
    writes : int
        Vectors handed to successful :meth:`EmbeddingCache.put_many` calls; an
        item already stored counts too, although it keeps its vector. Nothing is
        counted when the cache is read-only or disabled.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skmm.cache import EmbeddingCache
    >>> cache = EmbeddingCache(tempfile.mkdtemp())
    >>> keys = [cache.item_key("a"), cache.item_key("b")]
    >>> found, _ = cache.get_many("my-encoder", keys, dim=2)  # two misses
    >>> cache.put_many("my-encoder", keys, np.zeros((2, 2), dtype=np.float32))
    >>> found, _ = cache.get_many("my-encoder", keys, dim=2)  # two hits
    >>> hits, misses, writes = cache.cache_info()
    >>> hits, misses, writes
    (2, 2, 2)
    >>> cache.cache_info().hits / (hits + misses)
    0.5
    """

    hits: int
    misses: int
    writes: int


def _namespace(fingerprint: str) -> int:
    digest = hashlib.blake2b(fingerprint.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _ns_seed(ns: int) -> int:
    return zlib.crc32(ns.to_bytes(8, "little", signed=True))


def _checksum(ns: int | None, item: bytes, data: bytes, seed: int | None = None) -> int:
    """CRC-32 of one entry: its encoder namespace, item key and vector bytes.

    Covering the key too, a vector moved to another item is caught, not only a
    changed byte.
    """
    if seed is None:
        seed = _ns_seed(ns)
    return zlib.crc32(data, zlib.crc32(item, seed))


def _stored_checksum_is_stale(
    stored: int | None, ns: int, item: bytes, data: bytes
) -> bool:
    """SQL function of the upsert: whether a stored row may be replaced (it has
    no checksum, from an older skmm, or a wrong one: damaged)."""
    return stored is None or stored != _checksum(ns, item, data)


class EmbeddingCache:
    """An on-disk, content-addressed cache of embedding vectors.

    One vector is stored per (encoder fingerprint, item content): the fingerprint
    covers the model's weights, its preprocessing parameters and the skmm version,
    and the item key is a hash of the item's bytes (the text, the file, the array),
    so a renamed file still hits and a changed file or a changed encoder misses.
    Lookups are per item, so shuffled or different cross-validation folds hit too.

    The store is one SQLite database in WAL mode: several processes may read and
    write at once (``GridSearchCV(n_jobs=2)``), and a process killed mid-write
    leaves no partial entry. A directory that cannot be written is used read-only,
    and one that cannot be read disables the cache, each with one
    :class:`~skmm.exceptions.CacheWarning`; encoding never fails because of the
    cache. The handle pickles as its settings (the directory), not a connection.

    Parameters
    ----------
    directory : str or os.PathLike
        Where the database lives (created if needed), shared by every encoder.
    file_key : {"content", "stat"}, default="content"
        How a file path is keyed. "content" hashes the file's bytes (about 35 us for
        a 20 KiB photo in the page cache, 5% of decoding and resizing it): a changed
        file never hits a stale entry. "stat" hashes (absolute path, size,
        modification time) in about 4 us and never reads the file: for large files
        or slow and network disks. A file rewritten with the same size and
        modification time would hit a stale entry; a renamed one misses.
    timeout : float, default=60.0
        Seconds a writer waits for another process's write to finish.
    max_bytes : int or None, default=None
        The most bytes the database file may use: a write that goes beyond it
        deletes the least recently stored or read vectors (of every encoder), in
        the same transaction, down to 90% of it. A read records its use at most
        once an hour per vector, so vectors read within the same hour count as
        equally recent. None: no bound. May be changed on an open handle.

    Attributes
    ----------
    directory : pathlib.Path
        The cache directory.
    path : pathlib.Path
        The database file.
    nbytes : int
        The bytes the database file's pages in use hold (vectors, keys, indexes).

    See Also
    --------
    skmm.set_config : Set a default cache for every encoder.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skmm.cache import EmbeddingCache
    >>> tmp = tempfile.mkdtemp()
    >>> cache = EmbeddingCache(tmp)
    >>> keys = [cache.item_key("a"), cache.item_key("b")]
    >>> cache.put_many("my-encoder", keys[:1], np.ones((1, 3), dtype=np.float32))
    >>> found, vectors = cache.get_many("my-encoder", keys, dim=3)
    >>> found.tolist(), vectors.shape
    ([True, False], (1, 3))
    >>> cache.cache_info()
    CacheInfo(hits=1, misses=1, writes=1)
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        file_key: str = "content",
        timeout: float = 60.0,
        max_bytes: int | None = None,
    ):
        if file_key not in _FILE_KEYS:
            raise ValueError(f"file_key must be 'content' or 'stat', got {file_key!r}")
        self.directory = Path(directory).expanduser()
        self.path = self.directory / _FILENAME
        self.file_key = file_key
        self.timeout = float(timeout)
        self.max_bytes = max_bytes
        self._init_runtime()

    @property
    def max_bytes(self) -> int | None:
        """The most bytes the database file may use (None: no bound)."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, Integral) or value < 0
        ):
            raise ValueError(
                f"max_bytes must be a number of bytes >= 0 or None, got {value!r}"
            )
        self._max_bytes = None if value is None else int(value)

    def _init_runtime(self) -> None:
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._inherited: list[sqlite3.Connection] = []
        self._mode = "closed"  # "rw", "ro", "off"
        self._known_ns: set[int] = set()
        self._hits = self._misses = self._writes = 0
        self._checksums = True  # whether the file has the checksum column
        self._uses = True  # whether the file has the uses table (read-only: maybe not)
        self._warned: set[str] = set()  # problems already reported by this handle

    # -- pickling and cloning: the settings travel, the connection does not ------
    def __getstate__(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "file_key": self.file_key,
            "timeout": self.timeout,
            "max_bytes": self.max_bytes,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.directory = Path(state["directory"])
        self.path = self.directory / _FILENAME
        self.file_key = state["file_key"]
        self.timeout = state["timeout"]
        self.max_bytes = state.get("max_bytes")  # none in older pickles
        self._init_runtime()

    def __deepcopy__(self, memo: dict) -> EmbeddingCache:
        # ``clone`` deep-copies non-estimator parameters: clones share this handle
        # (one connection, one set of counters), as they share the files.
        return self

    def __repr__(self) -> str:
        extra = "" if self.file_key == "content" else f", file_key={self.file_key!r}"
        if self.max_bytes is not None:
            extra += f", max_bytes={self.max_bytes}"
        return f"EmbeddingCache({str(self.directory)!r}{extra})"

    # -- connection ---------------------------------------------------------------
    def _warn(self, message: str) -> None:
        warnings.warn(f"{self!r}: {message}", CacheWarning, stacklevel=4)

    def _warn_once(self, problem: str, message: str) -> None:
        if problem not in self._warned:
            self._warned.add(problem)
            self._warn(message)

    def _connection(self) -> sqlite3.Connection | None:
        """This process's connection, opened on first use; None when disabled."""
        pid = os.getpid()
        if self._pid != pid:
            if self._conn is not None:
                # Never close a connection inherited through fork: keep it alive.
                self._inherited.append(self._conn)
            self._conn, self._pid, self._mode = None, pid, "closed"
            self._known_ns = set()
        if self._mode == "closed":
            self._open()
        return self._conn

    def _open(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                # Page size and auto-vacuum only count before the first table is
                # created.
                conn.execute("PRAGMA page_size=16384")
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                for statement in _SCHEMA:
                    conn.execute(statement)
                self._upgrade(conn)
            except sqlite3.Error:
                conn.close()
                raise
            self._mode = "rw"
        except (OSError, sqlite3.Error) as exc:
            conn = self._open_read_only(exc)
            if conn is None:
                return
        conn.execute("PRAGMA mmap_size=1073741824")
        conn.create_function(
            "skmm_stale", 4, _stored_checksum_is_stale, deterministic=True
        )
        self._checksums = "checksum" in _columns(conn)
        self._uses = bool(
            conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                "name = 'uses'"
            ).fetchone()[0]
        )
        self._conn = conn

    @staticmethod
    def _upgrade(conn: sqlite3.Connection) -> None:
        """Give a file of an older skmm, in place, the checksum column and the
        table of last uses.

        Rows without a checksum (skmm 0.1) cannot be verified: they count as misses
        and are replaced by the next vector stored for them. Vectors stored before
        the table of last uses get the time 0: they are the first evicted.
        """
        if conn.execute("PRAGMA user_version").fetchone()[0] >= _VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have upgraded the file meanwhile.
            if conn.execute("PRAGMA user_version").fetchone()[0] < _VERSION:
                if "checksum" not in _columns(conn):
                    conn.execute("ALTER TABLE vectors ADD COLUMN checksum INTEGER")
                for statement in _USES_SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO uses (id, used) SELECT rowid, 0 FROM vectors"
                )
                conn.execute(f"PRAGMA user_version = {_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _open_read_only(self, error: Exception) -> sqlite3.Connection | None:
        try:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(
                uri, uri=True, timeout=self.timeout, check_same_thread=False
            )
            conn.execute("SELECT count(*) FROM vectors WHERE ns = 0").fetchone()
        except (OSError, sqlite3.Error, ValueError):
            self._mode = "off"
            self._warn(
                f"cannot be opened ({type(error).__name__}: {error}); encoding "
                "without a cache"
            )
            return None
        self._mode = "ro"
        self._warn(
            f"is read-only ({type(error).__name__}: {error}); cached vectors are "
            "used but new ones are not stored"
        )
        return conn

    def _failed(self, error: Exception, writing: bool) -> None:
        if writing and self._mode == "rw":
            self._mode = "ro"
            self._warn(
                f"cannot store vectors ({type(error).__name__}: {error}); cached "
                "vectors are used but new ones are not stored"
            )
        else:
            self._mode = "off"
            self._warn(
                f"cannot be read ({type(error).__name__}: {error}); encoding "
                "without a cache"
            )

    # -- keys ---------------------------------------------------------------------
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

    # -- lookups and writes -------------------------------------------------------
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
        empty = np.zeros((0, dim), dtype=np.float32)
        if not keys:
            return np.zeros(0, dtype=bool), empty
        ns = _namespace(fingerprint)
        nbytes = dim * 4
        stored: dict[bytes, bytes] = {}
        stale: list[int] = []  # rowids found, with a last use to record again
        damaged = unverified = 0
        with self._lock:
            conn = self._connection()
            if conn is not None:
                column = "checksum" if self._checksums else "NULL"
                uses = (
                    "(SELECT used FROM uses WHERE id = vectors.rowid)"
                    if self._uses
                    else "NULL"
                )
                seed = _ns_seed(ns)
                now = _now()
                try:
                    for start in range(0, len(keys), _QUERY_CHUNK):
                        chunk = keys[start : start + _QUERY_CHUNK]
                        marks = ",".join("?" * len(chunk))
                        for item, data, check, rowid, used in conn.execute(
                            f"SELECT item, data, {column}, rowid, {uses} FROM "
                            f"vectors WHERE ns = ? AND item IN ({marks})",
                            (ns, *chunk),
                        ):
                            if check is None:
                                unverified += 1
                            elif check != zlib.crc32(data, zlib.crc32(item, seed)):
                                damaged += 1
                            else:
                                stored[item] = data
                                if used is None or used <= now - _TOUCH_SECONDS:
                                    stale.append(rowid)
                except sqlite3.Error as exc:
                    self._failed(exc, writing=False)
                    stored, stale = {}, []
                if stale and self._mode == "rw":
                    self._record_use(conn, stale, now)
            found = np.fromiter(
                (len(stored.get(k, b"")) == nbytes for k in keys),
                dtype=bool,
                count=len(keys),
            )
            n_found = int(found.sum())
            self._hits += n_found
            self._misses += len(keys) - n_found
            if damaged:
                self._warn_once(
                    "damaged",
                    f"{damaged} stored vector(s) do not match their checksum (the "
                    "file was damaged or changed outside skmm); they count as "
                    "misses: encoded again and stored anew",
                )
            if unverified:
                self._warn_once(
                    "unverified",
                    f"{unverified} stored vector(s) have no checksum (stored by an "
                    "older skmm), so they cannot be verified; they count as misses: "
                    "encoded again and stored with a checksum",
                )
        if not n_found:
            return found, empty
        data = b"".join(stored[k] for k, f in zip(keys, found, strict=True) if f)
        return found, np.frombuffer(data, dtype=np.float32).reshape(n_found, dim)

    def put_many(
        self,
        fingerprint: str,
        keys: Sequence[bytes],
        vectors: np.ndarray,
        *,
        description: str | None = None,
    ) -> None:
        """Store the vectors of many items of one encoder, in one transaction.

        A key already present keeps its vector (the same content gives the same
        vector), unless that vector failed its checksum or has none (an older
        skmm's): then it is replaced. A failure to write (read-only directory,
        full disk) is reported once as a :class:`~skmm.exceptions.CacheWarning`,
        never raised.

        Parameters
        ----------
        fingerprint : str
            The encoder's fingerprint.
        keys : sequence of bytes
            Item keys, one per row of ``vectors``.
        vectors : ndarray of shape (len(keys), dim)
            The vectors, stored as float32.
        description : str, optional
            What the fingerprint stands for (stored once, for inspection).
        """
        keys = list(keys)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        if not keys:
            return
        ns = _namespace(fingerprint)
        seed = _ns_seed(ns)
        rows = []
        now = _now()
        for key, vector in zip(keys, vectors, strict=True):
            data = vector.tobytes()
            rows.append((ns, key, data, _checksum(ns, key, data, seed)))
        with self._lock:
            conn = self._connection()
            if conn is None or self._mode != "rw":
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if ns not in self._known_ns:
                        conn.execute(
                            "INSERT OR IGNORE INTO encoders VALUES (?, ?, ?)",
                            (ns, fingerprint, description),
                        )
                    conn.executemany(
                        "INSERT INTO vectors (ns, item, data, checksum) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (ns, item) DO UPDATE SET "
                        "data = excluded.data, checksum = excluded.checksum WHERE "
                        "skmm_stale(vectors.checksum, vectors.ns, vectors.item, "
                        "vectors.data)",
                        rows,
                    )
                    _in_chunks(
                        conn,
                        "INSERT OR REPLACE INTO uses (id, used) SELECT rowid, ? "
                        "FROM vectors WHERE ns = ? AND item IN ({marks})",
                        keys,
                        now,
                        ns,
                    )
                    evicted = self._evict(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                self._failed(exc, writing=True)
                return
            self._known_ns.add(ns)
            self._writes += len(rows)
            if evicted:
                self._give_back_pages(conn)

    # -- the bound --------------------------------------------------------------
    def _record_use(
        self, conn: sqlite3.Connection, rowids: list[int], now: int
    ) -> None:
        """Record that the vectors of ``rowids`` were read now, waiting at most a
        moment for another writer; a use that cannot be recorded is left out."""
        try:
            conn.execute(f"PRAGMA busy_timeout = {_TOUCH_WAIT_MS}")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # From vectors: a vector deleted meanwhile gets no row.
                    _in_chunks(
                        conn,
                        "INSERT OR REPLACE INTO uses (id, used) SELECT rowid, ? "
                        "FROM vectors WHERE rowid IN ({marks})",
                        rowids,
                        now,
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        except sqlite3.Error:
            pass  # busy (another process writes) or read-only: only an order hint

    def _bytes_in_use(self, conn: sqlite3.Connection) -> int:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def _evict(self, conn: sqlite3.Connection) -> int:
        """Inside a write transaction: delete the least recently used rows while
        the pages in use exceed ``max_bytes``, down to 90% of it. Returns the
        number of rows deleted."""
        limit = self.max_bytes
        if limit is None:
            return 0
        in_use = self._bytes_in_use(conn)
        if in_use <= limit:
            return 0
        target = int(limit * _EVICT_TO)
        deleted = 0
        while in_use > target:
            rows = conn.execute("SELECT count(*) FROM uses").fetchone()[0]
            if rows == 0:
                break  # nothing left that this skmm stored
            # Pages are freed whole: estimate the rows from the bytes per row.
            n = max(1, math.ceil((in_use - target) / max(1, in_use / rows)))
            ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM uses ORDER BY used, id LIMIT ?", (n,)
                )
            ]
            deleted += _in_chunks(
                conn, "DELETE FROM vectors WHERE rowid IN ({marks})", ids
            )
            _in_chunks(conn, "DELETE FROM uses WHERE id IN ({marks})", ids)
            in_use = self._bytes_in_use(conn)
        return deleted

    def _give_back_pages(self, conn: sqlite3.Connection) -> None:
        """Return the file's free pages beyond ``max_bytes`` to the file system
        (files with incremental auto-vacuum; others reuse them). The free pages
        within the bound stay: the next writes fill them."""
        try:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            size = conn.execute("PRAGMA page_size").fetchone()[0]
            beyond = min(free, pages - (self.max_bytes or 0) // size)
            if beyond > 0:
                # As a script: a statement steps once, and a step frees one page.
                conn.executescript(f"PRAGMA incremental_vacuum({beyond});")
        except sqlite3.Error:
            pass  # busy: the pages stay free in the file and are reused

    # -- inspection and maintenance -------------------------------------------------
    def cache_info(self) -> CacheInfo:
        """Hits, misses and writes of this handle in this process.

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

    def _count(self, read: Callable[[sqlite3.Connection], int]) -> int:
        """``read(connection)``, or 0 when the cache cannot be read."""
        with self._lock:
            conn = self._connection()
            if conn is None:
                return 0
            try:
                return int(read(conn))
            except sqlite3.Error as exc:
                self._failed(exc, writing=False)
                return 0

    @property
    def nbytes(self) -> int:
        """The bytes the database file's pages in use hold (0 when unreadable)."""
        return self._count(self._bytes_in_use)

    def __len__(self) -> int:
        return self._count(
            lambda conn: conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        )

    def clear(self) -> None:
        """Delete every stored vector (of every encoder) from the cache."""
        with self._lock:
            conn = self._connection()
            if conn is None or self._mode != "rw":
                raise OSError(f"{self!r} is not writable")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("DELETE FROM vectors")
            conn.execute("DELETE FROM uses")
            conn.execute("DELETE FROM encoders")
            conn.execute("COMMIT")
            self._known_ns = set()

    def close(self) -> None:
        """Close this process's connection (it reopens on the next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn, self._mode = None, "closed"


def _in_chunks(
    conn: sqlite3.Connection, sql: str, values: Sequence, *before: Any
) -> int:
    """``sql`` (``{marks}`` stands for the placeholders of ``IN (...)``) once per
    chunk of ``values``, after the parameters ``before``; the rows it changed."""
    changed = 0
    for start in range(0, len(values), _QUERY_CHUNK):
        chunk = values[start : start + _QUERY_CHUNK]
        marks = ",".join("?" * len(chunk))
        changed += conn.execute(sql.format(marks=marks), (*before, *chunk)).rowcount
    return changed


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {column[1] for column in conn.execute("PRAGMA table_info(vectors)")}


_OPEN: dict[tuple, EmbeddingCache] = {}
_OPEN_LOCK = threading.Lock()


def open_cache(
    directory: str | os.PathLike, *, max_bytes: int | None = None
) -> EmbeddingCache:
    """The process's shared handle of the cache in ``directory``.

    Encoders given a path (or the default from :func:`skmm.set_config`) share one
    handle per directory, hence one connection and one set of counters.

    Parameters
    ----------
    directory : str or os.PathLike
        The cache directory.
    max_bytes : int, optional
        When given, the bound of the shared handle from now on (its
        :attr:`EmbeddingCache.max_bytes`, which encoders that name the directory
        then write under); None leaves the handle's bound as it is.

    Returns
    -------
    cache : EmbeddingCache

    Examples
    --------
    >>> import tempfile
    >>> from skmm.cache import open_cache
    >>> tmp = tempfile.mkdtemp()
    >>> open_cache(tmp) is open_cache(tmp)
    True
    """
    key = (os.path.abspath(os.path.expanduser(os.fspath(directory))),)
    with _OPEN_LOCK:
        cache = _OPEN.get(key)
        if cache is None:
            cache = _OPEN[key] = EmbeddingCache(key[0])
        if max_bytes is not None:
            cache.max_bytes = max_bytes
        return cache
