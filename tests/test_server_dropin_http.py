"""The HTTP app and the settings as FastMCP 2.13 programs meet them (issue 16): the other
spelling of the MCP path (`GET /mcp/` redirected, 307, a POST served), `FastMCP(debug=True)`
reaching Starlette, `ctx.session.at_close` refused where no client session ends (stateless
HTTP), the `log_enabled` and `enable_rich_tracebacks` settings, `get_tool` finding a hidden
tool, and `ResourceToolMiddleware`'s `read_resource` answering FastMCP's shape."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from trimcp import Client, Context, FastMCP
from trimcp.server.middleware.tool_injection import ResourceToolMiddleware
from trimcp.settings import Settings
from trimcp.utilities.logging import configure_logging

from .wire import MODERN, modern_meta, serving

pytestmark = pytest.mark.anyio

WAIT = 10


async def asgi_request(
    app: Any, method: str, path: str, *, root_path: str = "", query: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request through the ASGI `app` (no body, no server): status, headers, body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "server": ("mcp.test", 80),
        "client": ("127.0.0.1", 5000),
        "root_path": root_path,
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "query_string": query,
        "headers": [(b"host", b"mcp.test")],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(WAIT):
        await app(scope, receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, body


# -- the other spelling of the MCP path --------------------------------------------------------


async def test_a_get_of_the_mcp_path_with_a_trailing_slash_is_redirected() -> None:
    app = FastMCP("t").http_app(path="/mcp")
    status, headers, _ = await asgi_request(app, "GET", "/mcp/", query=b"a=1")
    assert status == 307
    assert headers["location"] == "http://mcp.test/mcp?a=1"


async def test_the_redirect_keeps_the_mount_point_and_goes_either_way() -> None:
    app = FastMCP("t").http_app(path="/mcp/")
    status, headers, _ = await asgi_request(app, "GET", "/mcp", root_path="/srv")
    assert status == 307
    assert headers["location"] == "http://mcp.test/srv/mcp/"


async def test_a_post_to_either_spelling_is_served_without_a_redirect() -> None:
    async with serving(FastMCP("t"), stateless_http=True, json_response=True) as (_, client):
        for path in ("/mcp", "/mcp/"):
            response = await client.post(
                path,
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                headers={
                    "accept": "application/json, text/event-stream",
                    "mcp-protocol-version": "2025-06-18",
                },
            )
            assert response.status_code == 200, path
            assert response.json() == {"jsonrpc": "2.0", "id": 1, "result": {}}


# -- FastMCP(debug=True) ----------------------------------------------------------------------


def failing_server(**options: Any) -> FastMCP:
    mcp = FastMCP("t", **options)

    @mcp.custom_route("/boom", methods=["GET"])
    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("the route failed")

    return mcp


async def test_the_constructors_debug_is_starlettes_debug_mode() -> None:
    with pytest.warns(DeprecationWarning, match="Providing `debug`"):
        mcp = failing_server(debug=True)
    app = mcp.http_app()
    assert app.debug is True
    sent: list[bytes] = []
    with pytest.raises(RuntimeError, match="the route failed"):  # re-raised for the server
        await app(
            {
                "type": "http",
                "method": "GET",
                "path": "/boom",
                "headers": [(b"accept", b"text/plain")],
                "query_string": b"",
                "root_path": "",
            },
            _empty_receive,
            _collect(sent),
        )
    assert b"the route failed" in b"".join(sent)  # the traceback is in the answer


async def test_without_debug_a_failing_route_answers_a_plain_500() -> None:
    app = failing_server().http_app()
    assert app.debug is False
    sent: list[bytes] = []
    with pytest.raises(RuntimeError):
        await app(
            {"type": "http", "method": "GET", "path": "/boom", "headers": [], "query_string": b""},
            _empty_receive,
            _collect(sent),
        )
    assert b"".join(sent) == b"Internal Server Error"


async def _empty_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _collect(into: list[bytes]) -> Any:
    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            into.append(message.get("body", b""))

    return send


# -- ctx.session.at_close where no client session ends --------------------------------------


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_at_close_is_refused_on_the_shared_session_of_stateless_http(era: str) -> None:
    mcp = FastMCP("t")

    @mcp.tool
    def bind(ctx: Context) -> str:
        try:
            ctx.session.at_close(lambda: None)
        except RuntimeError as exc:
            return str(exc)
        return "bound"

    params: dict[str, Any] = {"name": "bind", "arguments": {}}
    headers = {"accept": "application/json, text/event-stream"}
    if era == "modern":
        params["_meta"] = modern_meta()
        headers.update({"mcp-protocol-version": MODERN, "mcp-method": "tools/call"})
        headers["mcp-name"] = "bind"
    else:
        headers["mcp-protocol-version"] = "2025-06-18"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    async with serving(mcp, stateless_http=True, json_response=True, wait=WAIT) as (_, client):
        response = await client.post("/mcp", json=body, headers=headers)
    assert response.status_code == 200, response.text
    text = response.json()["result"]["content"][0]["text"]
    assert text.startswith("ctx.session.at_close() needs a client session")


# -- settings ----------------------------------------------------------------------------------


def test_log_enabled_and_rich_tracebacks_are_read_from_fastmcps_variables() -> None:
    read = Settings(environ={"FASTMCP_LOG_ENABLED": "false", "FASTMCP_ENABLE_RICH_TRACEBACKS": "0"})
    assert read.log_enabled is False and read.enable_rich_tracebacks is False
    defaults = Settings(environ={})
    assert defaults.log_enabled is True and defaults.enable_rich_tracebacks is True


def test_configure_logging_leaves_the_logger_alone_when_logging_is_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trimcp.settings

    logger = logging.getLogger("trimcp.tests.log_enabled")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        monkeypatch.setattr(trimcp.settings, "log_enabled", False)
        configure_logging("DEBUG", logger=logger)
        assert logger.handlers == [handler] and logger.level == logging.NOTSET
        monkeypatch.setattr(trimcp.settings, "log_enabled", True)
        configure_logging("DEBUG", logger=logger)
        assert handler not in logger.handlers and logger.level == logging.DEBUG
    finally:
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


# -- get_tool finds a hidden tool ---------------------------------------------------------------


async def test_get_tool_finds_a_disabled_tool_so_it_can_be_enabled_again() -> None:
    mcp = FastMCP("t")

    @mcp.tool(enabled=False)
    def hidden() -> str:
        return "here"

    assert [tool.name for tool in await mcp.list_tools()] == []
    found = await mcp.get_tool("hidden")
    assert found is hidden and not found.enabled
    found.enable()
    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            assert (await client.call_tool("hidden")).data == "here"
    with pytest.raises(Exception, match="Unknown tool: missing"):
        await mcp.get_tool("missing")


# -- ResourceToolMiddleware's read_resource ----------------------------------------------------


async def test_the_read_resource_tool_answers_fastmcps_contents_shape() -> None:
    mcp = FastMCP("t", middleware=[ResourceToolMiddleware()])

    @mcp.resource("config://app")
    def config() -> str:
        return "debug=true"

    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            result = await client.call_tool("read_resource", {"uri": "config://app"})
    assert result.structured_content == {
        "result": [{"content": "debug=true", "mime_type": "text/plain"}]
    }


async def test_get_resource_template_and_prompt_find_hidden_ones_too() -> None:
    mcp = FastMCP("t")

    @mcp.resource("data://config", enabled=False)
    def config() -> str:
        return "cfg"

    @mcp.resource("users://{user_id}", enabled=False)
    def user(user_id: str) -> str:
        return user_id

    @mcp.prompt(enabled=False)
    def greet() -> str:
        return "hello"

    assert (await mcp.get_resource("data://config")) is config
    assert (await mcp.get_resource_template("users://{user_id}")) is user
    assert (await mcp.get_prompt("greet")) is greet
    config.enable()
    assert list(await mcp.get_resources()) == ["data://config"]
    with pytest.raises(Exception, match="Unknown prompt: missing"):
        await mcp.get_prompt("missing")
    with pytest.raises(Exception, match="Unknown resource: data://missing"):
        await mcp.get_resource("data://missing")
