"""The exception boundary's edges (issue 15 review): what user code raises that is not an
ordinary exception still becomes one answer to its request, and the connection serves on.

- an `McpError` whose `data` cannot be encoded is answered -32603 "Internal error" (it used to
  escape the worker and end the whole stdio/in-memory connection; over HTTP a bare 500);
- asyncio's `CancelledError` raised by a tool (it awaited a future something else cancelled)
  is that tool's failure, not the cancellation of the request: answered, and the connection
  goes on (it used to end the stdio session silently);
- `get_http_request()` inside a request of a 2025-03-26 HTTP batch reads the batch's body,
  as it does for a single request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import pytest

from tests.wire import INITIALIZE, serving, wire_to
from trimcp import FastMCP
from trimcp.exceptions import McpError
from trimcp.protocol.errors import ErrorData
from trimcp.server.dependencies import get_http_request

pytestmark = pytest.mark.anyio

JSON_SSE = {"accept": "application/json, text/event-stream"}


def make_server() -> FastMCP:
    mcp = FastMCP("edges")

    @mcp.tool
    def unencodable() -> str:
        raise McpError(ErrorData(-32000, "boom", data=object()))

    @mcp.tool
    async def stray_cancel() -> str:
        if anyio.get_cancelled_exc_class() is not asyncio.CancelledError:
            raise asyncio.CancelledError  # on trio: asyncio's exception, never trio's
        future = asyncio.get_running_loop().create_future()
        future.cancel()
        return await future  # raises CancelledError: the future was cancelled, not this task

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    async def body_length() -> int:
        return len(await get_http_request().body())

    return mcp


async def test_an_unencodable_mcp_error_is_an_internal_error_and_the_connection_serves_on():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        answer = await wire.call("tools/call", {"name": "unencodable", "arguments": {}})
        assert answer["error"] == {"code": -32603, "message": "Internal error"}
        again = await wire.call("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})
        assert again["result"]["structuredContent"] == {"result": 3}


async def test_a_cancelled_error_raised_by_a_tool_is_its_failure_and_the_connection_serves_on():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        answer = await wire.call("tools/call", {"name": "stray_cancel", "arguments": {}})
        assert answer["result"]["isError"] is True
        again = await wire.call("tools/call", {"name": "add", "arguments": {"a": 2, "b": 2}})
        assert again["result"]["structuredContent"] == {"result": 4}


async def test_both_edges_get_a_json_rpc_answer_over_http():
    async with serving(make_server()) as (_address, client):
        init = await client.post("/mcp", json=INITIALIZE, headers=JSON_SSE)
        headers = {**JSON_SSE, "mcp-session-id": init.headers["mcp-session-id"]}
        await client.post(
            "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
        )
        bad = await client.post(
            "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "unencodable"},
            },
            headers=headers,
        )
        assert bad.status_code == 200
        assert bad.json()["error"] == {"code": -32603, "message": "Internal error"}
        stray = await client.post(
            "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "stray_cancel"},
            },
            headers=headers,
        )
        assert stray.status_code == 200 and stray.json()["result"]["isError"] is True


@pytest.mark.parametrize("stateless", [False, True])
async def test_get_http_request_in_a_batch_reads_the_batch_body(stateless: bool):
    init: dict[str, Any] = {
        **INITIALIZE,
        "params": {**INITIALIZE["params"], "protocolVersion": "2025-03-26"},
    }
    async with serving(make_server(), stateless_http=stateless) as (_address, client):
        headers = dict(JSON_SSE)
        if not stateless:
            first = await client.post("/mcp", json=init, headers=headers)
            headers["mcp-session-id"] = first.headers["mcp-session-id"]
            await client.post(
                "/mcp",
                json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers=headers,
            )
        batch = [
            {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "body_length"}},
            {
                "jsonrpc": "2.0",
                "id": 8,
                "method": "tools/call",
                "params": {"name": "add", "arguments": {"a": 1, "b": 1}},
            },
        ]
        body = json.dumps(batch).encode()
        reply = await client.post(
            "/mcp", content=body, headers={**headers, "content-type": "application/json"}
        )
        assert reply.status_code == 200, reply.text
        by_id = {item["id"]: item for item in reply.json()}
        assert by_id[7]["result"]["structuredContent"] == {"result": len(body)}, by_id[7]
        assert by_id[8]["result"]["structuredContent"] == {"result": 2}
