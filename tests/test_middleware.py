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


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_on_initialize_runs_when_a_client_introduces_itself_in_both_eras(
    protocol: str,
) -> None:
    """Handshake era: `initialize`. 2026-07-28, which has none: the client's
    `server/discover`, as an `InitializeRequest` made of its `_meta`; only `on_initialize`
    runs for it (`on_request` sees the era's requests from the first real one)."""
    import anyio

    from trimcp.server.middleware import InitializeRequest

    seen: list[tuple[str, str | None, str]] = []

    class Introductions(Middleware):
        async def on_initialize(self, context: MiddlewareContext, call_next):
            assert isinstance(context.message, InitializeRequest)
            context.fastmcp_context.set_state("client", context.message.params.clientInfo.name)
            seen.append(("initialize", context.method, context.message.params.clientInfo.name))
            return await call_next(context)

        async def on_request(self, context: MiddlewareContext, call_next):
            seen.append(("request", context.method, ""))
            return await call_next(context)

    with anyio.fail_after(10):
        async with Client(make_server(Introductions()), protocol=protocol, name="ada") as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
    assert [entry for entry in seen if entry[0] == "initialize"] == [
        ("initialize", "initialize", "ada")
    ]
    # initialize is a request of the handshake era (on_request runs, outside on_initialize);
    # a discovery is none
    requests = [entry[1] for entry in seen if entry[0] == "request"]
    assert requests[0] == ("initialize" if protocol == "legacy" else "tools/call")
    assert "tools/call" in requests


async def test_a_modern_client_refused_by_on_initialize_cannot_connect() -> None:
    import anyio

    from trimcp.exceptions import ClientError, McpError

    class Refuse(Middleware):
        async def on_initialize(self, context: MiddlewareContext, call_next):
            raise McpError(-32600, "not you")

    with anyio.fail_after(10), pytest.raises(ClientError, match="not you"):
        async with Client(make_server(Refuse()), protocol="modern"):
            pass
