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
    `server/discover`, as an `InitializeRequest` made of its `_meta`; the whole chain runs
    for it, as for `initialize` (`on_request` sees it: a rate limit counts it)."""
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
    # the introduction is a request in both eras (on_request runs, outside on_initialize)
    requests = [entry[1] for entry in seen if entry[0] == "request"]
    assert requests[0] == "initialize"
    assert seen.index(("request", "initialize", "")) < seen.index(
        ("initialize", "initialize", "ada")
    )
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


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_a_client_over_a_rate_limit_at_its_introduction_is_told_why(protocol: str) -> None:
    """The introduction counts against a limit (both eras): a client refused there gets the
    limit's message, the modern one saying the server may have refused it."""
    import anyio

    from trimcp.exceptions import ClientError
    from trimcp.server.middleware.rate_limiting import RateLimitingMiddleware

    spent = RateLimitingMiddleware(max_requests_per_second=0.001, burst_capacity=1)
    mcp = make_server(spent)
    with anyio.fail_after(10):
        async with Client(mcp, protocol=protocol):
            pass  # the one token
        with pytest.raises(ClientError, match="Rate limit exceeded for client: global") as no:
            async with Client(mcp, protocol=protocol):
                pass
    if protocol == "modern":
        assert "refused this client" in str(no.value)


class Seen(Middleware):
    """Records each request its `on_request` sees, by method."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    async def on_request(self, context: MiddlewareContext, call_next):
        self.methods.append(context.method)
        return await call_next(context)


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_a_first_call_is_preceded_by_the_servers_own_listing_as_in_fastmcp(
    protocol: str,
) -> None:
    """FastMCP's low-level server lists the tools (through the middleware) before a call of
    a tool it has not seen listed; the client then lists them to read the output schema.
    Middleware sees both, once per tool name; a tool listed since is called straight."""
    import anyio

    seen = Seen()
    with anyio.fail_after(10):
        async with Client(make_server(seen), protocol=protocol) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
            assert (await client.call_tool("add", {"a": 2, "b": 2})).data == 4
            assert seen.methods == [
                "initialize",
                "tools/list",  # the server's own, before the first call
                "tools/call",
                "tools/list",  # the client's, for the output schema
                "tools/call",
            ]
            seen.methods.clear()
            assert (await client.call_tool("secret_tool", {})).data == "hidden"
            assert seen.methods == ["tools/call"]  # listed by then
            with pytest.raises(Exception, match="nope"):
                await client.call_tool("nope", {})
            # a name no listing has: FastMCP's server lists again, at each such call
            assert seen.methods[1:] == ["tools/list", "tools/call"]


async def test_a_server_without_middleware_makes_no_listing_of_its_own() -> None:
    import anyio

    mcp = make_server()
    with anyio.fail_after(10):
        async with Client(mcp) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
    assert mcp.tool_manager.named_in_listing == set()


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_a_rate_limit_tuned_on_fastmcp_trips_where_it_trips_there(protocol: str) -> None:
    """FastMCP's own figures (its rate-limit tests): a burst of 6 lets 3 calls through and
    refuses the 4th (1 introduction + 2 listings + 3 calls), over HTTP as in memory."""
    import anyio

    from tests.wire import serving
    from trimcp.exceptions import ToolError
    from trimcp.server.middleware.rate_limiting import RateLimitingMiddleware

    mcp = make_server(RateLimitingMiddleware(max_requests_per_second=0.01, burst_capacity=6))
    with anyio.fail_after(20):
        async with serving(mcp) as (address, _):
            url = f"http://127.0.0.1:{address.port}/mcp"
            async with Client(url, protocol=protocol) as client:
                for n in range(3):
                    assert (await client.call_tool("add", {"a": n, "b": 1})).data == n + 1
                with pytest.raises(ToolError, match="Rate limit exceeded"):
                    await client.call_tool("add", {"a": 9, "b": 1})


async def test_no_listing_of_its_own_when_no_hook_would_see_it() -> None:
    """Middleware that hooks only `on_call_tool`: a listing would pass no hook, so the server
    makes none before calls; the client's own listing still fills the cache of names, and a
    mounted server's list hooks count as seeing it."""
    import anyio

    class CallsOnly(Middleware):
        def __init__(self) -> None:
            self.calls = 0

        async def on_call_tool(self, context: MiddlewareContext, call_next):
            self.calls += 1
            return await call_next(context)

    class ListsSeen(Middleware):
        def __init__(self) -> None:
            self.lists = 0

        async def on_list_tools(self, context: MiddlewareContext, call_next):
            self.lists += 1
            return await call_next(context)

    calls_only = CallsOnly()
    mcp = make_server(calls_only)
    with anyio.fail_after(10):
        async with Client(mcp) as client:
            for _ in range(3):
                await client.call_tool_mcp("secret_tool", {})  # no output schema read
    assert calls_only.calls == 3 and mcp.tool_manager.named_in_listing == set()

    child_lists = ListsSeen()
    child = FastMCP("child", middleware=[child_lists])

    @child.tool(output_schema=None)
    def ping() -> str:
        return "pong"

    parent = make_server(CallsOnly())
    parent.mount(child, prefix="c")
    with anyio.fail_after(10):
        async with Client(parent) as client:
            for _ in range(3):
                await client.call_tool_mcp("c_ping", {})
    assert child_lists.lists == 1  # the parent's own listing, once: then the name is known
    assert "c_ping" in parent.tool_manager.named_in_listing
