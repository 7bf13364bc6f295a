"""Proxies: FastMCP.as_proxy / create_proxy over in-memory, stdio and MCPConfig backends, and
the relays (logs, progress, sampling, elicitation, roots) between the two clients."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from tests.wire import gone, serving
from trimcp import Client, Context, FastMCP
from trimcp.client.transports import StdioTransport
from trimcp.exceptions import McpError, ToolError
from trimcp.mcp_config import MCPConfig
from trimcp.server.proxy import FastMCPProxy, ProxyTool, create_proxy, expand_template

pytestmark = pytest.mark.anyio

SRC = str(Path(__file__).resolve().parents[1] / "src")

BACKEND_SCRIPT = textwrap.dedent(
    """
    import os
    from trimcp import FastMCP, Context

    mcp = FastMCP(os.environ.get("SERVER_NAME", "backend"))

    @mcp.tool
    def pid() -> int:
        return os.getpid()

    @mcp.tool
    def echo(text: str) -> str:
        return text

    @mcp.resource("data://name")
    def name() -> str:
        return mcp.name

    if __name__ == "__main__":
        mcp.run(show_banner=False)
    """
)


def backend() -> FastMCP:
    server = FastMCP("backend")

    @server.tool(tags={"math"})
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool
    def fail() -> str:
        raise ToolError("nope")

    @server.tool
    async def chatty(ctx: Context) -> str:
        await ctx.info("working")
        await ctx.report_progress(1, 3)
        await ctx.report_progress(3, 3)
        return "done"

    @server.tool
    async def ask(ctx: Context) -> str:
        result = await ctx.elicit("Your name?", str)
        return f"{result.action}:{getattr(result, 'data', None)}"

    @server.tool
    async def think(ctx: Context) -> str:
        reply = await ctx.sample("2+2?")
        return reply.text

    @server.tool
    async def roots(ctx: Context) -> list[str]:
        return [str(r.uri) for r in await ctx.list_roots()]

    @server.resource("data://static")
    def static() -> str:
        return "static"

    @server.resource("data://item/{id}{?fmt}")
    def item(id: str, fmt: str = "plain") -> str:
        return f"item {id} {fmt}"

    @server.prompt
    def greet(name: str) -> str:
        return f"Hello {name}"

    @server.completion
    async def complete(ref, argument, context):
        return ["alpha", "beta"]

    return server


def write_script(tmp_path: Path) -> Path:
    script = tmp_path / "backend_server.py"
    script.write_text(BACKEND_SCRIPT)
    return script


def stdio(script: Path, name: str = "backend") -> StdioTransport:
    return StdioTransport(
        sys.executable, [str(script)], env={"PYTHONPATH": SRC, "SERVER_NAME": name}
    )


# -- in-memory backend -----------------------------------------------------------------------


async def test_as_proxy_of_a_fastmcp_forwards_everything() -> None:
    proxy = FastMCP.as_proxy(backend(), name="P")
    assert isinstance(proxy, FastMCPProxy)
    with anyio.fail_after(10):
        async with Client(proxy) as client:
            names = [t.name for t in await client.list_tools()]
            assert "add" in names and "chatty" in names
            assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
            result = await client.call_tool_mcp("fail", {})
            assert result.isError and result.content[0].text == "nope"
            assert (await client.read_resource("data://static"))[0].text == "static"
            templates = await client.list_resource_templates()
            assert [t.uriTemplate for t in templates] == ["data://item/{id}{?fmt}"]
            contents = await client.read_resource("data://item/7?fmt=json")
            assert contents[0].text == "item 7 json"
            assert contents[0].uri == "data://item/7?fmt=json"
            prompt = await client.get_prompt("greet", {"name": "Ann"})
            assert prompt.messages[0].content.text == "Hello Ann"
            completion = await client.complete(
                {"type": "ref/prompt", "name": "greet"}, {"name": "name", "value": "a"}
            )
            assert completion.values == ["alpha", "beta"]


async def test_proxy_tags_from_backend_meta_drive_filters() -> None:
    proxy = create_proxy(backend(), include_tags={"math"})
    with anyio.fail_after(10):
        async with Client(proxy) as client:
            assert [t.name for t in await client.list_tools()] == ["add"]
            with pytest.raises(McpError):
                await client.call_tool_mcp("chatty", {})


async def test_get_tools_outside_a_lifespan_lists_the_backend() -> None:
    server = backend()
    proxy = FastMCP.as_proxy(Client(server))
    tools = await proxy.get_tools()
    assert isinstance(tools["add"], ProxyTool)
    assert (await proxy.call_tool("add", {"a": 1, "b": 1})).structured_content == {"result": 2}


async def test_backend_list_changes_reach_the_proxy() -> None:
    server = backend()
    proxy = FastMCP.as_proxy(server)
    changed = anyio.Event()

    async def on_message(message) -> None:
        if message.method == "notifications/tools/list_changed":
            changed.set()

    with anyio.fail_after(10):
        async with Client(proxy, message_handler=on_message, protocol="legacy") as client:
            server.tool(lambda: "new", name="fresh")
            await changed.wait()
            assert "fresh" in [t.name for t in await client.list_tools()]
            assert (await client.call_tool("fresh")).content[0].text == "new"


async def test_unknown_names_are_forwarded() -> None:
    server = backend()
    proxy = FastMCP.as_proxy(Client(server))
    with anyio.fail_after(10):
        async with Client(proxy) as client:
            proxy._backend._remote["tools"].clear()  # simulate a stale cache
            proxy.tool_manager._tools.pop("add")
            assert (await client.call_tool("add", {"a": 1, "b": 2})).content[0].text == "3"
            with pytest.raises(McpError, match="Unknown tool: missing"):  # the backend's answer
                await client.call_tool_mcp("missing", {})


async def test_local_tools_on_a_proxy_shadow_remote_ones() -> None:
    proxy = FastMCP.as_proxy(backend())
    proxy.tool(lambda a, b: "local", name="add")
    with anyio.fail_after(10):
        async with Client(proxy) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).content[0].text == "local"


# -- relays ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_proxy_relays_logs_and_progress(protocol: str) -> None:
    proxy = FastMCP.as_proxy(backend())
    logs: list[str] = []
    progress: list[tuple[float, float | None]] = []

    async def on_log(message) -> None:
        logs.append(message.data["msg"])

    async def on_progress(done, total, message) -> None:
        progress.append((done, total))

    with anyio.fail_after(10):
        async with Client(proxy, log_handler=on_log, protocol=protocol) as client:
            result = await client.call_tool("chatty", progress_handler=on_progress)
    assert result.content[0].text == "done"
    assert logs == ["working"]
    assert progress == [(1, 3), (3, 3)]


async def test_proxy_relays_elicitation_sampling_and_roots() -> None:
    proxy = FastMCP.as_proxy(backend())
    asked: list[str] = []

    async def on_elicit(message, response_type, params, context):
        asked.append(message)
        return response_type(value="Ann") if response_type is not None else {}

    async def on_sample(messages, params, context) -> str:
        return "four"

    with anyio.fail_after(10):
        async with Client(
            proxy,
            elicitation_handler=on_elicit,
            sampling_handler=on_sample,
            roots=["file:///workspace"],
            protocol="legacy",
        ) as client:
            assert (await client.call_tool("ask")).data == "accept:Ann"
            assert (await client.call_tool("think")).data == "four"
            assert (await client.call_tool("roots")).data == ["file:///workspace"]
    assert asked == ["Your name?"]


async def test_relays_go_to_the_request_that_caused_them() -> None:
    server = FastMCP("backend")
    gate = anyio.Event()

    @server.tool
    async def who(name: str, ctx: Context) -> str:
        if name == "slow":
            await gate.wait()
        await ctx.info(f"log for {name}")
        return name

    proxy = FastMCP.as_proxy(server)
    logs: dict[str, list[str]] = {"slow": [], "fast": []}

    def handler_for(name):
        async def on_log(message) -> None:
            logs[name].append(message.data["msg"])

        return on_log

    with anyio.fail_after(10):
        async with Client(proxy, log_handler=handler_for("slow"), protocol="legacy") as slow:
            async with Client(proxy, log_handler=handler_for("fast"), protocol="legacy") as fast:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(slow.call_tool, "who", {"name": "slow"})
                    await fast.call_tool("who", {"name": "fast"})
                    gate.set()
    assert logs == {"slow": ["log for slow"], "fast": ["log for fast"]}


# -- stdio and MCPConfig ---------------------------------------------------------------------


async def test_proxy_of_a_stdio_script_leaves_no_process(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    proxy = FastMCP.as_proxy(Client(stdio(script)))
    with anyio.fail_after(30):
        async with Client(proxy) as client:
            pid = (await client.call_tool("pid")).data
            assert (await client.call_tool("echo", {"text": "hi"})).data == "hi"
            assert (await client.call_tool("pid")).data == pid  # one session, reused
            assert not gone(pid)
    assert gone(pid)


async def test_proxy_of_a_script_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = write_script(tmp_path)
    monkeypatch.setenv("PYTHONPATH", SRC)
    proxy = create_proxy(str(script))
    with anyio.fail_after(30):
        async with Client(proxy) as client:
            assert (await client.call_tool("echo", {"text": "path"})).data == "path"


async def test_mcpconfig_proxy_of_two_servers(tmp_path: Path) -> None:
    script = write_script(tmp_path)
    env = {"PYTHONPATH": SRC}
    config = {
        "mcpServers": {
            "one": {
                "command": sys.executable,
                "args": [str(script)],
                "env": {**env, "SERVER_NAME": "one"},
            },
            "two": {
                "command": sys.executable,
                "args": [str(script)],
                "env": {**env, "SERVER_NAME": "two"},
            },
        }
    }
    proxy = FastMCP.as_proxy(config)
    with anyio.fail_after(30):
        async with Client(proxy) as client:
            names = {t.name for t in await client.list_tools()}
            assert {"one_echo", "two_echo", "one_pid", "two_pid"} <= names
            assert (await client.read_resource("data://one/name"))[0].text == "one"
            assert (await client.read_resource("data://two/name"))[0].text == "two"
            pids = [(await client.call_tool(f"{n}_pid")).data for n in ("one", "two")]
            assert pids[0] != pids[1]
    assert all(gone(pid) for pid in pids)


def test_mcpconfig_parsing() -> None:
    config = MCPConfig.from_dict(
        {
            "mcpServers": {
                "local": {"command": "python", "args": ["s.py"], "env": {"A": "1"}},
                "remote": {"url": "https://example.com/mcp", "headers": {"X": "y"}},
                "legacy": {"url": "https://example.com/sse"},
            }
        }
    )
    transports = config.transports()
    assert isinstance(transports["local"], StdioTransport)
    assert transports["local"].args == ["s.py"]
    assert type(transports["remote"]).__name__ == "StreamableHttpTransport"
    assert type(transports["legacy"]).__name__ == "SSETransport"
    with pytest.raises(ValueError):
        MCPConfig.from_dict({"mcpServers": {"bad": {}}})


# -- mounting proxies ------------------------------------------------------------------------


async def test_mounting_a_proxy_and_importing_one() -> None:
    remote = FastMCP.as_proxy(backend())
    main = FastMCP("main")
    main.mount(remote, prefix="remote")
    imported = FastMCP("imported")
    await imported.import_server(FastMCP.as_proxy(backend()), prefix="imp")
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert (await client.call_tool("remote_add", {"a": 1, "b": 1})).data == 2
            contents = await client.read_resource("data://remote/item/3")
            assert contents[0].text == "item 3 plain"
        async with Client(imported) as client:
            assert (await client.call_tool("imp_add", {"a": 2, "b": 2})).data == 4
            assert (await client.read_resource("data://imp/item/5"))[0].text == "item 5 plain"


def test_expand_template() -> None:
    assert expand_template("data://item/{id}{?fmt}", {"id": "a b", "fmt": "x"}) == (
        "data://item/a%20b?fmt=x"
    )
    assert expand_template("data://item/{id}{?fmt}", {"id": "1"}) == "data://item/1"
    assert expand_template("file:///{+path}", {"path": "a/b"}) == "file:///a/b"


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_proxy_of_an_http_server_relays_calls_and_elicitation(protocol: str) -> None:
    remote = backend()
    asked: list[str] = []

    async def on_elicit(message, response_type, params, context):
        asked.append(message)
        return response_type(value="Ann") if response_type is not None else {}

    async with serving(remote, wait=20) as (address, _):
        proxy = FastMCP.as_proxy(address.url)
        async with Client(proxy, elicitation_handler=on_elicit, protocol=protocol) as client:
            names = {tool.name for tool in await client.list_tools()}
            assert {"ask", "think", "roots"} <= names
            assert (await client.call_tool("ask")).data == "accept:Ann"
            assert asked == ["Your name?"]
