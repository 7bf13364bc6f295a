"""trimcp's HTTP stack: the app of a server (a Starlette application around trimcp's own MCP
endpoints), the endpoints, and their serving with hypercorn.

Importing `trimcp` does not import this package; `FastMCP.http_app()`, `custom_route` and the
HTTP transports import it on first use. Names are loaded lazily here too, so `from trimcp.http
import Request` does not import hypercorn. `Request`, the responses and the routing classes are
Starlette's, re-exported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import (
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        RedirectResponse,
        Response,
        StreamingResponse,
    )
    from starlette.routing import Mount, Route, Router

    from trimcp.http.app import StarletteWithLifespan, TrimcpApp, create_app
    from trimcp.http.guard import OriginGuard
    from trimcp.http.serve import ServerAddress, build_config, run_http, serve_asgi

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "Mount",
    "OriginGuard",
    "PlainTextResponse",
    "RedirectResponse",
    "Request",
    "Response",
    "Route",
    "Router",
    "ServerAddress",
    "StarletteWithLifespan",
    "StreamingResponse",
    "TrimcpApp",
    "build_config",
    "create_app",
    "run_http",
    "serve_asgi",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "starlette.requests": ("Request",),
        "starlette.responses": (
            "HTMLResponse",
            "JSONResponse",
            "PlainTextResponse",
            "RedirectResponse",
            "Response",
            "StreamingResponse",
        ),
        "starlette.routing": ("Mount", "Route", "Router"),
        "trimcp.http.app": ("StarletteWithLifespan", "TrimcpApp", "create_app"),
        "trimcp.http.guard": ("OriginGuard",),
        "trimcp.http.serve": ("ServerAddress", "build_config", "run_http", "serve_asgi"),
    },
)
