"""MCP-level middleware: hooks run outermost first, can read and change the message, and can
short-circuit."""

from __future__ import annotations

import pytest

from trimcp import Client, FastMCP
from trimcp.server.middleware import Middleware, MiddlewareContext

pytestmark = pytest.mark.anyio


class Recorder(Middleware):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def on_message(self, context: MiddlewareContext, call_next):
        self.log.append(f"{self.name}:message:{context.method}")
        return await call_next(context)

    async def on_call_tool(self, context: MiddlewareContext, call_next):
        self.log.append(f"{self.name}:tool:{context.message.name}")
        return await call_next(context)


class Doubler(Middleware):
    async def on_call_tool(self, context: MiddlewareContext, call_next):
        message = context.message
        message.arguments = {k: v * 2 for k, v in (message.arguments or {}).items()}
        return await call_next(context.copy(message=message))


class Blocker(Middleware):
    async def on_list_tools(self, context: MiddlewareContext, call_next):
        tools = await call_next(context)  # the components, as FastMCP's list hooks see them
        return [t for t in tools if not t.name.startswith("secret")]


def make_server(*middleware: Middleware) -> FastMCP:
    mcp = FastMCP("mw")
    for mw in middleware:
        mcp.add_middleware(mw)

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    def secret_tool() -> str:
        return "hidden"

    return mcp


async def test_hooks_run_outermost_first():
    log: list[str] = []
    mcp = make_server(Recorder("outer", log), Recorder("inner", log))
    async with Client(mcp) as client:
        log.clear()
        assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
    calls = [entry for entry in log if "tools/list" not in entry]  # the client also lists tools
    assert calls == [
        "outer:message:tools/call",
        "outer:tool:add",
        "inner:message:tools/call",
        "inner:tool:add",
    ]


async def test_middleware_can_change_the_message():
    async with Client(make_server(Doubler())) as client:
        assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 6


async def test_middleware_can_filter_results():
    async with Client(make_server(Blocker())) as client:
        assert [t.name for t in await client.list_tools()] == ["add"]


def test_middleware_context_is_generic_in_its_message_as_fastmcps() -> None:
    from trimcp.core.middleware import MiddlewareContext
    from trimcp.types.tools import CallToolParams as CallToolRequestParams

    alias = MiddlewareContext[CallToolRequestParams]  # FastMCP's hooks annotate it so
    context = alias(message={"name": "x"}, method="tools/call")
    assert context.message == {"name": "x"} and context.copy(method="m").method == "m"
