"""Every place a user passes options refuses one it does not know, before serving anything.

Issue 14, finding 2: `FastMCP(...)` took any keyword, so a server ported from FastMCP with
`auth=SomeProvider(...)` started and served every tool unauthenticated. FastMCP 2.13 raises
`TypeError` for an unknown keyword; trimcp does too, and raises `NotImplementedError` for a
FastMCP keyword it does not implement yet (`auth=` above all) instead of ignoring it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

import trimcp.settings
from tests.wire import serving
from trimcp import Client, FastMCP
from trimcp.prompts import Prompt
from trimcp.resources import Resource, ResourceTemplate
from trimcp.settings import Settings
from trimcp.tools import Tool

BACKENDS = ["asyncio", "trio"]


def add(a: int, b: int) -> int:
    return a + b


def recording_server(entered: list[str]) -> FastMCP:
    @asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict[str, Any]]:
        entered.append("lifespan")
        yield {}

    mcp = FastMCP("strict", lifespan=lifespan)
    mcp.tool(add)
    return mcp


@contextmanager
def port_held() -> Iterator[int]:
    """A port something already listens on: a server that got as far as binding it would fail
    with `OSError`, so a `TypeError` proves the options were checked first."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]
    finally:
        sock.close()


# --- the constructor --------------------------------------------------------------------------


def test_fastmcp_refuses_an_unknown_keyword() -> None:
    with pytest.raises(TypeError, match="bogus"):
        FastMCP("x", bogus=1)  # type: ignore[call-arg]


def test_fastmcp_refuses_auth_it_cannot_enforce_rather_than_serving_without_it() -> None:
    class SomeProvider:
        pass

    with pytest.raises(NotImplementedError, match=r"authorization.*auth=.*refusing to serve"):
        FastMCP("x", auth=SomeProvider())
    assert FastMCP("x", auth=None).auth is None


@pytest.mark.parametrize("variable", ["FASTMCP_SERVER_AUTH", "TRIMCP_SERVER_AUTH"])
def test_fastmcp_refuses_server_auth_from_the_environment_unless_auth_none(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "fastmcp.server.auth.providers.jwt.JWTVerifier")
    monkeypatch.setattr(trimcp.settings, "settings", Settings())  # the environment is read once
    with pytest.raises(NotImplementedError, match=variable):
        FastMCP("x")
    FastMCP("x", auth=None)  # explicitly none: FastMCP 2.13 ignores the variable then too


def test_fastmcp_refuses_the_openapi_constructors_it_does_not_implement_yet() -> None:
    with pytest.raises(NotImplementedError, match="OpenAPI"):
        FastMCP.from_openapi({"openapi": "3.0.0"}, client=None)
    with pytest.raises(NotImplementedError, match="OpenAPI"):
        FastMCP.from_fastapi(object())


def test_fastmcp_accepts_its_213_keywords_whose_default_it_implements() -> None:
    mcp = FastMCP(
        "x",
        dependencies=["httpx"],
        include_fastmcp_meta=True,
        tool_transformations=None,
        sampling_handler_behavior=None,
        debug=True,
        log_level="INFO",
    )
    assert mcp.dependencies == ["httpx"]
    assert mcp.sampling_handler_behavior == "fallback"
    assert mcp.transport_settings == {"debug": True, "log_level": "INFO"}
    with pytest.warns(DeprecationWarning, match="settings"):
        assert mcp.settings.log_level == "INFO"  # FastMCP 2.x's view, deprecated there


@pytest.mark.anyio
async def test_fastmcp_213_transport_settings_still_apply(anyio_backend: str) -> None:
    mcp = FastMCP("x", streamable_http_path="/custom", json_response=True, stateless_http=True)
    mcp.tool(add)
    assert mcp.http_app().state.path == "/custom"
    async with serving(mcp) as (address, http):
        assert address.url.endswith("/custom")
        response = await http.post(
            address.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-06-18",
            },
        )
    assert response.status_code == 200  # stateless: no session needed
    assert response.headers["content-type"].startswith("application/json")
    assert [t["name"] for t in response.json()["result"]["tools"]] == ["add"]


@pytest.mark.anyio
async def test_fastmcp_213_host_and_port_settings_still_apply(anyio_backend: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mcp = FastMCP("x", host="127.0.0.1", port=port)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            address = await tg.start(
                lambda task_status: mcp.run_http_async(show_banner=False, task_status=task_status)
            )
            tg.cancel_scope.cancel()
    assert (address.host, address.port) == ("127.0.0.1", port)


# --- the entry points: refused before a port is bound or the lifespan entered ----------------


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["http", "streamable-http", "sse"])
async def test_run_async_refuses_an_unknown_option_before_serving(
    anyio_backend: str, transport: str
) -> None:
    entered: list[str] = []
    mcp = recording_server(entered)
    with port_held() as port, anyio.fail_after(10):
        with pytest.raises(TypeError, match="bogus"):
            await mcp.run_async(transport, show_banner=False, port=port, bogus=1)  # type: ignore[arg-type]
    assert entered == []


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_run_http_async_refuses_an_unknown_option_before_serving(
    anyio_backend: str, transport: str
) -> None:
    entered: list[str] = []
    mcp = recording_server(entered)
    with port_held() as port, anyio.fail_after(10):
        with pytest.raises(TypeError, match="bogus"):
            await mcp.run_http_async(transport, show_banner=False, port=port, bogus=1)  # type: ignore[arg-type]
    assert entered == []


@pytest.mark.anyio
async def test_run_async_stdio_refuses_an_unknown_option_before_reading(
    anyio_backend: str,
) -> None:
    entered: list[str] = []
    mcp = recording_server(entered)
    with anyio.fail_after(10), pytest.raises(TypeError, match="bogus"):
        await mcp.run_async("stdio", show_banner=False, bogus=1)
    with anyio.fail_after(10), pytest.raises(TypeError, match="bogus"):
        await mcp.run_stdio_async(show_banner=False, bogus=1)  # type: ignore[call-arg]
    assert entered == []


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("transport", ["http", "sse"])
def test_run_refuses_an_unknown_option_before_serving(backend: str, transport: str) -> None:
    entered: list[str] = []
    mcp = recording_server(entered)
    with port_held() as port, pytest.raises(TypeError, match="bogus"):
        mcp.run(transport, show_banner=False, backend=backend, port=port, bogus=1)  # type: ignore[arg-type]
    assert entered == []


STDIO_SERVER = textwrap.dedent(
    """
    import sys
    from contextlib import asynccontextmanager

    from trimcp import FastMCP

    @asynccontextmanager
    async def lifespan(server):
        print("LIFESPAN-ENTER", file=sys.stderr, flush=True)
        yield {}

    mcp = FastMCP("strict", lifespan=lifespan)
    mcp.run(transport="stdio", show_banner=False, backend=sys.argv[1], bogus=1)
    """
)


@pytest.mark.anyio
async def test_run_stdio_process_exits_on_an_unknown_option_without_reading_stdin(
    anyio_backend: str, tmp_path: Path
) -> None:
    script = tmp_path / "server.py"
    script.write_text(STDIO_SERVER)
    with anyio.fail_after(30):
        # stdin stays open and silent: a server that started serving would wait on it forever
        async with await anyio.open_process(
            [sys.executable, str(script), anyio_backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stderr is not None and process.stdout is not None
            stderr = b"".join([chunk async for chunk in process.stderr])
            stdout = b"".join([chunk async for chunk in process.stdout])
            await process.wait()
    assert process.returncode == 1
    assert b"TypeError" in stderr and b"bogus" in stderr
    assert b"LIFESPAN-ENTER" not in stderr
    assert stdout == b""


def test_http_app_refuses_an_unknown_option() -> None:
    with pytest.raises(TypeError, match="bogus"):
        FastMCP("x").http_app(bogus=1)
    with pytest.raises(TypeError, match="debug"):
        FastMCP("x").http_app(debug=True)  # FastMCP 2.13's http_app has no `debug` either


# --- decorators, from_function, Client ----------------------------------------------------


@pytest.mark.parametrize(
    "register",
    [
        lambda mcp: mcp.tool(bogus=1),
        lambda mcp: mcp.tool("named", bogus=1),
        lambda mcp: mcp.tool(add, bogus=1),
        lambda mcp: mcp.resource("data://x", bogus=1),
        lambda mcp: mcp.resource("data://{a}", bogus=1),
        lambda mcp: mcp.prompt(bogus=1),
        lambda mcp: mcp.prompt("named", bogus=1),
        lambda mcp: mcp.prompt(add, bogus=1),
    ],
    ids=[
        "tool()",
        "tool(name)",
        "tool(fn)",
        "resource(uri)",
        "resource(template)",
        "prompt()",
        "prompt(name)",
        "prompt(fn)",
    ],
)
@pytest.mark.anyio
async def test_decorators_refuse_an_unknown_option_when_called_and_register_nothing(
    anyio_backend: str, register: Callable[[FastMCP], Any]
) -> None:
    mcp = FastMCP("x")
    with pytest.raises(TypeError, match="bogus"):
        register(mcp)  # the call itself, before a function is even given
    assert await mcp.list_tools() == []
    assert await mcp.list_resources() == []
    assert await mcp.list_resource_templates() == []
    assert await mcp.list_prompts() == []


@pytest.mark.parametrize(
    "build",
    [
        lambda: Tool.from_function(add, bogus=1),
        lambda: Resource.from_function(add, "data://x", bogus=1),
        lambda: ResourceTemplate.from_function(add, "data://{a}/{b}", bogus=1),
        lambda: Prompt.from_function(add, bogus=1),  # type: ignore[call-arg]
    ],
    ids=["Tool", "Resource", "ResourceTemplate", "Prompt"],
)
def test_from_function_refuses_an_unknown_option(build: Callable[[], Any]) -> None:
    with pytest.raises(TypeError, match="bogus"):
        build()


def test_client_refuses_an_unknown_option() -> None:
    mcp = FastMCP("x")
    with pytest.raises(TypeError, match="bogus"):
        Client(mcp, bogus=1)  # type: ignore[call-arg]
    Client(mcp, auto_initialize=False)  # built now: `await client.initialize()` by hand
    Client(mcp, auto_initialize=True)
