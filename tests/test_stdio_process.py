"""The stdio server as a real subprocess: raw JSON-RPC on its pipes, on both backends."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import msgspec
import pytest

from trimcp.transports.stdio import FramedStream

pytestmark = pytest.mark.anyio

SERVER = textwrap.dedent(
    """
    import sys
    from contextlib import asynccontextmanager

    import anyio
    from trimcp import Context, FastMCP

    @asynccontextmanager
    async def lifespan(server):
        print("LIFESPAN-ENTER", file=sys.stderr, flush=True)
        try:
            yield {"db": "ok"}
        finally:
            print("LIFESPAN-EXIT", file=sys.stderr, flush=True)

    mcp = FastMCP("proc", lifespan=lifespan)

    @mcp.tool
    def noisy(x: int) -> int:
        print("stray print from a tool")  # must not reach the protocol stream
        return x * 2

    @mcp.tool
    async def hang() -> str:
        await anyio.sleep_forever()
        return "never"

    @mcp.tool
    async def steps(ctx: Context) -> str:
        # it yields only under a shield: reporting progress is its one cancellation point
        step = 0
        try:
            while True:
                step += 1
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(0.001)
                await ctx.report_progress(step)
        finally:
            print(f"STOPPED-AT {step}", file=sys.stderr, flush=True)

    if __name__ == "__main__":
        mcp.run(backend=sys.argv[1], show_banner="--banner" in sys.argv)
    """
)

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}


@pytest.fixture
def server_file(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


class Proc:
    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        assert process.stdout is not None and process.stdin is not None
        self.stream = FramedStream(process.stdout, process.stdin, max_line=1 << 24)

    async def send(self, message: object) -> None:
        await self.send_raw(msgspec.json.encode(message))

    async def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(data + b"\n")

    async def receive(self) -> dict:
        with anyio.fail_after(10):
            return msgspec.json.decode(await self.stream.receive())

    async def stderr_text(self) -> str:
        assert self.process.stderr is not None
        chunks = []
        with anyio.fail_after(10):
            async for chunk in self.process.stderr:
                chunks.append(chunk)
        return b"".join(chunks).decode()


async def start(server_file: Path, backend: str, *extra: str) -> Proc:
    process = await anyio.open_process(
        [sys.executable, str(server_file), backend, *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    return Proc(process)


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_stray_print_does_not_corrupt_stdout_and_lifespan_runs_once(
    server_file: Path, server_backend: str
):
    proc = await start(server_file, server_backend)
    async with proc.process:
        await proc.send(INIT)
        assert (await proc.receive())["result"]["serverInfo"]["name"] == "proc"
        await proc.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        for i in range(3):
            await proc.send(
                {
                    "jsonrpc": "2.0",
                    "id": i + 1,
                    "method": "tools/call",
                    "params": {"name": "noisy", "arguments": {"x": i}},
                }
            )
            reply = await proc.receive()
            assert reply["result"]["structuredContent"] == {"result": i * 2}
        assert proc.process.stdin is not None
        await proc.process.stdin.aclose()  # EOF: the server shuts down cleanly
        stderr = await proc.stderr_text()
        with anyio.fail_after(10):
            assert await proc.process.wait() == 0
    assert stderr.count("LIFESPAN-ENTER") == 1 and stderr.count("LIFESPAN-EXIT") == 1
    assert stderr.count("stray print from a tool") == 3


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_eof_cancels_in_flight_work_and_exits(server_file: Path, server_backend: str):
    proc = await start(server_file, server_backend)
    async with proc.process:
        await proc.send(INIT)
        await proc.receive()
        await proc.send(
            {
                "jsonrpc": "2.0",
                "id": 5,
                "method": "tools/call",
                "params": {"name": "hang", "arguments": {}},
            }
        )
        assert proc.process.stdin is not None
        await proc.process.stdin.aclose()
        with anyio.fail_after(10):
            assert await proc.process.wait() == 0


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_a_cancelled_tool_stops_at_its_next_progress_report(
    server_file: Path, server_backend: str
):
    # sending a notification is a cancellation point (answers are not: see `send_answer`)
    proc = await start(server_file, server_backend)
    async with proc.process:
        try:
            stderr = await cancel_steps(proc)
        finally:
            if proc.process.returncode is None:
                proc.process.kill()  # (it would not stop)
    stopped = int(stderr.split("STOPPED-AT ")[1].split()[0])
    assert stopped < 500, stderr  # soon after the cancellation, not at shutdown


async def cancel_steps(proc: Proc) -> str:
    """Cancel `steps` once it reported progress 3, ping, close stdin; the server's stderr."""
    await proc.send(INIT)
    await proc.receive()
    await proc.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    await proc.send(
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {"name": "steps", "arguments": {}, "_meta": {"progressToken": "p"}},
        }
    )
    while (await proc.receive())["params"]["progress"] < 3:
        pass
    await proc.send(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 7}}
    )
    await proc.send({"jsonrpc": "2.0", "id": 8, "method": "ping"})
    while (message := await proc.receive()).get("id") != 8:  # progress until it stopped
        assert message["method"] == "notifications/progress", message
    assert proc.process.stdin is not None
    await proc.process.stdin.aclose()
    with anyio.fail_after(10):
        assert await proc.process.wait() == 0  # (a tool still running would hold it)
    return await proc.stderr_text()


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_bad_input_gets_errors_and_the_server_keeps_serving(
    server_file: Path, server_backend: str
):
    proc = await start(server_file, server_backend)
    async with proc.process:
        await proc.send(INIT)
        await proc.receive()
        await proc.send_raw(b"this is not json")
        assert (await proc.receive())["error"]["code"] == -32700
        await proc.send({"jsonrpc": "2.0", "id": 2, "method": "no/such/method"})
        assert (await proc.receive())["error"]["code"] == -32601
        await proc.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": []}})
        assert (await proc.receive())["error"]["code"] == -32602
        await proc.send({"jsonrpc": "2.0", "id": 4, "method": "ping"})
        assert (await proc.receive())["result"] == {}
        assert proc.process.stdin is not None
        await proc.process.stdin.aclose()
        with anyio.fail_after(10):
            await proc.process.wait()


async def test_oversized_line_is_refused_and_the_next_message_is_served(
    server_file: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TRIMCP_STDIO_MAX_LINE", "4096")
    proc = await start(server_file, "asyncio")
    async with proc.process:
        await proc.send(INIT)
        await proc.receive()
        await proc.send_raw(
            b'{"jsonrpc":"2.0","id":9,"method":"ping","params":{"pad":"' + b"x" * 100_000 + b'"}}'
        )
        error = await proc.receive()
        assert error["error"]["code"] == -32600 and error["id"] is None
        await proc.send({"jsonrpc": "2.0", "id": 10, "method": "ping"})
        assert (await proc.receive())["id"] == 10
        assert proc.process.stdin is not None
        await proc.process.stdin.aclose()
        with anyio.fail_after(10):
            await proc.process.wait()


async def test_banner_goes_to_stderr_only(server_file: Path):
    proc = await start(server_file, "asyncio", "--banner")
    async with proc.process:
        await proc.send(INIT)
        reply = await proc.receive()  # stdout carries the protocol only
        assert reply["id"] == 0
        assert proc.process.stdin is not None
        await proc.process.stdin.aclose()
        stderr = await proc.stderr_text()
        with anyio.fail_after(10):
            await proc.process.wait()
    assert "trimcp" in stderr and "proc" in stderr and "stdio" in stderr
