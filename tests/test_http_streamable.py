"""Streamable HTTP, both eras, against a real hypercorn on 127.0.0.1:0 (asyncio and trio);
the tests of serving behaviour (streams, disconnects, limits) also against uvicorn (asyncio).

Each test is named after the requirement it checks (shared/SPEC-NOTES.md for the sources).
"""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import httpx2 as httpx
import msgspec
import pytest

from tests.wire import on_each_server
from trimcp import Context, FastMCP
from trimcp.http.event_store import InMemoryEventStore
from trimcp.http.streamable import StreamableHTTPEndpoint
from trimcp.protocol.envelope import CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, PROTOCOL_VERSION_KEY
from trimcp.protocol.sse import ServerSentEvent, SSEDecoder

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
SSE_TIMEOUT = httpx.Timeout(5.0, read=None)
ACCEPT_BOTH = "application/json, text/event-stream"


# -- serving harness (raw ASGI on hypercorn, both backends) ------------------------------------


class _MiniApp:
    """Routes `path` to an endpoint; answers lifespan; 404 elsewhere."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        for prefix, endpoint in self.routes.items():
            if (
                path == prefix
                or path.rstrip("/") == prefix.rstrip("/")
                or (prefix.endswith("/") and path.startswith(prefix))
            ):
                await endpoint(scope, receive, send)
                return
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def serve_asgi(
    app: Any, *, on_stop: Any = None, http_server: str = "hypercorn"
) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1:0 as trimcp serves its apps under the running backend: with
    hypercorn (`trimcp.http.serve.serve_asgi`: trimcp's connection classes), or with uvicorn
    (`trimcp.http.serve_uvicorn.UvicornServing`, asyncio); yield its URL."""
    from trimcp.http.serve import build_config
    from trimcp.http.serve import serve_asgi as serve_tuned

    if http_server == "uvicorn":
        async with serve_with_uvicorn(app, on_stop=on_stop) as url:
            yield url
        return
    config = build_config(graceful_timeout=1.0)
    config.bind = ["127.0.0.1:0"]
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            binds = await tg.start(partial(serve_tuned, app, config, shutdown_trigger=stop.wait))
        try:
            yield binds[0]
        finally:
            if on_stop is not None:
                on_stop()
            stop.set()


@asynccontextmanager
async def serve_with_uvicorn(app: Any, *, on_stop: Any = None) -> AsyncIterator[str]:
    from trimcp.http.serve_uvicorn import UvicornServing

    serving = UvicornServing(app, graceful_timeout=1.0)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    try:
        async with anyio.create_task_group() as tg:
            with anyio.fail_after(10):
                await tg.start(serving.serve, sock)
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                if on_stop is not None:
                    on_stop()
                serving.stop()
    finally:
        sock.close()


def make_server() -> FastMCP:
    mcp = FastMCP("http-test", instructions="hi")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    async def chatty(ctx: Context) -> str:
        await ctx.info("working")
        await ctx.report_progress(1, 2)
        return "done"

    @mcp.tool
    async def wait_for_gate(ctx: Context) -> str:
        await GATES[ctx.request_id].wait()
        return "opened"

    @mcp.tool
    async def slow_forever() -> str:
        SIGNALS["started"].set()
        try:
            await anyio.sleep_forever()
        finally:
            SIGNALS["finished"].set()
        return "never"

    @mcp.tool
    async def ask(ctx: Context) -> str:
        raw = await ctx.request_context.channel.request(
            "roots/list", {}, related_request_id=ctx.request_context.id, timeout=5
        )
        return msgspec.json.decode(raw)["roots"][0]["uri"]

    @mcp.tool
    async def close_early(ctx: Context) -> str:
        await ctx.info("before")
        await ctx.request_context.channel.close_sse_stream()
        await ctx.info("after")
        return "finished"

    @mcp.tool
    async def say_then_gate(ctx: Context) -> str:
        await ctx.info("before")
        SIGNALS["said"].set()
        await GATES[ctx.request_id].wait()
        await ctx.info("after")
        return "finished"

    @mcp.tool
    def version(ctx: Context) -> str:
        return ctx.protocol_version or ""

    @mcp.tool
    async def chatty_then_wait(ctx: Context) -> str:
        await ctx.info("waiting")
        SIGNALS["started"].set()
        await anyio.sleep_forever()
        return "never"

    @mcp.resource("data://hello")
    def hello() -> str:
        return "Hello"

    @mcp.prompt
    def greet(name: str) -> str:
        return f"Hi {name}"

    return mcp


GATES: dict[str, anyio.Event] = {}
SIGNALS: dict[str, anyio.Event] = {}


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    """Wait (bounded) for server-side state that has no event to wait on, such as a session
    ended by a disconnect the server notices on its own schedule."""
    with anyio.fail_after(timeout):
        for _ in range(int(timeout * 100) + 1):
            if predicate():
                return
            await anyio.sleep(0.01)  # a poll interval bounded by fail_after, not a sync point
    raise TimeoutError("condition never held")


class Harness:
    def __init__(
        self, url: str, endpoint: StreamableHTTPEndpoint, client: httpx.AsyncClient
    ) -> None:
        self.url = url + "/mcp"
        self.endpoint = endpoint
        self.client = client
        self.ids = iter(range(1, 10_000))

    def body(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        id: Any = None,
        notification: bool = False,
    ) -> bytes:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if not notification:
            message["id"] = next(self.ids) if id is None else id
        if params is not None:
            message["params"] = params
        return msgspec.json.encode(message)

    async def post(
        self, content: bytes, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        base = {"content-type": "application/json", "accept": ACCEPT_BOTH}
        base.update(headers or {})
        with anyio.fail_after(10):
            return await self.client.post(self.url, content=content, headers=base, **kw)

    async def modern(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> httpx.Response:
        params = dict(params or {})
        params["_meta"] = meta if meta is not None else modern_meta()
        hdrs = {"mcp-protocol-version": MODERN, "mcp-method": method}
        if "name" in params:
            hdrs["mcp-name"] = params["name"]
        if "uri" in params:
            hdrs["mcp-name"] = params["uri"]
        hdrs.update(headers or {})
        return await self.post(self.body(method, params), hdrs)

    async def initialize(self, version: str = "2025-11-25") -> str:
        response = await self.post(self.body("initialize", init_params(version, roots={})))
        assert response.status_code == 200, response.text
        session_id = response.headers["mcp-session-id"]
        initialized = await self.post(
            self.body("notifications/initialized", notification=True),
            {"mcp-session-id": session_id},
        )
        assert initialized.status_code == 202
        return session_id

    async def call(
        self, session_id: str, method: str, params: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        return await self.post(self.body(method, params), {"mcp-session-id": session_id, **headers})


def init_params(version: str = "2025-06-18", **caps: Any) -> dict[str, Any]:
    """`initialize` params: `version`, capabilities `caps`, and a fixed client info."""
    return {
        "protocolVersion": version,
        "capabilities": caps,
        "clientInfo": {"name": "t", "version": "0"},
    }


def modern_meta(**extra: Any) -> dict[str, Any]:
    return {
        PROTOCOL_VERSION_KEY: MODERN,
        CLIENT_CAPABILITIES_KEY: {},
        CLIENT_INFO_KEY: {"name": "t", "version": "0"},
        **extra,
    }


def sse_events(text: str) -> list[ServerSentEvent]:
    return SSEDecoder().feed(text.encode())


def sse_messages(text: str) -> list[Any]:
    return [msgspec.json.decode(e.data) for e in sse_events(text) if e.data]


@asynccontextmanager
async def running(
    server: FastMCP | None = None, *, http_server: str = "hypercorn", **options: Any
) -> AsyncIterator[Harness]:
    endpoint = StreamableHTTPEndpoint(server if server is not None else make_server(), **options)
    app = _MiniApp({"/mcp": endpoint})
    async with endpoint.running():
        async with serve_asgi(app, on_stop=endpoint.shutdown, http_server=http_server) as url:
            async with httpx.AsyncClient(timeout=SSE_TIMEOUT) as client:
                yield Harness(url, endpoint, client)


# -- 2026-07-28 ------------------------------------------------------------------------------


@on_each_server
async def test_modern_tools_call_answers_json(http_server: str) -> None:
    async with running(http_server=http_server) as h:
        response = await h.modern("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        result = response.json()["result"]
        assert result["structuredContent"] == {"result": 5}
        assert result["resultType"] == "complete"
        assert "mcp-session-id" not in response.headers


async def test_modern_header_mismatch_is_400_32020_before_version_check() -> None:
    async with running() as h:
        response = await h.modern("tools/list", meta=modern_meta(**{PROTOCOL_VERSION_KEY: "v999"}))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020


async def test_modern_unsupported_version_is_400_32022_with_data() -> None:
    async with running() as h:
        response = await h.modern(
            "tools/list",
            headers={"mcp-protocol-version": "v999"},
            meta=modern_meta(**{PROTOCOL_VERSION_KEY: "v999"}),
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == -32022
        assert error["data"] == {"supported": [MODERN], "requested": "v999"}


async def test_modern_missing_protocol_version_header_is_32020() -> None:
    async with running() as h:
        body = h.body("tools/list", {"_meta": modern_meta()})
        response = await h.post(body, {"mcp-method": "tools/list"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020


async def test_modern_missing_mcp_method_header_is_32020() -> None:
    async with running() as h:
        body = h.body("tools/list", {"_meta": modern_meta()})
        response = await h.post(body, {"mcp-protocol-version": MODERN})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020


async def test_modern_mcp_method_mismatch_is_32020() -> None:
    async with running() as h:
        response = await h.modern("tools/list", headers={"mcp-method": "prompts/list"})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}}),
        ("resources/read", {"uri": "data://hello"}),
        ("prompts/get", {"name": "greet", "arguments": {"name": "x"}}),
    ],
)
async def test_modern_mcp_name_required_and_must_match(method: str, params: dict[str, Any]) -> None:
    async with running() as h:
        body = h.body(method, {**params, "_meta": modern_meta()})
        missing = await h.post(body, {"mcp-protocol-version": MODERN, "mcp-method": method})
        assert missing.status_code == 400 and missing.json()["error"]["code"] == -32020
        wrong = await h.modern(method, params, headers={"mcp-name": "other"})
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == -32020
        ok = await h.modern(method, params)
        assert ok.status_code == 200 and "result" in ok.json()


async def test_modern_mcp_name_base64_sentinel_is_decoded_header_name_case_insensitive() -> None:
    async with running() as h:
        encoded = "=?base64?" + base64.b64encode(b"add").decode() + "?="
        response = await h.modern(
            "tools/call",
            {"name": "add", "arguments": {"a": 1, "b": 2}},
            headers={"MCP-NAME": encoded},
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"]["structuredContent"] == {"result": 3}


async def test_modern_missing_required_meta_field_is_400_32602() -> None:
    async with running() as h:
        meta = {PROTOCOL_VERSION_KEY: MODERN}  # no clientCapabilities
        response = await h.modern("tools/list", meta=meta)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32602


async def test_modern_missing_client_info_is_served() -> None:
    async with running() as h:
        response = await h.modern(
            "tools/list", meta={PROTOCOL_VERSION_KEY: MODERN, CLIENT_CAPABILITIES_KEY: {}}
        )
        assert response.status_code == 200
        assert "tools" in response.json()["result"]


@pytest.mark.parametrize(
    "method",
    [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
        "no/such",
    ],
)
async def test_modern_removed_or_unknown_method_is_404_32601(method: str) -> None:
    async with running() as h:
        params: dict[str, Any] = (
            {"uri": "data://hello", "level": "info"} if method != "initialize" else {}
        )
        response = await h.modern(method, params, headers={"mcp-name": "data://hello"})
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == -32601


async def test_modern_other_errors_are_200_error_bodies() -> None:
    async with running() as h:
        response = await h.modern("tools/call", {"name": "nope", "arguments": {}})
        assert response.status_code == 200
        assert response.json()["error"]["code"] == -32602


async def test_modern_notification_gets_202_without_body() -> None:
    async with running() as h:
        body = h.body(
            "notifications/progress",
            {"_meta": modern_meta(), "progressToken": 1, "progress": 1},
            notification=True,
        )
        response = await h.post(
            body, {"mcp-protocol-version": MODERN, "mcp-method": "notifications/progress"}
        )
        assert response.status_code == 202
        assert response.content == b""


@on_each_server
async def test_modern_handler_that_emits_gets_lazy_sse_with_x_accel_buffering(
    http_server: str,
) -> None:
    async with running(http_server=http_server) as h:
        meta = modern_meta(**{"io.modelcontextprotocol/logLevel": "info", "progressToken": "p"})
        response = await h.modern("tools/call", {"name": "chatty", "arguments": {}}, meta=meta)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-accel-buffering"] == "no"
        events = sse_events(response.text)
        assert all(e.id is None for e in events)  # no event ids in 2026
        messages = [msgspec.json.decode(e.data) for e in events]
        assert [m.get("method") for m in messages[:-1]] == [
            "notifications/message",
            "notifications/progress",
        ]
        assert messages[-1]["result"]["structuredContent"] == {"result": "done"}


async def test_modern_json_response_mode_drops_request_notifications() -> None:
    async with running(json_response=True) as h:
        meta = modern_meta(**{"io.modelcontextprotocol/logLevel": "info", "progressToken": "p"})
        response = await h.modern(
            "tools/call",
            {"name": "chatty", "arguments": {}},
            meta=meta,
            headers={"accept": "application/json"},
        )
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json()["result"]["structuredContent"] == {"result": "done"}


@on_each_server
async def test_modern_client_disconnect_cancels_the_request(http_server: str) -> None:
    SIGNALS["started"] = anyio.Event()
    SIGNALS["finished"] = anyio.Event()
    async with running(http_server=http_server) as h:
        body = h.body(
            "tools/call", {"name": "slow_forever", "arguments": {}, "_meta": modern_meta()}
        )
        headers = {
            "content-type": "application/json",
            "accept": ACCEPT_BOTH,
            "mcp-protocol-version": MODERN,
            "mcp-method": "tools/call",
            "mcp-name": "slow_forever",
        }
        async with httpx.AsyncClient(timeout=SSE_TIMEOUT) as other:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: other.post(h.url, content=body, headers=headers))
                with anyio.fail_after(5):
                    await SIGNALS["started"].wait()
                tg.cancel_scope.cancel()  # drops the connection
        with anyio.fail_after(5):
            await SIGNALS["finished"].wait()
        ok = await h.modern("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}})
        assert ok.status_code == 200


async def test_modern_get_and_delete_without_session_are_405_allow_post() -> None:
    async with running() as h:
        for method in ("GET", "DELETE"):
            response = await h.client.request(
                method, h.url, headers={"accept": "text/event-stream"}
            )
            assert response.status_code == 405
            assert response.headers["allow"] == "POST"


async def test_modern_request_ignores_mcp_session_id() -> None:
    async with running() as h:
        response = await h.modern(
            "tools/list", headers={"mcp-session-id": "bogus", "last-event-id": "x.1.1"}
        )
        assert response.status_code == 200
        assert "mcp-session-id" not in response.headers


# -- handshake era -----------------------------------------------------------------------------


@on_each_server
async def test_initialize_returns_a_visible_ascii_session_id(http_server: str) -> None:
    async with running(http_server=http_server) as h:
        session_id = await h.initialize()
        assert session_id and all(0x21 <= ord(c) <= 0x7E for c in session_id)
        response = await h.call(
            session_id, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}
        )
        assert response.status_code == 200
        assert response.json()["result"]["structuredContent"] == {"result": 3}


async def test_initialize_negotiates_a_handshake_version() -> None:
    async with running() as h:
        response = await h.post(h.body("initialize", init_params(MODERN)))
        assert response.json()["result"]["protocolVersion"] == "2025-11-25"


async def test_request_without_session_id_gets_400() -> None:
    async with running() as h:
        await h.initialize()
        response = await h.post(h.body("tools/list"))
        assert response.status_code == 400


async def test_unknown_session_gets_404() -> None:
    async with running() as h:
        response = await h.call("deadbeef", "tools/list")
        assert response.status_code == 404


@on_each_server
async def test_delete_ends_the_session_then_404(http_server: str) -> None:
    async with running(http_server=http_server) as h:
        session_id = await h.initialize()
        deleted = await h.client.delete(h.url, headers={"mcp-session-id": session_id})
        assert deleted.status_code == 200
        assert len(h.endpoint.sessions) == 0
        response = await h.call(session_id, "tools/list")
        assert response.status_code == 404


async def test_bad_protocol_version_header_gets_400() -> None:
    async with running() as h:
        session_id = await h.initialize()
        response = await h.call(session_id, "tools/list", **{"mcp-protocol-version": "1999-01-01"})
        assert response.status_code == 400
        ok = await h.call(session_id, "tools/list", **{"mcp-protocol-version": "2025-11-25"})
        assert ok.status_code == 200


async def test_missing_protocol_version_header_means_2025_03_26() -> None:
    async with running() as h:
        session_id = await h.initialize("2025-03-26")
        response = await h.call(session_id, "tools/list")
        assert response.status_code == 200


async def test_client_responses_and_notifications_get_202() -> None:
    async with running() as h:
        session_id = await h.initialize()
        response = await h.post(
            b'{"jsonrpc":"2.0","id":"nobody","result":{}}', {"mcp-session-id": session_id}
        )
        assert response.status_code == 202
        note = await h.post(
            h.body("notifications/cancelled", {"requestId": 99}, notification=True),
            {"mcp-session-id": session_id},
        )
        assert note.status_code == 202


@on_each_server
async def test_server_to_client_request_rides_the_post_stream_and_answer_gets_202(
    http_server: str,
) -> None:
    async with running(http_server=http_server) as h:
        session_id = await h.initialize("2025-06-18")
        headers = {
            "content-type": "application/json",
            "accept": ACCEPT_BOTH,
            "mcp-session-id": session_id,
        }
        body = h.body("tools/call", {"name": "ask", "arguments": {}})
        with anyio.fail_after(10):
            async with h.client.stream("POST", h.url, content=body, headers=headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                decoder = SSEDecoder()
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        message = msgspec.json.decode(event.data)
                        if message.get("method") == "roots/list":
                            answer = msgspec.json.encode(
                                {
                                    "jsonrpc": "2.0",
                                    "id": message["id"],
                                    "result": {"roots": [{"uri": "file:///r"}]},
                                }
                            )
                            posted = await h.post(answer, {"mcp-session-id": session_id})
                            assert posted.status_code == 202
                        elif "result" in message:
                            assert message["result"]["structuredContent"] == {"result": "file:///r"}
                            return
        raise AssertionError("no final response")


@on_each_server
async def test_get_opens_the_standalone_stream_once_409_for_a_second(http_server: str) -> None:
    async with running(http_server=http_server) as h:
        session_id = await h.initialize()
        headers = {"accept": "text/event-stream", "mcp-session-id": session_id}
        with anyio.fail_after(10):
            async with h.client.stream("GET", h.url, headers=headers) as first:
                assert first.status_code == 200
                assert first.headers["content-type"].startswith("text/event-stream")
                second = await h.client.get(h.url, headers=headers)
                assert second.status_code == 409

                # a list change is delivered on the GET stream
                def extra() -> int:
                    return 1

                h.endpoint.server.add_tool(extra)
                decoder = SSEDecoder()
                async for chunk in first.aiter_bytes():
                    events = [e for e in decoder.feed(chunk) if e.data]
                    if events:
                        assert (
                            msgspec.json.decode(events[0].data)["method"]
                            == "notifications/tools/list_changed"
                        )
                        break


async def test_stateless_http_creates_no_sessions() -> None:
    async with running(stateless=True) as h:
        response = await h.post(h.body("initialize", init_params()))
        assert response.status_code == 200
        assert "mcp-session-id" not in response.headers
        listed = await h.post(h.body("tools/list"))
        assert listed.status_code == 200 and "tools" in listed.json()["result"]
        assert len(h.endpoint.sessions) == 0
        get = await h.client.get(
            h.url, headers={"accept": "text/event-stream", "mcp-session-id": "x"}
        )
        assert get.status_code == 405


async def test_stateless_request_is_served_at_its_protocol_version_header() -> None:
    async with running(stateless=True) as h:
        call = h.body("tools/call", {"name": "version", "arguments": {}})
        for version in ("2024-11-05", "2025-06-18", "2025-11-25"):
            response = await h.post(call, {"mcp-protocol-version": version})
            assert response.status_code == 200, response.text
            assert response.json()["result"]["structuredContent"] == {"result": version}
        assert len(h.endpoint.sessions) == 0


async def test_stateless_request_without_version_header_is_served_as_2025_03_26() -> None:
    async with running(stateless=True) as h:
        response = await h.post(h.body("tools/call", {"name": "version", "arguments": {}}))
        assert response.status_code == 200, response.text
        assert response.json()["result"]["structuredContent"] == {"result": "2025-03-26"}


async def test_stateless_unsupported_protocol_version_header_gets_400() -> None:
    async with running(stateless=True) as h:
        call = h.body("tools/call", {"name": "version", "arguments": {}})
        response = await h.post(call, {"mcp-protocol-version": "1999-01-01"})
        assert response.status_code == 400


async def test_stateless_initialize_negotiates_from_the_body() -> None:
    async with running(stateless=True) as h:
        init = init_params()
        response = await h.post(h.body("initialize", init))
        assert response.json()["result"]["protocolVersion"] == "2025-06-18"
        unknown = await h.post(h.body("initialize", dict(init, protocolVersion="1999-01-01")))
        assert unknown.json()["result"]["protocolVersion"] == "2025-11-25"


async def _cancel_in_flight(
    h: Harness, session_id: str, tool: str, *, accept: str = ACCEPT_BOTH
) -> httpx.Response:
    """POST a call to `tool` (which sets SIGNALS["started"] and never ends), cancel it with
    notifications/cancelled once it runs, and return the call's (complete) answer."""
    SIGNALS["started"] = anyio.Event()
    SIGNALS["finished"] = anyio.Event()
    results: list[httpx.Response] = []
    body = msgspec.json.encode(
        {
            "jsonrpc": "2.0",
            "id": 77,
            "method": "tools/call",
            "params": {"name": tool, "arguments": {}},
        }
    )

    async def call() -> None:
        results.append(await h.post(body, {"mcp-session-id": session_id, "accept": accept}))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        with anyio.fail_after(5):
            await SIGNALS["started"].wait()
        cancel = h.body(
            "notifications/cancelled", {"requestId": 77, "reason": "test"}, notification=True
        )
        assert (await h.post(cancel, {"mcp-session-id": session_id})).status_code == 202
    return results[0]


async def test_cancelled_request_without_output_gets_a_json_rpc_answer_not_204() -> None:
    async with running() as h:
        session_id = await h.initialize()
        response = await _cancel_in_flight(h, session_id, "slow_forever")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "jsonrpc": "2.0",
            "id": 77,
            "error": {"code": -32800, "message": "Request cancelled"},
        }
        with anyio.fail_after(5):
            await SIGNALS["finished"].wait()
        assert len(h.endpoint.sessions.get(session_id).engine) == 0  # nothing left in flight


async def test_cancelled_request_in_json_response_mode_gets_one_json_object() -> None:
    async with running(json_response=True) as h:
        session_id = await h.initialize()
        response = await _cancel_in_flight(h, session_id, "slow_forever", accept="application/json")
        assert response.status_code == 200
        assert response.json()["error"]["code"] == -32800


@on_each_server
async def test_cancelled_request_with_an_open_sse_stream_ends_it_with_the_cancel_error(
    http_server: str,
) -> None:
    async with running(
        event_store=InMemoryEventStore(), retry_interval=10, http_server=http_server
    ) as h:
        session_id = await h.initialize()
        response = await _cancel_in_flight(h, session_id, "chatty_then_wait")
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [e for e in sse_events(response.text) if e.data]
        messages = [msgspec.json.decode(e.data) for e in events]
        assert messages[0]["method"] == "notifications/message"
        assert messages[-1] == {
            "jsonrpc": "2.0",
            "id": 77,
            "error": {"code": -32800, "message": "Request cancelled"},
        }
        assert all(e.id for e in events)  # an event like the others (kept for a replay)


async def test_json_response_mode_answers_json_in_handshake_era() -> None:
    async with running(json_response=True) as h:
        session_id = await h.initialize()
        response = await h.call(session_id, "tools/call", {"name": "chatty", "arguments": {}})
        assert response.headers["content-type"] == "application/json"
        assert response.json()["result"]["structuredContent"] == {"result": "done"}


async def test_batches_only_for_2025_03_26_sessions() -> None:
    async with running() as h:
        old = await h.initialize("2025-03-26")
        batch = b"[" + h.body("tools/list") + b"," + h.body("prompts/list") + b"]"
        response = await h.post(batch, {"mcp-session-id": old})
        assert response.status_code == 200
        assert len(response.json()) == 2
        new = await h.initialize("2025-06-18")
        refused = await h.post(batch, {"mcp-session-id": new})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == -32600


async def test_stateless_batches_only_at_2025_03_26_stated_or_assumed() -> None:
    async with running(stateless=True) as h:
        call = h.body("tools/call", {"name": "version", "arguments": {}})
        batch = b"[" + call + b"," + h.body("prompts/list") + b"]"
        for headers in ({}, {"mcp-protocol-version": "2025-03-26"}):
            response = await h.post(batch, headers)
            assert response.status_code == 200, response.text
            replies = response.json()
            assert len(replies) == 2
            served = [r for r in replies if "structuredContent" in r.get("result", {})]
            assert served[0]["result"]["structuredContent"] == {"result": "2025-03-26"}
        refused = await h.post(batch, {"mcp-protocol-version": "2025-06-18"})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == -32600
        assert len(h.endpoint.sessions) == 0


async def test_priming_event_and_retry_only_for_2025_11_25_sessions() -> None:
    async with running(event_store=InMemoryEventStore(), retry_interval=1500) as h:
        for version, primed in (("2025-11-25", True), ("2025-06-18", False)):
            session_id = await h.initialize(version)
            response = await h.call(session_id, "tools/call", {"name": "chatty", "arguments": {}})
            events = sse_events(response.text)
            if primed:
                assert events[0].data == "" and events[0].id and events[0].retry == 1500
                assert all(e.id and e.id.startswith(session_id + ".") for e in events)
            else:
                assert all(e.id is None and e.data for e in events)


@on_each_server
async def test_last_event_id_replays_only_that_stream_via_get(http_server: str) -> None:
    async with running(
        event_store=InMemoryEventStore(), retry_interval=10, http_server=http_server
    ) as h:
        session_id = await h.initialize()
        response = await h.call(session_id, "tools/call", {"name": "close_early", "arguments": {}})
        events = sse_events(response.text)
        # the POST stream was closed early: priming + "before" + retry hint, no result
        assert [msgspec.json.decode(e.data)["params"]["data"]["msg"] for e in events if e.data] == [
            "before"
        ]
        last = [e.id for e in events if e.id][-1]
        headers = {
            "accept": "text/event-stream",
            "mcp-session-id": session_id,
            "last-event-id": last,
        }
        with anyio.fail_after(10):
            replay = await h.client.get(h.url, headers=headers)
        messages = sse_messages(replay.text)
        assert messages[0]["params"]["data"] == {"msg": "after"}
        assert messages[-1]["result"]["structuredContent"] == {"result": "finished"}
        other = dict(headers, **{"last-event-id": "someone-else.1.1"})
        assert (await h.client.get(h.url, headers=other)).status_code == 400


@on_each_server
async def test_a_live_stream_holds_its_events_until_a_get_resumes_it(http_server: str) -> None:
    """A POST stream still live on its connection holds its events (none in the store); a GET
    resuming it from its priming event gets the held ones replayed, with the ids the POST
    sent them with, then the rest as they come."""
    store = InMemoryEventStore()
    async with running(event_store=store, http_server=http_server) as h:
        session_id = await h.initialize()
        GATES.clear()
        SIGNALS.clear()
        request_id = 9001
        GATES[str(request_id)] = anyio.Event()
        SIGNALS["said"] = anyio.Event()
        body = h.body("tools/call", {"name": "say_then_gate", "arguments": {}}, id=request_id)
        posted: list[httpx.Response] = []
        resumed: list[httpx.Response] = []

        async def post() -> None:
            posted.append(await h.post(body, {"mcp-session-id": session_id}))

        session = h.endpoint.sessions.get(session_id)
        assert session is not None
        async with anyio.create_task_group() as tg:
            tg.start_soon(post)
            with anyio.fail_after(10):
                await SIGNALS["said"].wait()
            assert store.events == 0 and store.held == 0  # held by the stream itself
            assert session.streams is not None
            ((stream_id, live),) = session.streams.items()
            headers = {
                "accept": "text/event-stream",
                "mcp-session-id": session_id,
                "last-event-id": f"{stream_id}.1",  # the priming event
            }

            async def resume() -> None:
                with anyio.fail_after(10):
                    resumed.append(await h.client.get(h.url, headers=headers))

            tg.start_soon(resume)
            await wait_until(lambda: live._sink is not None, 10)
            assert store.events == 1  # "before", handed to the store when the GET attached
            GATES[str(request_id)].set()
        sent = [e for e in sse_events(posted[0].text) if e.data]
        replayed = [e for e in sse_events(resumed[0].text) if e.data]
        assert [msgspec.json.decode(e.data).get("params", {}).get("data") for e in replayed] == [
            {"msg": "before"},
            {"msg": "after"},
            None,
        ]
        assert msgspec.json.decode(replayed[-1].data)["result"]["structuredContent"] == {
            "result": "finished"
        }
        assert replayed[0].id == sent[0].id == f"{stream_id}.2"
        assert store.events == 3  # resumed: kept for another resumption, not forgotten


async def test_idle_sessions_are_reaped_but_never_with_an_active_request() -> None:
    async with running(session_idle_timeout=0.2) as h:
        busy = await h.initialize()
        idle = await h.initialize()
        GATES.clear()
        request_id = 4242
        GATES[str(request_id)] = anyio.Event()
        body = msgspec.json.encode(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "method": "tools/call",
                "params": {"name": "wait_for_gate", "arguments": {}},
            }
        )
        results: list[Any] = []

        async def long_call() -> None:
            results.append(await h.post(body, {"mcp-session-id": busy}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(long_call)
            await wait_until(lambda: h.endpoint.sessions.get(idle) is None, 10)
            assert h.endpoint.sessions.get(busy) is not None
            GATES[str(request_id)].set()
        assert results[0].json()["result"]["structuredContent"] == {"result": "opened"}


async def test_max_sessions_cap_evicts_the_least_recently_used_idle_session() -> None:
    # a full server makes room (503 only when every session is busy: test_session_eviction)
    async with running(max_sessions=2) as h:
        oldest = await h.initialize()
        newer = await h.initialize()
        assert (await h.call(newer, "ping")).status_code == 200
        third = await h.initialize()
        assert (await h.call(oldest, "ping")).status_code == 404
        for session_id in (newer, third):
            assert (await h.call(session_id, "ping")).status_code == 200


# -- bad input ---------------------------------------------------------------------------------


@on_each_server
async def test_body_over_limit_is_413(http_server: str) -> None:
    async with running(max_body_size=1024, http_server=http_server) as h:
        response = await h.post(b"[" + b" " * 4096 + b"]")
        assert response.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:  # no content-length: stopped while reading
            for _ in range(64):
                yield b" " * 512

        streamed = await h.client.post(
            h.url,
            content=chunks(),
            headers={"content-type": "application/json", "accept": ACCEPT_BOTH},
        )
        assert streamed.status_code == 413


async def test_wrong_content_type_is_415() -> None:
    async with running() as h:
        response = await h.post(h.body("tools/list"), {"content-type": "text/plain"})
        assert response.status_code == 415


async def test_invalid_json_is_400_with_parse_error() -> None:
    async with running() as h:
        response = await h.post(b"{not json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32700


async def test_sdk_convention_accept_without_json_and_sse_is_406() -> None:
    async with running() as h:
        response = await h.post(h.body("tools/list"), {"accept": "text/html"})
        assert response.status_code == 406
        only_json = await h.post(h.body("tools/list"), {"accept": "application/json"})
        assert only_json.status_code == 406  # both are required unless json_response


@on_each_server
async def test_client_disconnect_mid_response_leaves_server_healthy(http_server: str) -> None:
    async with running(http_server=http_server) as h:
        session_id = await h.initialize()
        headers = {"accept": "text/event-stream", "mcp-session-id": session_id}
        async with h.client.stream("GET", h.url, headers=headers) as response:
            assert response.status_code == 200
        await wait_until(lambda: h.endpoint.sessions.get(session_id).outbox is None)
        ok = await h.call(session_id, "tools/list")
        assert ok.status_code == 200
        async with h.client.stream("GET", h.url, headers=headers) as again:
            assert again.status_code == 200


# -- subscriptions/listen (2026-07-28) ----------------------------------------------------------


@on_each_server
async def test_listen_acknowledges_first_then_sends_only_opted_in_tagged_changes(
    http_server: str,
) -> None:
    async with running(keepalive_interval=0.05, http_server=http_server) as h:
        body = h.body(
            "subscriptions/listen",
            {
                "_meta": modern_meta(),
                "notifications": {
                    "toolsListChanged": True,
                    "resourceSubscriptions": ["data://hello"],
                },
            },
            id="sub-1",
        )
        headers = {
            "content-type": "application/json",
            "accept": ACCEPT_BOTH,
            "mcp-protocol-version": MODERN,
            "mcp-method": "subscriptions/listen",
        }
        seen: list[Any] = []
        comments = 0
        with anyio.fail_after(10):
            async with h.client.stream("POST", h.url, content=body, headers=headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                decoder = SSEDecoder()
                async for chunk in response.aiter_bytes():
                    comments += chunk.count(b":\n\n")
                    for event in decoder.feed(chunk):
                        message = msgspec.json.decode(event.data)
                        seen.append(message)
                        if message["method"] == "notifications/subscriptions/acknowledged":
                            assert message["params"]["notifications"] == {
                                "toolsListChanged": True,
                                "resourceSubscriptions": ["data://hello"],
                            }
                            h.endpoint.server.disable(
                                names=["add"]
                            )  # tools, resources and prompts list_changed
                    if (
                        seen
                        and seen[-1]["method"] == "notifications/tools/list_changed"
                        and comments
                    ):
                        break
        assert seen[0]["method"] == "notifications/subscriptions/acknowledged"
        assert seen[0]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"
        assert [m["method"] for m in seen[1:]] == ["notifications/tools/list_changed"]
        assert seen[1]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == "sub-1"


class _FailingReplay(InMemoryEventStore):
    """Stores events, but replaying them fails as a Redis that went down would."""

    async def replay_events_after(self, last_event_id: str, send_callback: Any) -> str | None:
        from trimcp.storage.errors import StorageUnavailableError

        raise StorageUnavailableError("redis 127.0.0.1:1 unreachable (replay)")


async def test_a_failing_event_store_replays_nothing_but_the_get_is_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(event_store=_FailingReplay(), retry_interval=10) as h:
        session_id = await h.initialize()
        response = await h.call(session_id, "tools/call", {"name": "close_early", "arguments": {}})
        last = [e.id for e in sse_events(response.text) if e.id][-1]
        headers = {"accept": "text/event-stream", "mcp-session-id": session_id}
        with anyio.fail_after(10):
            replay = await h.client.get(h.url, headers=dict(headers, **{"last-event-id": last}))
        assert replay.status_code == 200  # an SSE stream, not an exception out of the app
        assert "the event store failed" in caplog.text
