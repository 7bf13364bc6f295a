"""The default event store keeps events in itself (no `storage`): the bytes sent, replayed
after a `Last-Event-ID` of their stream only, until they expire, within the same bounds as a
store-backed one."""

from __future__ import annotations

import pytest

from trimcp.http.event_store import EventStore, InMemoryEventStore

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
