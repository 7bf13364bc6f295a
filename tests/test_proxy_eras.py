"""A proxy relays in both protocol eras, on both of its sides: the proxy's own client speaks
2026-07-28 or the handshake era, and so does its backend (in memory, a stdio subprocess, or
HTTP). Each combination relays logs, progress, elicitation, sampling and roots, and the
backend's list changes reach the proxy's client.

In 2026-07-28 the proxy's client answers input through MRTR: the proxy's handler ends with an
`input_required` result and is replayed, calling the backend again (see README, "Proxies").
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from tests.test_proxy import SRC
from tests.wire import serving
from trimcp import Client, FastMCP
from trimcp.client.transports import StdioTransport
from trimcp.exceptions import McpError
from trimcp.server.context import get_context

pytestmark = pytest.mark.anyio

BACKEND = textwrap.dedent(
    """
    from trimcp import Context, FastMCP

    mcp = FastMCP("backend")

    @mcp.tool
    async def chatty(ctx: Context) -> str:
        await ctx.info("working")
        await ctx.report_progress(1, 2)
        await ctx.report_progress(2, 2)
        return "done"

    @mcp.tool
    async def ask(ctx: Context) -> str:
        result = await ctx.elicit("Your name?", str)
        return f"{result.action}:{getattr(result, 'data', None)}"

    @mcp.tool
    async def think(ctx: Context) -> str:
        return (await ctx.sample("2+2?")).text

    @mcp.tool
    async def roots(ctx: Context) -> list[str]:
        return [str(root.uri) for root in await ctx.list_roots()]

    @mcp.tool
    def grow() -> str:
        mcp.tool(lambda: "new", name="fresh")
        return "grown"

    if __name__ == "__main__":
        mcp.run(show_banner=False)
    """
)


def backend_server() -> FastMCP:
    namespace: dict[str, object] = {"__name__": "backend"}
    exec(compile(BACKEND, "backend", "exec"), namespace)
    server = namespace["mcp"]
    assert isinstance(server, FastMCP)
    return server


@asynccontextmanager
async def backend_client(kind: str, era: str, tmp_path: Path) -> AsyncIterator[Client]:
    """A (not yet connected) Client of the backend, speaking `era`."""
    if kind == "memory":
        yield Client(backend_server(), protocol=era)
    elif kind == "stdio":
        script = tmp_path / "backend.py"
        script.write_text(BACKEND)
        yield Client(
            StdioTransport(sys.executable, [str(script)], env={"PYTHONPATH": SRC}), protocol=era
        )
    else:
        async with serving(backend_server(), wait=60) as (address, _):
            yield Client(address.url, protocol=era)


@pytest.mark.parametrize("kind", ["memory", "stdio", "http"])
@pytest.mark.parametrize("backend_era", ["legacy", "modern"])
@pytest.mark.parametrize("client_era", ["legacy", "modern"])
async def test_proxy_relays_in_every_era_combination(
    kind: str, backend_era: str, client_era: str, tmp_path: Path
) -> None:
    logs: list[str] = []
    progress: list[tuple[float, float | None]] = []
    asked: list[str] = []
    changed = anyio.Event()

    async def on_log(message) -> None:
        logs.append(message.data["msg"])

    async def on_progress(done, total, message) -> None:
        progress.append((done, total))

    async def on_elicit(message, response_type, params, context):
        asked.append(message)
        return response_type(value="Ann")

    async def on_sample(messages, params, context) -> str:
        return "four"

    async def on_message(message) -> None:
        if message.method == "notifications/tools/list_changed":
            changed.set()

    with anyio.fail_after(30):
        async with backend_client(kind, backend_era, tmp_path) as remote:
            proxy = FastMCP.as_proxy(remote)
            async with Client(
                proxy,
                protocol=client_era,
                log_handler=on_log,
                elicitation_handler=on_elicit,
                sampling_handler=on_sample,
                roots=["file:///workspace"],
                message_handler=on_message,
            ) as client:
                assert client.is_modern == (client_era == "modern")
                chatty = await client.call_tool("chatty", progress_handler=on_progress)
                assert chatty.data == "done"
                assert (await client.call_tool("ask")).data == "accept:Ann"
                assert (await client.call_tool("think")).data == "four"
                assert (await client.call_tool("roots")).data == ["file:///workspace"]
                assert (await client.call_tool("grow")).data == "grown"
                await changed.wait()
                assert "fresh" in {tool.name for tool in await client.list_tools()}
                assert (await client.call_tool("fresh")).content[0].text == "new"
    assert logs == ["working"]
    assert progress == [(1, 2), (2, 2)]
    assert asked == ["Your name?"]


async def test_backend_sessions_follow_the_client_template_era() -> None:
    """A proxy's backend sessions speak 2026-07-28 where the backend does ("auto")."""
    eras: list[bool] = []
    server = backend_server()

    @server.tool
    def era() -> bool:
        envelope = get_context().request_context.envelope
        eras.append(envelope.modern)
        return envelope.modern

    with anyio.fail_after(10):
        async with Client(FastMCP.as_proxy(Client(server)), protocol="legacy") as client:
            assert (await client.call_tool("era")).data is True
        async with Client(
            FastMCP.as_proxy(Client(server, protocol="legacy")), protocol="modern"
        ) as client:
            assert (await client.call_tool("era")).data is False
    assert eras == [True, False]


async def test_a_modern_client_without_the_capability_gets_32021_through_the_proxy() -> None:
    """The backend asks for elicitation; the proxy's 2026 client declared none: the proxy's
    request fails with -32021 (MissingRequiredClientCapability), as a local tool's would."""
    proxy = FastMCP.as_proxy(backend_server())
    with anyio.fail_after(10):
        async with Client(proxy, protocol="modern") as client:
            with pytest.raises(McpError) as caught:
                await client.call_tool_mcp("ask", {})
    assert caught.value.error.code == -32021
    assert caught.value.error.data == {"requiredCapabilities": {"elicitation": {}}}
