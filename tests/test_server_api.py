"""The FastMCP server API without a transport: decorators, registries, introspection."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.exceptions import McpError, NotFoundError, ToolError

pytestmark = pytest.mark.anyio


def test_decorator_forms_return_the_component():
    # FastMCP 2.13's decorators return the tool (prompt, resource) they registered
    from trimcp.prompts.prompt import FunctionPrompt
    from trimcp.tools.tool import FunctionTool

    mcp = FastMCP("t")

    def plain(x: int) -> int:
        return x

    tool = mcp.tool(plain)
    assert isinstance(tool, FunctionTool) and tool is mcp.tool_manager.registry.get("plain")

    @mcp.tool
    def bare() -> str:
        return "b"

    @mcp.tool()
    def called() -> str:
        return "c"

    @mcp.tool("renamed")
    def original() -> str:
        return "r"

    @mcp.tool(name="kw", description="described", tags={"a"})
    def keyword() -> str:
        return "k"

    assert (bare.name, called.name, original.name, keyword.name) == (
        "bare",
        "called",
        "renamed",
        "kw",
    )
    assert set(mcp.tool_manager.registry.all()) == {"plain", "bare", "called", "renamed", "kw"}
    assert mcp.tool_manager.registry.get("kw").description == "described"

    @mcp.prompt
    def greet() -> str:
        return "hi"

    assert isinstance(greet, FunctionPrompt) and greet.name == "greet"


async def test_introspection_without_transport():
    mcp = FastMCP("t")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.resource("data://v")
    def value() -> str:
        return "V"

    @mcp.resource("items://{item_id}")
    def item(item_id: int) -> dict:
        return {"id": item_id}

    @mcp.prompt
    def hello(name: str) -> str:
        return f"hi {name}"

    assert list(await mcp.get_tools()) == ["add"]
    assert [t.name for t in await mcp.list_tools()] == ["add"]
    result = await mcp.call_tool("add", {"a": 1, "b": 2})
    assert result.structured_content == {"result": 3}
    contents = await mcp.read_resource("data://v")
    assert contents[0].text == "V"
    templated = await mcp.read_resource("items://7")
    assert templated[0].text == '{"id":7}'
    rendered = await mcp.render_prompt("hello", {"name": "ann"})
    assert rendered.messages[0].content.text == "hi ann"
    with pytest.raises(NotFoundError):
        await mcp.call_tool("nope", {})


async def test_tool_error_message_reaches_the_client_and_masking_hides_unexpected_errors():
    for masked in (False, True):
        mcp = FastMCP("t", mask_error_details=masked)

        @mcp.tool
        def expected() -> str:
            raise ToolError("told you")

        @mcp.tool
        def unexpected() -> str:
            raise RuntimeError("secret detail")

        async with Client(mcp) as client:
            result = await client.call_tool("expected", raise_on_error=False)
            assert result.is_error and result.content[0].text == "told you"
            result = await client.call_tool("unexpected", raise_on_error=False)
            assert result.is_error
            assert ("secret detail" in result.content[0].text) is not masked


async def test_include_and_exclude_tags_hide_components():
    mcp = FastMCP("t", include_tags={"public"}, exclude_tags={"beta"})

    @mcp.tool(tags={"public"})
    def shown() -> str:
        return "s"

    @mcp.tool(tags={"public", "beta"})
    def beta() -> str:
        return "b"

    @mcp.tool
    def untagged() -> str:
        return "u"

    async with Client(mcp) as client:
        assert [t.name for t in await client.list_tools()] == ["shown"]
        with pytest.raises(McpError) as caught:
            await client.call_tool("beta")
        assert caught.value.code == -32602


async def test_disable_and_enable_by_tag():
    mcp = FastMCP("t")

    @mcp.tool(tags={"admin"})
    def reset() -> str:
        return "done"

    mcp.disable(tags={"admin"})
    assert await mcp.get_tools() == {}
    mcp.enable(tags={"admin"})
    assert list(await mcp.get_tools()) == ["reset"]
    mcp.disable(keys={"tool:reset"})
    assert await mcp.get_tools() == {}


@pytest.mark.parametrize("behavior", ["warn", "replace", "ignore", "error"])
def test_duplicate_policies(behavior: str):
    mcp = FastMCP("t", on_duplicate_tools=behavior)

    def first() -> str:
        return "1"

    def second() -> str:
        return "2"

    mcp.tool(first, name="same")
    if behavior == "error":
        with pytest.raises(ValueError):
            mcp.tool(second, name="same")
        return
    mcp.tool(second, name="same")
    winner = mcp.tool_manager.registry.get("same").fn
    assert winner is (first if behavior == "ignore" else second)


async def test_remove_tool():
    mcp = FastMCP("t")

    @mcp.tool
    def gone() -> str:
        return "x"

    mcp.remove_tool("gone")
    assert await mcp.get_tools() == {}
    with pytest.raises(NotFoundError):
        mcp.remove_tool("gone")


async def test_run_inside_a_running_loop_is_a_clear_error():
    mcp = FastMCP("t")
    with pytest.raises(RuntimeError, match="run_async"):
        mcp.run()


async def test_lifespan_runs_once_for_concurrent_clients_and_reaches_context():
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server):
        events.append("enter")
        yield {"db": "connected"}
        events.append("exit")

    mcp = FastMCP("t", lifespan=lifespan)

    @mcp.tool
    def db(ctx: Context) -> str:
        return ctx.lifespan_context["db"]

    async with Client(mcp) as a, Client(mcp) as b:
        assert (await a.call_tool("db")).data == "connected"
        assert (await b.call_tool("db")).data == "connected"
    assert events == ["enter", "exit"]


async def test_adding_a_tool_notifies_connected_handshake_clients():
    mcp = FastMCP("t")
    seen = anyio.Event()

    async def on_message(message):
        if getattr(
            message, "method", None
        ) == "notifications/tools/list_changed" or "list_changed" in repr(message):
            seen.set()

    async with Client(mcp, protocol="legacy", message_handler=on_message) as client:
        await client.list_tools()

        @mcp.tool
        def late() -> str:
            return "late"

        with anyio.fail_after(5):
            await seen.wait()
        assert "late" in [t.name for t in await client.list_tools()]


async def test_sync_tools_run_concurrently_in_worker_threads():
    import threading

    mcp = FastMCP("t")
    barrier = threading.Barrier(3, timeout=5)

    @mcp.tool
    def meet() -> str:
        barrier.wait()  # three calls must be in flight at once, each in its own thread
        return threading.get_ident()

    async with Client(mcp) as client:
        names: list[int] = []

        async def call() -> None:
            names.append((await client.call_tool("meet")).data)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(call)
    assert len(set(names)) == 3 and threading.get_ident() not in names


async def test_run_in_thread_false_runs_a_sync_tool_on_the_loop_thread():
    """FastMCP 4's `run_in_thread=False`: the sync function runs inline on the event loop's
    thread (thread affinity, or a call quicker than a hand-over); its context, errors and
    awaitable results are served as a worker's would be; async tools ignore the option."""
    import threading

    from trimcp.tools import FunctionTool, Tool

    mcp = FastMCP("t")

    @mcp.tool(run_in_thread=False)
    def here(ctx: Context) -> int:
        assert ctx.request_id is not None
        return threading.get_ident()

    @mcp.tool
    def there() -> int:
        return threading.get_ident()

    @mcp.tool(run_in_thread=False)
    def fails() -> int:
        raise ToolError("inline failure")

    @mcp.tool(run_in_thread=False)
    def later() -> Any:
        async def value() -> int:
            return 7

        return value()  # an awaitable, awaited as from a worker

    @mcp.tool(run_in_thread=False)
    async def coro() -> int:
        return threading.get_ident()

    tools = await mcp.get_tools()
    assert tools["here"].run_in_thread is False and tools["there"].run_in_thread is True
    assert tools["coro"].run_in_thread is False  # as given; ignored for a coroutine function
    assert FunctionTool.from_function(there.fn).run_in_thread is True
    assert Tool.from_function(there.fn, run_in_thread=False).run_in_thread is False

    with anyio.fail_after(10):
        async with Client(mcp) as client:
            loop_thread = threading.get_ident()
            assert (await client.call_tool("here")).data == loop_thread
            assert (await client.call_tool("there")).data != loop_thread
            assert (await client.call_tool("coro")).data == loop_thread
            assert (await client.call_tool("later")).content[0].text == "7"
            failed = await client.call_tool("fails", raise_on_error=False)
            assert failed.is_error and failed.content[0].text == "inline failure"

    with pytest.raises(TypeError):
        mcp.tool(run_in_threads=False)  # a misspelt option is still refused


async def test_run_in_thread_is_settable_copies_apart_and_holds_through_a_mount():
    import contextvars
    import threading

    seen: contextvars.ContextVar[str] = contextvars.ContextVar("seen", default="unset")
    child = FastMCP("child")

    @child.tool(run_in_thread=False)
    def where() -> int:
        seen.set("set by the tool")  # stays with the call, as in a worker
        return threading.get_ident()

    parent = FastMCP("parent")
    parent.mount(child, prefix="c")
    original = (await child.get_tools())["where"]
    threaded = original.copy(run_in_thread=True)
    assert threaded.run_in_thread is True and original.run_in_thread is False
    threaded.run_in_thread = False
    assert threaded.run_in_thread is False and "run_in_thread" not in threaded.model_dump()

    with anyio.fail_after(10):
        async with Client(parent) as client:
            loop_thread = threading.get_ident()
            assert (await client.call_tool("c_where")).data == loop_thread
    assert seen.get() == "unset"
    assert (await original.copy(run_in_thread=True).run({})).structured_content != {
        "result": threading.get_ident()
    }


async def test_a_lifespan_that_fails_to_start_fails_every_waiting_entry():
    from trimcp.runtime.shared import SharedContext

    started = anyio.Event()

    @asynccontextmanager
    async def broken():
        started.set()
        await anyio.lowlevel.checkpoint()
        raise OSError("database down")
        yield  # pragma: no cover

    shared = SharedContext(broken)
    errors: list[BaseException] = []

    async def enter() -> None:
        try:
            async with shared.enter():
                pass
        except (OSError, RuntimeError) as exc:
            errors.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(enter)
            await started.wait()
            tg.start_soon(enter)  # waits for the first, which fails: it must not hang
    # the second entry either waited and was told the start failed, or came after and tried
    # again itself: never a hang
    assert len(errors) == 2 and isinstance(errors[0], OSError)
