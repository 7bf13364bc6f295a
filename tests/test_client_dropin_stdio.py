"""stdio (issue 16): `keep_alive`, and the launcher transports (Node.js, uv, uvx, npx).

`keep_alive`: with `keep_alive=True` the server process and its session
outlive one `async with client` block, as in FastMCP; `close()` stops it. Real subprocesses,
on asyncio and trio."""

from __future__ import annotations

import gc
import os
import shutil
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from trimcp import Client
from trimcp.client import PythonStdioTransport, StdioTransport

pytestmark = pytest.mark.anyio

SERVER = textwrap.dedent(
    """
    import os
    import sys

    from trimcp import FastMCP

    mcp = FastMCP("kept")
    calls = []


    @mcp.tool
    def pid() -> int:
        return os.getpid()


    @mcp.tool
    def count() -> int:
        calls.append(1)
        return len(calls)


    if __name__ == "__main__":
        mcp.run(show_banner=False, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


def _transport(script: Path, *, keep_alive: bool | None) -> PythonStdioTransport:
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return PythonStdioTransport(script, env=env, keep_alive=keep_alive)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # a zombie would still accept signal 0
    except ProcessLookupError:
        return True
    return False


def test_keep_alive_is_on_unless_refused() -> None:  # FastMCP's default
    assert StdioTransport("python", [""]).keep_alive is True
    assert StdioTransport("python", [""], keep_alive=None).keep_alive is True
    assert StdioTransport("python", [""], keep_alive=False).keep_alive is False


async def test_a_dropped_transport_stops_its_kept_alive_server(script: Path) -> None:
    async def use_and_drop() -> int:
        transport = _transport(script, keep_alive=None)
        async with Client(transport) as client:
            pid: int = (await client.call_tool("pid")).data
        assert not _gone(pid)
        return pid

    with anyio.fail_after(30):
        pid = await use_and_drop()
        gc.collect()  # the transport is gone: its server is stopped by the task that owns it
        while not _gone(pid):  # noqa: ASYNC110 - no event for "another process exited"
            await anyio.sleep(0.02)  # polling the OS, bounded by fail_after


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
async def test_a_kept_alive_server_serves_the_next_block_in_the_same_session(
    script: Path, protocol: str
) -> None:
    client = Client(_transport(script, keep_alive=True), protocol=protocol)
    with anyio.fail_after(30):
        async with client:
            first = (await client.call_tool("pid")).data
            assert (await client.call_tool("count")).data == 1
            negotiated = client.protocol_version
        assert not _gone(first)  # still running between the blocks
        async with client:
            assert (await client.call_tool("pid")).data == first
            assert (await client.call_tool("count")).data == 2  # same process, same state
            assert client.protocol_version == negotiated
            async with client:  # nested: the same connection
                assert (await client.call_tool("pid")).data == first
        await client.close()
    assert _gone(first)


async def test_another_client_continues_a_kept_alive_connection(script: Path) -> None:
    transport = _transport(script, keep_alive=True)
    with anyio.fail_after(30):
        async with Client(transport, protocol="legacy") as first:
            pid = (await first.call_tool("pid")).data
        async with Client(transport) as second:  # no second handshake on the same server
            assert (await second.call_tool("pid")).data == pid
            assert (await second.call_tool("count")).data == 1
        await transport.close()
    assert _gone(pid)


async def test_closing_a_kept_alive_client_starts_a_new_server_next_time(script: Path) -> None:
    client = Client(_transport(script, keep_alive=True))
    with anyio.fail_after(30):
        async with client:
            first = (await client.call_tool("pid")).data
        await client.close()
        assert _gone(first)
        async with client:
            second = (await client.call_tool("pid")).data
        await client.close()
    assert second != first and _gone(second)


async def test_closing_inside_the_block_stops_the_server_when_it_ends(script: Path) -> None:
    client = Client(_transport(script, keep_alive=True))
    with anyio.fail_after(30):
        async with client:
            pid = (await client.call_tool("pid")).data
            await client.close()
            assert not client.is_connected()
    assert _gone(pid)


async def test_concurrent_connections_while_the_kept_server_is_in_use(script: Path) -> None:
    # The first connection borrows the kept server; one made meanwhile runs its own process
    # and stops it when it ends; the kept one survives until close().
    transport = _transport(script, keep_alive=True)
    pids: dict[str, int] = {}
    entered = anyio.Event()
    others_done = anyio.Event()

    async def first() -> None:
        async with Client(transport) as client:
            pids["first"] = (await client.call_tool("pid")).data
            entered.set()
            await others_done.wait()

    async def second() -> None:
        await entered.wait()
        async with Client(transport) as client:
            pids["second"] = (await client.call_tool("pid")).data
        others_done.set()

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            tg.start_soon(second)
        assert pids["first"] != pids["second"] and _gone(pids["second"])
        async with Client(transport) as client:
            assert (await client.call_tool("pid")).data == pids["first"]
        await transport.close()
    assert _gone(pids["first"])


async def test_without_keep_alive_each_block_has_its_own_server(script: Path) -> None:
    client = Client(_transport(script, keep_alive=False))
    with anyio.fail_after(30):
        async with client:
            first = (await client.call_tool("pid")).data
        assert _gone(first)
        async with client:
            second = (await client.call_tool("pid")).data
    assert second != first and _gone(second)


# -- launcher transports ---------------------------------------------------------------------

NODE_SERVER = """
const readline = require("readline");
const rl = readline.createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + "\\n");
rl.on("line", (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  if (m.method === "initialize") {
    send({ jsonrpc: "2.0", id: m.id, result: {
      protocolVersion: m.params.protocolVersion, capabilities: { tools: {} },
      serverInfo: { name: "node-server", version: "1" } } });
  } else if (m.method === "tools/call") {
    const { a, b } = m.params.arguments;
    send({ jsonrpc: "2.0", id: m.id, result: {
      content: [{ type: "text", text: String(a + b) }], isError: false } });
  } else {
    send({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "Method not found" } });
  }
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")
async def test_a_node_script_is_served_over_stdio(tmp_path: Path) -> None:
    from trimcp.client import NodeStdioTransport

    script = tmp_path / "server.js"
    script.write_text(NODE_SERVER)
    with anyio.fail_after(30):
        async with Client(NodeStdioTransport(script), protocol="legacy") as client:
            assert client.server_info is not None and client.server_info.name == "node-server"
            result = await client.call_tool("add", {"a": 2, "b": 3})
    assert result.content[0].text == "5"  # type: ignore[union-attr]


def test_launchers_build_fastmcps_command_lines(tmp_path: Path) -> None:
    from trimcp.client import UvStdioTransport, UvxStdioTransport

    uv = UvStdioTransport(
        "server.py",
        ["--x"],
        project_directory=tmp_path,
        python_version="3.12",
        with_packages=["a", "b"],
        with_requirements="req.txt",
        env_vars={"K": "V"},
    )
    assert uv.command == "uv"
    assert uv.args == [
        "run",
        "--python",
        "3.12",
        "--directory",
        str(tmp_path),
        "--with",
        "a",
        "--with",
        "b",
        "--with-requirements",
        "req.txt",
        "server.py",
        "--x",
    ]
    assert uv.env == {"K": "V", "UV_PROJECT_DIR": str(tmp_path)}
    assert UvStdioTransport("pkg.mod", module=True).args == ["run", "--module", "pkg.mod"]
    uvx = UvxStdioTransport("tool", ["serve"], from_package="pkg", with_packages=["x"])
    assert (uvx.command, uvx.args) == ("uvx", ["--from", "pkg", "--with", "x", "tool", "serve"])
    with pytest.raises(NotADirectoryError):
        UvxStdioTransport("tool", project_directory=tmp_path / "missing")


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs npx")
def test_npx_transport_runs_the_package() -> None:
    from trimcp.client import NpxStdioTransport

    npx = NpxStdioTransport("@scope/server", ["--port", "1"])
    assert (npx.command, npx.args) == ("npx", ["--prefer-offline", "@scope/server", "--port", "1"])
    assert NpxStdioTransport("p", use_package_lock=False).args == ["p"]


def test_the_websocket_transport_is_refused() -> None:
    from trimcp.client import WSTransport

    with pytest.raises(NotImplementedError, match="StreamableHttpTransport"):
        WSTransport("ws://127.0.0.1:1/ws")
