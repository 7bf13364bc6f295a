"""A backend client's own handler may hand the proxy's relay an `mcp.types` model (the official
SDK's, when installed) instead of trimcp's params: it is relayed as JSON, whatever pydantic
values it holds (SDK 1.x models keep `AnyUrl`s in Python mode)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.server.proxy import FastMCPProxy, ProxyClient

pytestmark = pytest.mark.anyio

mcp_types = pytest.importorskip("mcp.types")
pydantic = pytest.importorskip("pydantic")


def backend() -> FastMCP:
    server = FastMCP("backend")

    @server.tool
    async def think(ctx: Context) -> str:
        reply = await ctx.sample("2+2?")
        return reply.text  # type: ignore[union-attr]

    return server


async def test_an_sdk_model_with_pydantic_values_is_relayed_as_json() -> None:
    async def backend_sampling(messages: Any, params: Any, context: Any) -> Any:
        as_sdk = mcp_types.CreateMessageRequestParams(
            messages=[
                mcp_types.SamplingMessage(
                    role="user", content=mcp_types.TextContent(type="text", text="2+2?")
                )
            ],
            max_tokens=params.maxTokens,
            metadata={"origin": pydantic.AnyUrl("https://example.com/ask")},
        )
        return await ProxyClient.default_sampling_handler(messages, as_sdk, context)

    server = backend()
    proxy = FastMCPProxy(
        client_factory=lambda: ProxyClient(server, sampling_handler=backend_sampling)
    )
    seen: list[Any] = []

    async def on_sample(messages: Any, params: Any, context: Any) -> str:
        seen.append(params.metadata)
        return "four"

    with anyio.fail_after(10):
        async with Client(proxy, sampling_handler=on_sample, protocol="legacy") as client:
            assert (await client.call_tool("think")).data == "four"
    assert seen == [{"origin": "https://example.com/ask"}]
