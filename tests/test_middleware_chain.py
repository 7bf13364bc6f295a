"""The middleware chain is built once per middleware list and method, and shared by every call
of that method: pass-through hooks are not linked, a `__call__` override is honoured as
FastMCP's entry, changes to the server's list take effect at the next request, and the
chain's last step takes the request from the context it is given (two calls at once never
mix)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.core.middleware import ChainCache, Link, compose
from trimcp.server.middleware import CallNext, Middleware, MiddlewareContext

pytestmark = pytest.mark.anyio

WAIT = 10


class PassThrough(Middleware):
    """Overrides no hook."""


class OnTool(Middleware):
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: CallNext) -> Any:
        self.log.append(f"{self.name}:{context.message.name}")
        return await call_next(context)


async def terminal(context: MiddlewareContext[Any]) -> str:
    return "done"


def test_pass_through_middleware_builds_no_chain() -> None:
    assert compose([PassThrough(), PassThrough()], "tools/call", terminal) is None


def test_only_the_overridden_hooks_are_linked_outermost_first() -> None:
    class Both(Middleware):
        async def on_message(self, context: Any, call_next: Any) -> Any:
            return await call_next(context)

        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            return await call_next(context)

    both = Both()
    chain = compose([PassThrough(), both], "tools/call", terminal)
    assert isinstance(chain, Link) and chain.hook == both.on_message
    assert isinstance(chain.call_next, Link) and chain.call_next.hook == both.on_call_tool
    assert chain.call_next.call_next is terminal
    # on_call_tool is not linked for another method
    listing = compose([both], "tools/list", terminal)
    assert isinstance(listing, Link) and listing.call_next is terminal


def test_a_hook_set_on_the_instance_counts_as_overridden() -> None:
    mw = PassThrough()

    async def hook(context: Any, call_next: Any) -> Any:
        return await call_next(context)

    mw.on_call_tool = hook  # type: ignore[method-assign]
    chain = compose([mw], "tools/call", terminal)
    assert isinstance(chain, Link) and chain.hook is hook


def test_the_cache_finds_a_chain_again_until_the_list_changes() -> None:
    cache = ChainCache()
    log: list[str] = []
    middleware: list[Any] = [OnTool("a", log)]
    first = cache.get(middleware, "tools/call", terminal)
    assert first is not None and cache.get(middleware, "tools/call", terminal) is first
    middleware.append(OnTool("b", log))
    second = cache.get(middleware, "tools/call", terminal)
    assert second is not first
    middleware[1] = OnTool("c", log)  # same length, another object
    assert cache.get(middleware, "tools/call", terminal) is not second
    assert cache.get(middleware, "tools/list", terminal) is None  # no hook for a listing


def test_the_cache_is_bounded() -> None:
    cache = ChainCache(limit=4)
    lists = [[OnTool(str(i), [])] for i in range(10)]  # kept alive: ids stay distinct
    for middleware in lists:
        cache.get(middleware, "tools/call", terminal)
    assert len(cache) <= 4


def make_server(*middleware: Any) -> FastMCP:
    mcp = FastMCP("chain", middleware=list(middleware))

    @mcp.tool
    async def echo(text: str) -> str:
        return text

    @mcp.tool
    async def wait_then_echo(text: str, gate: bool = False) -> str:
        return text

    return mcp


async def test_middleware_added_after_serving_started_runs_at_the_next_request() -> None:
    log: list[str] = []
    mcp = make_server(OnTool("first", log))
    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            await client.call_tool("echo", {"text": "x"})
            mcp.add_middleware(OnTool("added", log))
            await client.call_tool("echo", {"text": "y"})
            mcp.middleware.remove(mcp.middleware[0])
            await client.call_tool("echo", {"text": "z"})
            mcp.middleware = []
            await client.call_tool("echo", {"text": "w"})
    assert log == ["first:echo", "first:echo", "added:echo", "added:echo"]


async def test_a_call_override_is_the_entry_and_dispatches_itself() -> None:
    seen: list[tuple[str, str | None]] = []

    class Entry(Middleware):
        async def __call__(self, context: MiddlewareContext[Any], call_next: CallNext) -> Any:
            seen.append(("call", context.method))
            return await super().__call__(context, call_next)

        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            seen.append(("hook", context.message.name))
            return await call_next(context)

    class Plain:
        """Any callable is middleware: called as `mw(context, call_next)`."""

        async def __call__(self, context: Any, call_next: Any) -> Any:
            seen.append(("plain", context.method))
            return await call_next(context)

    with anyio.fail_after(WAIT):
        async with Client(make_server(Entry(), Plain())) as client:
            seen.clear()
            assert (await client.call_tool("echo", {"text": "hi"})).data == "hi"
    calls = [entry for entry in seen if entry[1] != "tools/list"]  # the client lists tools too
    assert calls == [("call", "tools/call"), ("hook", "echo"), ("plain", "tools/call")]


async def test_a_shared_chain_serves_concurrent_calls_each_with_its_own_request() -> None:
    """Two calls of one method are in the chain at once (the first waits in its hook until
    the second got through): each reaches its own tool with its own arguments."""
    second_done = anyio.Event()

    class Holds(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            if context.message.arguments.get("text") == "first":
                with anyio.fail_after(WAIT):
                    await second_done.wait()
            result = await call_next(context)
            if context.message.arguments.get("text") == "second":
                second_done.set()
            return result

    results: dict[str, Any] = {}
    with anyio.fail_after(WAIT):
        async with Client(make_server(Holds(), PassThrough())) as client:

            async def call(text: str) -> None:
                results[text] = (await client.call_tool("echo", {"text": text})).data

            async with anyio.create_task_group() as tg:
                tg.start_soon(call, "first")
                tg.start_soon(call, "second")
    assert results == {"first": "first", "second": "second"}


async def test_a_hook_may_call_next_more_than_once() -> None:
    calls: list[str] = []

    class Twice(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            await call_next(context)
            return await call_next(context.copy(message=context.message))

    class Count(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            calls.append(context.message.name)
            return await call_next(context)

    with anyio.fail_after(WAIT):
        async with Client(make_server(Twice(), Count())) as client:
            assert (await client.call_tool("echo", {"text": "again"})).data == "again"
    assert calls == ["echo", "echo"]


async def test_pass_through_middleware_answers_as_no_middleware_does() -> None:
    from trimcp.exceptions import ToolError

    async with Client(make_server(PassThrough(), PassThrough())) as with_mw:
        async with Client(make_server()) as without:
            with anyio.fail_after(WAIT):
                for client in (with_mw, without):
                    assert (await client.call_tool("echo", {"text": "same"})).data == "same"
                    with pytest.raises(ToolError):
                        await client.call_tool("echo", {})
                    names = [t.name for t in await client.list_tools()]
                    assert names == ["echo", "wait_then_echo"]


def test_a_middleware_context_stamps_its_creation_time_and_stays_frozen() -> None:
    import dataclasses
    import datetime

    context = MiddlewareContext(message={"a": 1}, method="tools/call")
    stamp = context.timestamp
    assert stamp.tzinfo is not None
    assert abs((datetime.datetime.now(datetime.UTC) - stamp).total_seconds()) < 60
    copied = context.copy(method="tools/list")
    assert (copied.method, copied.timestamp, copied.message) == ("tools/list", stamp, {"a": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.method = "x"  # type: ignore[misc]
    given = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    assert MiddlewareContext(message=None, timestamp=given).timestamp == given
    assert [f.name for f in dataclasses.fields(context)] == [
        "message",
        "method",
        "source",
        "type",
        "timestamp",
        "fastmcp_context",
    ]


async def test_a_hook_may_pass_on_a_context_of_its_own_making() -> None:
    """The shared last step finds its request even when a hook built a new context (not
    `context.copy`), here and in a mounted server's chain."""

    class Fresh(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            return await call_next(MiddlewareContext(message=context.message, method="tools/call"))

    parent = make_server(Fresh())
    child = FastMCP("child", middleware=[Fresh()])

    @child.tool
    async def shout(text: str) -> str:
        return text.upper()

    parent.mount(child, prefix="c")
    with anyio.fail_after(WAIT):
        async with Client(parent) as client:
            assert (await client.call_tool("echo", {"text": "own"})).data == "own"
            assert (await client.call_tool("c_shout", {"text": "down"})).data == "DOWN"
