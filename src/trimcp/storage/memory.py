"""`MemoryStore`: an `AsyncKeyValue` in this process's memory.

Entries are kept as JSON bytes (a copy no caller can change), in one LRU order across
collections: a read or write makes an entry the most recent, and past `max_entries` the least
recent goes, and past `max_bytes` (the JSON of the values and the keys) likewise. Expiry runs on a monotonic clock; expired entries are dropped when touched and by
a sweep every 1,024 writes, so memory returns to its baseline once keys expire.

No call awaits anything: a `MemoryStore` never blocks, so its methods do not checkpoint.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, SupportsFloat

from trimcp.storage.base import check_many, check_ttl, decode_value, encode_value
from trimcp.storage.protocol import DEFAULT_COLLECTION

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["MemoryStore"]

_SWEEP_EVERY = 1024


class MemoryStore:
    """An `AsyncKeyValue` in memory, with monotonic expiry and LRU eviction.

    Args:
        max_entries: at most this many entries in all collections; past it the least recently
            used goes. None: no bound.
        max_bytes: at most this many bytes of entries (each counts its value's JSON, its key
            and its collection name); past it the least recently used go. A single entry
            larger than this is not kept. None: no bound.
        default_collection: the collection of calls that name none (`"default_collection"`).
        clock: seconds on a monotonic clock (`time.monotonic`); tests pass a fake one.
    """

    def __init__(
        self,
        *,
        max_entries: int | None = None,
        max_bytes: int | None = None,
        default_collection: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries is at least 1, not {max_entries}")
        if max_bytes is not None and max_bytes < 1:
            raise ValueError(f"max_bytes is at least 1, not {max_bytes}")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        """Bytes of the entries held now (see `max_bytes`)."""
        self.default_collection = default_collection or DEFAULT_COLLECTION
        self._clock = clock or time.monotonic
        # (collection, key) -> (JSON bytes, monotonic expiry or None); least recent first
        self._data: OrderedDict[tuple[str, str], tuple[bytes, float | None]] = OrderedDict()
        self._writes = 0

    def __len__(self) -> int:
        """Entries held now, counting expired ones not dropped yet (see `sweep`)."""
        return len(self._data)

    def _live(self, slot: tuple[str, str]) -> tuple[bytes, float | None] | None:
        entry = self._data.get(slot)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            self._drop(slot)
            return None
        self._data.move_to_end(slot)
        return entry

    @staticmethod
    def _size(slot: tuple[str, str], data: bytes) -> int:
        return len(data) + len(slot[0]) + len(slot[1])

    def _drop(self, slot: tuple[str, str]) -> bool:
        entry = self._data.pop(slot, None)
        if entry is None:
            return False
        self.bytes -= self._size(slot, entry[0])
        return True

    def _store(self, slot: tuple[str, str], data: bytes, ttl: float | None) -> None:
        self._drop(slot)
        size = self._size(slot, data)
        if self.max_bytes is not None and size > self.max_bytes:
            return  # larger than the whole budget: not kept (and nothing evicted for it)
        self._data[slot] = (data, None if ttl is None else self._clock() + ttl)
        self.bytes += size
        if self.max_entries is not None:
            while len(self._data) > self.max_entries:
                self._drop(next(iter(self._data)))
        if self.max_bytes is not None:
            while self.bytes > self.max_bytes:
                self._drop(next(iter(self._data)))
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self.sweep()

    def _entry_ttl(self, slot: tuple[str, str]) -> tuple[dict[str, Any] | None, float | None]:
        entry = self._live(slot)
        if entry is None:
            return None, None
        left = None if entry[1] is None else max(0.0, entry[1] - self._clock())
        return decode_value(entry[0]), left

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """The value under `key`, or None when absent or expired."""
        entry = self._live((collection or self.default_collection, key))
        return None if entry is None else decode_value(entry[0])

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store a copy of `value`; it expires after `ttl` seconds if given."""
        seconds = check_ttl(ttl)
        self._store((collection or self.default_collection, key), encode_value(value), seconds)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """Remove `key`; whether it was there (an expired entry was not)."""
        slot = (collection or self.default_collection, key)
        return self._live(slot) is not None and self._drop(slot)

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`(value, seconds left)`, `(value, None)` without expiry, `(None, None)` if absent."""
        return self._entry_ttl((collection or self.default_collection, key))

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """The values of `keys`, in order, None where absent or expired."""
        name = collection or self.default_collection
        entries = [self._live((name, key)) for key in keys]
        return [None if entry is None else decode_value(entry[0]) for entry in entries]

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store `values[i]` under `keys[i]`; every value is checked before any is stored."""
        check_many(keys, values)
        seconds = check_ttl(ttl)
        encoded = [encode_value(value) for value in values]
        name = collection or self.default_collection
        for key, data in zip(keys, encoded, strict=True):
            self._store((name, key), data, seconds)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """Remove `keys`; how many were there."""
        name = collection or self.default_collection
        deleted = 0
        for key in keys:
            slot = (name, key)
            if self._live(slot) is not None and self._drop(slot):
                deleted += 1
        return deleted

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl` of each of `keys`, in order."""
        name = collection or self.default_collection
        return [self._entry_ttl((name, key)) for key in keys]

    def sweep(self) -> int:
        """Drop every expired entry now; how many went."""
        now = self._clock()
        expired = [slot for slot, (_, exp) in self._data.items() if exp is not None and exp <= now]
        for slot in expired:
            self._drop(slot)
        return len(expired)
