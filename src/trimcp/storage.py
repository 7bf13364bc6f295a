"""The small async key-value protocol behind every piece of server state that may outlive a
request (shared/DESIGN.md §5): event store, response cache, OAuth state, MRTR keys.

Values are bytes, grouped in named collections, each with an optional time to live. The
in-memory backend ships here; a Redis or disk backend implements the same four methods and
plugs in anywhere a `KeyValueStore` is accepted. Backends must work under asyncio and trio
(use anyio, never asyncio primitives).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["KeyValueStore", "MemoryStore"]


@runtime_checkable
class KeyValueStore(Protocol):
    """Async get/put/delete/ttl over `(collection, key)` with bytes values."""

    async def get(self, collection: str, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        ...

    async def put(
        self, collection: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        """Store `value`, replacing any previous one; it expires after `ttl` seconds if given."""
        ...

    async def delete(self, collection: str, key: str) -> bool:
        """Remove the key; whether it was there."""
        ...

    async def ttl(self, collection: str, key: str) -> float | None:
        """Seconds left before the key expires; None if absent or without expiry."""
        ...


class MemoryStore:
    """A `KeyValueStore` in this process's memory; expired keys are dropped when touched and
    by an occasional sweep, so memory returns to its baseline once keys expire."""

    def __init__(
        self, *, clock: Callable[[], float] | None = None, sweep_every: int = 1024
    ) -> None:
        self._data: dict[str, dict[str, tuple[bytes, float | None]]] = {}
        self._clock = clock or time.monotonic
        self._sweep_every = sweep_every
        self._writes = 0

    def __len__(self) -> int:
        return sum(len(c) for c in self._data.values())

    def _live(self, collection: str, key: str) -> tuple[bytes, float | None] | None:
        bucket = self._data.get(collection)
        if bucket is None:
            return None
        entry = bucket.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            del bucket[key]
            if not bucket:
                del self._data[collection]
            return None
        return entry

    async def get(self, collection: str, key: str) -> bytes | None:
        entry = self._live(collection, key)
        return None if entry is None else entry[0]

    async def put(
        self, collection: str, key: str, value: bytes, *, ttl: float | None = None
    ) -> None:
        expires = None if ttl is None else self._clock() + ttl
        self._data.setdefault(collection, {})[key] = (bytes(value), expires)
        self._writes += 1
        if self._writes % self._sweep_every == 0:
            self.sweep()

    async def delete(self, collection: str, key: str) -> bool:
        bucket = self._data.get(collection)
        if bucket is None or bucket.pop(key, None) is None:
            return False
        if not bucket:
            del self._data[collection]
        return True

    async def ttl(self, collection: str, key: str) -> float | None:
        entry = self._live(collection, key)
        if entry is None or entry[1] is None:
            return None
        return max(0.0, entry[1] - self._clock())

    def sweep(self) -> int:
        """Drop every expired key now; how many went."""
        now = self._clock()
        dropped = 0
        for name in list(self._data):
            bucket = self._data[name]
            for key in [k for k, (_, exp) in bucket.items() if exp is not None and exp <= now]:
                del bucket[key]
                dropped += 1
            if not bucket:
                del self._data[name]
        return dropped
