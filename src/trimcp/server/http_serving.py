"""`FastMCP`'s HTTP methods: `custom_route`, `http_app` and `run_http_async`, plain functions
of the server that `FastMCP` binds as methods (as it binds `core.running`'s `run_async` and
`run`). The HTTP stack (`trimcp.http`) is imported only when one of them is called, so that
`import trimcp` stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import anyio

from trimcp.server import registration

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["custom_route", "http_app", "run_http_async"]


def custom_route(
    mcp: FastMCP,
    /,
    path: str,
    methods: list[str],
    name: str | None = None,
    include_in_schema: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an HTTP handler served next to the MCP endpoint, as FastMCP does: `async
    def h(request: starlette.requests.Request) -> starlette.responses.Response`."""
    return registration.route_decorator(
        mcp.http_routes, path, methods, name=name, include_in_schema=include_in_schema
    )


def http_app(mcp: FastMCP, /, path: str | None = None, **options: Any) -> Any:
    """This server as an ASGI app (streamable HTTP by default, `transport="sse"` for the
    legacy transport), with a `.lifespan` to hand to a host framework."""
    from trimcp.http.app import create_app

    if "debug" in options:  # `create_streamable_http_app(debug=...)` only, as in FastMCP
        raise TypeError("FastMCP.http_app() got an unexpected keyword argument 'debug'")
    return create_app(mcp, path=path, **options)


async def run_http_async(
    mcp: FastMCP,
    /,
    transport: Literal["http", "streamable-http", "sse"] = "http",
    *,
    server: Literal["hypercorn", "uvicorn"] | None = None,
    task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED,
    **options: Any,
) -> None:
    """Serve over HTTP until cancelled, then shut down gracefully; `await tg.start(...)`
    returns the bound address. `server`: `"hypercorn"` (the default, asyncio and trio)
    or `"uvicorn"` (asyncio only; `uvicorn_config=` alone selects it too). The other
    options: `trimcp.http.serve.run_http`."""
    from trimcp.http.serve import run_http

    await run_http(mcp, transport=transport, server=server, task_status=task_status, **options)
