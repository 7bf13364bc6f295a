"""The official `mcp` SDK's clients (streamable HTTP, both eras; legacy SSE) against trimcp,
served by a real hypercorn on 127.0.0.1:0 under asyncio and trio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp.client.client import Client
from mcp.client.sse import sse_client

from tests.test_http_streamable import _MiniApp, make_server, serve_asgi, wait_until
from trimcp.http.event_store import InMemoryEventStore
from trimcp.http.sse import LegacySSEEndpoint
from trimcp.http.streamable import StreamableHTTPEndpoint

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def served(**options: Any) -> AsyncIterator[tuple[str, StreamableHTTPEndpoint]]:
    server = make_server()
    endpoint = StreamableHTTPEndpoint(server, **options)
    legacy = LegacySSEEndpoint(server)

    def stop() -> None:
        endpoint.shutdown()
        legacy.shutdown()

    async with endpoint.running(), legacy.running():
        app = _MiniApp({"/mcp": endpoint, "/sse": legacy, "/messages/": legacy})
        async with serve_asgi(app, on_stop=stop) as url:
            yield url, endpoint


async def exercise(client: Client) -> None:
    tools = await client.list_tools()
    assert {"add", "chatty"} <= {tool.name for tool in tools.tools}
    result = await client.call_tool("add", {"a": 20, "b": 22})
    assert result.structured_content == {"result": 42}
    assert not result.is_error
    contents = await client.read_resource("data://hello")
    assert contents.contents[0].text == "Hello"
    prompt = await client.get_prompt("greet", {"name": "Ada"})
    assert prompt.messages[0].content.text == "Hi Ada"


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"json_response": True},
        {"event_store": InMemoryEventStore(), "retry_interval": 100},
        {"stateless": True},
    ],
)
async def test_sdk_streamable_client_handshake_era(options: dict[str, Any]) -> None:
    async with served(**options) as (url, endpoint):
        with anyio.fail_after(20):
            async with Client(url + "/mcp", mode="legacy") as client:
                assert client.session.protocol_version == "2025-11-25"
                await exercise(client)
                # progress and log notifications reach the SDK over the POST's SSE stream
                chatty = await client.call_tool("chatty", {})
                assert chatty.structured_content == {"result": "done"}
        if not options.get("stateless"):
            await wait_until(lambda: len(endpoint.sessions) == 0)  # the SDK's DELETE on close


@pytest.mark.parametrize("options", [{}, {"json_response": True}])
async def test_sdk_streamable_client_modern_era(options: dict[str, Any]) -> None:
    async with served(**options) as (url, endpoint):
        with anyio.fail_after(20):
            async with Client(url + "/mcp", mode="auto") as client:
                assert client.session.protocol_version == "2026-07-28"
                await exercise(client)
        assert len(endpoint.sessions) == 0


async def test_sdk_sse_client_legacy_transport() -> None:
    async with served() as (url, _):
        with anyio.fail_after(20):
            async with Client(sse_client(url + "/sse"), mode="legacy") as client:
                await exercise(client)


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_sdk_clients_against_run_http_async(transport: str) -> None:
    """The whole serving stack (create_app, Origin/Host guard, hypercorn via run_http_async)."""
    server = make_server()
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(20):
            address = await tg.start(
                lambda task_status: server.run_http_async(
                    transport=transport,
                    host="127.0.0.1",
                    port=0,
                    show_banner=False,
                    task_status=task_status,
                )
            )
            base = f"http://127.0.0.1:{address.port}"
            if transport == "http":
                for mode in ("legacy", "auto"):
                    async with Client(base + "/mcp", mode=mode) as client:
                        await exercise(client)
            else:
                async with Client(sse_client(base + "/sse"), mode="legacy") as client:
                    await exercise(client)
        tg.cancel_scope.cancel()
