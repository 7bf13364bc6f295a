"""Mounting and importing as FastMCP 2.13 code does it: a mounted proxy's listing kept live,
FastMCP's warnings for a mount that cannot list, and FastMCP 2.x's deprecated argument order
and separator keywords."""

from __future__ import annotations

import logging
import warnings

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.client.transports import FastMCPTransport
from trimcp.server.proxy import FastMCPProxy

pytestmark = pytest.mark.anyio


def sub_server() -> FastMCP:
    sub = FastMCP("sub")

    @sub.tool
    def hello() -> str:
        return "hi"

    return sub


def unreachable(name: str) -> FastMCPProxy:
    def factory() -> Client:
        raise ConnectionError("backend down")

    return FastMCPProxy(client_factory=factory, name=name)


async def test_refreshing_mounts_lists_a_mounted_proxys_backend_again() -> None:
    sub = FastMCP("sub")
    main = FastMCP("main")
    main.mount(sub, "sub", as_proxy=True)
    with anyio.fail_after(10):
        await main.composition.refresh()
        assert await main.get_tools() == {}

        @sub.tool
        def hello() -> str:
            return "hi"

        await main.composition.refresh()
        assert list(await main.get_tools()) == ["sub_hello"]
        async with Client(main) as client:
            assert (await client.call_tool("sub_hello", {})).data == "hi"


async def test_refresh_goes_through_direct_mounts_to_nested_proxies() -> None:
    inner = FastMCP("inner")
    middle = FastMCP("middle")
    middle.mount(FastMCP.as_proxy(FastMCPTransport(inner)), "p")
    main = FastMCP("main")
    main.mount(middle, "m")

    @inner.tool
    def late() -> str:
        return "late"

    with anyio.fail_after(10):
        await main.composition.refresh()
    assert "m_p_late" in await main.get_tools()


async def test_importing_a_server_lists_its_mounted_proxies_first() -> None:
    inner = sub_server()
    middle = FastMCP("middle")
    middle.mount(FastMCP.as_proxy(FastMCPTransport(inner)), "p")
    main = FastMCP("main")
    with anyio.fail_after(10):
        await main.import_server(middle, "m")
        assert "m_p_hello" in await main.get_tools()


async def test_a_mount_that_cannot_list_is_logged_and_the_rest_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    main = FastMCP("main")
    main.mount(sub_server(), "working")
    main.mount(unreachable("down_proxy"), "down")
    caplog.set_level(logging.WARNING, logger="trimcp")
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert [t.name for t in await client.list_tools()] == ["working_hello"]
            assert (await client.call_tool("working_hello", {})).data == "hi"
        await main.composition.refresh()
    messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for expected in (
        "Failed to list tools from mounted server 'down_proxy'",
        "Failed to list resources from 'down_proxy'",
        "Failed to list prompts from mounted server 'down_proxy'",
        "Failed to get tools from mounted server 'down_proxy'",
        "Failed to get prompts from mounted server 'down_proxy'",
    ):
        assert any(expected in m for m in messages), expected


async def test_old_argument_order_works_with_fastmcps_warning() -> None:
    main = FastMCP("main")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main.mount("sub", sub_server())  # type: ignore[arg-type]
        await main.import_server("imp", sub_server())  # type: ignore[arg-type]
    deprecations = [w for w in caught if w.category is DeprecationWarning]
    messages = [str(w.message) for w in deprecations]
    assert any("Mount prefixes are now optional" in m for m in messages)
    assert any("Import prefixes are now optional" in m for m in messages)
    assert {w.filename for w in deprecations} == {__file__}  # blamed on the caller
    assert {"sub_hello", "imp_hello"} <= set(await main.get_tools())


async def test_separator_keywords_are_ignored_with_fastmcps_warnings() -> None:
    main = FastMCP("main")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main.composition.mount(
            sub_server(),
            "sub",
            as_proxy=None,
            namespace=None,
            tool_separator="-",
            resource_separator="+",
            prompt_separator="-",
        )
    messages = [str(w.message) for w in caught]
    for name in ("tool_separator", "resource_separator", "prompt_separator"):
        assert any(f"The {name} parameter is deprecated" in m for m in messages), name
    assert list(await main.get_tools()) == ["sub_hello"]
    with pytest.raises(TypeError, match="spacer"):
        main.composition.mount(sub_server(), "x", as_proxy=None, namespace=None, spacer="-")
