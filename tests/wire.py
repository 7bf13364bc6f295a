"""Test helpers shared by the test modules: a raw JSON-RPC peer (`Wire`, talking bytes to a
`ServerConnection` over memory streams), a handshake-era `INITIALIZE` request, a FastMCP
lifespan that counts its runs, `gone(pid)` (no such process any more), and servers on
127.0.0.1 port 0 with an HTTP client for them: `serving` (a FastMCP, by trimcp's
`run_http_async`), `serving_with_hypercorn` and `serving_with_uvicorn` (any ASGI app, by
hypercorn's own `serve` or uvicorn's own `Server`, as a host application would run it), and
`serving_with_host(app, server=...)` choosing between these two.

`on_each_server`: a test marked with it runs on asyncio with hypercorn and with uvicorn, and
on trio with hypercorn (it parametrizes `anyio_backend` and `http_server`); the test passes
`server=http_server` to `serving` or `run_http_async`. Mark the tests that exercise serving
behaviour, not every HTTP test: the app is the same on both servers."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import anyio
import httpx2
import msgspec
import pytest

from trimcp._backend import running_backend
from trimcp.core.connection import ServerConnection
from trimcp.protocol.envelope import CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY
from trimcp.runtime.memory import memory_stream_pair

MODERN = "2026-07-28"

on_each_server = pytest.mark.parametrize(
    ("anyio_backend", "http_server"),
    [("asyncio", "hypercorn"), ("asyncio", "uvicorn"), ("trio", "hypercorn")],
    ids=["asyncio-hypercorn", "asyncio-uvicorn", "trio-hypercorn"],
)

# A handshake-era `initialize` request (id 1), as a client's first message.
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "wire", "version": "0"},
    },
}


def counting_lifespan(counts: dict[str, int]) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A FastMCP `lifespan` that counts its starts (`counts["enter"]`) and ends (`"exit"`)."""

    @asynccontextmanager
    async def lifespan(server: Any) -> AsyncIterator[None]:
        counts["enter"] = counts.get("enter", 0) + 1
        try:
            yield
        finally:
            counts["exit"] = counts.get("exit", 0) + 1

    return lifespan


def gone(pid: int) -> bool:
    """No process has `pid` any more (a zombie still has: its parent reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@asynccontextmanager
async def serving(
    mcp: Any, *, wait: float = 10, **options: Any
) -> AsyncIterator[tuple[Any, httpx2.AsyncClient]]:
    """`mcp` served by `run_http_async` on 127.0.0.1:0 (`options` passed on), with an HTTP
    client for it; the whole block bounded by `wait` seconds, the server stopped on exit."""
    options.setdefault("show_banner", False)
    with anyio.fail_after(wait):
        async with anyio.create_task_group() as tg:
            address = await tg.start(partial(mcp.run_http_async, port=0, **options))
            base = f"http://127.0.0.1:{address.port}"
            async with httpx2.AsyncClient(base_url=base, timeout=wait) as client:
                yield address, client
            tg.cancel_scope.cancel()


@asynccontextmanager
async def serving_with_hypercorn(
    app: Any, *, wait: float = 10
) -> AsyncIterator[tuple[str, httpx2.AsyncClient]]:
    """Any ASGI app (Starlette, FastAPI, `http_app()`) served by hypercorn's own `serve` (its
    ASGI lifespan included) on 127.0.0.1:0, not by trimcp's serving; yields the base URL and a
    client for it. The whole block is bounded by `wait` seconds; the server stops on exit."""
    from hypercorn.config import Config

    config = Config()
    config.accesslog = None
    config.loglevel = "WARNING"
    config.graceful_timeout = 1
    stop = anyio.Event()
    with anyio.fail_after(wait):
        async with anyio.create_task_group() as tg:
            if running_backend() == "trio":
                import hypercorn.trio

                config.bind = ["127.0.0.1:0"]
                binds = await tg.start(
                    partial(hypercorn.trio.serve, app, config, shutdown_trigger=stop.wait)
                )
                port = int(binds[0].rsplit(":", 1)[1])
            else:
                import hypercorn.asyncio

                # hypercorn's asyncio `serve` does not report where it bound: bind port 0
                # here and hand it the listening socket
                sock = socket.socket()
                sock.bind(("127.0.0.1", 0))
                sock.listen(100)
                port = sock.getsockname()[1]
                config.bind = [f"fd://{sock.detach()}"]
                tg.start_soon(
                    partial(hypercorn.asyncio.serve, app, config, shutdown_trigger=stop.wait)
                )
            base = f"http://127.0.0.1:{port}"
            async with httpx2.AsyncClient(base_url=base, timeout=wait) as client:
                yield base, client
            stop.set()


@asynccontextmanager
async def serving_with_uvicorn(
    app: Any, *, wait: float = 10
) -> AsyncIterator[tuple[str, httpx2.AsyncClient]]:
    """Any ASGI app served by uvicorn's own `Server` (asyncio; its ASGI lifespan included, as
    `uvicorn.run(app)` runs it) on 127.0.0.1:0, not by trimcp's serving; yields the base URL
    and a client for it. The whole block is bounded by `wait` seconds; the server stops on
    exit."""
    import uvicorn

    listening = anyio.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            listening.set()

    config = uvicorn.Config(
        app, lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=1
    )
    server = Server(config)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with anyio.fail_after(wait):
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(partial(server.serve, sockets=[sock]))
                await listening.wait()
                base = f"http://127.0.0.1:{port}"
                async with httpx2.AsyncClient(base_url=base, timeout=wait) as client:
                    yield base, client
                server.should_exit = True
        finally:
            sock.close()


@asynccontextmanager
async def serving_with_host(
    app: Any, *, server: str = "hypercorn", wait: float = 10
) -> AsyncIterator[tuple[str, httpx2.AsyncClient]]:
    """`serving_with_hypercorn` or `serving_with_uvicorn`, by `server`."""
    host = serving_with_uvicorn if server == "uvicorn" else serving_with_hypercorn
    async with host(app, wait=wait) as served:
        yield served


def post_scope(headers: list[tuple[bytes, bytes]], **extra: Any) -> dict[str, Any]:
    """An ASGI scope of a `POST /mcp` with these headers, for calling an app in process."""
    return {"type": "http", "method": "POST", "path": "/mcp", "headers": headers, **extra}


def modern_meta(**extra: Any) -> dict[str, Any]:
    return {
        PROTOCOL_VERSION_KEY: MODERN,
        CLIENT_CAPABILITIES_KEY: {},
        CLIENT_INFO_KEY: {"name": "wire", "version": "0"},
        **extra,
    }


class Wire:
    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.ids = itertools.count(1)
        self.notifications: list[dict[str, Any]] = []

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send(data)

    async def send(self, message: dict[str, Any]) -> None:
        await self.stream.send(msgspec.json.encode(message))

    async def receive(self) -> Any:
        with anyio.fail_after(5):
            return msgspec.json.decode(await self.stream.receive())

    async def response(self) -> dict[str, Any]:
        """The next response, collecting notifications met on the way."""
        while True:
            message = await self.receive()
            if isinstance(message, dict) and "method" in message and "id" not in message:
                self.notifications.append(message)
                continue
            return message

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, modern: bool = False
    ) -> dict[str, Any]:
        request_id = next(self.ids)
        params = dict(params or {})
        if modern:
            params["_meta"] = {**modern_meta(), **params.get("_meta", {})}
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params:
            message["params"] = params
        await self.send(message)
        response = await self.response()
        assert response.get("id") == request_id, response
        return response

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)

    async def initialize(
        self, version: str = "2025-06-18", capabilities: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.call(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {} if capabilities is None else capabilities,
                "clientInfo": {"name": "wire", "version": "0"},
            },
        )
        await self.notify("notifications/initialized")
        return response


@asynccontextmanager
async def wire_to(server: Any) -> AsyncIterator[Wire]:
    client_end, server_end = memory_stream_pair()
    async with anyio.create_task_group() as tg:
        connection = ServerConnection(server, server_end, transport="memory")
        await tg.start(connection.run)
        try:
            yield Wire(client_end)
        finally:
            await client_end.aclose()
