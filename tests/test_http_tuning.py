"""hypercorn as trimcp's servers are tuned (trimcp.http.tuning; that only they are is
tests/test_http_tuned_serving.py). Keep-alive connections: an idle one is closed after
`keep_alive_timeout`, a busy one is not, shutdown closes idle ones at once; the
`DeferredIdleTask` timer behind it (hypercorn's idle task, without a task per request).
Responses: one with a `Content-Length` arrives in one write, a stream's head at once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import anyio.abc
import h11
import pytest
from hypercorn.config import Config
from hypercorn.protocol.events import Body, EndBody, Response, StreamClosed
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse

from tests.wire import serving
from trimcp import FastMCP
from trimcp.http import tuning

pytestmark = pytest.mark.anyio

WAIT = 10


def ping_server() -> FastMCP:
    mcp = FastMCP("keepalive")

    @mcp.custom_route("/ping", methods=["GET"])
    async def ping(request: Request) -> PlainTextResponse:
        return PlainTextResponse("pong")

    return mcp


async def ping(stream: anyio.abc.ByteStream, port: int) -> bytes:
    """One `GET /ping` on an open keep-alive connection; the response's body."""
    await stream.send(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += await stream.receive()
    return body


async def closed_by_server(stream: anyio.abc.ByteStream) -> bool:
    try:
        await stream.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError):
        return True
    return False


async def test_an_idle_keep_alive_connection_is_closed_after_the_timeout():
    async with serving(ping_server(), hypercorn_config={"keep_alive_timeout": 0.3}) as (
        address,
        _,
    ):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            assert await ping(stream, address.port) == b"pong"
            idle_from = time.monotonic()
            assert await closed_by_server(stream)
            assert time.monotonic() - idle_from >= 0.3


async def test_a_busy_connection_outlives_the_keep_alive_timeout():
    """The timeout counts idleness, not the connection's age: back-to-back requests for
    three timeouts' worth of time all go through on one connection."""
    options = {"keep_alive_timeout": 0.3, "keep_alive_max_requests": 1_000_000}
    async with serving(ping_server(), hypercorn_config=options) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            started = time.monotonic()
            served = 0
            while time.monotonic() - started < 0.9:
                assert await ping(stream, address.port) == b"pong"
                served += 1
            assert served > 3
            assert await closed_by_server(stream)  # and it still times out once idle


async def test_shutdown_closes_an_idle_keep_alive_connection_at_once():
    """hypercorn waits up to `graceful_timeout` for open connections: an idle keep-alive one
    must not hold the shutdown for that long (nor for its keep-alive timeout)."""
    mcp = ping_server()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            address = await tg.start(
                partial(
                    mcp.run_http_async,
                    port=0,
                    show_banner=False,
                    hypercorn_config={"keep_alive_timeout": 30, "graceful_timeout": 5},
                )
            )
            stream = await anyio.connect_tcp("127.0.0.1", address.port)
            assert await ping(stream, address.port) == b"pong"
            stopping = time.monotonic()
            tg.cancel_scope.cancel()
        assert time.monotonic() - stopping < 2  # the server is down, well within 5 s
        async with stream:
            assert await closed_by_server(stream)


async def test_a_content_length_response_arrives_in_one_write():
    """Head and body in one segment: the first read after the request has both. (On trio
    hypercorn's two writes would let the client read in between; on asyncio both would land
    before the client, on the same loop, reads: there the tests of the protocol below are
    the ones that tell.)"""
    async with serving(ping_server()) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            for _ in range(3):  # and again on the same keep-alive connection
                request = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % address.port
                await stream.send(request)
                first = await stream.receive()
                assert first.startswith(b"HTTP/1.1 200")
                assert b"content-length: 4" in first.lower()
                assert first.endswith(b"\r\n\r\npong")


async def test_a_streamed_response_sends_its_head_before_its_first_event():
    """No `Content-Length`: the head is not held back for the body (an SSE client must see
    the stream open while the server has nothing to send yet)."""
    go = anyio.Event()
    mcp = FastMCP("stream")

    @mcp.custom_route("/stream", methods=["GET"])
    async def stream(request: Request) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            await go.wait()  # the first event waits for the test
            yield b"data: one\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async with serving(mcp) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            await stream.send(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % address.port)
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive()
            assert head.startswith(b"HTTP/1.1 200")
            assert b"text/event-stream" in head
            go.set()
            body = head.partition(b"\r\n\r\n")[2]
            while b"data: one" not in body:
                body += await stream.receive()


class _Event:
    """hypercorn's event interface (async `set`), as its worker contexts provide."""

    def __init__(self) -> None:
        self._set = False

    async def set(self) -> None:
        self._set = True

    async def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set


class _Context:
    """What `H11Protocol` reads from hypercorn's worker context."""

    event_class = _Event

    def __init__(self) -> None:
        self.terminated = _Event()


def h11_protocol(sent: list[Any]) -> tuning.CoalescingH11Protocol:
    """A `CoalescingH11Protocol` that has read a GET request and writes into `sent`."""

    async def send(event: Any) -> None:
        sent.append(event)

    protocol = tuning.CoalescingH11Protocol(
        None,
        Config(),
        _Context(),
        None,
        None,
        False,
        None,
        None,
        send,  # type: ignore[arg-type]
    )
    protocol.connection.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(protocol.connection.next_event(), h11.Request)
    return protocol


async def test_coalescing_protocol_writes_head_and_body_once():
    sent: list[Any] = []
    protocol = h11_protocol(sent)
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"4")]
    await protocol.stream_send(Response(stream_id=1, headers=headers, status_code=200))
    assert sent == []  # held for the body
    await protocol.stream_send(Body(stream_id=1, data=b"pong"))
    await protocol.stream_send(EndBody(stream_id=1))
    assert len(sent) == 1  # and the end of the message wrote nothing
    head, _, body = sent[0].data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: 4" in head
    assert body == b"pong"


async def test_coalescing_protocol_writes_a_streamed_head_at_once():
    sent: list[Any] = []
    protocol = h11_protocol(sent)
    headers = [(b"content-type", b"text/event-stream")]
    await protocol.stream_send(Response(stream_id=1, headers=headers, status_code=200))
    assert len(sent) == 1 and sent[0].data.startswith(b"HTTP/1.1 200")
    await protocol.stream_send(Body(stream_id=1, data=b"data: one\n\n"))
    assert len(sent) == 2 and b"data: one" in sent[1].data


async def test_coalescing_protocol_writes_a_big_responses_head_at_once():
    sent: list[Any] = []
    protocol = h11_protocol(sent)
    big = b"x" * (1 << 17)
    headers = [(b"content-length", str(len(big)).encode())]
    await protocol.stream_send(Response(stream_id=1, headers=headers, status_code=200))
    assert len(sent) == 1 and sent[0].data.startswith(b"HTTP/1.1 200")
    await protocol.stream_send(Body(stream_id=1, data=big))
    assert [len(event.data) for event in sent][1:] == [len(big)]  # not copied onto the head


async def test_coalescing_protocol_writes_a_chunked_head_at_once():
    """`Transfer-Encoding` decides the framing whatever `Content-Length` says."""
    sent: list[Any] = []
    protocol = h11_protocol(sent)
    headers = [(b"content-length", b"4"), (b"transfer-encoding", b"chunked")]
    await protocol.stream_send(Response(stream_id=1, headers=headers, status_code=200))
    assert len(sent) == 1 and sent[0].data.startswith(b"HTTP/1.1 200")


async def test_coalescing_protocol_sends_the_head_of_a_response_that_ends_before_its_body():
    """The app sent its head and failed: the client gets the head, then the connection
    closes, as with hypercorn's own protocol (not a bare close that looks like a stale
    keep-alive connection)."""
    sent: list[Any] = []
    protocol = h11_protocol(sent)
    headers = [(b"content-length", b"10")]
    await protocol.stream_send(Response(stream_id=1, headers=headers, status_code=200))
    assert sent == []
    await protocol.stream_send(StreamClosed(stream_id=1))
    assert sent[0].data.startswith(b"HTTP/1.1 200") and b"content-length: 10" in sent[0].data


async def test_coalescing_protocol_writes_an_empty_body_response_on_its_end():
    sent: list[Any] = []
    protocol = h11_protocol(sent)
    headers = [(b"content-length", b"0")]
    await protocol.stream_send(Response(stream_id=1, headers=headers, status_code=204))
    await protocol.stream_send(EndBody(stream_id=1))
    assert len(sent) == 1 and sent[0].data.startswith(b"HTTP/1.1 204")


class Spawner:
    """hypercorn's `TaskGroup.spawn`, on an anyio task group."""

    def __init__(self, tg: anyio.abc.TaskGroup) -> None:
        self.spawned = 0
        self._tg = tg

    def spawn(self, func: Callable[[], Awaitable[Any]]) -> None:
        self.spawned += 1
        self._tg.start_soon(func)


def recording(runs: list[str], name: str, done: anyio.Event | None = None) -> Any:
    async def action() -> None:
        runs.append(name)
        if done is not None:
            done.set()

    return action


async def test_deferred_idle_task_runs_the_action_once_idle_for_the_delay():
    runs: list[str] = []
    done = anyio.Event()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            timer = tuning.DeferredIdleTask()
            begun = time.monotonic()
            await timer.restart(Spawner(tg), recording(runs, "idle", done))
            await done.wait()
    assert runs == ["idle"]
    assert time.monotonic() - begun >= tuning.DEFER


async def test_deferred_idle_task_skips_an_idle_period_cut_short():
    """restart + stop before `DEFER` (a request arrived): that action never runs; the one
    after the next restart does, from the same single watcher task."""
    runs: list[str] = []
    done = anyio.Event()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            spawner = Spawner(tg)
            timer = tuning.DeferredIdleTask()
            for _ in range(100):  # a busy connection: responses and requests back to back
                await timer.restart(spawner, recording(runs, "cut short"))
                await timer.stop()
            await timer.restart(spawner, recording(runs, "idle", done))
            await done.wait()
    assert runs == ["idle"]
    assert spawner.spawned == 1


@pytest.mark.parametrize("interrupt", ["stop", "restart"])
async def test_deferred_idle_task_cancels_a_running_action_and_watches_again(interrupt: str):
    """A request came in while the keep-alive task ran (`stop`), or hypercorn restarted the
    timer after a response without stopping it first (`restart`): the running action is
    cancelled, the next idle period runs the new one."""
    runs: list[str] = []
    started = anyio.Event()
    cancelled = anyio.Event()
    done = anyio.Event()

    async def waits_forever() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            spawner = Spawner(tg)
            timer = tuning.DeferredIdleTask()
            await timer.restart(spawner, waits_forever)
            await started.wait()
            if interrupt == "stop":
                await timer.stop()
                await cancelled.wait()
            await timer.restart(spawner, recording(runs, "idle", done))
            await cancelled.wait()
            await done.wait()
    assert runs == ["idle"]


# -- asyncio: the writes of one loop iteration leave at its end -----------------------------


def recording_tcp_server(writes: list[bytes]) -> type:
    """`TunedTCPServer` whose socket writes are recorded (and made)."""
    from trimcp.http.worker_asyncio import TunedTCPServer

    class Recording(TunedTCPServer):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            writer = self.writer
            write = writer.write

            def recorded(data: Any) -> None:
                writes.append(bytes(data))
                write(data)

            writer.write = recorded  # type: ignore[method-assign]

    return Recording


def writes_server() -> tuple[FastMCP, anyio.Event]:
    go_on = anyio.Event()
    mcp = FastMCP("writes")

    @mcp.custom_route("/two", methods=["GET"])
    async def two(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"one,"
            yield b"two"

        return StreamingResponse(chunks(), media_type="text/plain")

    @mcp.custom_route("/wait", methods=["GET"])
    async def wait(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first,"
            await go_on.wait()
            yield b"last"

        return StreamingResponse(chunks(), media_type="text/plain")

    @mcp.custom_route("/big", methods=["GET"])
    async def big(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x" * 200_000)

    return mcp, go_on


async def read_until(stream: anyio.abc.ByteStream, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        data += await stream.receive()
    return data


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_what_a_connection_writes_in_one_iteration_leaves_in_one_write(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A streamed response's head and the chunks sent with it leave together, at the end of
    the iteration (hypercorn: one write each); a chunk sent later is not held back for what
    follows it; a write that would pass `HOLD_LIMIT` sends what is held, then itself."""
    from trimcp.http import held_writes, worker_asyncio

    writes: list[bytes] = []
    monkeypatch.setattr(worker_asyncio, "TunedTCPServer", recording_tcp_server(writes))
    mcp, go_on = writes_server()
    async with serving(mcp) as (address, _):
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
                await stream.send(b"GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = await read_until(stream, b"0\r\n\r\n")
                assert answer.startswith(b"HTTP/1.1 200") and b"one," in answer
                assert len(writes) == 1 and writes[0] == answer, writes
                writes.clear()

                await stream.send(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
                first = await read_until(stream, b"first,\r\n")  # before `go_on`: not held
                assert first.startswith(b"HTTP/1.1 200")
                go_on.set()
                await read_until(stream, b"0\r\n\r\n")
                assert len(writes) == 2 and writes[0] == first, writes
                writes.clear()

                await stream.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
                big = b""
                while len(big.partition(b"\r\n\r\n")[2]) < 200_000:
                    big += await stream.receive()
                # the head (sent at once for a big body), written when the body came, then
                # the body, written at once, never copied onto the head
                head, _, body = big.partition(b"\r\n\r\n")
                assert writes == [head + b"\r\n\r\n", body], [len(w) for w in writes]
                assert len(body) > held_writes.HOLD_LIMIT


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_connection_that_closes_writes_what_it_holds_first(anyio_backend: str) -> None:
    """HTTP/1.0 without keep-alive: hypercorn closes the connection once the response is
    sent, in the same iteration as its last chunk; the whole response still arrives."""
    mcp, _ = writes_server()
    async with serving(mcp) as (address, _):
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
                await stream.send(b"GET /two HTTP/1.0\r\n\r\n")
                data = b""
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                    while True:
                        data += await stream.receive()
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"one,two"), data
