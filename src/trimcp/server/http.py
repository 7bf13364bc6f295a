"""FastMCP's `fastmcp.server.http` names, mapped onto `trimcp.http`.

- `create_streamable_http_app`, `create_sse_app`: `trimcp.http.app.create_app` with the
  FastMCP signatures (`auth` is not supported yet and must be `None`). They return a
  `StarletteWithLifespan`.
- `StarletteWithLifespan`: a `Starlette` subclass whose `.lifespan` property is the app's
  lifespan function (`Starlette(routes=[Mount("/x", app=app)], lifespan=app.lifespan)`).
- `set_http_request(request)`: context manager making a Starlette `Request` current;
  `_current_http_request`: the context variable `get_http_request()` reads (it holds a
  `Request`, or what the MCP endpoints set: see `trimcp.http.context`).
- `RequestContextMiddleware`: ASGI middleware that makes each HTTP request current (the app
  already does this for custom routes and the MCP endpoints; for use around other apps).
- `create_base_app`, `StreamableHTTPASGIApp`: FastMCP's helpers for apps of one's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trimcp.http.app import StarletteWithLifespan, TrimcpApp, create_app
from trimcp.http.asgi import ASGIApp, Receive, Scope, Send
from trimcp.http.context import http_request_context as set_http_request
from trimcp.http.context import http_request_var, reset_http_request
from trimcp.http.context import set_http_request as set_http_scope

__all__ = [
    "RequestContextMiddleware",
    "StarletteWithLifespan",
    "StreamableHTTPASGIApp",
    "create_base_app",
    "create_sse_app",
    "create_streamable_http_app",
    "set_http_request",
]

_current_http_request = http_request_var


def _no_auth(auth: Any) -> None:
    if auth is not None:
        raise NotImplementedError("trimcp does not support `auth` providers yet")


def create_streamable_http_app(
    server: Any,
    streamable_http_path: str,
    event_store: Any = None,
    auth: Any = None,
    json_response: bool = False,
    stateless_http: bool = False,
    debug: bool = False,
    routes: Sequence[Any] | None = None,
    middleware: Sequence[Any] | None = None,
    **options: Any,
) -> TrimcpApp:
    """The streamable HTTP app of `server` at `streamable_http_path` (FastMCP signature)."""
    _no_auth(auth)
    return create_app(
        server,
        path=streamable_http_path,
        transport="http",
        event_store=event_store,
        json_response=json_response,
        stateless_http=stateless_http,
        routes=routes,
        middleware=middleware,
        debug=debug,
        **options,
    )


def create_sse_app(
    server: Any,
    message_path: str,
    sse_path: str,
    auth: Any = None,
    debug: bool = False,
    routes: Sequence[Any] | None = None,
    middleware: Sequence[Any] | None = None,
    **options: Any,
) -> TrimcpApp:
    """The legacy HTTP+SSE app of `server` (FastMCP signature)."""
    _no_auth(auth)
    return create_app(
        server,
        transport="sse",
        sse_path=sse_path,
        message_path=message_path,
        routes=routes,
        middleware=middleware,
        debug=debug,
        **options,
    )


class RequestContextMiddleware:
    """Makes each HTTP request the current one (`get_http_request()`) while `app` serves it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = set_http_scope(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_http_request(token)


def create_base_app(
    routes: list[Any],
    middleware: list[Any],
    debug: bool = False,
    lifespan: Any = None,
) -> StarletteWithLifespan:
    """A Starlette app of `routes` and `middleware`, `RequestContextMiddleware` outermost (so
    `get_http_request()` works in its routes), with `lifespan` (FastMCP's helper)."""
    from starlette.middleware import Middleware

    return StarletteWithLifespan(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware), *middleware],
        debug=debug,
        lifespan=lifespan,
    )


class StreamableHTTPASGIApp:
    """FastMCP's ASGI wrapper of a session manager: each request goes to
    `session_manager.handle_request(scope, receive, send)`."""

    def __init__(self, session_manager: Any) -> None:
        self.session_manager = session_manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.session_manager.handle_request(scope, receive, send)
