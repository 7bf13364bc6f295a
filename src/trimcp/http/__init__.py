"""trimcp's HTTP stack: a small Starlette-shaped ASGI kit, routing, the app of a server and
its serving with hypercorn.

Importing `trimcp` does not import this package; `FastMCP.http_app()`, `custom_route` and the
HTTP transports import it on first use. Names are loaded lazily here too, so `from trimcp.http
import Request` does not import hypercorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.http.app import TrimcpApp, create_app
    from trimcp.http.asgi import (
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        RedirectResponse,
        Request,
        Response,
        StreamingResponse,
    )
    from trimcp.http.guard import OriginGuard
    from trimcp.http.routing import Mount, Route, Router
    from trimcp.http.serve import ServerAddress, run_http

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
    "StreamingResponse",
    "TrimcpApp",
    "create_app",
    "run_http",
]

_WHERE = {
    "HTMLResponse": "asgi",
    "JSONResponse": "asgi",
    "PlainTextResponse": "asgi",
    "RedirectResponse": "asgi",
    "Request": "asgi",
    "Response": "asgi",
    "StreamingResponse": "asgi",
    "Mount": "routing",
    "Route": "routing",
    "Router": "routing",
    "OriginGuard": "guard",
    "TrimcpApp": "app",
    "create_app": "app",
    "ServerAddress": "serve",
    "run_http": "serve",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'trimcp.http' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"trimcp.http.{module}"), name)
    globals()[name] = value
    return value
