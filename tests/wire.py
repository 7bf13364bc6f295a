"""A raw JSON-RPC peer for tests: talks bytes to a `ServerConnection` over memory streams."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import httpx2
import msgspec

from trimcp.core.connection import ServerConnection
from trimcp.protocol.envelope import CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY
from trimcp.runtime.memory import memory_stream_pair

MODERN = "2026-07-28"


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
