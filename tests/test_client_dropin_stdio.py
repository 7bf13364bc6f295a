"""stdio `keep_alive` (issue 16): with `keep_alive=True` the server process and its session
outlive one `async with client` block, as in FastMCP; `close()` stops it. Real subprocesses,
on asyncio and trio."""

from __future__ import annotations

import os
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


def test_keep_alive_is_off_unless_asked() -> None:
    assert StdioTransport("python", [""]).keep_alive is False
    assert StdioTransport("python", [""], keep_alive=True).keep_alive is True


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


async def test_without_keep_alive_each_block_has_its_own_server(script: Path) -> None:
    client = Client(_transport(script, keep_alive=False))
    with anyio.fail_after(30):
        async with client:
            first = (await client.call_tool("pid")).data
        assert _gone(first)
        async with client:
            second = (await client.call_tool("pid")).data
    assert second != first and _gone(second)
