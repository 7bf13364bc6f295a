"""A server's components reached in-process, without any transport: FastMCP's lookups
(`FastMCP.get_tool`, `get_resource`, `get_resource_template`, with FastMCP's not-found wording)
and calls (`call_tool`, `read_resource`, `render_prompt`), each of which runs inside a fresh
`Context` of the server, made current for the call, as a request's would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from trimcp.exceptions import NotFoundError

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.server.server import FastMCP
    from trimcp.tools import Tool
    from trimcp.tools.tool import ToolResult

__all__ = ["call_tool", "find_tool", "listed", "read_resource", "render_prompt"]

T = TypeVar("T")


def find_tool(server: FastMCP, name: str) -> Tool:
    """The tool clients call `name`, else the server's own tool `name` even when hidden
    (disabled, or filtered out by tags): FastMCP's lookup is unfiltered, so that
    `(await mcp.get_tool(name)).enable()` works (`NotFoundError` if neither). `FastMCP`'s
    `get_resource`, `get_resource_template` and `get_prompt` fall back the same way."""
    manager = server.tool_manager
    tool = manager.find_keyed(name) or manager.registry.get_any(name)
    if tool is None:
        raise NotFoundError(f"Unknown tool: {name}")  # FastMCP's server says it so
    return tool


def listed(kind: str, component: T | None, key: str) -> T:
    """`component`, the listed `kind` under `key`, if there is one (`NotFoundError`)."""
    if component is None:
        raise NotFoundError(f"Unknown {kind}: {key}")
    return component


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
        return await prompt.render_result(arguments, ctx)
