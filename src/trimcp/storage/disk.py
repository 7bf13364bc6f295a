"""`DiskStore`: an `AsyncKeyValue` in one SQLite file, shared safely by the processes of one
host.

Theory of operation:

- One file, `<directory>/trimcp-store.sqlite3`, in WAL mode (readers do not block the writer),
  with a `busy_timeout` so a process waits its turn for the write lock instead of failing.
  Every write is one `BEGIN IMMEDIATE` transaction, so concurrent writers from several
  processes serialize in SQLite and never corrupt the file.
- sqlite3 blocks, so every call runs in a worker thread (`anyio.to_thread.run_sync`); a
  capacity limiter of one keeps the store's one connection in one thread at a time. The store
  works under asyncio and trio alike.
- Values are msgspec JSON (never pickle: a file another process can write must not be able to
  run code in this one).
- Expiry is an absolute wall-clock time (`expires_at`, Unix seconds), since processes share
  the file but not a monotonic clock. Reads ignore expired rows; writes delete a batch of them
  now and then (and `cull()` deletes them all), so the file does not keep dead rows forever.
- `max_size` bounds the bytes of stored values: past it the least recently *stored* entries go
  first (expired ones before them), as py-key-value's DiskStore (diskcache's default
  policy) evicts. A single value larger than `max_size` is refused (`EntryTooLargeError`)
  rather than evicting everything else to fail to fit anyway.

SQLite errors are mapped once, here: a locked or unreadable file (`sqlite3.OperationalError`:
busy past the timeout, disk I/O error, cannot open) is `StorageUnavailableError`; any other
`sqlite3.Error` is `StorageError`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsFloat, TypeVar

import anyio
import anyio.to_thread

from trimcp.storage.base import check_many, check_ttl, decode_value, encode_value
from trimcp.storage.errors import EntryTooLargeError, StorageError, StorageUnavailableError
from trimcp.storage.protocol import DEFAULT_COLLECTION

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType
    from typing import Self

__all__ = ["DiskStore"]

T = TypeVar("T")

FILENAME = "trimcp-store.sqlite3"
"""The file a `DiskStore` keeps in its directory."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    collection TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    expires_at REAL,
    stored INTEGER NOT NULL,
    UNIQUE (collection, key)
);
CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_stored ON entries (stored);
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO totals VALUES ('bytes', 0);
CREATE TRIGGER IF NOT EXISTS entries_insert AFTER INSERT ON entries BEGIN
    UPDATE totals SET value = value + length(NEW.value) WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS entries_delete AFTER DELETE ON entries BEGIN
    UPDATE totals SET value = value - length(OLD.value) WHERE name = 'bytes';
END;
CREATE TRIGGER IF NOT EXISTS entries_update AFTER UPDATE OF value ON entries BEGIN
    UPDATE totals SET value = value + length(NEW.value) - length(OLD.value)
        WHERE name = 'bytes';
END;
"""

_UPSERT = """
INSERT INTO entries (collection, key, value, expires_at, stored)
VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(stored), 0) + 1 FROM entries))
ON CONFLICT (collection, key) DO UPDATE SET
    value = excluded.value, expires_at = excluded.expires_at, stored = excluded.stored
"""
_LIVE = "(expires_at IS NULL OR expires_at > ?)"
_CHUNK = 500  # keys per `IN (...)`: well under SQLite's limit on bound parameters
_SWEEP_EVERY = 64  # writes between two deletions of expired rows
_SWEEP_BATCH = 512  # expired rows deleted per sweep


class DiskStore:
    """An `AsyncKeyValue` in a SQLite file, safe for several processes on one host.

    Use it as an async context manager, or call `aclose()` when done (a call after `aclose`
    opens the file again).

    Args:
        directory: where the file goes; created if missing.
        max_size: at most this many bytes of stored values; past it the least recently stored
            entries are evicted. None: no bound.
        default_collection: the collection of calls that name none (`"default_collection"`).
        busy_timeout: seconds a call waits for another process's write lock before failing
            with `StorageUnavailableError`.
    """

    def __init__(
        self,
        *,
        directory: Path | str,
        max_size: int | None = None,
        default_collection: str | None = None,
        busy_timeout: float = 10.0,
    ) -> None:
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size is at least 1 byte, not {max_size}")
        self.directory = Path(directory)
        try:
            # private by default: entries may be private cache results or MRTR keys
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailableError(f"disk store directory {directory}: {exc}") from exc
        self.path = self.directory / FILENAME
        self.max_size = max_size
        self.default_collection = default_collection or DEFAULT_COLLECTION
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._limiter = anyio.CapacityLimiter(1)
        self._writes = 0

    async def __aenter__(self) -> Self:
        await self._run(lambda conn: None)  # open now: a bad directory fails here
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the file (waiting for a call in progress to finish)."""
        await anyio.to_thread.run_sync(self._close, limiter=self._limiter)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- the worker-thread side ----------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # created readable by its owner only (SQLite gives its -wal and -shm files the same mode)
        try:
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        except OSError as exc:  # what sqlite3 would say as an OperationalError
            raise sqlite3.OperationalError(f"unable to open database file: {exc}") from exc
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            try:  # one transaction: processes opening a new file at once create it once
                conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
        except BaseException:
            conn.close()
            raise
        return conn

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._conn
            if conn is None:
                conn = self._conn = self._connect()
            return work(conn)
        except sqlite3.OperationalError as exc:
            raise StorageUnavailableError(f"disk store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StorageError(f"disk store {self.path}: {exc}") from exc

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await anyio.to_thread.run_sync(self._call, work, limiter=self._limiter)

    def _write(self, conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], T]) -> T:
        """`write` in one `BEGIN IMMEDIATE` transaction, with the housekeeping writes do."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = write(conn)
            self._writes += 1
            if self._writes % _SWEEP_EVERY == 0:
                self._sweep(conn, limit=_SWEEP_BATCH)
            if self.max_size is not None:
                self._evict(conn, self.max_size)
            conn.commit()
        except BaseException:
            if conn.in_transaction:  # (a failed COMMIT too: the next call starts clean)
                conn.rollback()
            raise
        return result

    @staticmethod
    def _sweep(conn: sqlite3.Connection, *, limit: int | None) -> int:
        where = "expires_at IS NOT NULL AND expires_at <= ?"
        if limit is None:
            return conn.execute(f"DELETE FROM entries WHERE {where}", (time.time(),)).rowcount
        return conn.execute(
            f"DELETE FROM entries WHERE rowid IN (SELECT rowid FROM entries WHERE {where} LIMIT ?)",
            (time.time(), limit),
        ).rowcount

    def _evict(self, conn: sqlite3.Connection, max_size: int) -> None:
        if self._total(conn) <= max_size:
            return
        self._sweep(conn, limit=None)
        while (total := self._total(conn)) > max_size:
            rows = conn.execute(
                "SELECT rowid, length(value) FROM entries ORDER BY stored LIMIT 64"
            ).fetchall()
            if not rows:  # nothing left to evict: never loop on a total that drifted
                break
            doomed: list[int] = []
            for rowid, size in rows:
                if total <= max_size:
                    break
                doomed.append(rowid)
                total -= size
            conn.executemany("DELETE FROM entries WHERE rowid = ?", [(r,) for r in doomed])

    @staticmethod
    def _total(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT value FROM totals WHERE name = 'bytes'").fetchone()
        return int(row[0])

    @staticmethod
    def _rows(
        conn: sqlite3.Connection, collection: str, keys: Sequence[str]
    ) -> dict[str, tuple[bytes, float | None]]:
        now = time.time()
        found: dict[str, tuple[bytes, float | None]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, value, expires_at in conn.execute(
                f"SELECT key, value, expires_at FROM entries WHERE collection = ? "
                f"AND key IN ({marks}) AND {_LIVE}",
                (collection, *chunk, now),
            ):
                found[key] = (value, expires_at)
        return found

    def _check_size(self, key: str, data: bytes) -> None:
        if self.max_size is not None and len(data) > self.max_size:
            raise EntryTooLargeError(
                f"value of {key!r} is {len(data)} bytes, over the disk store's max_size "
                f"of {self.max_size}"
            )

    # -- the protocol ----------------------------------------------------------------------

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """The value under `key`, or None when absent or expired."""
        name = collection or self.default_collection

        def work(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                f"SELECT value FROM entries WHERE collection = ? AND key = ? AND {_LIVE}",
                (name, key, time.time()),
            ).fetchone()
            return None if row is None else bytes(row[0])

        data = await self._run(work)
        return None if data is None else decode_value(data)

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store `value` under `key`; it expires after `ttl` seconds if given."""
        seconds = check_ttl(ttl)
        data = encode_value(value)
        self._check_size(key, data)
        name = collection or self.default_collection

        def work(conn: sqlite3.Connection) -> None:
            expires_at = None if seconds is None else time.time() + seconds
            self._write(conn, lambda c: c.execute(_UPSERT, (name, key, data, expires_at)))

        await self._run(work)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """Remove `key`; whether it was there (an expired entry was not)."""
        return await self.delete_many([key], collection=collection) == 1

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`(value, seconds left)`, `(value, None)` without expiry, `(None, None)` if absent."""
        return (await self.ttl_many([key], collection=collection))[0]

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """The values of `keys`, in order, None where absent or expired."""
        return [value for value, _ in await self.ttl_many(keys, collection=collection)]

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store `values[i]` under `keys[i]`, in one transaction: all or none."""
        check_many(keys, values)
        seconds = check_ttl(ttl)
        encoded = [encode_value(value) for value in values]
        for key, data in zip(keys, encoded, strict=True):
            self._check_size(key, data)
        name = collection or self.default_collection

        def work(conn: sqlite3.Connection) -> None:
            expires_at = None if seconds is None else time.time() + seconds
            rows = [(name, key, data, expires_at) for key, data in zip(keys, encoded, strict=True)]
            self._write(conn, lambda c: c.executemany(_UPSERT, rows))

        await self._run(work)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """Remove `keys`; how many were there (expired entries were not)."""
        if not keys:
            return 0
        name = collection or self.default_collection
        unique = list(dict.fromkeys(keys))

        def delete(conn: sqlite3.Connection) -> int:
            now = time.time()
            deleted = 0
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                # the expired are deleted too, but do not count: they were not there
                deleted += conn.execute(
                    f"SELECT COUNT(*) FROM entries WHERE collection = ? AND key IN ({marks}) "
                    f"AND {_LIVE}",
                    (name, *chunk, now),
                ).fetchone()[0]
                conn.execute(
                    f"DELETE FROM entries WHERE collection = ? AND key IN ({marks})",
                    (name, *chunk),
                )
            return deleted

        return await self._run(lambda conn: self._write(conn, delete))

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl` of each of `keys`, in order."""
        if not keys:
            return []
        name = collection or self.default_collection
        found = await self._run(lambda conn: self._rows(conn, name, keys))
        now = time.time()
        result: list[tuple[dict[str, Any] | None, float | None]] = []
        for key in keys:
            row = found.get(key)
            if row is None:
                result.append((None, None))
            else:
                left = None if row[1] is None else max(0.0, row[1] - now)
                result.append((decode_value(row[0]), left))
        return result

    async def cull(self) -> int:
        """Delete every expired entry now; how many went (py-key-value's `cull`)."""
        return await self._run(lambda conn: self._write(conn, lambda c: self._sweep(c, limit=None)))

    async def size(self) -> int:
        """Bytes of stored values now (expired ones not yet deleted included)."""
        return await self._run(self._total)
