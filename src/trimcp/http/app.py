"""`create_app`: one Starlette application per server, the MCP endpoint plus custom routes.

```
TrimcpApp (a Starlette app)    `.lifespan` for hosts; `.state.fastmcp_server`, `.path`...
└── user middleware            reversed fold: the first listed is the outermost
    └── McpDispatch            the MCP path (and `path/`) below `root_path`?
        ├── yes: StreamableHTTPEndpoint (its OriginGuard checks the headers it reads), or
        │        OriginGuard -> LegacySSEEndpoint (/sse, /messages/)
        └── no:  ServerErrorMiddleware -> ExceptionMiddleware -> Router (Starlette's stack)
                 └── custom routes: the server's, those of mounted servers, `routes=`
```

The MCP endpoint is trimcp's raw ASGI, the hot path: a request for it costs one dictionary
look-up here, not Starlette's routing, exception middleware and `Request` objects. It is
listed in `app.routes` too (first, as FastMCP's is), for reading and `url_path_for("mcp")`.
Everything else is plain Starlette: handlers get a `starlette.requests.Request`, return any
Starlette `Response`, and `get_http_request()` works in them. One difference from a plain
Starlette app: its `ServerErrorMiddleware` sits inside the user middleware, not outside, so an
exception escaping a user middleware is answered 500 by the server (hypercorn), as one from
the MCP endpoint is.

`.lifespan` is the app's lifespan function: it runs the server's lifespan and the endpoints'
`running()` task group once, however many hosts enter it; hand it to Starlette or FastAPI
(`Starlette(routes=[Mount("/x", app=mcp_app)], lifespan=mcp_app.lifespan)`), since they do not
run the lifespans of mounted apps.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Literal

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan

from trimcp.http.asgi import (
    DEFAULT_MAX_BODY_SIZE,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    get_route_path,
)
from trimcp.http.context import reset_http_request, set_http_request
from trimcp.http.guard import OriginGuard
from trimcp.runtime.shared import SharedContext
from trimcp.settings import settings

__all__ = [
    "McpDispatch",
    "SlashRedirect",
    "StarletteWithLifespan",
    "TrimcpApp",
    "create_app",
    "custom_routes",
    "normalize_middleware",
]

logger = logging.getLogger("trimcp.http")

HttpTransport = Literal["http", "streamable-http", "sse"]


class StarletteWithLifespan(Starlette):
    """FastMCP's app class: a Starlette app whose `.lifespan` is its lifespan function."""

    @property
    def lifespan(self) -> Lifespan[Any]:
        return self.router.lifespan_context


class TrimcpApp(StarletteWithLifespan):
    """The app of one server (what `FastMCP.http_app()` returns).

    Attributes:
        server: the server.
        state: `state.fastmcp_server` (the server), `state.path` (the MCP path),
            `state.transport` (`"http"`, `"streamable-http"` or `"sse"`), `state.transport_type`
            (FastMCP's spelling: `"streamable-http"` or `"sse"`).
        router: the Starlette `Router`; `routes` is its list (the MCP route(s) first).
        endpoints: the MCP endpoint objects (their `running()` is entered by the lifespan).
        mcp_endpoints: route path -> the guarded endpoint `McpDispatch` sends it to.
        max_body_size: the cap on a body read by a custom route (413 past it; `None`: no cap).
            Starlette 1.x spells its own option the same way, with the same meaning.
    """

    def __init__(
        self,
        server: Any,
        *,
        routes: Sequence[BaseRoute],
        mcp_endpoints: Mapping[str, ASGIApp],
        endpoints: Sequence[Any],
        middleware: Sequence[Any] = (),
        path: str,
        transport: str,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        debug: bool = False,
    ) -> None:
        self._shared_lifespan: SharedContext[None] = SharedContext(self._run_lifespan)
        super().__init__(
            debug=debug,
            routes=list(routes),
            middleware=[Middleware(cls, *args, **kwargs) for cls, args, kwargs in middleware],
            lifespan=self._enter_lifespan,
        )
        self.server = server
        self.state.fastmcp_server = server
        self.state.path = path
        self.state.transport = transport
        self.state.transport_type = "sse" if transport == "sse" else "streamable-http"
        self.endpoints = list(endpoints)
        self.mcp_endpoints = dict(mcp_endpoints)
        self.max_body_size = max_body_size

    def build_middleware_stack(self) -> ASGIApp:
        """User middleware around `McpDispatch`: the MCP endpoint skips Starlette's routing and
        exception middleware; every other request gets them as a Starlette app does."""
        error_handler = None
        handlers: dict[Any, Any] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        starlette_stack: ASGIApp = ServerErrorMiddleware(
            ExceptionMiddleware(self.router, handlers=handlers, debug=self.debug),
            handler=error_handler,
            debug=self.debug,
        )
        app: ASGIApp = McpDispatch(
            self.mcp_endpoints, starlette_stack, max_body_size=self.max_body_size
        )
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        stack = self.middleware_stack
        if stack is None:
            stack = self.middleware_stack = self.build_middleware_stack()
        if type(stack) is McpDispatch and scope["type"] == "http" and not scope.get("root_path"):
            # no user middleware: an MCP path goes to its endpoint from here (one coroutine
            # fewer on every request); everything else through the stack, as Starlette does
            endpoint = stack.endpoints.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await stack(scope, receive, send)

    # -- lifespan -------------------------------------------------------------------------

    def _enter_lifespan(self, app: Any = None) -> AbstractAsyncContextManager[None]:
        # Entered once: a nested or concurrent entry waits for the first to be ready and
        # shares it (the first entry owns it and tears it down when it exits).
        return self._shared_lifespan.enter()

    @asynccontextmanager
    async def _run_lifespan(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.server.lifespan_context())
            for endpoint in self.endpoints:
                running = getattr(endpoint, "running", None)
                if running is not None:
                    await stack.enter_async_context(running())
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    await self.shutdown()

    async def shutdown(self) -> None:
        """End the endpoints' open streams (SSE) so connections can close; idempotent."""
        for endpoint in self.endpoints:
            stop = getattr(endpoint, "shutdown", None)
            if stop is not None:
                result = stop()
                if inspect.isawaitable(result):
                    await result

    def __repr__(self) -> str:
        return f"TrimcpApp({self.server!r}, path={self.state.path!r})"


class McpDispatch:
    """Sends a request for an MCP path to its endpoint, anything else to `fallback` (the
    Starlette stack), with its body capped at `max_body_size` and the request made current
    for `get_http_request()`.

    Paths are matched below `root_path` (`get_route_path`), so an app mounted inside Starlette
    or FastAPI answers the same as one served directly.
    """

    __slots__ = ("endpoints", "fallback", "max_body_size")

    def __init__(
        self, endpoints: Mapping[str, ASGIApp], fallback: ASGIApp, *, max_body_size: int | None
    ) -> None:
        self.endpoints = dict(endpoints)
        self.fallback = fallback
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" or kind == "websocket":
            # served directly (no root_path, the common case): the path is the route path
            path = get_route_path(scope) if scope.get("root_path") else scope["path"]
            endpoint = self.endpoints.get(path)
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
            if kind == "http":
                token = set_http_request(scope)
                limit = self.max_body_size
                try:
                    await self.fallback(
                        scope, receive if limit is None else _CappedReceive(receive, limit), send
                    )
                finally:
                    reset_http_request(token)
                return
        await self.fallback(scope, receive, send)


class _CappedReceive:
    """`receive` for a custom route: past `limit` bytes of body it reads and drops the rest
    (up to four times the limit: a client answered before it has sent its body often sees a
    reset instead of the answer) and raises `HTTPException(413)`, which Starlette's exception
    handling turns into the answer."""

    __slots__ = ("limit", "receive", "size")

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.size = 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                more = message.get("more_body", False)
                dropped = 0
                while more and dropped <= 3 * self.limit:
                    message = await self.receive()
                    if message["type"] != "http.request":
                        break
                    dropped += len(message.get("body", b""))
                    more = message.get("more_body", False)
                raise HTTPException(413, "Request body too large")
        return message


# -- building ----------------------------------------------------------------------------


def custom_routes(server: Any, seen: set[int] | None = None) -> list[BaseRoute]:
    """The server's custom routes, then those of its mounted servers (depth first)."""
    seen = set() if seen is None else seen
    if id(server) in seen:
        return []
    seen.add(id(server))
    routes = list(server.http_routes)
    for mounted in server.composition.mounted:
        routes.extend(custom_routes(mounted.server, seen))
    return routes


def normalize_middleware(
    middleware: Sequence[Any] | None,
) -> list[tuple[Any, tuple[Any, ...], dict[str, Any]]]:
    """Starlette `Middleware(cls, *args, **kwargs)` objects (or anything with `.cls`, `.args`,
    `.kwargs`/`.options`), `(cls, kwargs)` / `(cls, args, kwargs)` tuples, or bare classes ->
    `(cls, args, kwargs)` triples."""
    result: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
    for item in middleware or ():
        if hasattr(item, "cls"):
            kwargs = getattr(item, "kwargs", None)
            if kwargs is None:
                kwargs = getattr(item, "options", None)
            result.append((item.cls, tuple(getattr(item, "args", ()) or ()), dict(kwargs or {})))
        elif isinstance(item, tuple) and len(item) == 2:
            result.append((item[0], (), dict(item[1] or {})))
        elif isinstance(item, tuple) and len(item) == 3:
            result.append((item[0], tuple(item[1] or ()), dict(item[2] or {})))
        elif callable(item):
            result.append((item, (), {}))
        else:
            raise TypeError(f"Not a middleware: {item!r}")
    return result


class _UnavailableEndpoint:
    """Stands in for an MCP endpoint whose module is not built yet (answers 501)."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.responses import JSONResponse

        response = JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {"code": -32603, "message": f"{self.what} is not available"},
            },
            status_code=501,
        )
        await response(scope, receive, send)


def _module_available(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _served_paths(path: str) -> list[str]:
    """The route paths an MCP path answers on: itself, and with or without a trailing slash."""
    stripped = path.rstrip("/") or "/"
    return list(dict.fromkeys([path, stripped, stripped if stripped == "/" else stripped + "/"]))


class SlashRedirect:
    """The MCP endpoint on the other spelling of its path (`/mcp/` for `/mcp`, or the
    reverse): a `GET` or `HEAD` is redirected (307) to the route's own path, as Starlette's
    router (and so FastMCP) answers it; any other method is served at once, so a client
    POSTing to either spelling pays no redirect round trip."""

    __slots__ = ("endpoint", "path")

    def __init__(self, endpoint: ASGIApp, path: str) -> None:
        self.endpoint = endpoint
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.endpoint(scope, receive, send)
            return
        from starlette.datastructures import URL
        from starlette.responses import RedirectResponse

        url = URL(scope=scope)
        root_path: str = scope.get("root_path", "")
        prefix = root_path if url.path.startswith(root_path) else ""
        response = RedirectResponse(url.replace(path=prefix + self.path), status_code=307)
        await response(scope, receive, send)


def create_app(
    server: Any,
    *,
    path: str | None = None,
    middleware: Sequence[Any] | None = None,
    json_response: bool | None = None,
    stateless_http: bool | None = None,
    stateless: bool | None = None,
    transport: HttpTransport = "http",
    event_store: Any = None,
    retry_interval: int | None = None,
    session_idle_timeout: float | None = None,
    session_handshake_timeout: float | None = None,
    max_sessions: int | None = None,
    get_stream_buffer: int | None = None,
    max_body_size: int | None = None,
    max_session_requests: int | None = None,
    max_server_requests: int | None = None,
    allowed_hosts: Sequence[str] | None = None,
    allowed_origins: Sequence[str] | None = None,
    host_origin_protection: bool = True,
    bound_host: str | None = None,
    sse_path: str | None = None,
    message_path: str | None = None,
    routes: Sequence[BaseRoute] | None = None,
    debug: bool | None = None,
) -> TrimcpApp:
    """Build the ASGI app of `server`.

    Args:
        path: the MCP endpoint path (default `/mcp`; for `transport="sse"` the SSE path,
            default `/sse`). Served with and without a trailing slash (a `GET` of the other
            spelling is redirected, 307, as Starlette's router does).
        middleware: Starlette `Middleware` (or `(cls, args, kwargs)` triples) around the whole
            app, the MCP endpoint included; the first listed is the outermost.
        json_response: answer JSON rather than SSE where the handler allows.
        stateless_http, stateless: no sessions (either name).
        transport: `"http"`/`"streamable-http"` (streamable HTTP) or `"sse"` (legacy HTTP+SSE).
        event_store, retry_interval, session_idle_timeout, session_handshake_timeout,
        max_sessions, get_stream_buffer, max_body_size, max_session_requests,
        max_server_requests: passed to the streamable HTTP endpoint
            (`None`: its defaults; the request limits default to `trimcp.settings`).
            `max_body_size` also caps the bodies custom routes read (default 4 MiB: 413).
        allowed_hosts, allowed_origins, host_origin_protection, bound_host: the
            `OriginGuard` in front of the MCP endpoints.
        sse_path, message_path: the legacy transport's paths (`/sse`, `/messages/`).
        routes: extra Starlette routes, served after the server's custom routes.
        debug: Starlette's debug mode (tracebacks in 500 answers of custom routes); not
            given: the server's FastMCP 2.x constructor setting (`FastMCP(debug=True)`), else off.

    `path`, `sse_path`, `message_path`, `json_response` and `stateless_http` not given follow
    the server's constructor settings, then `trimcp.settings` (`Settings.resolve`).

    Every option is explicit: an unknown one (a misspelling, or a FastMCP option trimcp does
    not implement) raises `TypeError` before anything is served, as FastMCP does.
    """
    if transport not in ("http", "streamable-http", "sse"):
        raise ValueError(f"Unknown HTTP transport: {transport!r}")
    if debug is None:
        debug = bool(getattr(server, "transport_settings", {}).get("debug"))
    middleware_triples = normalize_middleware(middleware)

    def guard(app: ASGIApp) -> OriginGuard:
        return OriginGuard(
            app,
            allowed_origins=allowed_origins,
            allowed_hosts=allowed_hosts,
            host_origin_protection=host_origin_protection,
            bound_host=bound_host,
        )

    endpoint: Any
    mcp_routes: list[Route]
    if transport == "sse":
        sse_path = path or settings.resolve("sse_path", sse_path, server=server)
        message_path = settings.resolve("message_path", message_path, server=server)
        if _module_available("trimcp.http.sse"):
            from trimcp.http.sse import LegacySSEEndpoint

            sse_options: dict[str, Any] = {"sse_path": sse_path, "message_path": message_path}
            if max_body_size is not None:
                sse_options["max_body_size"] = max_body_size
            endpoint = LegacySSEEndpoint(server, **sse_options)
        else:
            endpoint = _UnavailableEndpoint("The legacy SSE transport")
        guarded = guard(endpoint)
        mcp_routes = [
            Route(sse_path, guarded, name="sse", include_in_schema=False),
            Route(message_path, guarded, name="messages", include_in_schema=False),
        ]
        mcp_path = sse_path
    else:
        mcp_path = settings.resolve("streamable_http_path", path, server=server)
        if stateless is None and stateless_http is None:
            is_stateless = bool(settings.resolve("stateless_http", server=server))
        else:
            is_stateless = bool(stateless) or bool(stateless_http)
        options: dict[str, Any] = {
            "path": mcp_path,
            "json_response": bool(settings.resolve("json_response", json_response, server=server)),
            "stateless": is_stateless,
        }
        if event_store is None and not is_stateless:
            # resumability is on by default (in memory); pass a Redis-backed store to share it
            from trimcp.http.event_store import EventStore

            event_store = EventStore()
        if event_store is not None and retry_interval is None:
            retry_interval = 1000  # SEP-1699: tell clients when to reconnect after an early close
        for name, value in (
            ("event_store", event_store),
            ("retry_interval", retry_interval),
            ("session_idle_timeout", session_idle_timeout),
            ("session_handshake_timeout", session_handshake_timeout),
            ("max_sessions", max_sessions),
            ("get_stream_buffer", get_stream_buffer),
            ("max_body_size", max_body_size),
            ("max_session_requests", max_session_requests),
            ("max_server_requests", max_server_requests),
        ):
            if value is not None:
                options[name] = value
        if _module_available("trimcp.http.streamable"):
            from trimcp.http.streamable import StreamableHTTPEndpoint

            endpoint = StreamableHTTPEndpoint(server, **options)
            # checked by the endpoint itself, on the headers it reads anyway (one pass)
            endpoint.guard = guard(endpoint)
            guarded = endpoint
        else:
            endpoint = _UnavailableEndpoint("The streamable HTTP transport")
            guarded = guard(endpoint)
        mcp_routes = [Route(mcp_path, guarded, name="mcp", include_in_schema=False)]

    # Exact paths go straight to the endpoint; one with `{parameters}` is left to the Router
    # (its route is in `routes` anyway), at the cost of Starlette's routing.
    mcp_endpoints: dict[str, ASGIApp] = {}
    for route in mcp_routes:
        if "{" not in route.path:
            for served in _served_paths(route.path):
                app = route.app if served == route.path else SlashRedirect(route.app, route.path)
                mcp_endpoints.setdefault(served, app)
    return TrimcpApp(
        server,
        routes=[*mcp_routes, *custom_routes(server), *(routes or ())],
        mcp_endpoints=mcp_endpoints,
        endpoints=[endpoint],
        middleware=middleware_triples,
        path=mcp_path,
        transport=transport,
        max_body_size=DEFAULT_MAX_BODY_SIZE if max_body_size is None else max_body_size,
        debug=debug,
    )
