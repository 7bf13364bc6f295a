"""2026-07-28 on stdio and in memory: a list change a request makes is on the wire before that
request's result (as in the handshake era), so a client that saw the result has seen the
change; the notifications of a listen stream keep their order."""

from __future__ import annotations

import anyio
import pytest

from trimcp import Client, Context, FastMCP

pytestmark = pytest.mark.anyio


def toggling_server() -> FastMCP:
    mcp = FastMCP("toggling")

    @mcp.tool
    def target() -> str:
        return "x"

    @mcp.tool
    async def toggle(ctx: Context) -> str:
        tool = await ctx.fastmcp.get_tool("target")
        if tool.enabled:
            tool.disable()
        else:
            tool.enable()
        return "toggled"

    @mcp.tool
    async def change_all(ctx: Context) -> str:
        for kind in ("tools", "resources", "prompts"):
            ctx.notify_list_changed(kind)  # type: ignore[arg-type]
        return "changed"

    return mcp


@pytest.mark.parametrize("protocol", ["modern", "legacy"])
async def test_each_change_is_seen_before_the_result_of_the_call_that_made_it(
    protocol: str,
) -> None:
    seen: list[str] = []

    async def handler(message: object) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if isinstance(method, str) and method.endswith("list_changed"):
            seen.append(method)

    with anyio.fail_after(10):
        async with Client(toggling_server(), protocol=protocol, message_handler=handler) as c:
            seen.clear()
            for calls in range(1, 6):
                await c.call_tool("toggle", {})
                assert seen == ["notifications/tools/list_changed"] * calls


async def test_notifications_of_one_request_keep_their_order() -> None:
    seen: list[str] = []

    async def handler(message: object) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if isinstance(method, str) and method.endswith("list_changed"):
            seen.append(method)

    with anyio.fail_after(10):
        async with Client(toggling_server(), protocol="modern", message_handler=handler) as c:
            seen.clear()
            for _ in range(10):
                await c.call_tool("change_all", {})
    kinds = [m.split("/")[1] for m in seen]
    assert kinds == ["tools", "resources", "prompts"] * 10
