"""`trimcp.Client` against a real `FastMCP` server in memory, in both eras, on asyncio and trio."""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
import msgspec
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.client import CallToolResult, ElicitResult, FastMCPTransport, infer_transport
from trimcp.client.session import REQUEST_TIMEOUT
from trimcp.exceptions import ClientError, McpError, ToolError
from trimcp.protocol.envelope import CLIENT_CAPABILITIES_KEY, LOG_LEVEL_KEY, PROTOCOL_VERSION_KEY
from trimcp.protocol.versions import LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION
from trimcp.runtime.memory import memory_stream_pair
from trimcp.types import TextContent, TextResourceContents

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]


@dataclasses.dataclass
class User:
    name: str
    age: int


def make_server(**kwargs: Any) -> FastMCP:
    mcp = FastMCP("test-server", instructions="be nice", **kwargs)

    @mcp.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @mcp.tool
    def echo(text: str) -> str:
        return text

    @mcp.tool
    def scores() -> dict[str, int]:
        return {"alice": 3, "bob": 5}

    @mcp.tool
    def user(name: str) -> User:
        return User(name=name, age=42)

    @mcp.tool
    def nothing() -> None:
        return None

    @mcp.tool
    def fail() -> str:
        raise ValueError("it broke")

    @mcp.tool
    async def chatty(ctx: Context) -> str:
        await ctx.info("starting", logger_name="chatty")
        await ctx.report_progress(1, 3, "one")
        await ctx.report_progress(2, 3)
        await ctx.debug("almost")
        await ctx.report_progress(3, 3, "done")
        return "ok"

    @mcp.tool
    async def slow() -> str:
        await anyio.sleep_forever()
        return "never"

    @mcp.resource("data://greeting")
    def greeting() -> str:
        return "hello"

    @mcp.resource("users://{user_id}/profile")
    def profile(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    @mcp.prompt
    def ask(topic: str, count: int = 1) -> str:
        """Ask about a topic."""
        return f"Tell me {count} things about {topic}"

    @mcp.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        return [v for v in ("python", "pytest", "rust") if v.startswith(argument.value)]

    return mcp


@pytest.fixture
def server() -> FastMCP:
    return make_server()


# -- connection and eras ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_connects_and_reports_the_server(server: FastMCP, protocol: str) -> None:
    client = Client(server, protocol=protocol)
    assert not client.is_connected()
    with anyio.fail_after(5):
        async with client:
            assert client.is_connected()
            assert client.server_info is not None and client.server_info.name == "test-server"
            assert client.instructions == "be nice"
            assert await client.ping() is True
            expected = LATEST_HANDSHAKE_VERSION if protocol == "legacy" else LATEST_MODERN_VERSION
            assert client.protocol_version == expected
            assert client.is_modern is (protocol == "auto")
    assert not client.is_connected()


async def test_auto_falls_back_to_the_handshake_when_discover_fails() -> None:
    """A legacy-only server answers `server/discover` with an error: the client initializes."""
    client_end, server_end = memory_stream_pair()
    seen: list[str] = []

    async def legacy_server() -> None:
        while True:
            try:
                message = msgspec.json.decode(await server_end.receive())
            except anyio.EndOfStream:
                return
            seen.append(message.get("method"))
            if "id" not in message:
                continue
            if message["method"] == "initialize":
                result: Any = {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "old", "version": "1"},
                }
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            elif message["method"] == "tools/list":
                assert "_meta" not in message.get("params", {})
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": {"tools": []}}
            else:
                reply = {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {"code": -32601, "message": "nope"},
                }
            await server_end.send(msgspec.json.encode(reply))

    class Pipe(FastMCPTransport):
        def __init__(self) -> None:
            pass

        def connect(self) -> Any:
            from contextlib import asynccontextmanager

            @asynccontextmanager
            async def cm() -> Any:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(legacy_server)
                    yield client_end
                    client_end.close()

            return cm()

    with anyio.fail_after(5):
        async with Client(Pipe()) as client:
            assert client.protocol_version == "2025-06-18"
            assert not client.is_modern
            assert await client.list_tools() == []
    assert seen[:3] == ["server/discover", "initialize", "notifications/initialized"]


async def test_modern_requests_carry_the_envelope(server: FastMCP) -> None:
    seen: list[dict[str, Any]] = []

    @server.tool
    def spy(ctx: Context) -> str:
        assert ctx.request_context is not None
        seen.append(dict(ctx.request_context.envelope.meta or {}))
        return "ok"

    async def on_log(message: Any) -> None:
        pass

    with anyio.fail_after(5):
        async with Client(server, log_handler=on_log, sampling_handler=lambda *a: "x") as client:
            await client.call_tool("spy")
    meta = seen[0]
    assert meta[PROTOCOL_VERSION_KEY] == LATEST_MODERN_VERSION
    assert meta[CLIENT_CAPABILITIES_KEY] == {"sampling": {}}
    assert meta[LOG_LEVEL_KEY] == "debug"


async def test_reentrant_use_shares_one_connection(server: FastMCP) -> None:
    client = Client(server)
    with anyio.fail_after(5):
        async with client:
            session = client.session
            async with client:
                assert client.session is session
            assert client.is_connected()
            assert await client.ping()
        assert not client.is_connected()
        async with client:  # and it reconnects afterwards
            assert await client.ping()


async def test_another_task_can_share_the_connection(server: FastMCP) -> None:
    client = Client(server)
    done = anyio.Event()
    results: list[int] = []

    async def guest() -> None:
        async with client:
            results.append((await client.call_tool("add", {"a": 1, "b": 1})).data)
        done.set()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg, client:
            tg.start_soon(guest)
            await done.wait()
    assert results == [2]


def test_client_is_built_outside_an_event_loop(server: FastMCP) -> None:
    client = Client(server)

    async def main() -> bool:
        async with client:
            return await client.ping()

    assert anyio.run(main)
    assert anyio.run(main, backend="trio")  # the same instance, another event loop


# -- tools -----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_list_and_call_tools(server: FastMCP, protocol: str) -> None:
    with anyio.fail_after(5):
        async with Client(server, protocol=protocol) as client:
            tools = await client.list_tools()
            assert {t.name for t in tools} >= {"add", "echo", "user", "fail"}
            add = next(t for t in tools if t.name == "add")
            assert add.description == "Add two numbers."
            assert add.inputSchema["properties"]["a"]["type"] == "integer"
            result = await client.call_tool("add", {"a": 2, "b": 3})
            assert isinstance(result, CallToolResult)
            assert result.data == 5
            assert result.content == [TextContent(text="5")]
            assert result.is_error is False
            assert (await client.call_tool("echo", {"text": "hi"})).data == "hi"
            raw = await client.call_tool_mcp("add", {"a": 1, "b": 1})
            assert raw.structuredContent == {"result": 2}


@pytest.mark.parametrize("protocol", ERAS)
async def test_data_rebuilds_structured_output(server: FastMCP, protocol: str) -> None:
    with anyio.fail_after(5):
        async with Client(server, protocol=protocol) as client:
            assert (await client.call_tool("scores")).data == {"alice": 3, "bob": 5}
            user = (await client.call_tool("user", {"name": "Ada"})).data
            assert dataclasses.is_dataclass(user)
            assert (user.name, user.age) == ("Ada", 42)
            assert (await client.call_tool("nothing")).data is None


@pytest.mark.parametrize("protocol", ERAS)
async def test_tool_errors_raise_or_return(server: FastMCP, protocol: str) -> None:
    with anyio.fail_after(5):
        async with Client(server, protocol=protocol) as client:
            with pytest.raises(ToolError, match="it broke"):
                await client.call_tool("fail")
            result = await client.call_tool("fail", raise_on_error=False)
            assert result.is_error and result.data is None
            with pytest.raises(McpError, match="Unknown tool"):
                await client.call_tool("no-such-tool")


async def test_call_timeout_raises_mcp_error_and_cancels_on_the_server(server: FastMCP) -> None:
    with anyio.fail_after(5):
        async with Client(server, protocol="legacy") as client:
            with pytest.raises(McpError, match="Timed out") as info:
                await client.call_tool("slow", timeout=0.05)
            assert info.value.code == REQUEST_TIMEOUT
            assert await client.ping()  # the connection is still usable


async def test_client_default_timeout_applies(server: FastMCP) -> None:
    with anyio.fail_after(5):
        async with Client(server, timeout=0.05) as client:
            with pytest.raises(McpError, match="Timed out"):
                await client.call_tool("slow")


async def test_pagination_follows_next_cursor() -> None:
    server = make_server(list_page_size=2)
    with anyio.fail_after(5):
        async with Client(server) as client:
            tools = await client.list_tools()
            assert len(tools) == 8
            assert len({t.name for t in tools}) == 8


# -- resources, prompts, completion ----------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_resources_and_templates(server: FastMCP, protocol: str) -> None:
    with anyio.fail_after(5):
        async with Client(server, protocol=protocol) as client:
            assert [r.uri for r in await client.list_resources()] == ["data://greeting"]
            templates = await client.list_resource_templates()
            assert [t.uriTemplate for t in templates] == ["users://{user_id}/profile"]
            contents = await client.read_resource("data://greeting")
            assert isinstance(contents[0], TextResourceContents) and contents[0].text == "hello"
            profile = await client.read_resource("users://7/profile")
            assert msgspec.json.decode(profile[0].text) == {"id": "7"}
            with pytest.raises(McpError):
                await client.read_resource("data://missing")


@pytest.mark.parametrize("protocol", ERAS)
async def test_prompts(server: FastMCP, protocol: str) -> None:
    with anyio.fail_after(5):
        async with Client(server, protocol=protocol) as client:
            prompts = await client.list_prompts()
            assert [p.name for p in prompts] == ["ask"]
            result = await client.get_prompt("ask", {"topic": "owls", "count": 2})  # int -> "2"
            message = result.messages[0]
            assert isinstance(message.content, TextContent)
            assert message.content.text == "Tell me 2 things about owls"


@pytest.mark.parametrize("protocol", ERAS)
async def test_complete(server: FastMCP, protocol: str) -> None:
    with anyio.fail_after(5):
        async with Client(server, protocol=protocol) as client:
            completion = await client.complete(
                {"type": "ref/prompt", "name": "ask"}, {"name": "topic", "value": "py"}
            )
            assert completion.values == ["python", "pytest"]


# -- logs, progress, notifications -----------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_logs_and_progress_reach_their_handlers(server: FastMCP, protocol: str) -> None:
    logs: list[Any] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_log(message: Any) -> None:
        logs.append((message.level, message.data["msg"], message.logger))

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    with anyio.fail_after(5):
        async with Client(
            server, protocol=protocol, log_handler=on_log, progress_handler=on_progress
        ) as client:
            assert (await client.call_tool("chatty")).data == "ok"
    assert logs == [("info", "starting", "chatty"), ("debug", "almost", None)]
    assert progress == [(1, 3, "one"), (2, 3, None), (3, 3, "done")]


@pytest.mark.parametrize("protocol", ERAS)
async def test_per_call_progress_handler_wins(server: FastMCP, protocol: str) -> None:
    default: list[float] = []
    per_call: list[float] = []
    with anyio.fail_after(5):
        async with Client(
            server, protocol=protocol, progress_handler=lambda p, t, m: default.append(p)
        ) as client:
            await client.call_tool("chatty", progress_handler=lambda p, t, m: per_call.append(p))
    assert per_call == [1, 2, 3]
    assert default == []


async def test_modern_server_sends_no_logs_unless_asked(server: FastMCP) -> None:
    progress: list[float] = []
    with anyio.fail_after(5):
        async with Client(server) as client:
            result = await client.call_tool(
                "chatty", progress_handler=lambda p, t, m: progress.append(p)
            )
    assert result.data == "ok" and progress == [1, 2, 3]


@pytest.mark.parametrize("protocol", ERAS)
async def test_set_logging_level_filters_logs(server: FastMCP, protocol: str) -> None:
    logs: list[str] = []
    with anyio.fail_after(5):
        async with Client(
            server, protocol=protocol, log_handler=lambda m: logs.append(m.level)
        ) as client:
            await client.set_logging_level("info")
            await client.call_tool("chatty")
    assert logs == ["info"]


async def test_list_changed_reaches_the_message_handler(server: FastMCP) -> None:
    received: list[str] = []
    got = anyio.Event()

    @server.tool
    async def announce(ctx: Context) -> str:
        await ctx.send_tool_list_changed()
        return "ok"

    async def on_message(message: Any) -> None:
        received.append(message.method)
        got.set()

    with anyio.fail_after(5):
        async with Client(server, protocol="legacy", message_handler=on_message) as client:
            await client.call_tool("announce")
            await got.wait()
    assert received == ["notifications/tools/list_changed"]


async def test_a_modern_client_with_a_message_handler_listens_for_list_changes(
    server: FastMCP,
) -> None:
    """2026-07-28 has no session to push changes on: the Client holds `subscriptions/listen`
    open, so the message handler sees list changes as in the handshake era."""
    received: list[str] = []
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        received.append(message.method)
        if message.method == "notifications/prompts/list_changed":
            changed.set()

    with anyio.fail_after(5):
        async with Client(server, protocol="modern", message_handler=on_message) as client:
            assert received == [
                "notifications/subscriptions/acknowledged"
            ]  # before connect returns
            server.prompt(lambda: "hi", name="fresh")
            await changed.wait()
            assert "fresh" in {prompt.name for prompt in await client.list_prompts()}


async def test_listen_false_opens_no_subscription(server: FastMCP) -> None:
    received: list[str] = []
    with anyio.fail_after(5):
        async with Client(
            server,
            protocol="modern",
            message_handler=lambda m: received.append(m.method),
            listen=False,
        ) as client:
            server.prompt(lambda: "hi", name="fresh")
            await client.ping()
            assert await client.list_prompts()
    assert received == []


# -- server-to-client requests (handshake era) -----------------------------------------------


def _ask_client(server: FastMCP) -> None:
    @server.tool
    async def ask_client(method: str, params: dict[str, Any], ctx: Context) -> Any:
        request = ctx.request_context
        assert request is not None
        raw = await request.channel.request(
            method, params, related_request_id=request.id, timeout=5
        )
        return msgspec.json.decode(raw)


async def test_sampling_handler_answers_create_message(server: FastMCP) -> None:
    _ask_client(server)
    seen: list[Any] = []

    def sample(messages: Any, params: Any, context: Any) -> str:
        seen.append((messages[0].content.text, params.maxTokens, context.method))
        return "a poem"

    params = {
        "messages": [{"role": "user", "content": {"type": "text", "text": "write"}}],
        "maxTokens": 10,
    }
    with anyio.fail_after(5):
        async with Client(server, protocol="legacy", sampling_handler=sample) as client:
            result = await client.call_tool(
                "ask_client", {"method": "sampling/createMessage", "params": params}
            )
    assert seen == [("write", 10, "sampling/createMessage")]
    assert result.data == {
        "role": "assistant",
        "content": {"type": "text", "text": "a poem"},
        "model": "trimcp-client",
    }


async def test_elicitation_handler_gets_a_response_type(server: FastMCP) -> None:
    _ask_client(server)
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}

    async def elicit(message: str, response_type: type, params: Any, context: Any) -> Any:
        assert message == "Who are you?"
        return response_type(name="Ada")

    async def decline(message: str, response_type: type, params: Any, context: Any) -> Any:
        return ElicitResult(action="decline")

    params = {"message": "Who are you?", "requestedSchema": schema}
    with anyio.fail_after(5):
        async with Client(server, protocol="legacy", elicitation_handler=elicit) as client:
            result = await client.call_tool(
                "ask_client", {"method": "elicitation/create", "params": params}
            )
            assert result.data == {"action": "accept", "content": {"name": "Ada"}}
        async with Client(server, protocol="legacy", elicitation_handler=decline) as client:
            result = await client.call_tool(
                "ask_client", {"method": "elicitation/create", "params": params}
            )
            assert result.data == {"action": "decline"}


async def test_roots_list_is_answered(server: FastMCP, tmp_path: Any) -> None:
    _ask_client(server)
    roots = [str(tmp_path), "file:///repo", {"uri": "file:///data", "name": "data"}]
    with anyio.fail_after(5):
        async with Client(server, protocol="legacy", roots=roots) as client:
            result = await client.call_tool("ask_client", {"method": "roots/list", "params": {}})
            await client.send_roots_list_changed()
    assert result.data == {
        "roots": [
            {"uri": tmp_path.resolve().as_uri()},
            {"uri": "file:///repo"},
            {"uri": "file:///data", "name": "data"},
        ]
    }


async def test_unknown_server_request_gets_method_not_found(server: FastMCP) -> None:
    _ask_client(server)
    with anyio.fail_after(5):
        async with Client(server, protocol="legacy") as client:  # no sampling handler
            # The tool re-raises the client's JSON-RPC error as its own.
            with pytest.raises(McpError, match="Method not found: sampling/createMessage"):
                await client.call_tool(
                    "ask_client", {"method": "sampling/createMessage", "params": {}}
                )


async def test_calls_after_the_server_went_away_raise_client_error(server: FastMCP) -> None:
    with anyio.fail_after(5):
        async with Client(server) as client:
            await client.close()
            with pytest.raises(ClientError):
                await client.ping()
            assert not client.is_connected()


def test_infer_transport_rejects_unknown_targets() -> None:
    with pytest.raises(ValueError):
        infer_transport(42)
