"""Context features through a real client, in the handshake era (live server-to-client
requests) and in 2026-07-28 (MRTR driven by the client)."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import pytest

from tests.wire import serving
from trimcp import Client, Context, FastMCP
from trimcp.client.elicitation import ElicitResult
from trimcp.exceptions import McpError
from trimcp.server.dependencies import get_context
from trimcp.server.elicitation import AcceptedElicitation, DeclinedElicitation

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


@dataclass
class Booking:
    date: str
    guests: int = 2


def elicit_server() -> FastMCP:
    mcp = FastMCP("elicit")

    @mcp.tool
    async def book(ctx: Context) -> str:
        result = await ctx.elicit("When and for how many?", response_type=Booking)
        match result:
            case AcceptedElicitation(data=booking):
                return f"booked {booking.date} for {booking.guests}"
            case DeclinedElicitation():
                return "declined"
            case _:
                return "cancelled"

    @mcp.tool
    async def pick(ctx: Context) -> str:
        result = await ctx.elicit("Pick a size", response_type=["small", "large"])
        return result.data if result.action == "accept" else result.action

    @mcp.tool
    async def confirm(ctx: Context) -> str:
        result = await ctx.elicit("Sure?", response_type=None)
        return result.action

    return mcp


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_elicitation_with_a_dataclass_in_both_eras(protocol: str):
    asked: list[dict] = []

    async def handler(message, response_type, params, context):
        asked.append(params.requestedSchema if hasattr(params, "requestedSchema") else params)
        return {"date": "2026-12-24", "guests": 4}

    async with Client(elicit_server(), elicitation_handler=handler, protocol=protocol) as client:
        with anyio.fail_after(10):
            assert (await client.call_tool("book")).data == "booked 2026-12-24 for 4"
    assert asked


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_elicitation_choices_decline_and_approval(protocol: str):
    async def choose(message, response_type, params, context):
        return {"value": "large"} if "size" in message else ElicitResult(action="decline")

    async with Client(elicit_server(), elicitation_handler=choose, protocol=protocol) as client:
        with anyio.fail_after(10):
            assert (await client.call_tool("pick")).data == "large"
            assert (await client.call_tool("confirm")).data == "decline"


async def test_context_over_the_legacy_sse_transport():
    from trimcp.client.transports import SSETransport

    mcp = elicit_server()

    @mcp.tool
    async def chat(ctx: Context) -> str:
        await ctx.info("hello over SSE")
        await ctx.report_progress(1, 1)
        reply = await ctx.sample("say hi")
        return reply.text

    logs: list[object] = []

    async def on_log(message) -> None:
        logs.append(message.data)

    async def sampler(messages, params, context):
        return "hi"

    async def elicit(message, response_type, params, context):
        return {"date": "2027-01-01", "guests": 1}

    async with serving(mcp, wait=20, transport="sse") as (address, _):
        url = f"http://127.0.0.1:{address.port}/sse"
        async with Client(
            SSETransport(url),
            sampling_handler=sampler,
            elicitation_handler=elicit,
            log_handler=on_log,
        ) as client:
            assert (await client.call_tool("chat")).data == "hi"
            assert (await client.call_tool("book")).data == "booked 2027-01-01 for 1"
    assert {"msg": "hello over SSE"} in logs  # FastMCP 2.13's log data
