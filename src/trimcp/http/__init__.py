"""trimcp's HTTP stack: the app of a server (a Starlette application around trimcp's own MCP
endpoints), the endpoints, and their serving with hypercorn.

Importing `trimcp` does not import this package; `FastMCP.http_app()`, `custom_route` and the
HTTP transports import it on first use. Names are loaded lazily here too, so `from trimcp.http
import Request` does not import hypercorn. `Request`, the responses and the routing classes are
Starlette's, re-exported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

_WHERE = {
    "HTMLResponse": "starlette.responses",
    "JSONResponse": "starlette.responses",
    "PlainTextResponse": "starlette.responses",
    "RedirectResponse": "starlette.responses",
    "Response": "starlette.responses",
    "StreamingResponse": "starlette.responses",
    "Request": "starlette.requests",
    "Mount": "starlette.routing",
    "Route": "starlette.routing",
    "Router": "starlette.routing",
    "OriginGuard": "trimcp.http.guard",
    "StarletteWithLifespan": "trimcp.http.app",
    "TrimcpApp": "trimcp.http.app",
    "create_app": "trimcp.http.app",
    "ServerAddress": "trimcp.http.serve",
    "run_http": "trimcp.http.serve",
    "serve_asgi": "trimcp.http.serve",
    "build_config": "trimcp.http.serve",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'trimcp.http' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
