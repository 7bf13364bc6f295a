"""Resumable SSE streams (handshake era, sessions at 2025-11-25 or later): the `EventStore`.

Each SSE stream of a session has a stream id (`<session id>.<n>`); every event sent on it gets
the id `<stream id>.<seq>`, so an event id is unique across the session's streams and names
the stream it belongs to. A client that lost a stream reconnects with GET and `Last-Event-ID`;
only the events of *that* stream after that id are replayed (shared/SPEC-NOTES.md, omission 6).

Events live in a `trimcp.storage.AsyncKeyValue` store given as `storage` (a `DiskStore`, a
`RedisStore` or a py-key-value store, to share them), each under `<stream id>.<seq>` in the
collection `trimcp-sse-events`, as `{"m": <message text>}`, with a time to live. Without one
(`EventStore()`, `InMemoryEventStore()`, the default) they stay in the store object itself, as
the bytes sent, with their expiry on the monotonic clock: no copy, no encoding, no store call
per event (an SSE response costs about 13 µs less than through a `MemoryStore`). What this
process wrote is bounded three ways: at
most `max_events_per_stream` per stream, and at most `max_events` events and `max_bytes`
bytes in all; past a bound the oldest events go first (of the stream, or of the whole store).
`Last-Event-ID` comes from the client: `parse_event_id` accepts only our own shape (ASCII
digits, bounded length), so no value can make `int()` raise.

`EventStoreProtocol` is what the HTTP layer asks of an event store (`event_store=`):
`EventStore`, `trimcp.http.redis_event_store.RedisEventStore`, or any object with these three
methods.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from trimcp.storage import AsyncKeyValue
from trimcp.storage.base import check_ttl

__all__ = [
    "EventStore",
    "EventStoreProtocol",
    "InMemoryEventStore",
    "SendCallback",
    "parse_event_id",
    "stream_of",
]

_COLLECTION = "trimcp-sse-events"
_MAX_SEQ_DIGITS = 18  # an int64 sequence number; no stream ever gets near it

SendCallback = Callable[[str, bytes], Awaitable[None]]


@runtime_checkable
class EventStoreProtocol(Protocol):
    """An event store, as the streamable HTTP endpoint uses it.

    Event ids are `<stream id>.<seq>` (`parse_event_id` reads them; `seq` grows along a
    stream). A method may raise `trimcp.storage.StorageError` when its storage fails: the
    endpoint then sends the event without an id (live, not resumable) and carries on.
    """

    async def store_event(self, stream_id: str, message: bytes | None) -> str:
        """Give the next event of `stream_id` its id and keep `message` for replay
        (`None`: the priming event, an id only)."""
        ...

    async def replay_events_after(
        self, last_event_id: str, send_callback: SendCallback
    ) -> str | None:
        """Send every kept event of the stream after `last_event_id`, in order; the stream
        id, or None when the id is not one of ours."""
        ...

    async def forget_stream(self, stream_id: str) -> None:
        """Drop every event kept for a stream."""
        ...


def parse_event_id(event_id: str) -> tuple[str, int] | None:
    """`(stream id, seq)` of an event id of ours, or None for any other string."""
    stream, dot, seq = event_id.rpartition(".")
    if (
        not dot
        or not stream
        or not 0 < len(seq) <= _MAX_SEQ_DIGITS
        or not seq.isascii()
        or not seq.isdigit()
    ):
        return None
    return stream, int(seq)


def stream_of(event_id: str) -> str | None:
    """The stream an event id belongs to, or None if it is not one of ours."""
    parsed = parse_event_id(event_id)
    return None if parsed is None else parsed[0]


class EventStore:
    """Stores the events of SSE streams and replays them after a `Last-Event-ID`.

    Args:
        storage: where events go; when omitted, in this object (not shared).
        max_events_per_stream: older events of a stream are dropped past this many.
        max_events: the oldest events of all streams are dropped past this many in all.
        max_bytes: ... and past this many bytes of messages in all (a single message larger
            than this is not kept at all).
        ttl: seconds an event stays replayable.
    """

    def __init__(
        self,
        storage: AsyncKeyValue | None = None,
        *,
        max_events_per_stream: int = 100,
        max_events: int = 10_000,
        max_bytes: int = 64 << 20,
        ttl: float | None = 3600.0,
    ) -> None:
        self.storage: AsyncKeyValue | None = storage
        check_ttl(ttl)  # what a store would refuse, refused here too
        # without a storage: event id -> (message, monotonic expiry or None)
        self._messages: dict[str, tuple[bytes, float | None]] = {}
        self.max_events_per_stream = max_events_per_stream
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._heads: dict[str, int] = {}  # streams written by this process: last seq used
        # per stream, `(seq, size)` of the events kept, oldest first: always a suffix of the
        # events stored, since every way out (per stream, global, forget) takes the oldest
        self._kept: dict[str, deque[tuple[int, int]]] = {}
        # `(stream, seq)` of every event stored, oldest first; holds stale entries (events
        # gone another way) until they reach the front or `_compact` drops them
        self._order: deque[tuple[str, int]] = deque()
        self.events = 0
        """Events kept now (written by this process)."""
        self.bytes = 0
        """Bytes of messages kept now (written by this process)."""
        self.held_events = 0
        """Events live streams hold for this store (`SSEStream(hold=True)`), not yet in it:
        counted against `max_events` and `max_bytes` with the kept ones (a stream whose
        event would pass a bound hands its events over, and the store drops its oldest), so
        held and kept events together stay within twice the bounds."""
        self.held_bytes = 0

    async def store_event(self, stream_id: str, message: bytes | None) -> str:
        """Give the next event of `stream_id` its id and keep `message` for replay.

        `message=None` only allocates an id (the priming event, which carries no data).
        """
        if self.storage is None:
            return self.keep_event(stream_id, message)
        seq, event_id = self._next_id(stream_id)
        if message is not None and len(message) <= self.max_bytes:
            # (larger than the whole store: never kept, and nothing else dropped for it)
            # the books first, with no checkpoint, so that concurrent writers (a storage
            # that awaits) cannot interleave them; then the storage
            dropped = self._keep(stream_id, seq, len(message))
            storage = self.storage
            await storage.put(
                event_id, {"m": message.decode()}, collection=_COLLECTION, ttl=self.ttl
            )
            if dropped:
                await storage.delete_many(dropped, collection=_COLLECTION)
        return event_id

    def keep_event(self, stream_id: str, message: bytes | None, sent: float | None = None) -> str:
        """`store_event` without a `storage` (the events kept in this object): synchronous.
        Also how a live stream hands over the events it held (`SSEStream`), in order, each
        with the `time.monotonic()` it was `sent` at (its time to live runs from there)."""
        seq, event_id = self._next_id(stream_id)
        if message is not None and len(message) <= self.max_bytes:
            # kept, then what must go (the new one too, at a bound of 0)
            dropped = self._keep(stream_id, seq, len(message))
            messages = self._messages
            ttl = self.ttl
            if ttl is None:
                expiry = None
            else:
                expiry = (time.monotonic() if sent is None else sent) + ttl
            messages[event_id] = (message, expiry)
            for gone in dropped:
                messages.pop(gone, None)
        return event_id

    def _next_id(self, stream_id: str) -> tuple[int, str]:
        """The next event of a stream written here: its sequence number and its id."""
        seq = self._heads.get(stream_id, 0) + 1
        self._heads[stream_id] = seq
        return seq, f"{stream_id}.{seq}"

    @property
    def held(self) -> int:
        """Events held in this object (none when they go to a `storage`)."""
        return len(self._messages)

    def _keep(self, stream_id: str, seq: int, size: int) -> list[str]:
        """Account for a new event; the ids of the events that must go to make room."""
        kept = self._kept.get(stream_id)
        if kept is None:
            kept = self._kept[stream_id] = deque()
        kept.append((seq, size))
        self._order.append((stream_id, seq))
        self.events += 1
        self.bytes += size
        dropped: list[str] = []
        if len(kept) > self.max_events_per_stream:
            dropped.append(self._drop_oldest_of(stream_id, kept))
        while self.events > self.max_events or self.bytes > self.max_bytes:
            dropped.append(self._drop_oldest())
        if len(self._order) > 2 * self.events + 1024:
            self._compact()
        return dropped

    def _drop_oldest_of(self, stream_id: str, kept: deque[tuple[int, int]]) -> str:
        seq, size = kept.popleft()
        if not kept:
            del self._kept[stream_id]
        self.events -= 1
        self.bytes -= size
        return f"{stream_id}.{seq}"

    def _drop_oldest(self) -> str:
        while True:  # `events > 0` here, so a live entry is in `_order`
            stream_id, seq = self._order.popleft()
            kept = self._kept.get(stream_id)
            if kept and kept[0][0] == seq:  # else gone already: a stale entry
                return self._drop_oldest_of(stream_id, kept)

    def _compact(self) -> None:
        kept = self._kept
        self._order = deque(
            (stream_id, seq)
            for stream_id, seq in self._order
            if stream_id in kept and seq >= kept[stream_id][0][0]
        )

    async def replay_events_after(
        self, last_event_id: str, send_callback: SendCallback
    ) -> str | None:
        """Send every stored event of the stream after `last_event_id`, in order; return the
        stream id, or None when the id is not one of ours."""
        parsed = parse_event_id(last_event_id)
        if parsed is None:
            return None
        stream, seq = parsed
        if stream in self._heads:  # written here: only the events known to be kept
            for kept_seq, _ in list(self._kept.get(stream, ())):
                if kept_seq > seq:
                    message = await self._read(f"{stream}.{kept_seq}")
                    if message is not None:  # None: expired
                        await send_callback(f"{stream}.{kept_seq}", message)
            return stream
        while True:  # written by another process sharing the storage: until the first gap
            seq += 1
            message = await self._read(f"{stream}.{seq}")
            if message is None:
                break
            await send_callback(f"{stream}.{seq}", message)
        return stream

    async def forget_stream(self, stream_id: str) -> None:
        """Drop everything kept for a stream (its session ended)."""
        self._heads.pop(stream_id, None)
        kept = self._kept.pop(stream_id, None)
        if kept is None:
            return
        self.events -= len(kept)
        self.bytes -= sum(size for _, size in kept)
        gone = [f"{stream_id}.{seq}" for seq, _ in kept]
        if self.storage is None:
            for event_id in gone:
                self._messages.pop(event_id, None)
            return
        await self.storage.delete_many(gone, collection=_COLLECTION)

    async def _read(self, event_id: str) -> bytes | None:
        """The message of an event, or None when it is gone (expired, dropped) or the store
        holds something that is not one of our events."""
        if self.storage is None:
            entry = self._messages.get(event_id)
            if entry is None or (entry[1] is not None and time.monotonic() >= entry[1]):
                return None  # (an expired one stays counted until the bounds push it out)
            return entry[0]
        value = await self.storage.get(event_id, collection=_COLLECTION)
        message = None if value is None else value.get("m")
        return message.encode() if isinstance(message, str) else None


class InMemoryEventStore(EventStore):
    """An `EventStore` that keeps its events in itself (the default)."""

    def __init__(
        self,
        *,
        max_events_per_stream: int = 100,
        max_events: int = 10_000,
        max_bytes: int = 64 << 20,
        ttl: float | None = 3600.0,
    ) -> None:
        super().__init__(
            None,
            max_events_per_stream=max_events_per_stream,
            max_events=max_events,
            max_bytes=max_bytes,
            ttl=ttl,
        )
