"""`trimcp.utilities.tests` (FastMCP's `fastmcp.utilities.tests`): the helpers FastMCP's own
test suite and its users' tests build on."""

from __future__ import annotations

import logging
import socket

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.settings import settings
from trimcp.utilities.http import find_available_port
from trimcp.utilities.tests import (
    caplog_for_fastmcp,
    run_server_async,
    run_server_in_process,
    temporary_settings,
)


def make_server() -> FastMCP:
    mcp = FastMCP("helpers")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    return mcp


def serve_http(host: str, port: int) -> None:
    """Run in the child process by `run_server_in_process`."""
    make_server().run(transport="http", host=host, port=port, show_banner=False)


def test_temporary_settings_set_values_for_the_block_and_restore_them() -> None:
    before = settings.mask_error_details
    with temporary_settings(mask_error_details=not before, log_level="DEBUG"):
        assert settings.mask_error_details is (not before)
        assert settings.log_level == "DEBUG"
    assert settings.mask_error_details is before
    with pytest.raises(AttributeError), temporary_settings(no_such_setting=1):
        pass


@pytest.mark.anyio
async def test_run_server_async_serves_in_the_running_loop_until_the_block_ends() -> None:
    with anyio.fail_after(20):
        async with run_server_async(make_server()) as url:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
            async with Client(url) as client:
                assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
        with pytest.raises(OSError):  # stopped: the port no longer accepts connections
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            await anyio.connect_tcp("127.0.0.1", port)


@pytest.mark.anyio
async def test_run_server_async_may_be_left_from_another_task_than_entered() -> None:
    # as pytest-asyncio runs an async fixture: setup in one task, teardown in another
    block = run_server_async(make_server())
    entered: list[str] = []

    async def enter() -> None:
        entered.append(await block.__aenter__())

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(enter)
        async with Client(entered[0]) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 1})).data == 2
        await block.__aexit__(None, None, None)
        with pytest.raises(OSError):
            port = int(entered[0].rsplit(":", 1)[1].split("/")[0])
            await anyio.connect_tcp("127.0.0.1", port)


@pytest.mark.anyio
async def test_run_server_async_reports_a_server_that_cannot_start() -> None:
    with anyio.fail_after(20):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            with pytest.raises(OSError):
                async with run_server_async(make_server(), port=taken.getsockname()[1]):
                    pass


def test_run_server_in_process_yields_the_url_once_it_listens_and_stops_it_after() -> None:
    with run_server_in_process(serve_http) as base:
        port = int(base.rsplit(":", 1)[1])

        async def call() -> int:
            async with Client(f"{base}/mcp") as client:
                return (await client.call_tool("add", {"a": 40, "b": 2})).data  # type: ignore[no-any-return]

        assert anyio.run(call) == 42
    with pytest.raises(OSError):

        async def connect() -> None:
            await anyio.connect_tcp("127.0.0.1", port)

        anyio.run(connect)


def test_find_available_port_gives_a_bindable_port() -> None:
    import socket

    port = find_available_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_caplog_for_fastmcp_sees_trimcp_records(caplog: pytest.LogCaptureFixture) -> None:
    with caplog_for_fastmcp(caplog):
        logging.getLogger("trimcp.test").warning("seen")
    assert any(r.getMessage() == "seen" for r in caplog.records)
