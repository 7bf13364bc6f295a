"""Real subprocesses: `trimcp.Client` and the official `mcp` SDK client against a trimcp stdio
server, raw JSON-RPC abuse of that server, and process clean-up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from trimcp import Client
from trimcp.client import PythonStdioTransport, StdioTransport
from trimcp.exceptions import ClientError, ToolError
from trimcp.protocol.versions import LATEST_HANDSHAKE_VERSION, LATEST_MODERN_VERSION

pytestmark = pytest.mark.anyio

SERVER = textwrap.dedent(
    """
    import os
    import sys

    import anyio

    from trimcp import Context, FastMCP

    mcp = FastMCP("stdio-server")


    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b


    @mcp.tool
    def pid() -> int:
        return os.getpid()


    @mcp.tool
    def fail() -> str:
        raise ValueError("broken on purpose")


    @mcp.tool
    async def chatty(ctx: Context) -> str:
        print("a stray print must not corrupt the wire")
        await ctx.info("hello from the subprocess")
        await ctx.report_progress(1, 2)
        await ctx.report_progress(2, 2)
        return "ok"


    @mcp.tool
    async def slow() -> str:
        await anyio.sleep_forever()
        return "never"


    if __name__ == "__main__":
        mcp.run(show_banner=False, backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


def _env(**extra: str) -> dict[str, str]:
    # The subprocess gets a minimal environment; hand it what the test run needs.
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    env.update(extra)
    return env


# -- trimcp.Client over stdio -----------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["legacy", "auto"])
@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_client_talks_to_a_subprocess(
    script: Path, protocol: str, server_backend: str
) -> None:
    logs: list[str] = []
    progress: list[float] = []
    transport = PythonStdioTransport(script, args=[server_backend], env=_env())
    with anyio.fail_after(20):
        async with Client(
            transport,
            protocol=protocol,
            log_handler=lambda m: logs.append(m.data["msg"]),
            progress_handler=lambda p, t, m: progress.append(p),
        ) as client:
            expected = LATEST_HANDSHAKE_VERSION if protocol == "legacy" else LATEST_MODERN_VERSION
            assert client.protocol_version == expected
            assert client.server_info is not None and client.server_info.name == "stdio-server"
            assert {t.name for t in await client.list_tools()} >= {"add", "chatty"}
            assert (await client.call_tool("add", {"a": 20, "b": 22})).data == 42
            assert (await client.call_tool("chatty")).data == "ok"
            with pytest.raises(ToolError, match="broken on purpose"):
                await client.call_tool("fail")
            assert await client.ping()
    assert logs == ["hello from the subprocess"]
    assert progress == [1, 2]


async def test_client_infers_stdio_from_a_script_path(script: Path) -> None:
    with anyio.fail_after(20):
        async with Client(str(script)) as client:
            assert isinstance(client.transport, PythonStdioTransport)
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3


async def test_subprocess_is_reaped_when_the_client_exits(script: Path) -> None:
    with anyio.fail_after(20):
        async with Client(PythonStdioTransport(script, env=_env(), keep_alive=False)) as client:
            pid = (await client.call_tool("pid")).data
    with pytest.raises(ProcessLookupError):  # a zombie would still accept signal 0
        os.kill(pid, 0)


async def test_a_kept_alive_subprocess_is_reaped_at_close(script: Path) -> None:
    client = Client(PythonStdioTransport(script, env=_env()))  # keep_alive: FastMCP's default
    with anyio.fail_after(20):
        async with client:
            pid = (await client.call_tool("pid")).data
        os.kill(pid, 0)  # kept running after the block
        await client.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


RUN_WITHOUT_CLOSE = textwrap.dedent(
    """
    import sys

    import anyio

    from trimcp import Client


    async def main() -> None:
        async with Client(sys.argv[2]) as client:
            await client.ping()
            print((await client.call_tool("pid")).data)


    anyio.run(main, backend=sys.argv[1])
    """
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_kept_alive_subprocess_is_stopped_when_the_run_ends(script: Path, backend: str) -> None:
    # No close(): the process belongs to a task of the event loop, stopped when the run ends,
    # inside the loop (no "Event loop is closed" from a finalizer, no warning, no orphan).
    done = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_CLOSE, backend, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **_env()},
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    with pytest.raises(ProcessLookupError):
        os.kill(int(done.stdout), 0)


async def test_leaving_during_a_call_cancels_it_and_stops_the_process(script: Path) -> None:
    with anyio.fail_after(20):
        async with Client(PythonStdioTransport(script, env=_env(), keep_alive=False)) as client:
            pid = (await client.call_tool("pid")).data
            with anyio.move_on_after(0.2):
                await client.call_tool("slow")
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_server_that_exits_early_gives_a_clear_client_error(tmp_path: Path) -> None:
    path = tmp_path / "dies.py"
    path.write_text("import sys\nsys.exit(3)\n")
    with anyio.fail_after(20):
        with pytest.raises(ClientError, match="exited with code 3"):
            async with Client(PythonStdioTransport(path, env=_env())):
                pass


async def test_missing_command_gives_a_client_error() -> None:
    with anyio.fail_after(5):
        with pytest.raises(ClientError, match="could not start"):
            async with Client(StdioTransport("/nonexistent/trimcp-server")):
                pass


# -- the official SDK client ------------------------------------------------------------------


async def test_sdk_client_handshake_era(script: Path) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=[str(script)], env=_env())
    with anyio.fail_after(20):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name == "stdio-server"
            assert init.protocol_version == LATEST_HANDSHAKE_VERSION
            tools = await session.list_tools()
            assert {t.name for t in tools.tools} >= {"add", "slow"}
            result = await session.call_tool("add", {"a": 2, "b": 3})
            assert not result.is_error
            assert result.structured_content == {"result": 5}
            await session.send_ping()


async def test_sdk_client_modern_era(script: Path) -> None:
    from mcp.client._probe import negotiate_auto
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=[str(script), "trio"], env=_env())
    with anyio.fail_after(20):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await negotiate_auto(session)
            assert session.protocol_version == LATEST_MODERN_VERSION
            assert session.initialize_result is None
            result = await session.call_tool("add", {"a": 2, "b": 3})
            assert result.structured_content == {"result": 5}


# -- raw JSON-RPC against the subprocess ------------------------------------------------------


class RawProcess:
    def __init__(self, process: Any) -> None:
        self.process = process
        self.buffer = b""

    async def send(self, data: bytes) -> None:
        await self.process.stdin.send(data + b"\n")

    async def receive(self) -> Any:
        while b"\n" not in self.buffer:
            self.buffer += await self.process.stdout.receive()
        line, self.buffer = self.buffer.split(b"\n", 1)
        return msgspec.json.decode(line)


async def test_bad_input_gets_errors_and_the_server_keeps_serving(script: Path) -> None:
    env = {**os.environ, **_env(TRIMCP_STDIO_MAX_LINE="4096")}
    with anyio.fail_after(20):
        async with await anyio.open_process(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        ) as process:
            raw = RawProcess(process)
            await raw.send(
                b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}'
            )
            assert (await raw.receive())["result"]["protocolVersion"] == "2025-06-18"
            await raw.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')

            await raw.send(b'{"jsonrpc": "2.0", "id": 2, "method": ')  # malformed JSON
            assert (await raw.receive())["error"]["code"] == -32700
            await raw.send(b'{"jsonrpc": "2.0", "id": 3, "method": "no/such/method"}')
            reply = await raw.receive()
            assert (reply["id"], reply["error"]["code"]) == (3, -32601)
            await raw.send(
                b'{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": 5}}'
            )
            reply = await raw.receive()
            assert (reply["id"], reply["error"]["code"]) == (4, -32602)
            await raw.send(
                b'{"jsonrpc": "2.0", "id": 5, "method": "ping", "params": {"pad": "'
                + b"x" * 10_000
                + b'"}}'
            )
            assert (await raw.receive())["error"]["code"] == -32600

            await raw.send(
                b'{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 1}}}'
            )
            reply = await raw.receive()
            assert reply["id"] == 6 and reply["result"]["structuredContent"] == {"result": 2}


async def test_server_exits_cleanly_when_the_client_vanishes_mid_call(script: Path) -> None:
    env = {**os.environ, **_env()}
    with anyio.fail_after(20):
        process = await anyio.open_process(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        async with process:
            raw = RawProcess(process)
            await raw.send(
                b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}'
            )
            await raw.receive()
            await raw.send(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
            await raw.send(
                b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "slow"}}'
            )
            await raw.send(b'{"jsonrpc": "2.0", "id": 3, "method": "ping"}')
            assert (await raw.receive())["id"] == 3  # the slow call is in flight
            await process.stdin.aclose()  # the client is gone
            await process.stdout.aclose()
            assert await process.wait() == 0


@pytest.mark.anyio
async def test_a_server_process_that_cannot_start_fails_the_connect_as_runtime_error() -> None:
    client = Client(StdioTransport(command="trimcp-no-such-command", args=[]))
    with (
        anyio.fail_after(10),
        pytest.raises(RuntimeError, match="Client failed to connect") as caught,
    ):
        async with client:
            pass
    assert isinstance(caught.value, ClientError)  # trimcp's own class too
