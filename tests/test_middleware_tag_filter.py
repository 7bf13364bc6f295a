"""A middleware of one's own that filters tools by tag (the issue's example): `on_list_tools`
hides the tools without the tag, `on_call_tool` refuses them as unknown, on a real server in
both eras, in memory and over HTTP, on both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import anyio
import anyio.abc
import pytest

from trimcp import Client, FastMCP
from trimcp.exceptions import McpError, ToolError
from trimcp.protocol.errors import INVALID_PARAMS
from trimcp.server.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.tools import Tool

pytestmark = pytest.mark.anyio

WAIT = 10
Era = Literal["legacy", "modern"]


class TagFilter(Middleware):
    """Serves only the tools tagged `tag`: the others are neither listed nor callable."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Sequence[Tool]]
    ) -> Sequence[Tool]:
        return [tool for tool in await call_next(context) if self.tag in tool.tags]

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        name = context.message.name
        tool = await context.fastmcp_context.fastmcp.get_tool(name)
        if self.tag not in tool.tags:
            raise McpError(INVALID_PARAMS, f"Unknown tool: {name}")
        return await call_next(context)


def _server() -> FastMCP:
    mcp = FastMCP("tagged", middleware=[TagFilter("public")])

    @mcp.tool(tags={"public"})
    def hello(name: str) -> str:
        return f"Hello {name}"

    @mcp.tool(tags={"admin"})
    def reset() -> str:
        return "reset!"

    @mcp.tool
    def untagged() -> str:
        return "untagged"

    return mcp


async def _check(client: Client) -> None:
    assert [tool.name for tool in await client.list_tools()] == ["hello"]
    assert (await client.call_tool("hello", {"name": "Ada"})).data == "Hello Ada"
    for hidden in ("reset", "untagged"):
        with pytest.raises(ToolError, match=f"Unknown tool: {hidden}") as refused:
            await client.call_tool(hidden)
        assert isinstance(refused.value, McpError) and refused.value.code == INVALID_PARAMS


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_tools_without_the_tag_are_hidden_and_refused(protocol: Era) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_server(), protocol=protocol) as client:
            await _check(client)


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_the_filter_holds_over_http(protocol: Era) -> None:
    mcp = _server()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:

            async def run(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
                await mcp.run_http_async(port=0, show_banner=False, task_status=task_status)

            address = await tg.start(run)
            async with Client(address.url, protocol=protocol) as client:
                await _check(client)
            tg.cancel_scope.cancel()
