"""Keep-alive connections under trimcp's `run_http`: an idle one is closed after
`keep_alive_timeout`, a busy one is not, shutdown closes idle ones at once; and the
`DeferredIdleTask` timer behind it (hypercorn's idle task, without a task per request)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import anyio.abc
import pytest

from tests.wire import serving
from trimcp import FastMCP
from trimcp.http import idle
from trimcp.http.asgi import PlainTextResponse, Request

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
            timer = idle.DeferredIdleTask()
            begun = time.monotonic()
            await timer.restart(Spawner(tg), recording(runs, "idle", done))
            await done.wait()
    assert runs == ["idle"]
    assert time.monotonic() - begun >= idle.DEFER


async def test_deferred_idle_task_skips_an_idle_period_cut_short():
    """restart + stop before `DEFER` (a request arrived): that action never runs; the one
    after the next restart does, from the same single watcher task."""
    runs: list[str] = []
    done = anyio.Event()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            spawner = Spawner(tg)
            timer = idle.DeferredIdleTask()
            for _ in range(100):  # a busy connection: responses and requests back to back
                await timer.restart(spawner, recording(runs, "cut short"))
                await timer.stop()
            await timer.restart(spawner, recording(runs, "idle", done))
            await done.wait()
    assert runs == ["idle"]
    assert spawner.spawned == 1


async def test_deferred_idle_task_cancels_a_running_action_and_watches_again():
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
            timer = idle.DeferredIdleTask()
            await timer.restart(spawner, waits_forever)
            await started.wait()
            await timer.stop()  # a request came in while the keep-alive task ran
            await cancelled.wait()
            await timer.restart(spawner, recording(runs, "idle", done))
            await done.wait()
    assert runs == ["idle"]


def test_install_replaces_hypercorns_idle_task_on_both_backends():
    import hypercorn.asyncio.tcp_server
    import hypercorn.trio.tcp_server

    idle.install("asyncio")
    idle.install("trio")
    assert hypercorn.asyncio.tcp_server.AsyncioSingleTask is idle.DeferredIdleTask  # type: ignore[comparison-overlap]
    assert hypercorn.trio.tcp_server.TrioSingleTask is idle.DeferredIdleTask  # type: ignore[comparison-overlap]
