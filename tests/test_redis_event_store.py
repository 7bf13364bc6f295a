"""`RedisEventStore` on a real redis-server (tests/conftest.py), on asyncio and trio: events
replayed in order after a `Last-Event-ID`, hostile ids, the per-stream bound, resumption after
the writing process exited or was killed, resumable SSE over real HTTP, and live SSE delivery
going on (without event ids) while Redis is down."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import coredis
import msgspec
import pytest

from tests.conftest import RedisServer, RedisServerFactory
from trimcp import Context, FastMCP
from trimcp.http.event_store import EventStore, EventStoreProtocol, parse_event_id, stream_of
from trimcp.http.redis_event_store import RedisEventStore
from trimcp.http.streamable import StreamableHTTPEndpoint
from trimcp.protocol.sse import ServerSentEvent, SSEDecoder
from trimcp.server.event_store import RedisEventStore as ExportedRedisEventStore
from trimcp.storage import StorageUnavailableError
from trimcp.storage.redis import RedisStore

pytestmark = pytest.mark.anyio


class Sink:
    """A `send_callback` that records what a replay sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def __call__(self, event_id: str, message: bytes) -> None:
        self.sent.append((event_id, message))


@asynccontextmanager
async def raw_client(server: RedisServer) -> AsyncIterator[Any]:
    async with coredis.Redis(host=server.host, port=server.port) as client:
        yield client


async def test_events_are_replayed_in_order_after_the_last_event_id(
    redis_server: RedisServer,
) -> None:
    assert ExportedRedisEventStore is RedisEventStore
    async with RedisEventStore(url=redis_server.url) as store:
        with anyio.fail_after(10):
            priming = await store.store_event("sess.1", None)
            ids = [await store.store_event("sess.1", b"m%d" % n) for n in range(5)]
            other = await store.store_event("sess.2", b"other stream")
            assert all(stream_of(i) == "sess.1" for i in [priming, *ids])
            assert stream_of(other) == "sess.2"
            seqs = [parse_event_id(i)[1] for i in [priming, *ids]]  # type: ignore[index]
            assert seqs == sorted(seqs) and len(set(seqs)) == 6

            everything = Sink()  # after the priming event: every message, no priming event
            assert await store.replay_events_after(priming, everything) == "sess.1"
            assert everything.sent == [(i, b"m%d" % n) for n, i in enumerate(ids)]

            rest = Sink()
            assert await store.replay_events_after(ids[2], rest) == "sess.1"
            assert rest.sent == [(ids[3], b"m3"), (ids[4], b"m4")]

            nothing = Sink()
            assert await store.replay_events_after(ids[-1], nothing) == "sess.1"
            assert nothing.sent == []


async def test_replay_reads_in_batches(redis_server: RedisServer) -> None:
    async with RedisEventStore(url=redis_server.url, replay_batch=3) as store:
        with anyio.fail_after(10):
            first = await store.store_event("s.0", None)
            ids = [await store.store_event("s.0", b"%d" % n) for n in range(10)]
            sink = Sink()
            await store.replay_events_after(first, sink)
    assert [i for i, _ in sink.sent] == ids


HOSTILE = [
    "",
    ".",
    "x",
    "sess",
    "sess.1.",
    ".5",
    "sess.1.x",
    "sess.1.-1",
    "sess.1.+1",
    "sess.1. 1",
    "sess.1.1e3",
    "sess.1.\u0663",  # an Arabic-Indic digit: isdigit() but not ASCII
    "sess.1.9999999999999999999",  # 19 digits: past the bound
    "sess.1.0x10",
    "s" * 2000 + ".1",  # a stream id past MAX_STREAM_ID
]


async def test_malformed_last_event_ids_return_none_and_never_raise(
    redis_server: RedisServer,
) -> None:
    async with RedisEventStore(url=redis_server.url) as store:
        with anyio.fail_after(10):
            await store.store_event("sess.1", b"secret")
            for hostile in HOSTILE:
                sink = Sink()
                assert await store.replay_events_after(hostile, sink) is None, hostile
                assert sink.sent == []


async def test_unknown_streams_and_key_tricks_replay_nothing(redis_server: RedisServer) -> None:
    async with RedisEventStore(url=redis_server.url) as store:
        with anyio.fail_after(10):
            await store.store_event("sess.1", b"secret")
            for unknown in (
                "nobody.1.5",
                "*.0",
                "sess.1::x.0",
                "trimcp-sse-events::sess.1.0",
                "(0-0.0",
                "sess.1\r\nFLUSHALL.0",
                "sess.1.999999999999999999",  # 18 digits: beyond every event
            ):
                sink = Sink()
                assert await store.replay_events_after(unknown, sink) == stream_of(unknown)
                assert sink.sent == []
            sink = Sink()
            await store.replay_events_after("sess.1.0", sink)
            assert [m for _, m in sink.sent] == [b"secret"]  # nothing was harmed


async def test_each_stream_keeps_its_last_events_and_a_ttl(redis_server: RedisServer) -> None:
    async with RedisEventStore(url=redis_server.url, max_events_per_stream=10, ttl=60) as store:
        with anyio.fail_after(10):
            ids = [await store.store_event("s.1", b"%d" % n) for n in range(30)]
            sink = Sink()
            await store.replay_events_after("s.1.0", sink)
            async with raw_client(redis_server) as raw:
                length = await raw.xlen(store.stream_key("s.1"))
                pttl = await raw.pttl(store.stream_key("s.1"))
    assert store.stream_key("s.1") == "trimcp-sse-events::s.1"
    assert length == 10
    assert sink.sent == [(i, b"%d" % n) for n, i in enumerate(ids)][-10:]
    assert 59_000 < pttl <= 60_000


async def test_approximate_trimming_stays_near_the_bound(redis_server: RedisServer) -> None:
    store = RedisEventStore(url=redis_server.url, max_events_per_stream=10, approximate_trim=True)
    async with store:
        with anyio.fail_after(20):
            for n in range(400):
                await store.store_event("s.1", b"%d" % n)
            async with raw_client(redis_server) as raw:
                length = await raw.xlen(store.stream_key("s.1"))
    # `MAXLEN ~` drops whole radix-tree nodes (100 entries by default): at most one more
    assert 10 <= length <= 10 + 100


async def test_a_stream_started_again_numbers_above_old_ids(
    redis_server_factory: RedisServerFactory,
) -> None:
    """After a forgotten stream, or a Redis restarted empty, a client's old Last-Event-ID
    still gets every new event (sequence numbers start at Redis's clock)."""
    server = redis_server_factory()
    store = RedisEventStore(url=server.url)
    with anyio.fail_after(10):
        old = await store.store_event("s.1", b"old")
        await store.forget_stream("s.1")
        new = await store.store_event("s.1", b"new")
        sink = Sink()
        await store.replay_events_after(old, sink)
        assert sink.sent == [(new, b"new")]
    server.stop()
    server.start()
    with anyio.fail_after(10):
        newer = await store.store_event("s.1", b"after restart")
        sink = Sink()
        await store.replay_events_after(new, sink)
        assert sink.sent == [(newer, b"after restart")]


async def test_forget_stream_drops_it(redis_server: RedisServer) -> None:
    async with RedisEventStore(url=redis_server.url) as store:
        with anyio.fail_after(10):
            first = await store.store_event("s.1", None)
            await store.store_event("s.1", b"x")
            await store.forget_stream("s.1")
            await store.forget_stream("never-written.1")
            async with raw_client(redis_server) as raw:
                assert await raw.exists([store.stream_key("s.1")]) == 0
            sink = Sink()
            assert await store.replay_events_after(first, sink) == "s.1"
            assert sink.sent == []


async def test_oversized_message_gets_an_id_but_is_not_kept(redis_server: RedisServer) -> None:
    async with RedisEventStore(url=redis_server.url, max_event_bytes=10) as store:
        with anyio.fail_after(10):
            first = await store.store_event("s.1", b"small")
            big = await store.store_event("s.1", b"x" * 11)
            last = await store.store_event("s.1", b"small too")
            sink = Sink()
            await store.replay_events_after(first, sink)
    assert stream_of(big) == "s.1" and big not in (first, last)
    assert sink.sent == [(last, b"small too")]


async def test_shares_a_redis_store_and_its_prefix(redis_server: RedisServer) -> None:
    async with RedisStore(url=redis_server.url, prefix="app") as kv:
        store = RedisEventStore(kv)
        with anyio.fail_after(10):
            await store.store_event("s.1", b"x")
            async with raw_client(redis_server) as raw:
                assert await raw.keys("*") == {b"app:trimcp-sse-events::s.1"}


async def test_redis_down_is_storage_unavailable_then_recovers(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    async with RedisEventStore(url=server.url, connect_timeout=1, timeout=2) as store:
        with anyio.fail_after(10):
            first = await store.store_event("s.1", None)
        server.stop()
        for call in (
            store.store_event("s.1", b"x"),
            store.replay_events_after(first, Sink()),
            store.forget_stream("s.1"),
        ):
            with anyio.fail_after(5), pytest.raises(StorageUnavailableError):
                await call
        with anyio.fail_after(5):  # still None for a malformed id, without asking Redis
            assert await store.replay_events_after("garbage", Sink()) is None
        server.start()
        with anyio.fail_after(10):
            again = await store.store_event("s.1", b"back")
            sink = Sink()
            await store.replay_events_after(first, sink)
            assert sink.sent == [(again, b"back")]


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


WRITER = """
import os, signal, sys

import anyio

from trimcp.http.redis_event_store import RedisEventStore


async def main() -> None:
    url, how = sys.argv[1], sys.argv[3]
    async with RedisEventStore(url=url) as store:
        ids = [await store.store_event("sess.0", None)]
        for n in range(5):
            ids.append(await store.store_event("sess.0", b'{"n": %d}' % n))
        print(" ".join(ids), flush=True)
        if how == "killed":
            os.kill(os.getpid(), signal.SIGKILL)


anyio.run(main, backend=sys.argv[2])
"""


@pytest.mark.parametrize("how", ["exited", "killed"])
async def test_resumption_survives_the_writing_process(
    redis_server: RedisServer, tmp_path: Path, anyio_backend: str, how: str
) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, str(script), redis_server.url, anyio_backend, how], check=False
        )
    expected = -signal.SIGKILL if how == "killed" else 0
    assert done.returncode == expected, done.stderr.decode()
    priming, *ids = done.stdout.decode().split()
    assert len(ids) == 5
    async with RedisEventStore(url=redis_server.url) as store:  # a new process's store
        with anyio.fail_after(10):
            sink = Sink()
            assert await store.replay_events_after(priming, sink) == "sess.0"
            assert sink.sent == [(i, b'{"n": %d}' % n) for n, i in enumerate(ids)]
            tail = Sink()
            await store.replay_events_after(ids[2], tail)
            assert [i for i, _ in tail.sent] == ids[3:]
            # and the stream goes on from there
            following = await store.store_event("sess.0", b"more")
            assert parse_event_id(following)[1] > parse_event_id(ids[-1])[1]  # type: ignore[index]


@pytest.mark.parametrize("entered", [True, False], ids=["entered", "never-entered"])
async def test_resumable_sse_over_http_replays_from_redis(
    redis_server: RedisServer, entered: bool
) -> None:
    """A real trimcp endpoint on hypercorn with `event_store=RedisEventStore(...)`: a stream
    the server closed early is resumed by GET with `Last-Event-ID`, from Redis. The store
    works entered or as passed, never entered (either way one pool, opened on first use)."""
    from tests.test_http_streamable import running, sse_events, sse_messages

    store = RedisEventStore(url=redis_server.url)
    async with (
        store if entered else _nothing(),
        running(event_store=store, retry_interval=10) as h,
    ):
        session_id = await h.initialize()
        response = await h.call(session_id, "tools/call", {"name": "close_early", "arguments": {}})
        events = sse_events(response.text)
        assert [msgspec.json.decode(e.data)["params"]["data"]["msg"] for e in events if e.data] == [
            "before"
        ]
        last = [e.id for e in events if e.id][-1]
        assert last is not None and last.startswith(session_id + ".")
        async with raw_client(redis_server) as raw:  # the events are in Redis
            with anyio.fail_after(5):
                assert await raw.exists([store.stream_key(stream_of(last) or "")]) == 1
        headers = {
            "accept": "text/event-stream",
            "mcp-session-id": session_id,
            "last-event-id": last,
        }
        with anyio.fail_after(10):
            replay = await h.client.get(h.url, headers=headers)
        messages = sse_messages(replay.text)
        assert messages[0]["params"]["data"] == {"msg": "after"}
        assert messages[-1]["result"]["structuredContent"] == {"result": "finished"}
        replayed_ids = [e.id for e in sse_events(replay.text) if e.id]
        assert all(stream_of(i) == stream_of(last) for i in replayed_ids)


def test_the_http_layer_takes_a_redis_event_store() -> None:
    """`event_store=` is typed `EventStoreProtocol`, which both stores satisfy (mypy checks
    the annotations below in src/; here, at run time)."""
    store: EventStoreProtocol = RedisEventStore(url="redis://127.0.0.1:1/0")
    assert isinstance(store, EventStoreProtocol)
    assert isinstance(EventStore(), EventStoreProtocol)
    endpoint = StreamableHTTPEndpoint(FastMCP("typed"), event_store=store)
    assert endpoint.event_store is store
    assert not isinstance(object(), EventStoreProtocol)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_live_sse_goes_on_without_ids_while_redis_is_down(
    redis_server_factory: RedisServerFactory,
) -> None:
    """Redis stopped in the middle of a resumable POST stream: the next events still reach
    the client, without ids (they cannot be resumed), the outage is logged once; once Redis
    is back, events get ids again (numbered above the ones before)."""
    from tests.test_http_streamable import ACCEPT_BOTH, running

    server = redis_server_factory()
    store = RedisEventStore(url=server.url, connect_timeout=1, timeout=2)
    redis_down, redis_up = anyio.Event(), anyio.Event()
    mcp = FastMCP("outage")

    @mcp.tool
    async def through_an_outage(ctx: Context) -> str:
        await ctx.info("one")
        await redis_down.wait()
        for msg in ("two", "three"):
            await ctx.info(msg)
        await redis_up.wait()
        await ctx.info("four")
        return "done"

    records = _Records()
    http_logger = logging.getLogger("trimcp.http")
    http_logger.addHandler(records)
    events: list[ServerSentEvent] = []
    raw = b""
    try:
        async with running(mcp, event_store=store, retry_interval=10) as h:
            session_id = await h.initialize()
            headers = {
                "content-type": "application/json",
                "accept": ACCEPT_BOTH,
                "mcp-session-id": session_id,
            }
            body = h.body("tools/call", {"name": "through_an_outage", "arguments": {}})
            with anyio.fail_after(30):
                async with h.client.stream(
                    "POST", h.url, content=body, headers=headers
                ) as response:
                    assert response.headers["content-type"].startswith("text/event-stream")
                    decoder = SSEDecoder()
                    async for chunk in response.aiter_bytes():
                        raw += chunk
                        for event in decoder.feed(chunk):
                            events.append(event)
                            msg = _log_message(event)
                            if msg == "one":
                                server.stop()
                                redis_down.set()
                            elif msg == "three":
                                server.start()
                                redis_up.set()
    finally:
        http_logger.removeHandler(records)
        await store.aclose()

    priming, *sent = events
    assert priming.id is not None and not priming.data
    by_message = {_log_message(e) or "result": e for e in sent}
    assert list(by_message) == ["one", "two", "three", "four", "result"]
    assert msgspec.json.decode(by_message["result"].data)["result"]["structuredContent"] == {
        "result": "done"
    }
    # written without an `id:` line (a client's last event id stays the one of "one")
    blocks = {
        _log_message(e): b for b in raw.split(b"\n\n") for e in SSEDecoder().feed(b + b"\n\n")
    }
    assert [b"id:" in blocks[m] for m in ("one", "two", "three", "four")] == [
        True,
        False,
        False,
        True,
    ]
    assert by_message["two"].id == by_message["three"].id == by_message["one"].id
    ids = [by_message[m].id for m in ("one", "four", "result")]
    parsed = [parse_event_id(i) for i in ids if i is not None]
    assert len(parsed) == 3
    assert {p[0] for p in parsed} == {stream_of(priming.id)}
    assert parsed[0][1] < parsed[1][1] < parsed[2][1]

    outage = [
        r for r in records.records if r.levelno >= logging.WARNING and "event store" in r.message
    ]
    assert len(outage) == 2, [r.message for r in outage]  # once down, once back
    assert "without ids" in outage[0].message and "Redis at" in outage[0].message
    assert "is back" in outage[1].message


def _log_message(event: ServerSentEvent) -> str | None:
    """The `msg` of a log notification event (`ctx.info`), else None."""
    if not event.data:
        return None
    message = msgspec.json.decode(event.data)
    if message.get("method") != "notifications/message":
        return None
    msg: str = message["params"]["data"]["msg"]
    return msg
