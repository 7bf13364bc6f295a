"""One SSE response of the streamable HTTP endpoint (`SSEStream`), and how it copes with an
event store that fails.

`SSEStream` is one SSE response (a POST that turned into a stream, or the GET stream): it
writes events, gives them ids and keeps them in the event store when the session is resumable
(negotiated version 2025-11-25 or later, shared/SPEC-NOTES.md omission 6), and can be closed
early and resumed by GET with `Last-Event-ID`. Once the client is gone (`disconnected()`, or
the server raised `OSError` from `send`, as ASGI 2.4 allows) it writes nothing more.

An event store that fails (`trimcp.storage.StorageError`: Redis down, say) does not break live
delivery: the event goes out without an id (a client cannot resume past it) and is not kept;
the outage is logged once per store, when it begins, and again when the store is back (ids
resume). Forgetting a finished stream's events is skipped the same way (they expire:
`forget_streams`, also used by `trimcp.http.sessions.HttpSession.close`).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import TYPE_CHECKING, Any

import anyio

from trimcp.http.event_store import EventStore, InMemoryEventStore
from trimcp.protocol.sse import encode_event, message_event
from trimcp.storage.errors import StorageError

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream

    from trimcp.http.event_store import EventStoreProtocol

__all__ = ["SSE_HEADERS", "SSEStream", "forget_streams"]

logger = logging.getLogger("trimcp.http")

Send = Callable[[dict[str, Any]], Awaitable[None]]

SSE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),
]


_HOLDING_STORES: tuple[type, ...] = (EventStore, InMemoryEventStore)
"""The stores a live stream holds its events for (`hold`): trimcp's own, kept in memory
(an exact type: a subclass may store differently)."""


# Event stores failing now (an outage is logged once per store, not once per event)
_failing_stores: weakref.WeakSet[EventStoreProtocol] = weakref.WeakSet()


def _store_failed(store: EventStoreProtocol, what: str, exc: StorageError) -> None:
    try:
        first = store not in _failing_stores
        _failing_stores.add(store)
    except TypeError:  # not weak-referenceable: log every failure
        first = True
    if first:
        logger.warning(
            "event store %r failed (%s): %s; events are sent without ids (not resumable) "
            "until it is back",
            store,
            what,
            exc,
        )


def _store_recovered(store: EventStoreProtocol) -> None:
    if store in _failing_stores:
        _failing_stores.discard(store)
        logger.warning("event store %r is back; events are resumable again", store)


async def forget_streams(store: EventStoreProtocol, stream_ids: list[str]) -> None:
    """Drop the stored events of streams; on a store failure, leave the rest to expire (a
    stalled store would otherwise hold up the caller once per stream)."""
    for stream_id in stream_ids:
        try:
            await store.forget_stream(stream_id)
        except StorageError as exc:
            _store_failed(store, f"forgetting stream {stream_id}", exc)
            return


class SSEStream:
    """One SSE response. Created unstarted; `start()` sends the headers (and the priming event
    when resumable); `send_message()` writes one JSON-RPC message as an event.

    When `store` is given the stream is resumable: every event gets the id
    `<stream id>.<seq>` and is kept for replay. `close_connection()` ends the HTTP response
    early (after a `retry` hint); later events are kept, and forwarded to a GET that resumed
    the stream (`attach`).

    With `hold=True` (a POST's stream) and trimcp's own in-memory `EventStore`, the events of
    a stream still live on its connection are held here, not in the store: a stream
    delivered whole is never resumed (`finish` would drop them at once), so most SSE
    responses cost the store nothing. They go to the store, in order and with the ids they
    were sent with, as soon as the stream might be resumed: the client gone
    (`disconnected`), the connection closed early (`close_connection`), a GET resuming it
    (`attach`), more than `max_events_per_stream` held, or the store's `max_events` or
    `max_bytes` passed by what it keeps and what streams hold (`EventStore.held_events`).
    """

    __slots__ = (
        "_done",
        "_extra_headers",
        "_held",
        "_held_bytes",
        "_held_messages",
        "_retry_ms",
        "_send",
        "_sink",
        "closed",
        "connected",
        "dropped",
        "started",
        "store",
        "stream_id",
    )

    def __init__(
        self,
        send: Send,
        *,
        stream_id: str | None = None,
        store: EventStoreProtocol | None = None,
        retry_ms: int | None = None,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
        hold: bool = False,
    ) -> None:
        self._send = send
        self.stream_id = stream_id
        self.store = store if stream_id is not None else None
        # held events: (message, when sent), and the bytes and messages they count for
        self._held: list[tuple[bytes | None, float]] | None = (
            []
            if hold and type(self.store) in _HOLDING_STORES and self.store.storage is None  # type: ignore[union-attr]
            else None
        )
        self._held_bytes = 0
        self._held_messages = 0
        self._retry_ms = retry_ms
        self._extra_headers = extra_headers
        self._sink: MemoryObjectSendStream[bytes] | None = None
        self.started = False
        self.connected = True  # the HTTP response is still open
        self.closed = False  # no more events will come
        self.dropped = 0  # events not written: the client was gone
        self._done: anyio.Event | None = None

    @property
    def done(self) -> anyio.Event:
        """Set once the stream finished; made on first use (an event per response costs
        more than the rest of a short stream's bookkeeping, and rarely anyone waits)."""
        event = self._done
        if event is None:
            event = self._done = anyio.Event()
            if self.closed:
                event.set()
        return event

    @property
    def resumable(self) -> bool:
        return self.store is not None

    async def start(self) -> None:
        if self.started:
            return
        self.started = True
        headers = SSE_HEADERS + self._extra_headers if self._extra_headers else SSE_HEADERS
        await self._deliver({"type": "http.response.start", "status": 200, "headers": headers})
        if self.store is None:
            priming_id = None
        elif self._held is not None:
            priming_id = self._hold(None)
        else:
            priming_id = await self._store_event(None)
        if priming_id is not None:
            await self._write(encode_event(b"", id=priming_id, retry=self._retry_ms))
        else:
            # send the headers now: a client waits for them before it reads events
            await self._deliver({"type": "http.response.body", "body": b"", "more_body": True})

    def _hold(self, message: bytes | None) -> str:
        """Hold an event of a live stream (`hold`); its id, as the store will give it. Past
        the store's bound for one stream, or with the store's bounds passed by what it
        keeps and what streams hold, this stream hands its events over instead."""
        held = self._held
        store: Any = self.store
        assert held is not None
        held.append((message, monotonic()))
        event_id = f"{self.stream_id}.{len(held)}"
        if message is not None:
            size = len(message)
            self._held_bytes += size
            self._held_messages += 1
            store.held_bytes += size
            store.held_events += 1
            if (
                self._held_messages > store.max_events_per_stream
                or store.events + store.held_events > store.max_events
                or store.bytes + store.held_bytes > store.max_bytes
            ):
                self._settle()
        return event_id

    def _release(self) -> list[tuple[bytes | None, float]]:
        """Stop holding: the events held, no longer counted as held by the store."""
        held, self._held = self._held or [], None
        store: Any = self.store
        store.held_events -= self._held_messages
        store.held_bytes -= self._held_bytes
        self._held_messages = self._held_bytes = 0
        return held

    def _settle(self) -> None:
        """The stream might be resumed: the events it held go to the store (in order, so
        they get the ids they were sent with: the store has none of this stream's yet; each
        expires a time to live after it was sent), and later ones straight there."""
        if self._held is None:
            return
        keep = self.store.keep_event  # type: ignore[union-attr]
        for message, sent in self._release():
            keep(self.stream_id, message, sent)

    async def _store_event(self, message: bytes | None) -> str | None:
        """Keep an event in the store; its id, or None when the store failed."""
        assert self.store is not None and self.stream_id is not None
        try:
            event_id = await self.store.store_event(self.stream_id, message)
        except StorageError as exc:
            _store_failed(self.store, f"storing an event of stream {self.stream_id}", exc)
            return None
        if _failing_stores:
            _store_recovered(self.store)
        return event_id

    async def _write(self, chunk: bytes) -> None:
        if not self.connected:
            self.dropped += 1
            return
        try:  # `_deliver` inline: once per event
            await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        except OSError:  # the client is gone (`_deliver`)
            self.disconnected()
            self.dropped += 1

    async def _deliver(self, message: dict[str, Any]) -> bool:
        """Send one ASGI message; False when the server says the client is gone."""
        try:
            await self._send(message)
        except OSError:
            # ASGI 2.4: a server may raise an `OSError` subclass once the client is gone
            # (uvicorn does; under hypercorn `trimcp.http.tuning` drops the bytes instead)
            self.disconnected()
            return False
        return True

    async def send_message(self, message: bytes) -> None:
        """Write one JSON-RPC message (already encoded) as a `message` event; dropped (and
        counted in `dropped`) once the client is gone, unless the stream is resumable."""
        if self.closed:
            return
        if not self.started:
            await self.start()
        if self.store is None:
            if self.connected:
                await self._write(message_event(message))
            else:
                self.dropped += 1
            return
        if self._held is not None:
            chunk = message_event(message, self._hold(message))  # an id of ours
        else:
            event_id = await self._store_event(message)
            chunk = encode_event(message, event="message", id=event_id)
        await self._write(chunk)
        if self._sink is not None:
            try:
                self._sink.send_nowait(chunk)
            except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._sink = None

    async def send_raw(self, chunk: bytes) -> None:
        """Write pre-encoded SSE bytes (comments, replayed events)."""
        if not self.started:
            await self.start()
        await self._write(chunk)

    async def close_connection(self) -> None:
        """End the HTTP response now; the client reconnects (GET + `Last-Event-ID`) for the rest.
        Only a resumable stream can do this without losing messages."""
        if not self.connected:
            return
        if not self.started:
            await self.start()
        if self._retry_ms is not None:
            await self._write(b"retry: %d\n\n" % self._retry_ms)
        self._settle()
        self.connected = False
        await self._deliver({"type": "http.response.body", "body": b"", "more_body": False})

    async def finish(self) -> None:
        """No more events: end the HTTP response (if still open) and any resumed GET.

        A stream delivered whole on its own connection can never be resumed, so its stored
        events are dropped at once (otherwise every SSE response would stay in the event
        store for its whole TTL)."""
        self.closed = True
        delivered_live = self.connected and self.started and self._sink is None
        if self._held is not None:  # delivered live (else settled): never in the store
            self._release()
        elif delivered_live and self.store is not None and self.stream_id is not None:
            await forget_streams(self.store, [self.stream_id])
        if self._sink is not None:
            await self._sink.aclose()
            self._sink = None
        if self.connected and self.started:
            self.connected = False
            await self._deliver({"type": "http.response.body", "body": b"", "more_body": False})
        if self._done is not None:
            self._done.set()

    def disconnected(self) -> None:
        """The client went away: later events are only stored (if resumable)."""
        self._settle()
        if self.connected:
            self.connected = False
            logger.debug("SSE stream %s: client gone, later events not written", self.stream_id)

    def attach(self, sink: MemoryObjectSendStream[bytes]) -> bool:
        """Forward later events to a GET that resumed this stream; False if it is finished."""
        if self.closed:
            return False
        self._settle()  # before the GET replays from the store
        self._sink = sink
        return True
