"""A mounted server's middleware runs for the calls routed to its components (FastMCP 2.13):
parent middleware, then each mounted server's on the way down, then the component; a hook
sees the key as its own server knows it. A child's middleware does not run for the parent's
own components.

Listings too: a mounted server's list hooks see and return its own components (under its
keys), the parent's list hooks see everything it lists (mounted components under their
prefixed keys) and may change or filter them; on every transport and in both eras (in
memory and over HTTP on a real hypercorn server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.server.middleware import Middleware, MiddlewareContext
from trimcp.utilities.tests import run_server_async

pytestmark = pytest.mark.anyio

WAIT = 10


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


# -- listings ----------------------------------------------------------------------------------


LIST_HOOKS = ("on_list_tools", "on_list_resources", "on_list_resource_templates", "on_list_prompts")


class ListRecorder(Middleware):
    """Records the keys each list hook receives, and drops the components tagged `hide`
    that belong to its `own` server's hooks (as a tag filter would)."""

    def __init__(self, name: str, log: list[tuple[str, str, tuple[str, ...]]]) -> None:
        self.name = name
        self.log = log

    async def _listed(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        listed = await call_next(context)
        self.log.append((self.name, str(context.method), tuple(c.key for c in listed)))
        return [c for c in listed if f"hide-{self.name}" not in c.tags]

    on_list_tools = on_list_resources = _listed
    on_list_resource_templates = on_list_prompts = _listed


def listing_servers(log: list[tuple[str, str, tuple[str, ...]]]) -> FastMCP:
    parent, child, grand = FastMCP("parent"), FastMCP("child"), FastMCP("grand")

    @parent.tool
    def own() -> int:
        return 1

    @child.tool
    def add(a: int, b: int) -> int:
        return a + b

    @child.tool(tags={"hide-child"})
    def child_secret() -> str:
        return "hidden by the child's own middleware"

    @child.tool(tags={"hide-parent"})
    def parent_secret() -> str:
        return "hidden by the parent's middleware"

    @child.resource("data://info")
    def info() -> str:
        return "child info"

    @child.resource("data://{name}/detail")
    def detail(name: str) -> str:
        return name

    @child.prompt
    def greet(who: str) -> str:
        return f"hello {who}"

    @grand.tool
    def deep() -> str:
        return "deep"

    @grand.tool(tags={"hide-grand"})
    def grand_secret() -> str:
        return "hidden by the grandchild's middleware"

    child.mount(grand, prefix="g")
    parent.mount(child, prefix="c")
    parent.add_middleware(ListRecorder("parent", log))
    child.add_middleware(ListRecorder("child", log))
    grand.add_middleware(ListRecorder("grand", log))
    return parent


@asynccontextmanager
async def connected(server: FastMCP, transport: str, protocol: str) -> AsyncIterator[Client]:
    if transport == "memory":
        async with Client(server, protocol=protocol) as client:  # type: ignore[arg-type]
            yield client
    else:
        async with run_server_async(server) as url:
            async with Client(url, protocol=protocol) as client:  # type: ignore[arg-type]
                yield client


TRANSPORTS = pytest.mark.parametrize("transport", ["memory", "http"])
ERAS = pytest.mark.parametrize("protocol", ["legacy", "modern"])


@TRANSPORTS
@ERAS
async def test_list_hooks_of_each_server_see_their_own_keys_and_filter(
    transport: str, protocol: str
) -> None:
    log: list[tuple[str, str, tuple[str, ...]]] = []
    with anyio.fail_after(WAIT):
        async with connected(listing_servers(log), transport, protocol) as client:
            log.clear()
            names = [tool.name for tool in await client.list_tools()]
    # each server's hooks dropped what they were asked to; the others' hooks never saw it
    assert names == ["own", "c_add", "c_g_deep"]
    assert log == [
        ("grand", "tools/list", ("deep", "grand_secret")),
        ("child", "tools/list", ("add", "child_secret", "parent_secret", "g_deep")),
        ("parent", "tools/list", ("own", "c_add", "c_parent_secret", "c_g_deep")),
    ]


@TRANSPORTS
@ERAS
async def test_resources_templates_and_prompts_listings_pass_each_servers_hooks(
    transport: str, protocol: str
) -> None:
    log: list[tuple[str, str, tuple[str, ...]]] = []
    with anyio.fail_after(WAIT):
        async with connected(listing_servers(log), transport, protocol) as client:
            log.clear()
            resources = [str(r.uri) for r in await client.list_resources()]
            templates = [t.uriTemplate for t in await client.list_resource_templates()]
            prompts = [p.name for p in await client.list_prompts()]
    assert (resources, templates, prompts) == (
        ["data://c/info"],
        ["data://c/{name}/detail"],
        ["c_greet"],
    )
    by_method: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for server, method, keys in log:
        by_method.setdefault(method, []).append((server, keys))
    assert by_method["resources/list"] == [
        ("grand", ()),
        ("child", ("data://info",)),
        ("parent", ("data://c/info",)),
    ]
    assert by_method["resources/templates/list"] == [
        ("grand", ()),
        ("child", ("data://{name}/detail",)),
        ("parent", ("data://c/{name}/detail",)),
    ]
    assert by_method["prompts/list"] == [
        ("grand", ()),
        ("child", ("greet",)),
        ("parent", ("c_greet",)),
    ]


@TRANSPORTS
@ERAS
async def test_a_childs_list_hooks_run_when_the_parent_has_no_middleware(
    transport: str, protocol: str
) -> None:
    parent, child = FastMCP("parent"), FastMCP("child")

    @parent.tool
    def own() -> int:
        return 1

    @child.tool
    def add(a: int, b: int) -> int:
        return a + b

    @child.tool
    def internal() -> str:
        return "not for the parent's clients"

    class Describe(Middleware):
        async def on_list_tools(self, context: Any, call_next: Any) -> Any:
            tools = await call_next(context)
            return [
                tool.model_copy(update={"description": f"child's {tool.key}"})
                for tool in tools
                if tool.key != "internal"
            ]

    child.add_middleware(Describe())
    parent.mount(child, prefix="c")
    with anyio.fail_after(WAIT):
        async with connected(parent, transport, protocol) as client:
            tools = {tool.name: tool.description for tool in await client.list_tools()}
            assert (await client.call_tool("c_add", {"a": 2, "b": 3})).data == 5
    assert tools == {"own": None, "c_add": "child's add"}


async def test_a_listing_through_mounted_middleware_keeps_the_catalogs_precedence() -> None:
    """The same names in the same order as a listing without middleware: local keys shadow
    mounted ones, the latest mount wins a key, the parent's own filters apply."""

    def build(with_middleware: bool) -> FastMCP:
        parent = FastMCP("parent", exclude_tags={"parent-hidden"})
        first, second = FastMCP("first"), FastMCP("second")

        @parent.tool
        def shared() -> str:
            return "parent"

        def fill(server: FastMCP) -> None:
            @server.tool(name="shared")
            def child_shared() -> str:
                return "child"

            @server.tool(name="tool")
            def tool() -> str:
                return server.name

            @server.tool(name="hidden", tags={"parent-hidden"})
            def hidden() -> str:
                return "hidden"

        fill(first)
        fill(second)

        @first.tool
        def only_first() -> str:
            return "first"

        parent.mount(first)
        parent.mount(second)
        if with_middleware:
            first.add_middleware(ListRecorder("first", []))
            second.add_middleware(ListRecorder("second", []))
        return parent

    with anyio.fail_after(WAIT):
        async with Client(build(False)) as plain, Client(build(True)) as through:
            expected = [tool.name for tool in await plain.list_tools()]
            assert [tool.name for tool in await through.list_tools()] == expected
            assert (await through.call_tool("tool", {})).data == "second"
    assert expected == ["shared", "tool", "only_first"]


async def test_a_mounted_proxy_lists_its_backend_live_through_its_own_chain() -> None:
    backend = FastMCP("backend")

    @backend.tool
    def first() -> str:
        return "1"

    parent = FastMCP("parent")
    parent.mount(FastMCP.as_proxy(backend), prefix="p")
    log: list[tuple[str, str, tuple[str, ...]]] = []
    parent.add_middleware(ListRecorder("parent", log))
    with anyio.fail_after(WAIT):
        async with Client(parent) as client:
            assert [t.name for t in await client.list_tools()] == ["p_first"]

            @backend.tool
            def second() -> str:
                return "2"

            assert [t.name for t in await client.list_tools()] == ["p_first", "p_second"]
    assert log[-1] == ("parent", "tools/list", ("p_first", "p_second"))
