"""The default event store keeps events in itself (no `storage`): the bytes sent, replayed
after a `Last-Event-ID` of their stream only, until they expire, within the same bounds as a
store-backed one."""

from __future__ import annotations

import pytest

from trimcp.http.event_store import EventStore, InMemoryEventStore
from trimcp.http.sse_response import SSEStream
from trimcp.storage import MemoryStore

pytestmark = pytest.mark.anyio


async def _replayed(store: EventStore, last: str) -> list[tuple[str, bytes]]:
    sent: list[tuple[str, bytes]] = []

    async def send(event_id: str, message: bytes) -> None:
        sent.append((event_id, message))

    await store.replay_events_after(last, send)
    return sent


async def test_events_replay_after_the_id_of_their_own_stream_only() -> None:
    store = EventStore()  # no storage: in itself, as InMemoryEventStore
    assert store.storage is None
    first = await store.store_event("s.1", b"a")
    await store.store_event("s.2", b"other stream")
    await store.store_event("s.1", b"b")
    assert await store.store_event("s.1", None) == "s.1.3"  # a priming id: nothing kept
    assert await _replayed(store, first) == [("s.1.2", b"b")]
    assert await _replayed(store, "s.1.0") == [("s.1.1", b"a"), ("s.1.2", b"b")]
    assert store.held == 3 and store.events == 3


async def test_expired_events_are_not_replayed() -> None:
    import anyio

    store = InMemoryEventStore(ttl=0.001)
    await store.store_event("s.1", b"gone")
    await anyio.sleep(0.005)  # not a synchronisation: the clock has to pass the expiry
    assert await _replayed(store, "s.1.0") == []
    with pytest.raises(ValueError):
        InMemoryEventStore(ttl=0)  # as a store refuses it


async def test_a_bound_of_zero_keeps_nothing() -> None:
    for store in (InMemoryEventStore(max_events_per_stream=0), InMemoryEventStore(max_events=0)):
        for _ in range(10):
            await store.store_event("s.1", b"m")
        assert store.held == store.events == store.bytes == 0
        assert await _replayed(store, "s.1.0") == []
    lasting = InMemoryEventStore(ttl=None)
    await lasting.store_event("s.1", b"kept")
    assert await _replayed(lasting, "s.1.0") == [("s.1.1", b"kept")]


async def test_bounds_drop_the_oldest_and_forget_releases_everything() -> None:
    store = InMemoryEventStore(max_events_per_stream=2, max_events=3, max_bytes=1 << 20)
    for n in range(4):
        await store.store_event("s.1", b"%d" % n)
    assert await _replayed(store, "s.1.0") == [("s.1.3", b"2"), ("s.1.4", b"3")]
    await store.store_event("s.2", b"x")
    await store.store_event("s.2", b"y")  # 4 in all: the oldest of all goes
    assert await _replayed(store, "s.1.0") == [("s.1.4", b"3")]
    assert store.held == store.events == 3
    await store.forget_stream("s.1")
    await store.forget_stream("s.2")
    assert store.held == store.events == store.bytes == 0


# -- a live POST stream holds its events (`SSEStream(hold=True)`) ------------------------------


class _Sent:
    """An ASGI `send` that records the SSE event ids written; raises `OSError` (the client
    gone, as ASGI 2.4 lets a server say) once `fail` is set."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.fail = False

    async def __call__(self, message: dict[str, object]) -> None:
        if self.fail:
            raise OSError("client gone")
        body = message.get("body")
        if isinstance(body, bytes):
            self.ids += [
                line[3:].decode().strip() for line in body.split(b"\n") if line[:3] == b"id:"
            ]


def _holding(store: EventStore, sent: _Sent) -> SSEStream:
    return SSEStream(sent, stream_id="s.1", store=store, hold=True)


async def _started(store: InMemoryEventStore) -> tuple[_Sent, SSEStream]:
    """A holding stream `s.1` on `store`, started (its priming event sent)."""
    sent = _Sent()
    stream = _holding(store, sent)
    await stream.start()
    return sent, stream


async def test_a_stream_delivered_whole_never_touches_the_store() -> None:
    store = InMemoryEventStore()
    sent, stream = await _started(store)
    await stream.send_message(b'{"a":1}')
    await stream.send_message(b'{"b":2}')
    await stream.finish()
    assert sent.ids == ["s.1.1", "s.1.2", "s.1.3"]  # priming first, as the store numbers them
    assert store.events == 0 and store.held == 0 and "s.1" not in store._heads


async def test_a_lost_client_hands_the_held_events_over_with_their_ids() -> None:
    store = InMemoryEventStore()
    sent, stream = await _started(store)
    await stream.send_message(b'{"a":1}')
    sent.fail = True
    await stream.send_message(b'{"b":2}')  # the send fails: the client is gone
    await stream.send_message(b'{"c":3}')  # straight to the store now
    await stream.finish()
    assert await _replayed(store, "s.1.1") == [
        ("s.1.2", b'{"a":1}'),
        ("s.1.3", b'{"b":2}'),
        ("s.1.4", b'{"c":3}'),
    ]


async def test_more_held_than_a_stream_may_keep_goes_to_the_store_within_its_bound() -> None:
    store = InMemoryEventStore(max_events_per_stream=2)
    sent, stream = await _started(store)
    for n in range(4):
        await stream.send_message(b"%d" % n)
    assert store.events == 2  # handed over past the bound; the store kept the newest two
    assert sent.ids == ["s.1.1", "s.1.2", "s.1.3", "s.1.4", "s.1.5"]
    assert await _replayed(store, "s.1.1") == [("s.1.4", b"2"), ("s.1.5", b"3")]
    await stream.finish()
    assert store.events == 0  # delivered whole after all: forgotten, as without holding


async def test_only_trimcp_s_own_memory_store_is_held_for() -> None:
    class Subclass(EventStore):
        pass

    for store in (Subclass(), EventStore(MemoryStore())):
        stream = SSEStream(_Sent(), stream_id="s.1", store=store, hold=True)
        await stream.start()
        await stream.send_message(b"{}")
        assert store.events == 1  # stored as it was sent
        await stream.finish()


async def test_held_events_count_against_the_store_s_bounds() -> None:
    """Events held by live streams count with the kept ones: a stream whose event would pass
    `max_events` (or `max_bytes`) hands its events over, so held and kept stay within twice
    the bounds however many streams are live."""
    store = InMemoryEventStore(max_events=5, max_bytes=10_000)  # 100 per stream
    streams = [_holding(store, _Sent()) for _ in range(3)]
    for n, stream in enumerate(streams):
        stream.stream_id = f"s.{n}"
        await stream.start()
    for _ in range(20):
        for stream in streams:
            await stream.send_message(b"x" * 100)
            assert store.held_events <= 5 and store.events <= 5
    big = _holding(store, _Sent())
    big.stream_id = "s.big"
    await big.start()
    await big.send_message(b"y" * 20_000)  # over max_bytes alone: handed over, never kept
    assert store.held_bytes <= 10_000 and store.bytes <= 10_000
    for stream in [*streams, big]:
        await stream.finish()
    assert store.held_events == 0 and store.held_bytes == 0


async def test_held_events_expire_a_time_to_live_after_they_were_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import time

    from trimcp.http import sse_response

    now = [1000.0]
    monkeypatch.setattr(sse_response, "monotonic", lambda: now[0])
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    store = InMemoryEventStore(ttl=60)
    stream = _holding(store, _Sent())
    await stream.start()
    await stream.send_message(b'{"old":1}')
    now[0] += 50
    await stream.send_message(b'{"new":2}')
    now[0] += 20  # the first is 70 s old, the second 20 s
    stream.disconnected()  # handed over now
    assert await _replayed(store, "s.1.1") == [("s.1.3", b'{"new":2}')]
