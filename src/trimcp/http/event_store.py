"""Resumable SSE streams (handshake era, sessions at 2025-11-25 or later): the `EventStore`.

Each SSE stream of a session has a stream id (`<session id>.<n>`); every event sent on it gets
the id `<stream id>.<seq>`, so an event id is unique across the session's streams and names
the stream it belongs to. A client that lost a stream reconnects with GET and `Last-Event-ID`;
only the events of *that* stream after that id are replayed (shared/SPEC-NOTES.md, omission 6).

Events live in a `trimcp.storage.KeyValueStore` (in memory by default), each under
`<stream id>.<seq>` with a time to live, at most `max_events_per_stream` per stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from trimcp.storage import KeyValueStore, MemoryStore

__all__ = ["EventStore", "InMemoryEventStore", "stream_of"]

_COLLECTION = "trimcp-sse-events"

SendCallback = Callable[[str, bytes], Awaitable[None]]


def stream_of(event_id: str) -> str | None:
    """The stream an event id belongs to, or None if it is not one of ours."""
    stream, dot, seq = event_id.rpartition(".")
    if not dot or not stream or not seq.isdigit():
        return None
    return stream


class EventStore:
    """Stores the events of SSE streams and replays them after a `Last-Event-ID`.

    Args:
        storage: where events go (`MemoryStore()` when omitted).
        max_events_per_stream: older events of a stream are dropped past this many.
        ttl: seconds an event stays replayable.
    """

    def __init__(
        self,
        storage: KeyValueStore | None = None,
        *,
        max_events_per_stream: int = 100,
        ttl: float | None = 3600.0,
    ) -> None:
        self.storage: KeyValueStore = storage if storage is not None else MemoryStore()
        self.max_events_per_stream = max_events_per_stream
        self.ttl = ttl
        self._heads: dict[str, int] = {}  # streams written by this process: last seq used

    async def store_event(self, stream_id: str, message: bytes | None) -> str:
        """Give the next event of `stream_id` its id and keep `message` for replay.

        `message=None` only allocates an id (the priming event, which carries no data).
        """
        seq = self._heads.get(stream_id, 0) + 1
        self._heads[stream_id] = seq
        event_id = f"{stream_id}.{seq}"
        if message is not None:
            await self.storage.put(_COLLECTION, event_id, message, ttl=self.ttl)
            old = seq - self.max_events_per_stream
            if old > 0:
                await self.storage.delete(_COLLECTION, f"{stream_id}.{old}")
        return event_id

    async def replay_events_after(
        self, last_event_id: str, send_callback: SendCallback
    ) -> str | None:
        """Send every stored event of the stream after `last_event_id`, in order; return the
        stream id, or None when the id is not one of ours."""
        stream = stream_of(last_event_id)
        if stream is None:
            return None
        seq = int(last_event_id.rpartition(".")[2])
        head = self._heads.get(stream)
        while True:
            seq += 1
            message = await self.storage.get(_COLLECTION, f"{stream}.{seq}")
            if message is None:
                # gaps are ids used by priming events; stop at the head we know of
                if head is not None and seq < head:
                    continue
                break
            await send_callback(f"{stream}.{seq}", message)
        return stream

    async def forget_stream(self, stream_id: str) -> None:
        """Drop everything kept for a stream (its session ended)."""
        head = self._heads.pop(stream_id, None)
        if head is None:
            return
        for seq in range(max(1, head - self.max_events_per_stream + 1), head + 1):
            await self.storage.delete(_COLLECTION, f"{stream_id}.{seq}")


class InMemoryEventStore(EventStore):
    """An `EventStore` on a private `MemoryStore` (the default)."""

    def __init__(self, *, max_events_per_stream: int = 100, ttl: float | None = 3600.0) -> None:
        super().__init__(MemoryStore(), max_events_per_stream=max_events_per_stream, ttl=ttl)
