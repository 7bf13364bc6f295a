"""The four listings (`tools/list`, `resources/list`, `resources/templates/list`,
`prompts/list`) in two steps: the components clients see, then the page a client gets
(`include_fastmcp_meta`, cursors). Without middleware a handler does both at once; with
middleware, the hooks (`on_list_tools`, ...) receive the components from `call_next` and
return the ones to list, as FastMCP's middleware does.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from trimcp.exceptions import McpError
from trimcp.protocol.errors import INVALID_PARAMS
from trimcp.types.misc import PaginatedParams
from trimcp.types.prompts import ListPromptsResult
from trimcp.types.resources import ListResourcesResult, ListResourceTemplatesResult
from trimcp.types.results import Result
from trimcp.types.tools import ListToolsResult

if TYPE_CHECKING:
    from trimcp.core.request import ServerRequest

__all__ = [
    "LISTINGS",
    "TwoSteps",
    "list_prompts",
    "list_resource_templates",
    "list_resources",
    "list_tools",
    "paginate",
]

Keyed = Iterable[tuple[str, Any]]
"""`(key, component)` pairs: the key is what clients see (prefixed through mounts)."""


def paginate(
    items: Sequence[Any], cursor: str | None, page_size: int | None
) -> tuple[Sequence[Any], str | None]:
    """One page of a deterministic list; the cursor is an opaque offset."""
    if cursor is None and not page_size:
        return items, None
    start = 0
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
            if start < 0 or start > len(items):
                raise ValueError
        except (ValueError, UnicodeDecodeError) as exc:
            raise McpError(INVALID_PARAMS, f"Invalid cursor: {cursor!r}") from exc
    if not page_size:
        return items[start:], None
    end = start + page_size
    next_cursor = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], next_cursor


# -- the pages -------------------------------------------------------------------------------


def tools_page(request: ServerRequest, params: PaginatedParams, tools: Keyed) -> ListToolsResult:
    server = request.server
    flag = server.include_fastmcp_meta
    items = [tool.to_mcp_tool(name=key, include_fastmcp_meta=flag) for key, tool in tools]
    page, next_cursor = paginate(items, params.cursor, server.list_page_size)
    return ListToolsResult(tools=list(page), nextCursor=next_cursor)


def resources_page(
    request: ServerRequest, params: PaginatedParams, resources: Keyed
) -> ListResourcesResult:
    server = request.server
    flag = server.include_fastmcp_meta
    items = [r.to_mcp_resource(uri=key, include_fastmcp_meta=flag) for key, r in resources]
    page, next_cursor = paginate(items, params.cursor, server.list_page_size)
    return ListResourcesResult(resources=list(page), nextCursor=next_cursor)


def templates_page(
    request: ServerRequest, params: PaginatedParams, templates: Keyed
) -> ListResourceTemplatesResult:
    server = request.server
    flag = server.include_fastmcp_meta
    items = [t.to_mcp_template(uriTemplate=key, include_fastmcp_meta=flag) for key, t in templates]
    page, next_cursor = paginate(items, params.cursor, server.list_page_size)
    return ListResourceTemplatesResult(resourceTemplates=list(page), nextCursor=next_cursor)


def prompts_page(
    request: ServerRequest, params: PaginatedParams, prompts: Keyed
) -> ListPromptsResult:
    server = request.server
    flag = server.include_fastmcp_meta
    items = [p.to_mcp_prompt(name=key, include_fastmcp_meta=flag) for key, p in prompts]
    page, next_cursor = paginate(items, params.cursor, server.list_page_size)
    return ListPromptsResult(prompts=list(page), nextCursor=next_cursor)


# -- the handlers (no middleware: both steps at once) ----------------------------------------


async def list_tools(request: ServerRequest, params: PaginatedParams) -> ListToolsResult:
    return tools_page(request, params, request.server.tool_manager.iter_visible())


async def list_resources(request: ServerRequest, params: PaginatedParams) -> ListResourcesResult:
    return resources_page(request, params, request.server.resource_manager.iter_resources())


async def list_resource_templates(
    request: ServerRequest, params: PaginatedParams
) -> ListResourceTemplatesResult:
    return templates_page(request, params, request.server.resource_manager.iter_templates())


async def list_prompts(request: ServerRequest, params: PaginatedParams) -> ListPromptsResult:
    return prompts_page(request, params, request.server.prompt_manager.iter_visible())


# -- with middleware -------------------------------------------------------------------------


class TwoSteps(NamedTuple):
    """A method as the middleware chain runs it: `inner` gives what FastMCP's `call_next`
    gives a hook (components, a `ToolResult`), `finish` makes the wire result of what the
    hooks returned (a result a hook made itself passes as it is)."""

    inner: Callable[[ServerRequest, Any], Awaitable[Any]]
    finish: Callable[[ServerRequest, Any, Any], Any]


def _listing(
    components: Callable[[ServerRequest], Keyed],
    page: Callable[[ServerRequest, PaginatedParams, Keyed], Result],
) -> TwoSteps:
    async def inner(request: ServerRequest, params: Any) -> list[Any]:
        return [component for _key, component in components(request)]

    def finish(request: ServerRequest, params: PaginatedParams, listed: Any) -> Any:
        if isinstance(listed, Result):
            return listed
        return page(request, params, ((c.key, c) for c in listed))  # each under its key

    return TwoSteps(inner, finish)


LISTINGS: dict[str, TwoSteps] = {
    "tools/list": _listing(lambda r: r.server.tool_manager.iter_visible(), tools_page),
    "resources/list": _listing(
        lambda r: r.server.resource_manager.iter_resources(), resources_page
    ),
    "resources/templates/list": _listing(
        lambda r: r.server.resource_manager.iter_templates(), templates_page
    ),
    "prompts/list": _listing(lambda r: r.server.prompt_manager.iter_visible(), prompts_page),
}
"""The listings in two steps, by method: list hooks see and return components."""
