"""A mounted server's middleware runs for the calls routed to its components (FastMCP 2.13):
parent middleware, then each mounted server's on the way down, then the component; a hook
sees the key as its own server knows it. A child's middleware does not run for the parent's
own components."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.server.middleware import Middleware, MiddlewareContext

pytestmark = pytest.mark.anyio


class Recorder(Middleware):
    def __init__(self, name: str, log: list[tuple[str, ...]]) -> None:
        self.name = name
        self.log = log

    async def on_request(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        if context.method in ("tools/call", "prompts/get", "resources/read"):
            key = getattr(context.message, "name", None) or context.message.uri
            self.log.append((self.name, "in", str(key)))
            result = await call_next(context)
            self.log.append((self.name, "out", type(result).__name__))
            return result
        return await call_next(context)


def servers(log: list[tuple[str, ...]], *, child_middleware: bool = True) -> FastMCP:
    parent, child, grand = FastMCP("parent"), FastMCP("child"), FastMCP("grand")

    @parent.tool
    def own() -> int:
        return 1

    @child.tool
    def add(a: int, b: int) -> int:
        return a + b

    @child.resource("data://info")
    def info() -> str:
        return "child info"

    @child.prompt
    def greet(who: str) -> str:
        return f"hello {who}"

    @grand.tool
    def deep() -> str:
        return "deep"

    child.mount(grand, prefix="g")
    parent.mount(child, prefix="c")
    parent.add_middleware(Recorder("parent", log))
    if child_middleware:
        child.add_middleware(Recorder("child", log))
    grand.add_middleware(Recorder("grand", log))
    return parent


async def test_a_call_routed_to_a_mount_runs_the_parents_then_the_childs_middleware() -> None:
    log: list[tuple[str, ...]] = []
    async with Client(servers(log)) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("c_add", {"a": 1, "b": 2})
    assert result.data == 3
    assert log == [
        ("parent", "in", "c_add"),
        ("child", "in", "add"),
        ("child", "out", "ToolResult"),
        ("parent", "out", "ToolResult"),
    ]


async def test_resources_and_prompts_pass_the_childs_middleware_too() -> None:
    log: list[tuple[str, ...]] = []
    async with Client(servers(log)) as client:
        with anyio.fail_after(10):
            contents = await client.read_resource("data://c/info")
            assert [log[0], log[1]] == [
                ("parent", "in", "data://c/info"),
                ("child", "in", "data://info"),
            ]
            log.clear()
            prompt = await client.get_prompt("c_greet", {"who": "x"})
    assert contents[0].text == "child info"
    assert prompt.messages[0].content.text == "hello x"
    assert [log[0], log[1]] == [("parent", "in", "c_greet"), ("child", "in", "greet")]


async def test_nested_mounts_run_each_servers_middleware_in_turn() -> None:
    log: list[tuple[str, ...]] = []
    async with Client(servers(log)) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("c_g_deep", {})
    assert result.data == "deep"
    assert [entry for entry in log if entry[1] == "in"] == [
        ("parent", "in", "c_g_deep"),
        ("child", "in", "g_deep"),
        ("grand", "in", "deep"),
    ]


async def test_a_mount_without_middleware_is_passed_through() -> None:
    log: list[tuple[str, ...]] = []
    async with Client(servers(log, child_middleware=False)) as client:
        with anyio.fail_after(10):
            await client.call_tool("c_g_deep", {})
    assert [entry for entry in log if entry[1] == "in"] == [
        ("parent", "in", "c_g_deep"),
        ("grand", "in", "deep"),
    ]


async def test_the_childs_middleware_does_not_run_for_the_parents_own_components() -> None:
    log: list[tuple[str, ...]] = []
    async with Client(servers(log)) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("own", {})
    assert result.data == 1
    assert log == [("parent", "in", "own"), ("parent", "out", "ToolResult")]


async def test_the_childs_middleware_runs_when_the_parent_has_none() -> None:
    log: list[tuple[str, ...]] = []
    parent, child = FastMCP("parent"), FastMCP("child")

    @child.tool
    def add(a: int, b: int) -> int:
        return a + b

    class Doubling(Middleware):
        async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
            log.append(("child", "in", context.message.name))
            arguments = {k: v * 2 for k, v in context.message.arguments.items()}
            return await call_next(
                context.copy(
                    message=type(context.message)(name=context.message.name, arguments=arguments)
                )
            )

    child.add_middleware(Doubling())
    parent.mount(child, prefix="c")
    async with Client(parent) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("c_add", {"a": 1, "b": 2})
    assert result.data == 6  # the child's hook changed the arguments on their way down
    assert log == [("child", "in", "add")]


async def test_a_childs_hook_may_refuse_the_call() -> None:
    parent, child = FastMCP("parent"), FastMCP("child")

    @child.tool
    def secret() -> str:
        return "s"

    class Refuse(Middleware):
        async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
            from trimcp.exceptions import ToolError

            raise ToolError(f"refused {context.message.name}")

    child.add_middleware(Refuse())
    parent.mount(child, prefix="c")
    async with Client(parent) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("c_secret", {}, raise_on_error=False)
    assert result.is_error
    assert result.content[0].text == "refused secret"


async def test_a_proxy_mount_runs_the_childs_middleware_once() -> None:
    log: list[tuple[str, ...]] = []
    parent, child = FastMCP("parent"), FastMCP("child")

    @child.tool
    def add(a: int, b: int) -> int:
        return a + b

    child.add_middleware(Recorder("child", log))
    parent.mount(child, prefix="c", as_proxy=True)
    async with Client(parent) as client:
        with anyio.fail_after(10):
            result = await client.call_tool("c_add", {"a": 1, "b": 2})
    assert result.data == 3
    assert [entry for entry in log if entry[1] == "in"] == [("child", "in", "add")]
