"""A server's components called in-process, without any transport (`FastMCP.call_tool`,
`read_resource`, `render_prompt`): each runs inside a fresh `Context` of the server, made
current for the call, as a request's would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.server.server import FastMCP
    from trimcp.tools.tool import ToolResult

__all__ = ["call_tool", "read_resource", "render_prompt"]


@contextmanager
def _current_context(server: FastMCP) -> Iterator[Context]:
    from trimcp.core.context import Context, enter_context

    ctx = Context(server)
    token = enter_context(ctx)
    try:
        yield ctx
    finally:
        token.reset()


async def call_tool(server: FastMCP, name: str, arguments: dict[str, Any] | None) -> ToolResult:
    """Call the visible tool `name` (raises `ToolError`/`NotFoundError`)."""
    tool = await server.get_tool(name)
    with _current_context(server) as ctx:
        return await tool.invoke(arguments or {}, ctx, strict=server.strict_input_validation)


async def read_resource(server: FastMCP, uri: str) -> list[Any]:
    """Read the resource `uri` (through templates and mounts): its contents."""
    with _current_context(server) as ctx:
        return await server.resource_manager.read_contents(str(uri), ctx)


async def render_prompt(server: FastMCP, name: str, arguments: dict[str, Any] | None) -> Any:
    """Render the visible prompt `name`: a `GetPromptResult`."""
    prompt = server.prompt_manager.require(name)
    with _current_context(server) as ctx:
        return await prompt.render(arguments, ctx)
