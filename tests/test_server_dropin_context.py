"""A request's `Context` as FastMCP 2.13 programs use it (issue 16): log data,
`ctx.read_resource`, `ctx.request_context`, state shared with middleware, list-changed
notifications in both eras, `ctx.session` and its end, the deprecated `get_http_request`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.exceptions import McpError
from trimcp.resources import ReadResourceContents
from trimcp.server.middleware import Middleware

from .wire import serving

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
WAIT = 10


# -- a request's context ---------------------------------------------------------------------


async def test_a_context_is_current_inside_its_async_with() -> None:
    from trimcp.server.dependencies import get_context

    mcp = FastMCP("t")
    async with Context(mcp) as outer:
        outer.set_state("k", 1)
        assert get_context() is outer
        async with Context(mcp) as inner:
            assert get_context() is inner and inner.get_state("k") == 1
            inner.set_state("k", 2)
        assert get_context() is outer and outer.get_state("k") == 1
    with pytest.raises(RuntimeError):
        get_context()


def _server_of_the_context() -> FastMCP:
    @asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict[str, str]]:
        yield {"db": "connected"}

    mcp = FastMCP("ctx", lifespan=lifespan)

    @mcp.resource("data://text")
    def text() -> str:
        return "hello"

    @mcp.tool
    async def logs(ctx: Context) -> str:
        await ctx.info("plain")
        await ctx.warning("with extra", extra={"n": 1})
        return "logged"

    @mcp.tool
    async def reads(ctx: Context) -> list[Any]:
        contents = await ctx.read_resource("data://text")
        assert all(isinstance(c, ReadResourceContents) for c in contents)
        return [[c.content, c.mime_type] for c in contents]

    @mcp.tool
    def request_facts(ctx: Context) -> dict[str, Any]:
        request = ctx.request_context
        assert request is not None
        return {
            "id": str(request.request_id),
            "user": getattr(request.meta, "user_id", None),
            "db": request.lifespan_context["db"],
        }

    @mcp.tool
    async def changes(ctx: Context) -> str:
        await ctx.send_tool_list_changed()
        await ctx.send_resource_list_changed()
        await ctx.send_prompt_list_changed()
        return "sent"

    return mcp


@pytest.mark.parametrize("protocol", ERAS)
async def test_log_data_is_fastmcps_msg_and_extra(protocol: str) -> None:
    logs: list[tuple[str, Any]] = []

    async def on_log(message: Any) -> None:
        logs.append((message.level, message.data))

    mcp = _server_of_the_context()
    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol, log_handler=on_log) as client:
            assert (await client.call_tool("logs")).data == "logged"
    assert logs == [
        ("info", {"msg": "plain"}),
        ("warning", {"msg": "with extra", "extra": {"n": 1}}),
    ]


@pytest.mark.parametrize("protocol", ERAS)
async def test_read_resource_in_a_tool_gives_read_resource_contents(protocol: str) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_server_of_the_context(), protocol=protocol) as client:
            assert (await client.call_tool("reads")).data == [["hello", "text/plain"]]


@pytest.mark.parametrize("protocol", ERAS)
async def test_request_context_has_fastmcps_fields(protocol: str) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_server_of_the_context(), protocol=protocol) as client:
            facts = (await client.call_tool("request_facts", meta={"user_id": "ada"})).data
    assert facts["user"] == "ada" and facts["db"] == "connected" and facts["id"]


@pytest.mark.parametrize("protocol", ERAS)
async def test_state_set_by_middleware_is_the_tools_and_back(protocol: str) -> None:
    after: list[Any] = []

    class Stateful(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            context.fastmcp_context.set_state("user", "ada")
            result = await call_next(context)
            after.append(context.fastmcp_context.get_state("answer"))
            return result

    mcp = FastMCP("t", middleware=[Stateful()])

    @mcp.tool
    def whoami(ctx: Context) -> str:
        ctx.set_state("answer", 42)
        return ctx.get_state("user")

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            assert (await client.call_tool("whoami")).data == "ada"
    assert after == [42]


_LIST_CHANGED = [
    "notifications/tools/list_changed",
    "notifications/resources/list_changed",
    "notifications/prompts/list_changed",
]


async def _list_changes_seen(client_of: Any) -> list[str]:
    seen: list[str] = []
    all_seen = anyio.Event()

    async def on_message(message: Any) -> None:
        method = getattr(message, "method", None)
        if method in _LIST_CHANGED:
            seen.append(method)
            if len(seen) == len(_LIST_CHANGED):
                all_seen.set()

    with anyio.fail_after(WAIT):
        async with client_of(on_message) as client:
            assert (await client.call_tool("changes")).data == "sent"
            await all_seen.wait()
    return seen


@pytest.mark.parametrize("protocol", ERAS)
async def test_list_changed_from_a_tool_reaches_the_message_handler(protocol: str) -> None:
    mcp = _server_of_the_context()

    def client_of(handler: Any) -> Client:
        return Client(mcp, protocol=protocol, message_handler=handler)

    assert await _list_changes_seen(client_of) == _LIST_CHANGED


@pytest.mark.parametrize("protocol", ERAS)
async def test_list_changed_from_a_tool_reaches_an_http_client(protocol: str) -> None:
    mcp = _server_of_the_context()
    async with serving(mcp, wait=WAIT) as (address, _):
        url = f"http://127.0.0.1:{address.port}/mcp"

        def client_of(handler: Any) -> Client:
            return Client(url, protocol=protocol, message_handler=handler)

        assert sorted(await _list_changes_seen(client_of)) == sorted(_LIST_CHANGED)


async def test_an_unknown_resource_is_fastmcps_unknown_resource() -> None:
    with anyio.fail_after(WAIT):
        async with Client(FastMCP("t")) as client:
            with pytest.raises(McpError, match="Unknown resource: 'data://none'"):
                await client.read_resource("data://none")


@pytest.mark.parametrize("protocol", ERAS)
async def test_a_component_change_is_announced_once_per_request(protocol: str) -> None:
    mcp = FastMCP("t")

    @mcp.tool
    def toggle(ctx: Context) -> str:
        for _ in range(3):  # what enable()/disable() of several tools report
            ctx.notify_list_changed("tools")
        return "toggled"

    seen: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            seen.append(message.method)
            arrived.set()

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol, message_handler=on_message) as client:
            assert (await client.call_tool("toggle")).data == "toggled"
            await arrived.wait()
            await client.ping()  # anything sent after the answer has arrived by now
    assert seen == ["notifications/tools/list_changed"]


async def test_deprecated_context_get_http_request_gives_the_request() -> None:
    mcp = FastMCP("t")

    @mcp.tool
    def path(ctx: Context) -> str:
        with pytest.warns(DeprecationWarning, match=r"Context.get_http_request\(\) is deprecated"):
            try:
                return str(ctx.get_http_request().url.path)
            except RuntimeError as exc:
                return str(exc)

    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            assert (await client.call_tool("path")).data == "No active HTTP request found."
    async with serving(mcp, wait=WAIT) as (address, _):
        async with Client(f"http://127.0.0.1:{address.port}/mcp") as client:
            assert (await client.call_tool("path")).data == "/mcp"


async def _twice_then_from_another_session(mcp: FastMCP, tool: str) -> tuple[Any, Any, Any]:
    """`tool`'s data called twice in one legacy client session, then once in a second one."""
    async with (
        Client(mcp, protocol="legacy") as first,
        Client(mcp, protocol="legacy") as second,
    ):
        a1 = (await first.call_tool(tool)).data
        a2 = (await first.call_tool(tool)).data
        b = (await second.call_tool(tool)).data
    return a1, a2, b


async def test_ctx_session_is_one_object_per_client_session() -> None:
    mcp = FastMCP("t")

    @mcp.tool
    def session_key(ctx: Context) -> int:
        return id(ctx.session)

    with anyio.fail_after(WAIT):
        a1, a2, b = await _twice_then_from_another_session(mcp, "session_key")
    assert a1 == a2 != b
    with pytest.raises(RuntimeError, match="session is not available"):
        _ = Context(mcp).session


@pytest.mark.parametrize("over", ["memory", "http"])
async def test_a_session_close_callback_runs_when_the_client_session_ends(over: str) -> None:
    ended = anyio.Event()
    mcp = FastMCP("t")

    @mcp.tool
    def bind(ctx: Context) -> str:
        ctx.session.at_close(ended.set)
        return "bound"

    async def use(target: Any) -> None:
        async with Client(target, protocol="legacy") as client:
            assert (await client.call_tool("bind")).data == "bound"
            assert not ended.is_set()

    with anyio.fail_after(WAIT):
        if over == "memory":
            await use(mcp)
        else:
            async with serving(mcp, wait=WAIT) as (address, _):
                await use(f"http://127.0.0.1:{address.port}/mcp")
                await ended.wait()
        await ended.wait()


async def test_session_id_is_made_up_per_session_where_the_transport_has_none() -> None:
    import uuid

    mcp = FastMCP("t")

    @mcp.tool
    def session_id(ctx: Context) -> str | None:
        return ctx.session_id

    with anyio.fail_after(WAIT):
        a1, a2, b = await _twice_then_from_another_session(mcp, "session_id")
        async with Client(mcp, protocol="modern") as modern:
            assert (await modern.call_tool("session_id")).data is None  # 2026-07-28: no sessions
    assert a1 == a2 != b and uuid.UUID(a1)
    async with serving(mcp, wait=WAIT) as (address, _):
        async with Client(f"http://127.0.0.1:{address.port}/mcp", protocol="legacy") as client:
            assert (await client.call_tool("session_id")).data == client.transport.session_id
