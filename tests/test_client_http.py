"""The HTTP client transports against real servers on 127.0.0.1:0 (asyncio and trio).

Servers: trimcp's own (`run_http_async`, both eras, and its legacy SSE endpoint) and the
official SDK's `MCPServer` (streamable HTTP and `sse_app()`) on hypercorn. A recording ASGI
middleware in front of trimcp's app shows what went over the wire.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import socket
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver import Context as SDKContext
from mcp.server.mcpserver import MCPServer

from trimcp import Client, Context, FastMCP
from trimcp.client.auth import BearerAuth, resolve_auth
from trimcp.client.http import (
    CONNECTION_ERROR,
    SSETransport,
    StreamableHttpTransport,
    encode_header_value,
)
from trimcp.client.transports import infer_transport
from trimcp.exceptions import ClientError, McpError

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
WAIT = 15  # bound on every wait in these tests (seconds)


# -- servers -------------------------------------------------------------------------------


@dataclasses.dataclass
class Wire:
    """What a `Recorder` saw: every request's `(method, path, headers)`, and the JSON-RPC
    method of every POST body."""

    requests: list[tuple[str, str, dict[str, str]]] = dataclasses.field(default_factory=list)
    methods: list[str] = dataclasses.field(default_factory=list)

    def posts(self, mcp_method: str) -> list[dict[str, str]]:
        """The headers of the POSTs whose `Mcp-Method` header is `mcp_method`."""
        return [h for m, _, h in self.requests if m == "POST" and h.get("mcp-method") == mcp_method]


class Recorder:
    """ASGI middleware that notes each HTTP request into a `Wire`."""

    def __init__(self, app: Any, *, wire: Wire) -> None:
        self.app = app
        self.wire = wire

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.wire.requests.append((scope["method"], scope["path"], headers))
        body = bytearray()

        async def recording_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    try:
                        self.wire.methods.append(str(json.loads(body).get("method")))
                    except (ValueError, AttributeError):
                        pass
            return message

        await self.app(scope, recording_receive, send)


def make_trimcp_server() -> FastMCP:
    from trimcp.server.dependencies import get_http_headers

    mcp = FastMCP("client-http-test")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    async def chatty(ctx: Context) -> str:
        await ctx.info("working")
        await ctx.report_progress(1, 2, "half")
        await ctx.report_progress(2, 2, "done")
        return "done"

    @mcp.tool
    def seen_headers() -> dict[str, str]:
        return get_http_headers(include_all=True)

    @mcp.resource("data://hello")
    def hello() -> str:
        return "hello"

    @mcp.resource("greeting://{name}")
    def greeting(name: str) -> str:
        return f"hi {name}"

    @mcp.prompt
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    return mcp


@asynccontextmanager
async def trimcp_server(
    mcp: FastMCP | None = None, **options: Any
) -> AsyncIterator[tuple[str, Wire]]:
    """Serve `mcp` with `run_http_async` on port 0; yield its URL and what went over the wire."""
    mcp = mcp or make_trimcp_server()
    wire = Wire()
    async with anyio.create_task_group() as tg:

        async def run(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
            await mcp.run_http_async(
                port=0,
                show_banner=False,
                middleware=[(Recorder, {"wire": wire})],
                task_status=task_status,
                **options,
            )

        with anyio.fail_after(WAIT):
            address = await tg.start(run)
        try:
            yield address.url, wire
        finally:
            tg.cancel_scope.cancel()


@asynccontextmanager
async def hypercorn_server(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with hypercorn on 127.0.0.1:0 under the running backend."""
    import sniffio
    from hypercorn.config import Config

    config = Config()
    config.graceful_timeout = 1.0
    config.accesslog = None
    config.errorlog = None
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        if sniffio.current_async_library() == "trio":
            from hypercorn.trio import serve as trio_serve

            config.bind = ["127.0.0.1:0"]
            with anyio.fail_after(WAIT):
                binds = await tg.start(
                    lambda task_status: trio_serve(
                        app, config, shutdown_trigger=stop.wait, task_status=task_status
                    )
                )
            base = binds[0]
        else:
            from hypercorn.asyncio import serve as asyncio_serve

            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            port = sock.getsockname()[1]
            config.bind = [f"fd://{sock.detach()}"]
            tg.start_soon(lambda: asyncio_serve(app, config, shutdown_trigger=stop.wait))
            base = f"http://127.0.0.1:{port}"
        try:
            yield base
        finally:
            stop.set()


def make_sdk_server() -> MCPServer:
    sdk = MCPServer("sdk-server")

    @sdk.tool()
    async def add(a: int, b: int, ctx: SDKContext) -> int:
        with warnings.catch_warnings():  # logging is deprecated in 2026-07-28, still served
            warnings.simplefilter("ignore")
            await ctx.info("adding")
        await ctx.report_progress(1, 2)
        return a + b

    @sdk.tool()
    async def authorization(ctx: SDKContext) -> str:
        request = ctx.request_context.request
        return str(request.headers.get("authorization")) if request is not None else "no request"

    @sdk.resource("data://hello")
    def hello() -> str:
        return "hello from the sdk"

    @sdk.prompt()
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    return sdk


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- no I/O --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("add", True),
        ("file:///tmp/a b.txt", True),
        ("wörld", False),
        (" padded", False),
        ("trailing ", False),
        ("line1\nline2", False),
        ("tab\there", False),
        ("", False),
        ("=?base64?YWJj?=", False),
    ],
)
def test_header_values_that_are_not_plain_ascii_are_base64_encoded(value: str, plain: bool) -> None:
    encoded = encode_header_value(value)
    if plain:
        assert encoded == value
    else:
        assert encoded.startswith("=?base64?") and encoded.endswith("?=")
        assert base64.b64decode(encoded[len("=?base64?") : -2]).decode() == value


def test_urls_ending_in_sse_infer_the_sse_transport() -> None:
    assert isinstance(infer_transport("http://127.0.0.1:8000/sse"), SSETransport)
    assert isinstance(infer_transport("http://127.0.0.1:8000/sse/"), SSETransport)
    assert isinstance(infer_transport("https://example.com/mcp"), StreamableHttpTransport)
    assert isinstance(infer_transport("http://127.0.0.1:8000/mcp/"), StreamableHttpTransport)
    assert isinstance(infer_transport("http://127.0.0.1:8000/sse-like"), StreamableHttpTransport)


def test_sse_transport_makes_the_client_use_the_handshake() -> None:
    with pytest.raises(ValueError):
        Client("http://127.0.0.1:1/sse", protocol="modern")
    assert Client("http://127.0.0.1:1/sse")._protocol == "legacy"


def test_string_auth_becomes_a_bearer_token() -> None:
    import httpx2

    auth = resolve_auth("secret")
    assert isinstance(auth, BearerAuth)
    request = httpx2.Request("GET", "http://127.0.0.1/")
    assert auth(request).headers["authorization"] == "Bearer secret"
    assert "secret" not in repr(auth)
    with pytest.raises(ValueError):
        Client(make_trimcp_server(), auth="secret")  # in memory: nothing to authenticate


def test_importing_trimcp_does_not_import_httpx2() -> None:
    code = (
        "import sys, trimcp, trimcp.client, trimcp.client.transports, trimcp.client.http;"
        "trimcp.client.transports.infer_transport('http://127.0.0.1:1/mcp');"
        "assert 'httpx2' not in sys.modules, 'httpx2 imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- trimcp's server, 2026-07-28 -----------------------------------------------------------


async def test_url_client_speaks_2026_with_standard_headers_and_no_session() -> None:
    async with trimcp_server() as (url, wire):
        with anyio.fail_after(WAIT):
            async with Client(url) as client:
                assert client.protocol_version == MODERN
                assert isinstance(client.transport, StreamableHttpTransport)
                assert client.transport.session_id is None
                assert {tool.name for tool in await client.list_tools()} >= {"add", "chatty"}
                assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
                assert [str(r.uri) for r in await client.list_resources()] == ["data://hello"]
                assert (await client.read_resource("data://hello"))[0].text == "hello"
                assert len(await client.list_resource_templates()) == 1
                prompt = await client.get_prompt("greet", {"name": "Ada"})
                assert prompt.messages[0].content.text == "Hello, Ada!"
                assert [p.name for p in await client.list_prompts()] == ["greet"]
    call = wire.posts("tools/call")[0]
    assert call["mcp-protocol-version"] == MODERN
    assert call["mcp-name"] == "add"
    assert call["accept"] == "application/json, text/event-stream"
    assert wire.posts("resources/read")[0]["mcp-name"] == "data://hello"
    assert wire.posts("prompts/get")[0]["mcp-name"] == "greet"
    assert all("mcp-session-id" not in headers for _, _, headers in wire.requests)
    # no GET stream and no DELETE in 2026
    assert {method for method, _, _ in wire.requests} == {"POST"}


async def test_non_ascii_names_travel_base64_encoded_and_the_server_accepts_them() -> None:
    async with trimcp_server() as (url, wire):
        with anyio.fail_after(WAIT):
            async with Client(url) as client:
                contents = await client.read_resource("greeting://wörld")
    assert contents[0].text == "hi wörld"
    assert wire.posts("resources/read")[0]["mcp-name"] == encode_header_value("greeting://wörld")


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_progress_and_log_notifications_reach_the_handlers(protocol: str) -> None:
    logs: list[Any] = []
    progress: list[tuple[float, float | None, str | None]] = []
    async with trimcp_server() as (url, _):
        with anyio.fail_after(WAIT):
            async with Client(url, protocol=protocol, log_handler=logs.append) as client:
                result = await client.call_tool(
                    "chatty", {}, progress_handler=lambda p, t, m: progress.append((p, t, m))
                )
    assert result.data == "done"
    assert [entry.data["msg"] for entry in logs] == ["working"]
    assert progress == [(1, 2, "half"), (2, 2, "done")]


@pytest.mark.parametrize("auth", ["s3cret", BearerAuth("s3cret")], ids=["string", "BearerAuth"])
async def test_bearer_token_and_custom_headers_reach_the_server(auth: Any) -> None:
    async with trimcp_server() as (url, _):
        transport = StreamableHttpTransport(url, headers={"X-Tenant": "acme"})
        with anyio.fail_after(WAIT):
            async with Client(transport, auth=auth) as client:
                seen = (await client.call_tool("seen_headers", {})).data
    assert seen["authorization"] == "Bearer s3cret"
    assert seen["x-tenant"] == "acme"


async def test_cancelling_a_2026_request_aborts_its_post_instead_of_notifying() -> None:
    mcp = make_trimcp_server()
    started, finished = anyio.Event(), anyio.Event()

    @mcp.tool
    async def hang() -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            finished.set()
        return "never"

    async with trimcp_server(mcp) as (url, wire):
        with anyio.fail_after(WAIT):
            async with Client(url) as client:
                assert client.is_modern
                async with anyio.create_task_group() as tg:
                    tg.start_soon(client.call_tool, "hang", {})
                    await started.wait()
                    tg.cancel_scope.cancel()
                await finished.wait()  # the server saw the stream close as a cancellation
                assert (await client.call_tool("add", {"a": 1, "b": 1})).data == 2
    assert "notifications/cancelled" not in wire.methods, (
        "2026-07-28 cancels by closing the stream, not with a notification"
    )


# -- trimcp's server, handshake era --------------------------------------------------------


async def test_legacy_protocol_sends_the_session_and_version_and_deletes_the_session() -> None:
    async with trimcp_server() as (url, wire):
        with anyio.fail_after(WAIT):
            async with Client(url, protocol="legacy") as client:
                session_id = client.transport.session_id
                assert session_id
                version = client.protocol_version
                assert version != MODERN
                assert (await client.call_tool("add", {"a": 2, "b": 2})).data == 4
                assert (await client.read_resource("data://hello"))[0].text == "hello"
            assert client.transport.session_id is None
    later = [(m, h) for m, _, h in wire.requests if h.get("mcp-session-id") == session_id]
    methods = [m for m, _ in later]
    assert "GET" in methods  # the standalone stream after notifications/initialized
    assert methods[-1] == "DELETE"
    assert all(h.get("mcp-protocol-version") == version for _, h in later)
    initialize = [h for m, _, h in wire.requests if m == "POST" and "mcp-session-id" not in h]
    assert initialize and all("mcp-method" not in h for h in initialize[-1:])


async def test_legacy_server_requests_are_answered_over_post() -> None:
    mcp = make_trimcp_server()

    @mcp.tool
    async def first_root(ctx: Context) -> str:
        import msgspec

        raw = await ctx.request_context.channel.request(
            "roots/list", {}, related_request_id=ctx.request_context.id, timeout=5
        )
        return msgspec.json.decode(raw)["roots"][0]["uri"]

    async with trimcp_server(mcp) as (url, _):
        with anyio.fail_after(WAIT):
            async with Client(url, protocol="legacy", roots=["file:///srv/data"]) as client:
                assert (await client.call_tool("first_root", {})).data == "file:///srv/data"


async def test_cancelling_a_legacy_request_posts_notifications_cancelled() -> None:
    mcp = make_trimcp_server()
    started, finished = anyio.Event(), anyio.Event()

    @mcp.tool
    async def hang() -> str:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            finished.set()
        return "never"

    async with trimcp_server(mcp) as (url, wire):
        with anyio.fail_after(WAIT):
            async with Client(url, protocol="legacy") as client:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(client.call_tool, "hang", {})
                    await started.wait()
                    tg.cancel_scope.cancel()
                await finished.wait()
    assert "notifications/cancelled" in wire.methods


async def test_a_cut_response_stream_resumes_with_last_event_id() -> None:
    mcp = make_trimcp_server()

    @mcp.tool
    async def close_early(ctx: Context) -> str:
        await ctx.info("before")
        await ctx.request_context.channel.close_sse_stream()
        await ctx.info("after")
        return "finished"

    logs: list[Any] = []
    from trimcp.http.event_store import InMemoryEventStore

    store = InMemoryEventStore()
    async with trimcp_server(mcp, retry_interval=20, event_store=store) as (url, wire):
        with anyio.fail_after(WAIT):
            async with Client(url, protocol="legacy", log_handler=logs.append) as client:
                assert (await client.call_tool("close_early", {})).data == "finished"
    assert [entry.data["msg"] for entry in logs] == ["before", "after"]
    assert any(m == "GET" and "last-event-id" in h for m, _, h in wire.requests)


async def test_a_session_ended_by_the_server_gives_errors_not_hangs() -> None:
    import httpx2

    async with trimcp_server() as (url, _):
        with anyio.fail_after(WAIT):
            async with Client(url, protocol="legacy") as client:
                session_id = client.transport.session_id
                assert session_id
                async with httpx2.AsyncClient() as raw:
                    response = await raw.delete(url, headers={"Mcp-Session-Id": session_id})
                    assert response.status_code in (200, 204)
                with pytest.raises(McpError):
                    await client.call_tool("add", {"a": 1, "b": 2})


# -- failures never hang -------------------------------------------------------------------


async def test_server_down_gives_a_clear_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/mcp"
    with anyio.fail_after(WAIT):
        with pytest.raises(ClientError, match="Could not reach"):
            async with Client(url):
                pass


async def test_sse_server_down_gives_a_clear_error() -> None:
    url = f"http://127.0.0.1:{closed_port()}/sse"
    with anyio.fail_after(WAIT):
        with pytest.raises(ClientError, match="could not reach"):
            async with Client(url):
                pass


async def test_http_error_without_a_json_body_becomes_an_error_not_a_hang() -> None:
    async with trimcp_server() as (url, _):
        with anyio.fail_after(WAIT):
            with pytest.raises(ClientError, match="404"):
                async with Client(url.replace("/mcp", "/nowhere")):
                    pass


async def test_calls_after_the_server_stopped_fail_with_a_connection_error() -> None:
    mcp = make_trimcp_server()
    server_scope = anyio.CancelScope()
    stopped = anyio.Event()

    async def run(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
        with server_scope:
            await mcp.run_http_async(port=0, show_banner=False, task_status=task_status)
        stopped.set()

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            address = await tg.start(run)
            async with Client(address.url) as client:
                assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
                server_scope.cancel()
                await stopped.wait()
                with pytest.raises(McpError) as info:
                    await client.call_tool("add", {"a": 1, "b": 2})
                assert info.value.error.code == CONNECTION_ERROR
                assert "Could not reach" in info.value.error.message


# -- trimcp's legacy SSE endpoint ----------------------------------------------------------


async def test_sse_transport_against_trimcp_legacy_endpoint() -> None:
    logs: list[Any] = []
    async with trimcp_server(transport="sse") as (url, _):
        assert url.rstrip("/").endswith("/sse")
        with anyio.fail_after(WAIT):
            async with Client(url, log_handler=logs.append) as client:
                assert isinstance(client.transport, SSETransport)
                assert client.protocol_version != MODERN
                assert (await client.call_tool("add", {"a": 4, "b": 5})).data == 9
                assert (await client.call_tool("chatty", {})).data == "done"
                assert (await client.read_resource("data://hello"))[0].text == "hello"
    assert [entry.data["msg"] for entry in logs] == ["working"]


# -- the official SDK's server -------------------------------------------------------------


@pytest.mark.parametrize("json_response", [False, True], ids=["sse", "json"])
async def test_sdk_streamable_http_server_in_the_handshake_era(json_response: bool) -> None:
    app = make_sdk_server().streamable_http_app(json_response=json_response)
    logs: list[Any] = []
    progress: list[float] = []
    async with hypercorn_server(app) as base:
        with anyio.fail_after(WAIT):
            async with Client(
                f"{base}/mcp", protocol="legacy", auth="tok", log_handler=logs.append
            ) as client:
                assert client.transport.session_id
                assert {tool.name for tool in await client.list_tools()} == {"add", "authorization"}
                result = await client.call_tool(
                    "add", {"a": 1, "b": 2}, progress_handler=lambda p, t, m: progress.append(p)
                )
                assert result.structured_content == {"result": 3}
                assert (await client.call_tool("authorization", {})).content[0].text == "Bearer tok"
                assert [str(r.uri) for r in await client.list_resources()] == ["data://hello"]
                assert (await client.read_resource("data://hello"))[0].text == "hello from the sdk"
                prompt = await client.get_prompt("greet", {"name": "Ada"})
                assert prompt.messages[0].content.text == "Hello, Ada!"
    if not json_response:  # the SDK drops a JSON answer's notifications; its logs are plain text
        assert [entry.data for entry in logs] == ["adding"]
        assert progress == [1]


async def test_sdk_streamable_http_server_in_2026() -> None:
    app = make_sdk_server().streamable_http_app()
    async with hypercorn_server(app) as base:
        with anyio.fail_after(WAIT):
            async with Client(f"{base}/mcp", auth=BearerAuth("tok")) as client:
                assert client.is_modern
                assert client.transport.session_id is None
                result = await client.call_tool("add", {"a": 20, "b": 22})
                assert result.structured_content == {"result": 42}
                assert (await client.call_tool("authorization", {})).content[0].text == "Bearer tok"
                assert (await client.read_resource("data://hello"))[0].text == "hello from the sdk"
                prompt = await client.get_prompt("greet", {"name": "Ada"})
                assert prompt.messages[0].content.text == "Hello, Ada!"


async def test_sse_transport_against_the_sdk_sse_app() -> None:
    app = make_sdk_server().sse_app()
    logs: list[Any] = []
    progress: list[float] = []
    async with hypercorn_server(app) as base:
        with anyio.fail_after(WAIT):
            async with Client(f"{base}/sse", log_handler=logs.append, auth="tok") as client:
                assert isinstance(client.transport, SSETransport)
                assert (await client.call_tool("authorization", {})).content[0].text == "Bearer tok"
                result = await client.call_tool(
                    "add", {"a": 1, "b": 2}, progress_handler=lambda p, t, m: progress.append(p)
                )
                assert result.structured_content == {"result": 3}
                assert {tool.name for tool in await client.list_tools()} == {"add", "authorization"}
                assert (await client.read_resource("data://hello"))[0].text == "hello from the sdk"
                prompt = await client.get_prompt("greet", {"name": "Ada"})
                assert prompt.messages[0].content.text == "Hello, Ada!"
    assert [entry.data for entry in logs] == ["adding"]
    assert progress == [1]


async def test_a_modern_client_listens_for_list_changes_over_http() -> None:
    """`subscriptions/listen` is a POST whose SSE response stays open: the change arrives on it."""
    mcp = make_trimcp_server()
    changed = anyio.Event()
    seen: list[Any] = []  # asserted after the block: a raise in the handler could be swallowed

    async def on_message(message: Any) -> None:
        if message.method == "notifications/tools/list_changed":
            seen.append(message.params)
            changed.set()

    async with trimcp_server(mcp) as (url, _wire):
        with anyio.fail_after(WAIT):
            async with Client(url, protocol="modern", message_handler=on_message) as client:
                mcp.tool(lambda: "n", name="fresh")
                await changed.wait()
                assert "fresh" in {tool.name for tool in await client.list_tools()}
    for params in seen:
        assert params["_meta"]["io.modelcontextprotocol/subscriptionId"] is not None
