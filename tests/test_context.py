"""Context features through a real client, in the handshake era (live server-to-client
requests) and in 2026-07-28 (MRTR driven by the client)."""

from __future__ import annotations

import anyio
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.exceptions import McpError
from trimcp.server.dependencies import get_context

pytestmark = pytest.mark.anyio


def make_server() -> FastMCP:
    mcp = FastMCP("ctx")

    @mcp.tool
    async def summarize(text: str, ctx: Context) -> str:
        reply = await ctx.sample(f"Summarize: {text}", system_prompt="be brief", max_tokens=50)
        return reply.text

    @mcp.tool
    async def count_roots(ctx: Context) -> int:
        return len(await ctx.list_roots())

    @mcp.tool
    async def stateful(ctx: Context) -> str:
        ctx.set_state("k", "v")
        return get_context().get_state("k") + ":" + ctx.request_id

    @mcp.tool
    async def properties(ctx: Context) -> dict:
        return {
            "transport": ctx.transport,
            "version": ctx.protocol_version,
            "server": ctx.fastmcp.name,
            "has_session": ctx.session_id is not None,
        }

    return mcp


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_sampling_reaches_the_client_handler(protocol: str):
    seen: list[object] = []

    async def handler(messages, params, context):
        seen.append(messages)
        return "short"

    async with Client(make_server(), sampling_handler=handler, protocol=protocol) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("summarize", {"text": "long story"})
    assert result.data == "short"
    assert len(seen) == 1


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_roots_reach_the_tool(protocol: str):
    async with Client(make_server(), roots=["file:///a", "file:///b"], protocol=protocol) as client:
        with anyio.fail_after(10):
            assert (await client.call_tool("count_roots")).data == 2


async def test_sampling_without_client_support_is_a_clear_error():
    for protocol in ("legacy", "modern"):
        async with Client(make_server(), protocol=protocol) as client:
            with pytest.raises(McpError) as caught:
                await client.call_tool("summarize", {"text": "x"})
            assert caught.value.code == -32021
            assert caught.value.error.data == {"requiredCapabilities": {"sampling": {}}}


async def test_server_side_sampling_fallback_when_client_cannot_sample():
    mcp = make_server()

    def fallback(messages, params, ctx):
        return "from the server's own LLM"

    mcp.sampling_handler = fallback
    async with Client(mcp) as client:
        assert (
            await client.call_tool("summarize", {"text": "x"})
        ).data == "from the server's own LLM"


async def test_state_and_get_context_inside_a_request():
    async with Client(make_server()) as client:
        data = (await client.call_tool("stateful")).data
        assert data.startswith("v:")


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_context_properties(protocol: str):
    async with Client(make_server(), protocol=protocol) as client:
        data = (await client.call_tool("properties")).data
    assert data["server"] == "ctx"
    assert data["version"] == ("2026-07-28" if protocol == "modern" else "2025-11-25")


def test_get_context_outside_a_request_is_a_runtime_error():
    with pytest.raises(RuntimeError):
        get_context()
