"""A proxy whose stdio backend exits: the call in flight fails clearly, the next call starts a
new backend process, and the proxy holds no session of the dead one (it is reaped)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from tests.wire import gone
from trimcp import Client, FastMCP
from trimcp.client.transports import StdioTransport
from trimcp.server.proxy import FastMCPProxy, StatefulProxyClient

pytestmark = pytest.mark.anyio

SRC = str(Path(__file__).resolve().parents[1] / "src")

BACKEND_SCRIPT = textwrap.dedent(
    """
    import os
    from trimcp import FastMCP

    mcp = FastMCP("mortal")

    @mcp.tool
    def pid() -> int:
        return os.getpid()

    @mcp.tool
    def die() -> None:
        os._exit(3)

    if __name__ == "__main__":
        mcp.run(show_banner=False)
    """
)

ROUNDS = 3


def mortal_backend(tmp_path: Path) -> StdioTransport:
    script = tmp_path / "mortal_server.py"
    script.write_text(BACKEND_SCRIPT)
    return StdioTransport(sys.executable, [str(script)], env={"PYTHONPATH": SRC})


async def kill_backend(client: Client) -> None:
    result = await client.call_tool("die", raise_on_error=False)
    assert result.is_error
    assert "exited with code 3" in result.content[0].text  # type: ignore[union-attr]


async def test_a_session_bound_backend_that_exits_is_replaced(tmp_path: Path) -> None:
    stateful = StatefulProxyClient(mortal_backend(tmp_path))
    proxy = FastMCPProxy(client_factory=stateful.new_stateful)
    pids: list[int] = []
    with anyio.fail_after(60):
        async with Client(proxy) as client:
            for _ in range(ROUNDS):
                pids.append((await client.call_tool("pid")).data)
                # the previous process's hold ended (and reaped it) before this one started
                assert proxy.backend.statistics().held_sessions == 1
                assert all(gone(pid) for pid in pids[:-1])
                assert (await client.call_tool("pid")).data == pids[-1]  # kept for the session
                await kill_backend(client)
                assert proxy.backend.statistics().held_sessions <= 1
    assert len(set(pids)) == ROUNDS
    assert proxy.backend.statistics().held_sessions == 0
    assert all(gone(pid) for pid in pids)


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_a_pooled_backend_session_that_exits_is_replaced(
    tmp_path: Path, protocol: str
) -> None:
    # in 2026-07-28 the pool's first session listens for list changes: another takes over
    proxy = FastMCP.as_proxy(Client(mortal_backend(tmp_path), protocol=protocol))  # type: ignore[arg-type]
    assert isinstance(proxy, FastMCPProxy)
    pids: list[int] = []
    with anyio.fail_after(60):
        async with Client(proxy) as client:
            for _ in range(ROUNDS):
                pids.append((await client.call_tool("pid")).data)
                assert (await client.call_tool("pid")).data == pids[-1]  # one session, reused
                # the live session, and at most the dead one being closed: no pile-up
                assert proxy.backend.statistics().held_sessions <= 2
                await kill_backend(client)
            assert proxy.backend.statistics().idle_sessions == 0  # the dead one was dropped
    assert len(set(pids)) == ROUNDS
    assert proxy.backend.statistics().held_sessions == 0
    assert all(gone(pid) for pid in pids)
