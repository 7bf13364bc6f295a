"""`run_http`: hypercorn (asyncio and trio) and uvicorn (asyncio) started from inside the
caller's loop, the bound address reported to `task_status`, graceful shutdown on
cancellation, the lifespan run once. The uvicorn-only rules are in tests/test_http_uvicorn.py."""

from __future__ import annotations

import datetime
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any

import anyio
import httpx2
import pytest
from hypercorn.config import Config
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from tests.wire import counting_lifespan, on_each_server, serving
from trimcp import FastMCP
from trimcp.http.app import TrimcpApp
from trimcp.http.serve import ServerAddress, build_config
from trimcp.settings import settings

pytestmark = pytest.mark.anyio

WAIT = 10


@pytest.fixture
def shutdown_began(monkeypatch: pytest.MonkeyPatch) -> anyio.Event:
    """An event set when `run_http` starts shutting the app down (before it waits for
    in-flight requests): a test's handler can wait for it, with no sleep."""
    event = anyio.Event()
    original = TrimcpApp.shutdown

    async def shutdown(self: TrimcpApp) -> None:
        event.set()
        await original(self)

    monkeypatch.setattr(TrimcpApp, "shutdown", shutdown)
    return event


@on_each_server
async def test_run_http_reports_the_bound_address_and_serves(http_server: str):
    mcp = FastMCP("s")

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            address = await tg.start(
                partial(mcp.run_http_async, port=0, show_banner=False, server=http_server)
            )
            assert isinstance(address, ServerAddress)
            assert address.host == "127.0.0.1"
            assert address.port > 0
            assert address.url == f"http://127.0.0.1:{address.port}/mcp"
            async with httpx2.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{address.port}/health")
                assert response.text == "OK"
            tg.cancel_scope.cancel()


async def test_custom_path_and_sse_transport_appear_in_the_url():
    mcp = FastMCP("s")
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            address = await tg.start(
                partial(mcp.run_http_async, port=0, path="/api/mcp", show_banner=False)
            )
            assert address.url.endswith("/api/mcp")
            tg.cancel_scope.cancel()
        async with anyio.create_task_group() as tg:
            address = await tg.start(partial(mcp.run_http_async, "sse", port=0, show_banner=False))
            assert address.url.endswith("/sse")
            tg.cancel_scope.cancel()


@on_each_server
async def test_run_async_with_http_transport_serves_until_cancelled(http_server: str):
    counts: dict[str, int] = {}
    mcp = FastMCP("s", lifespan=counting_lifespan(counts))
    # uvicorn through `run_async`: FastMCP's spelling, `uvicorn_config=`
    chosen = {"uvicorn_config": {}} if http_server == "uvicorn" else {}
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            address = await tg.start(
                partial(mcp.run_async, "streamable-http", port=0, show_banner=False, **chosen)
            )
            assert counts == {"enter": 1}
            assert address.port > 0
            tg.cancel_scope.cancel()
    assert counts == {"enter": 1, "exit": 1}


async def test_banner_shows_the_url(capsys: pytest.CaptureFixture[str]):
    mcp = FastMCP("bannered")
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            address = await tg.start(partial(mcp.run_http_async, port=0, show_banner=True))
            tg.cancel_scope.cancel()
    assert address.url in capsys.readouterr().err


@on_each_server
async def test_graceful_shutdown_lets_an_in_flight_request_finish(
    shutdown_began: anyio.Event, http_server: str
):
    counts: dict[str, int] = {}
    mcp = FastMCP("s", lifespan=counting_lifespan(counts))
    entered = anyio.Event()

    @mcp.custom_route("/slow", methods=["GET"])
    async def slow(request: Request) -> Response:
        entered.set()
        await shutdown_began.wait()  # still running after the server was told to stop
        return PlainTextResponse("finished")

    results: list[Any] = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as clients:
            async with anyio.create_task_group() as server:
                address = await server.start(
                    partial(mcp.run_http_async, port=0, show_banner=False, server=http_server)
                )

                async def request() -> None:
                    async with httpx2.AsyncClient() as client:
                        results.append(await client.get(f"http://127.0.0.1:{address.port}/slow"))

                clients.start_soon(request)
                await entered.wait()
                server.cancel_scope.cancel()
            # the serving task has returned: lifespan exited exactly once
            assert counts == {"enter": 1, "exit": 1}
    assert [(r.status_code, r.text) for r in results] == [(200, "finished")]


@on_each_server
async def test_graceful_shutdown_cuts_a_request_that_overstays_the_grace_period(http_server: str):
    counts: dict[str, int] = {}
    mcp = FastMCP("s", lifespan=counting_lifespan(counts))
    entered = anyio.Event()
    handler_cancelled = anyio.Event()

    @mcp.custom_route("/forever", methods=["GET"])
    async def forever(request: Request) -> Response:
        entered.set()
        try:
            await anyio.sleep_forever()
        finally:
            handler_cancelled.set()
        return PlainTextResponse("never")

    outcomes: list[Any] = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as clients:
            async with anyio.create_task_group() as server:
                address = await server.start(
                    partial(
                        mcp.run_http_async,
                        port=0,
                        show_banner=False,
                        graceful_timeout=0.2,
                        server=http_server,
                    )
                )

                async def request() -> None:
                    async with httpx2.AsyncClient() as client:
                        try:
                            response = await client.get(f"http://127.0.0.1:{address.port}/forever")
                        except httpx2.HTTPError as exc:
                            outcomes.append(exc)  # trio: the connection is dropped
                        else:
                            outcomes.append(response.status_code)  # asyncio: the server's 500

                clients.start_soon(request)
                await entered.wait()
                server.cancel_scope.cancel()
            assert handler_cancelled.is_set()
            assert counts == {"enter": 1, "exit": 1}
    assert len(outcomes) == 1
    assert isinstance(outcomes[0], httpx2.HTTPError) or outcomes[0] >= 500


@on_each_server
async def test_graceful_shutdown_ends_an_open_stream_within_the_bound(http_server: str):
    mcp = FastMCP("s")
    entered = anyio.Event()

    @mcp.custom_route("/events", methods=["GET"])
    async def events(request: Request) -> Response:
        async def forever() -> AsyncIterator[bytes]:
            yield b"data: hello\n\n"
            entered.set()
            await anyio.sleep_forever()
            yield b""

        return StreamingResponse(forever(), media_type="text/event-stream")

    received: list[bytes] = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as clients:
            async with anyio.create_task_group() as server:
                address = await server.start(
                    partial(
                        mcp.run_http_async,
                        port=0,
                        show_banner=False,
                        graceful_timeout=0.2,
                        server=http_server,
                    )
                )

                async def listen() -> None:
                    async with httpx2.AsyncClient(
                        timeout=httpx2.Timeout(WAIT, read=None)
                    ) as client:
                        try:
                            async with client.stream(
                                "GET", f"http://127.0.0.1:{address.port}/events"
                            ) as response:
                                async for chunk in response.aiter_bytes():
                                    received.append(chunk)
                        except httpx2.HTTPError:
                            pass

                clients.start_soon(listen)
                await entered.wait()
                server.cancel_scope.cancel()
    assert b"".join(received).startswith(b"data: hello")


@on_each_server
async def test_failing_lifespan_is_raised_from_start(http_server: str):
    @asynccontextmanager
    async def broken(server: FastMCP) -> AsyncIterator[None]:
        raise ValueError("no database")
        yield

    mcp = FastMCP("s", lifespan=broken)
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            with pytest.raises(ValueError, match="no database"):
                await tg.start(
                    partial(mcp.run_http_async, port=0, show_banner=False, server=http_server)
                )


@on_each_server
async def test_port_in_use_fails_before_the_lifespan_runs(http_server: str):
    counts: dict[str, int] = {}
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        mcp = FastMCP("s", lifespan=counting_lifespan(counts))
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                with pytest.raises(OSError):
                    await tg.start(
                        partial(
                            mcp.run_http_async,
                            port=taken.getsockname()[1],
                            show_banner=False,
                            server=http_server,
                        )
                    )
    finally:
        taken.close()
    assert counts == {}


async def test_host_and_port_default_from_the_settings(monkeypatch: pytest.MonkeyPatch):
    # the environment is read once, into `settings` (tests/test_settings.py); a run reads those
    monkeypatch.setattr(settings, "host", "127.0.0.1")
    monkeypatch.setattr(settings, "port", 0)
    mcp = FastMCP("s")
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            address = await tg.start(partial(mcp.run_http_async, show_banner=False))
            assert address.host == "127.0.0.1"
            assert address.port > 0
            tg.cancel_scope.cancel()


@on_each_server
async def test_two_servers_share_one_lifespan_run(http_server: str):
    counts: dict[str, int] = {}
    mcp = FastMCP("s", lifespan=counting_lifespan(counts))
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            await tg.start(partial(mcp.run_http_async, port=0, show_banner=False))
            await tg.start(
                partial(mcp.run_http_async, "sse", port=0, show_banner=False, server=http_server)
            )
            assert counts == {"enter": 1}
            tg.cancel_scope.cancel()
    assert counts == {"enter": 1, "exit": 1}


def test_uvicorn_options_map_to_hypercorn_and_unknown_ones_are_ignored():
    config = build_config(
        log_level=None,
        graceful_timeout=None,
        uvicorn_config={
            "timeout_keep_alive": 7,
            "workers": 4,
            "access_log": True,
            "timeout_graceful_shutdown": 2,
        },
        hypercorn_config={"keep_alive_max_requests": 50},
    )
    assert config.keep_alive_timeout == 7
    assert config.graceful_timeout == 2
    assert config.accesslog == "-"
    assert config.keep_alive_max_requests == 50
    assert config.workers == 1


def test_access_log_is_off_and_bad_hypercorn_options_are_refused():
    config = build_config(
        log_level=None, graceful_timeout=1.5, uvicorn_config=None, hypercorn_config=None
    )
    assert config.accesslog is None
    assert config.graceful_timeout == 1.5
    with pytest.raises(ValueError, match="no attribute"):
        build_config(
            log_level=None, graceful_timeout=None, uvicorn_config=None, hypercorn_config={"nope": 1}
        )
    with pytest.raises(ValueError, match="host= and port="):
        build_config(
            log_level=None,
            graceful_timeout=None,
            uvicorn_config=None,
            hypercorn_config={"bind": ["x"]},
        )


def test_response_headers_are_made_once_per_second(monkeypatch: pytest.MonkeyPatch):
    made: list[str] = []
    original = Config.response_headers

    def spy(self: Config, protocol: str) -> list[tuple[bytes, bytes]]:
        made.append(protocol)
        return original(self, protocol)

    monkeypatch.setattr(Config, "response_headers", spy)
    now = [1_000_000.25]
    monkeypatch.setattr("trimcp.http.serve._clock", lambda: now[0])
    config = build_config(
        log_level=None, graceful_timeout=None, uvicorn_config=None, hypercorn_config=None
    )
    first = config.response_headers("h11")
    assert [name for name, _ in first] == [b"date", b"server"]
    first.append((b"x-mutated", b"1"))  # a caller's list is its own
    now[0] = 1_000_000.75
    second = config.response_headers("h11")
    assert [name for name, _ in second] == [b"date", b"server"]
    assert made == ["h11"]  # same second: made once
    config.response_headers("h2")
    now[0] = 1_000_001.0
    config.response_headers("h11")
    assert made == ["h11", "h2", "h11"]  # per protocol, and again in the next second


def test_date_and_server_headers_can_still_be_switched_off():
    config = build_config(
        log_level=None,
        graceful_timeout=None,
        uvicorn_config={"date_header": False, "server_header": False},
        hypercorn_config=None,
    )
    assert config.response_headers("h11") == []


@on_each_server
async def test_every_response_carries_a_current_date_header(http_server: str):
    mcp = FastMCP("s")

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    async with serving(mcp, server=http_server) as (address, client):
        responses = [
            await client.get("/health"),
            await client.get("/nowhere"),
            await client.post(
                address.url,
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={"accept": "application/json, text/event-stream"},
            ),
        ]
    now = datetime.datetime.now(datetime.UTC)
    for response in responses:
        date = parsedate_to_datetime(response.headers["date"])
        assert abs((now - date).total_seconds()) < WAIT + 2
        assert response.headers["server"].startswith(http_server)
