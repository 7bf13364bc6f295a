"""The client's FastMCP 2.13 names and shapes (issue 16): `client.auth`, `client.logging`,
`client.messages`, `client.sampling`, `MCPConfigTransport`, manual initialization,
`cancel`, roots and URI checks, result `_meta`, SDK-compatible errors. Real servers in memory,
both eras, on asyncio and trio."""

from __future__ import annotations

import datetime
import logging
from typing import Any

import anyio
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.client.auth import BearerAuth, OAuth, resolve_auth
from trimcp.client.config_transport import MCPConfigTransport, set_composite_builder
from trimcp.client.http import SSETransport, StreamableHttpTransport
from trimcp.client.logging import LogMessage, default_log_handler, describe_log_data
from trimcp.client.messages import MessageHandler
from trimcp.client.sampling import (
    ModelHint,
    ModelPreferences,
    RequestContext,
    SamplingMessage,
    SamplingParams,
)
from trimcp.client.transports import StdioTransport, infer_transport
from trimcp.exceptions import McpError
from trimcp.types import TextContent

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]


def make_server() -> FastMCP:
    mcp = FastMCP("dropin")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    async def announce(ctx: Context) -> str:
        await ctx.send_tool_list_changed()
        return "ok"

    @mcp.tool
    async def sample(ctx: Context) -> str:
        result = await ctx.sample(
            "Hello", system_prompt="be brief", max_tokens=50, model_preferences=["gpt-4o"]
        )
        return result.text  # type: ignore[union-attr]

    @mcp.tool
    async def roots(ctx: Context) -> list[str]:
        return [str(root.uri) for root in await ctx.list_roots()]

    @mcp.prompt
    def echo_args(numbers: str, config: str) -> str:
        return f"{numbers} {config}"

    @mcp.resource("data://x")
    def data() -> str:
        return "x"

    return mcp


# -- client.auth -----------------------------------------------------------------------------


def test_bearer_auth_keeps_its_token_secret_and_sets_the_header() -> None:
    import httpx2

    auth = BearerAuth("s3cret")
    assert auth.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(auth) and "s3cret" not in str(auth.token)
    request = httpx2.Request("GET", "http://127.0.0.1/")
    (flowed,) = list(auth.auth_flow(request))
    assert flowed.headers["authorization"] == "Bearer s3cret"
    assert isinstance(resolve_auth("tok"), BearerAuth)


def test_oauth_is_refused_clearly_until_the_authorization_work() -> None:
    with pytest.raises(NotImplementedError, match="authorization issue"):
        StreamableHttpTransport("http://127.0.0.1:1/mcp", auth="oauth")
    with pytest.raises(NotImplementedError, match="authorization issue"):
        Client("http://127.0.0.1:1/mcp", auth="oauth")
    with pytest.raises(NotImplementedError, match="authorization issue"):
        OAuth("http://127.0.0.1:1/mcp")


def test_auth_on_a_transport_without_http_is_refused() -> None:
    with pytest.raises(ValueError, match="This transport does not support auth"):
        Client(StdioTransport("echo", ["hi"]), auth="tok")


# -- transports and MCP configs --------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://h/sse", "http://h/sse/", "http://h/api/sse/stream", "http://h/mcp/sse?x=1"]
)
def test_urls_with_an_sse_segment_infer_the_sse_transport(url: str) -> None:
    assert isinstance(infer_transport(url), SSETransport)


@pytest.mark.parametrize("url", ["http://h/mcp", "http://h/sservice/x", "http://h/assets/file"])
def test_other_urls_infer_streamable_http(url: str) -> None:
    assert isinstance(infer_transport(url), StreamableHttpTransport)


def test_a_config_with_one_server_connects_to_it_directly() -> None:
    remote = infer_transport(
        {"mcpServers": {"a": {"url": "http://h/sse/", "headers": {"Authorization": "Bearer 1"}}}}
    )
    assert isinstance(remote, MCPConfigTransport)
    assert isinstance(remote.transport, SSETransport)
    assert remote.transport.headers == {"Authorization": "Bearer 1"}
    local = MCPConfigTransport({"mcpServers": {"a": {"command": "echo", "args": ["hi"]}}})
    assert isinstance(local.transport, StdioTransport)
    assert (local.transport.command, local.transport.args) == ("echo", ["hi"])
    http = MCPConfigTransport({"mcpServers": {"a": {"url": "http://h/x", "auth": "tok"}}})
    assert isinstance(http.transport, StreamableHttpTransport)
    assert isinstance(http.transport.auth, BearerAuth)


def test_a_config_without_servers_is_refused() -> None:
    with pytest.raises(ValueError, match="No MCP servers defined in the config"):
        infer_transport({"mcpServers": {}})


def test_a_config_of_several_servers_needs_the_composite_builder() -> None:
    config = {"mcpServers": {"a": {"command": "a"}, "b": {"url": "http://h/mcp"}}}
    set_composite_builder(None)
    with pytest.raises(RuntimeError, match="server layer"):
        MCPConfigTransport(config)


async def test_a_config_of_several_servers_goes_through_the_registered_composite() -> None:
    built: list[tuple[list[str], bool]] = []

    def build(transports: Any, name_as_prefix: bool) -> FastMCP:
        built.append((sorted(transports), name_as_prefix))
        return make_server()

    set_composite_builder(build)
    try:
        transport = MCPConfigTransport(
            {"mcpServers": {"a": {"command": "a"}, "b": {"url": "http://h/mcp"}}}
        )
    finally:
        set_composite_builder(None)
    assert built == [(["a", "b"], True)]
    with anyio.fail_after(5):
        async with Client(transport) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3


# -- client.logging --------------------------------------------------------------------------


async def test_default_log_handler_shows_fastmcp_log_data_as_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trimcp.client.from_server")
    await default_log_handler(
        LogMessage(level="warning", logger="db", data={"msg": "slow query", "extra": {"ms": 9}})
    )
    await default_log_handler(LogMessage(level="notice", data=[1, 2]))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Received WARNING from server (db): slow query {'ms': 9}"),
        ("INFO", "Received NOTICE from server: [1, 2]"),
    ]
    assert describe_log_data({"msg": "hi"}) == "hi"
    assert describe_log_data({"key": 1}) == "{'key': 1}"


@pytest.mark.parametrize("protocol", ERAS)
async def test_server_logs_reach_the_default_handler(
    protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="trimcp.client.from_server")
    mcp = FastMCP("logs")

    @mcp.tool
    async def log(ctx: Context) -> str:
        await ctx.error("it hurts")
        return "ok"

    with anyio.fail_after(5):
        async with Client(mcp, protocol=protocol) as client:
            await client.set_logging_level("debug")
            await client.call_tool("log")
    messages = [r.getMessage() for r in caplog.records if r.name == "trimcp.client.from_server"]
    assert len(messages) == 1 and "Received ERROR from server" in messages[0]
    assert "it hurts" in messages[0]


# -- client.messages -------------------------------------------------------------------------


class Recorder(MessageHandler):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.changed = anyio.Event()

    async def on_message(self, message: Any) -> None:
        self.seen.append(("message", message.root.method))

    async def on_notification(self, message: Any) -> None:
        self.seen.append(("notification", message.root.method))

    async def on_tool_list_changed(self, message: Any) -> None:
        self.seen.append(("tools", message.method))
        self.changed.set()

    async def on_ping(self, message: Any) -> None:
        self.seen.append(("ping", message.method))


async def test_a_message_handler_gets_fastmcp_hooks_in_order() -> None:
    handler = Recorder()
    with anyio.fail_after(5):
        async with Client(make_server(), protocol="legacy", message_handler=handler) as client:
            await client.call_tool("announce")
            await handler.changed.wait()
    method = "notifications/tools/list_changed"
    assert handler.seen == [("message", method), ("notification", method), ("tools", method)]


# -- client.sampling -------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_sampling_handlers_receive_typed_messages_and_params(protocol: str) -> None:
    seen: dict[str, Any] = {}

    def handler(
        messages: list[SamplingMessage], params: SamplingParams, ctx: RequestContext
    ) -> str:
        seen.update(messages=messages, params=params, ctx=ctx)
        return "sampled"

    with anyio.fail_after(5):
        async with Client(make_server(), protocol=protocol, sampling_handler=handler) as client:
            assert (await client.call_tool("sample")).data == "sampled"
    (message,) = seen["messages"]
    assert isinstance(message, SamplingMessage) and message.role == "user"
    assert isinstance(message.content, TextContent) and message.content.text == "Hello"
    params = seen["params"]
    assert params.systemPrompt == "be brief" and params.maxTokens == 50
    assert params.modelPreferences == ModelPreferences(hints=[ModelHint(name="gpt-4o")])
    assert isinstance(seen["ctx"], RequestContext)
    assert seen["ctx"].method == "sampling/createMessage"


# -- initialization, cancel, roots, URIs, arguments --------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_manual_initialization(protocol: str) -> None:
    client = Client(make_server(), protocol=protocol, auto_initialize=False)
    with anyio.fail_after(5):
        async with client:
            assert client.initialize_result is None
            first = await client.initialize(timeout=5)
            assert first.serverInfo.name == "dropin"
            assert await client.initialize() is first
            assert (await client.call_tool("add", {"a": 2, "b": 2})).data == 4
        async with Client(make_server(), protocol=protocol) as auto:
            assert await auto.initialize() is auto.initialize_result


async def test_cancel_stops_the_request_on_the_server() -> None:
    mcp = FastMCP("cancel")
    started, stopped = anyio.Event(), anyio.Event()
    ids: list[Any] = []

    @mcp.tool
    async def slow(ctx: Context) -> str:
        ids.append(ctx.request_id)
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.set()
        return "never"

    with anyio.fail_after(5):
        async with Client(mcp, protocol="legacy") as client, anyio.create_task_group() as tg:
            tg.start_soon(client.call_tool, "slow")
            await started.wait()
            await client.cancel(int(ids[0]), reason="changed my mind")  # ctx.request_id is text
            await stopped.wait()
            tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("roots", "match"),
    [
        (["x"], "Input should be a valid URL"),
        (["x", "y"], "Input should be a valid URL"),
        (["https://x.com"], "URL scheme should be 'file'"),
        ([{"uri": "http://x"}], "URL scheme should be 'file'"),
    ],
)
def test_invalid_roots_are_refused(roots: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Client(make_server(), roots=roots)


async def test_file_roots_reach_the_server() -> None:
    with anyio.fail_after(5):
        async with Client(make_server(), roots=["file://x/y/z", "/abs/path"]) as client:
            result = await client.call_tool("roots")
    assert result.data == ["file://x/y/z", "file:///abs/path"]


async def test_a_resource_uri_without_a_scheme_is_refused_before_sending() -> None:
    client = Client(make_server())
    with pytest.raises(ValueError, match="Provided resource URI is invalid"):
        await client.read_resource("invalid_uri")


async def test_prompt_arguments_are_sent_as_compact_json() -> None:
    import pydantic_core

    with anyio.fail_after(5):
        async with Client(make_server()) as client:
            result = await client.get_prompt(
                "echo_args", {"numbers": [1, 2, 3], "config": {"key": "value"}}
            )
            assert result.messages[0].content.text == '[1,2,3] {"key":"value"}'  # type: ignore[union-attr]
            with pytest.raises(
                pydantic_core.PydanticSerializationError, match="Unable to serialize"
            ):
                await client.get_prompt("echo_args", {"numbers": object(), "config": "x"})


# -- results and errors ----------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_results_do_not_show_the_protocols_meta_keys(protocol: str) -> None:
    with anyio.fail_after(5):
        async with Client(make_server(), protocol=protocol) as client:
            result = await client.call_tool("add", {"a": 1, "b": 1})
            assert result.meta is None
            assert (await client.read_resource_mcp("data://x")).meta is None
            assert (await client.list_tools_mcp()).meta is None


async def test_error_answers_are_the_sdks_mcp_error_when_mcp_is_loaded() -> None:
    sdk = pytest.importorskip("mcp.shared.exceptions")
    sdk_error = getattr(sdk, "McpError", None) or sdk.MCPError
    with anyio.fail_after(5):
        async with Client(make_server()) as client:
            with pytest.raises(sdk_error) as caught:
                await client.read_resource("data://missing")
    assert isinstance(caught.value, McpError)
    assert caught.value.error.code == caught.value.code


# -- elicitation -----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_elicitation_handlers_get_a_typed_response_type(protocol: str) -> None:
    import dataclasses

    from trimcp.client.elicitation import ElicitRequestParams, ElicitResult

    @dataclasses.dataclass
    class Person:
        name: str
        age: int

    mcp = FastMCP("elicit")

    @mcp.tool
    async def ask(ctx: Context) -> str:
        result = await ctx.elicit("Who are you?", response_type=Person)
        return f"{result.data.name} is {result.data.age}"  # type: ignore[union-attr]

    seen: dict[str, Any] = {}

    async def handler(message: str, response_type: Any, params: Any, ctx: Any) -> Any:
        seen.update(types={f.name: f.type for f in dataclasses.fields(response_type)})
        seen.update(params=params, name=response_type.__name__)
        return ElicitResult(action="accept", content=response_type(name="Ada", age=36))

    with anyio.fail_after(5):
        async with Client(mcp, protocol=protocol, elicitation_handler=handler) as client:
            assert (await client.call_tool("ask")).data == "Ada is 36"
    assert seen["types"] == {"name": str, "age": int}
    assert seen["name"] == "Person"  # named after the schema's title, as FastMCP's client does
    assert seen["params"].requestedSchema["title"] == "Person"
    assert isinstance(seen["params"], ElicitRequestParams)
    assert seen["params"].message == "Who are you?"


@pytest.mark.parametrize("protocol", ERAS)
async def test_bytes_arguments_reach_a_bytes_parameter_unchanged(protocol: str) -> None:
    mcp = FastMCP("bytes")

    @mcp.tool
    def echo(data: bytes, chunks: list[bytes]) -> str:
        return repr((data, chunks))

    with anyio.fail_after(5):
        async with Client(mcp, protocol=protocol) as client:
            result = await client.call_tool("echo", {"data": b"abc123", "chunks": [b"x", b"y"]})
            assert result.data == repr((b"abc123", [b"x", b"y"]))  # sent as text, as FastMCP
            with pytest.raises(UnicodeDecodeError):  # not UTF-8: refused, as pydantic does
                await client.call_tool("echo", {"data": b"\xff", "chunks": []})


def test_tool_arguments_without_bytes_are_passed_as_they_are() -> None:
    from trimcp.client.params import tool_arguments

    plain = {"a": 1, "b": ["x", {"c": None}]}
    assert tool_arguments(plain) is plain
    nested = {"a": (b"hi", 2), "b": {"c": bytearray(b"yo")}}
    assert tool_arguments(nested) == {"a": ["hi", 2], "b": {"c": "yo"}}
    assert nested["b"] == {"c": bytearray(b"yo")}  # the caller's arguments are not changed


async def test_new_gives_a_like_client_with_its_own_connection() -> None:
    client = Client(make_server(), name="base", timeout=5)
    with anyio.fail_after(5):
        async with client:
            fresh = client.new()
            assert not fresh.is_connected() and fresh.transport is client.transport
            assert fresh.name is not None and fresh.name.startswith("base:")
            async with fresh:
                assert (await fresh.call_tool("add", {"a": 1, "b": 2})).data == 3
                assert fresh.session is not client.session
            assert client.is_connected() and not fresh.is_connected()


# -- client.progress, client.roots -----------------------------------------------------------


async def test_default_progress_handler_logs_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    from trimcp.client.progress import default_progress_handler

    caplog.set_level(logging.DEBUG, logger="trimcp.client.progress")
    await default_progress_handler(3, 4, "almost")
    await default_progress_handler(1, None, None)
    assert [r.getMessage() for r in caplog.records] == [
        "Progress: 3/4 (75.0%) - almost",
        "Progress: 1",
    ]


def test_convert_roots_list_gives_roots_and_refuses_others() -> None:
    from trimcp.client.roots import convert_roots_list
    from trimcp.types.misc import Root

    assert convert_roots_list(["file:///a", {"uri": "file:///b", "name": "b"}]) == [
        Root(uri="file:///a"),
        Root(uri="file:///b", name="b"),
    ]
    with pytest.raises(ValueError, match="URL scheme should be 'file'"):
        convert_roots_list(["https://x.com"])


async def test_a_date_time_output_comes_back_as_a_datetime() -> None:
    mcp = FastMCP("dates")
    moment = datetime.datetime(2025, 4, 25, 1, 2, 3)

    @mcp.tool
    def when() -> datetime.datetime:
        return moment

    @mcp.tool
    def schedule() -> dict[str, datetime.datetime]:
        return {"start": moment}

    with anyio.fail_after(5):
        async with Client(mcp) as client:
            assert (await client.call_tool("when")).data == moment
            assert (await client.call_tool("schedule")).data == {"start": moment}


async def test_handlers_set_after_construction_answer_the_server() -> None:
    client = Client(make_server())
    client.set_roots(["file:///later"])
    client.set_sampling_callback(lambda messages, params, ctx: "set later")
    with pytest.raises(ValueError, match="URL scheme should be 'file'"):
        client.set_roots(["https://x"])
    with anyio.fail_after(5):
        async with client:
            assert (await client.call_tool("roots")).data == ["file:///later"]
            assert (await client.call_tool("sample")).data == "set later"
    assert Client.generate_name("x").startswith("Client-x-")


async def test_client_is_generic_in_its_transport_as_in_fastmcp() -> None:
    from trimcp.client import FastMCPTransport

    with anyio.fail_after(5):
        async with Client[FastMCPTransport](make_server()) as client:
            assert isinstance(client.transport, FastMCPTransport)
            assert (await client.call_tool("add", {"a": 1, "b": 1})).data == 2


def test_a_parsed_mcp_config_object_is_accepted() -> None:
    from trimcp.mcp_config import MCPConfig

    config = MCPConfig.from_dict({"mcpServers": {"a": {"command": "echo", "args": ["hi"]}}})
    transport = infer_transport(config)
    assert isinstance(transport, MCPConfigTransport)
    assert isinstance(transport.transport, StdioTransport)
    assert transport.transport.args == ["hi"]


async def test_a_message_handler_sees_the_servers_requests_before_they_are_answered() -> None:
    seen: list[tuple[str, Any]] = []

    class Requests(MessageHandler):
        async def on_request(self, message: Any) -> None:
            seen.append(("request", message.method))

        async def on_list_roots(self, message: Any) -> None:
            seen.append(("roots", message.params))

    with anyio.fail_after(5):
        async with Client(
            make_server(), protocol="legacy", roots=["file:///r"], message_handler=Requests()
        ) as client:
            assert (await client.call_tool("roots")).data == ["file:///r"]
    assert seen == [("request", "roots/list"), ("roots", {})]


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_connect_session_gives_a_running_session_to_negotiate(protocol: str) -> None:
    from trimcp.client import FastMCPTransport

    transport = FastMCPTransport(make_server())
    with anyio.fail_after(5):
        async with transport.connect_session() as session:
            assert session.era is None
            await session.open(protocol=protocol)
            assert session.initialize_result is not None
            assert session.initialize_result.serverInfo.name == "dropin"
    with pytest.raises(TypeError, match="give the handlers to Client"):
        async with transport.connect_session(sampling_callback=None):
            pass


def test_urls_and_scripts_infer_fastmcps_transports(tmp_path: Any) -> None:
    from pydantic import AnyUrl

    from trimcp.client import NodeStdioTransport

    assert isinstance(infer_transport(AnyUrl("http://h/mcp")), StreamableHttpTransport)
    assert isinstance(infer_transport(AnyUrl("https://h/sse")), SSETransport)
    script = tmp_path / "server.js"
    script.write_text("")
    assert isinstance(infer_transport(script), NodeStdioTransport)
    assert isinstance(infer_transport(str(script)), NodeStdioTransport)


def test_the_sdks_own_fastmcp_is_refused_with_a_clear_message() -> None:
    from trimcp.client import FastMCPTransport

    pytest.importorskip("mcp.server")
    try:  # FastMCP 1.0 in mcp 1.x; renamed MCPServer in mcp 2.x
        from mcp.server.fastmcp import FastMCP as SdkServer  # type: ignore[import-not-found]
    except ImportError:
        from mcp.server.mcpserver import MCPServer as SdkServer  # type: ignore[import-not-found]
    server = SdkServer("v1")
    with pytest.raises(ValueError, match="cannot run the official SDK's server"):
        infer_transport(server)
    with pytest.raises(TypeError, match="serve it over stdio or HTTP"):
        FastMCPTransport(server)
    with pytest.raises(TypeError, match="not a server this process can reach in memory"):
        FastMCPTransport(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_a_tool_asking_a_client_without_the_capability_fails_as_a_tool_error(
    protocol: str,
) -> None:
    from trimcp.exceptions import MissingCapabilityError, ToolError

    mcp = FastMCP("asks")

    @mcp.tool
    async def ask(ctx: Context) -> str:
        answer = await ctx.elicit("name?", response_type=str)
        return str(answer)

    with anyio.fail_after(10):
        async with Client(mcp, protocol=protocol) as client:
            with pytest.raises(ToolError, match="Elicitation not supported") as caught:
                await client.call_tool("ask", {})
    assert isinstance(caught.value, MissingCapabilityError)
    assert isinstance(caught.value, McpError)  # still the protocol error it was


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_an_unknown_or_disabled_tool_raises_a_tool_error_from_the_client(
    protocol: str,
) -> None:
    from trimcp.exceptions import ToolCallRefused, ToolError

    mcp = FastMCP("refuses")

    @mcp.tool
    def hidden() -> str:
        return "x"

    hidden.disable()
    with anyio.fail_after(10):
        async with Client(mcp, protocol=protocol) as client:
            for name in ("nope", "hidden"):
                with pytest.raises(ToolError, match=f"Unknown tool: {name}") as caught:
                    await client.call_tool(name, {})
                # the wire keeps the specification's -32602; the client raises both kinds
                assert isinstance(caught.value, ToolCallRefused)
                assert isinstance(caught.value, McpError) and caught.value.code == -32602


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_an_mcp_error_a_middleware_raises_on_tools_call_is_a_tool_error_too(
    protocol: str,
) -> None:
    from trimcp.exceptions import ToolCallRefused, ToolError
    from trimcp.protocol.errors import ErrorData
    from trimcp.server.middleware import Middleware

    class Refuse(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            raise McpError(ErrorData(code=-32000, message="Rate limit exceeded"))

    mcp = FastMCP("refuses", middleware=[Refuse()])

    @mcp.tool
    def f() -> int:
        return 1

    with anyio.fail_after(10):
        async with Client(mcp, protocol=protocol) as client:
            with pytest.raises(ToolError, match="Rate limit exceeded") as caught:
                await client.call_tool("f", {})
            # the wire keeps the middleware's code; the client raises both kinds
            assert isinstance(caught.value, ToolCallRefused)
            assert isinstance(caught.value, McpError) and caught.value.code == -32000
            with pytest.raises(McpError) as listed:  # other methods: the McpError as it is
                await client.read_resource("data://none")
            assert not isinstance(listed.value, ToolError)
