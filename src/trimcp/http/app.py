"""`create_app`: one ASGI app per server, the MCP endpoint plus custom routes.

```
TrimcpApp                      handles the ASGI `lifespan` scope itself; `.lifespan` for hosts
└── user middleware            reversed fold: the first listed is the outermost
    └── Router
        ├── Route(path)        OriginGuard -> StreamableHTTPEndpoint   (/mcp and /mcp/)
        │   (or /sse and /messages/ -> LegacySSEEndpoint for transport="sse")
        └── custom routes      the server's, then those of mounted servers
```

`.lifespan(app)` is an async context manager that runs the server's lifespan and the
endpoints' `running()` task group once, however many hosts enter it; hand it to Starlette or
FastAPI (`Starlette(routes=[Mount("/x", app=mcp_app)], lifespan=mcp_app.lifespan)`), since
they do not run the lifespans of mounted apps.
"""

from __future__ import annotations

import inspect
import logging
import os
import traceback
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Literal

import anyio

from trimcp.http.asgi import (
    ASGIApp,
    JSONResponse,
    Receive,
    Scope,
    Send,
    State,
)
from trimcp.http.guard import OriginGuard
from trimcp.http.routing import Mount, Route, Router
from trimcp.runtime.shared import SharedContext

__all__ = ["TrimcpApp", "create_app", "normalize_middleware"]

logger = logging.getLogger("trimcp.http")

HttpTransport = Literal["http", "streamable-http", "sse"]


class TrimcpApp:
    """The ASGI app of one server (what `FastMCP.http_app()` returns).

    Attributes:
        state: `state.fastmcp_server` (the server), `state.path` (the MCP path),
            `state.transport`.
        router: the `Router`; `routes` is its list.
        endpoints: the MCP endpoint objects (their `running()` is entered by the lifespan).
    """

    def __init__(
        self,
        server: Any,
        *,
        router: Router,
        endpoints: Sequence[Any],
        middleware: Sequence[tuple[Any, tuple[Any, ...], dict[str, Any]]] = (),
        path: str,
        transport: str,
    ) -> None:
        self.server = server
        self.state = State()
        self.state.fastmcp_server = server
        self.state.path = path
        self.state.transport = transport
        self.router = router
        self.endpoints = list(endpoints)
        self.user_middleware = list(middleware)
        app: ASGIApp = router
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        self.middleware_stack = app
        self._shared_lifespan: SharedContext[None] = SharedContext(self._run_lifespan)

    @property
    def routes(self) -> list[Route | Mount]:
        return self.router.routes

    # -- lifespan -------------------------------------------------------------------------

    def lifespan(self, app: Any = None) -> AbstractAsyncContextManager[None]:
        """Run the server lifespan and the endpoints' background tasks for the block.

        Entered once: a nested or concurrent entry waits for the first to be ready and shares
        it (the first entry owns it and tears it down when it exits).
        """
        return self._shared_lifespan.enter()

    @asynccontextmanager
    async def _run_lifespan(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.server._lifespan_manager())
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

    async def _serve_lifespan(self, receive: Receive, send: Send) -> None:
        """The ASGI `lifespan` scope, for a server that serves this app directly."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with self.lifespan(self):
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except BaseException:
            message = traceback.format_exc()
            kind = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": kind, "message": message})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._serve_lifespan(receive, send)
            return
        scope["app"] = self
        await self.middleware_stack(scope, receive, send)

    def __repr__(self) -> str:
        return f"TrimcpApp({self.server!r}, path={self.state.path!r})"


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


# -- building ----------------------------------------------------------------------------


def _env(name: str) -> str | None:
    for prefix in ("TRIMCP_", "FASTMCP_"):
        value = os.environ.get(prefix + name)
        if value is not None:
            return value
    return None


def _setting_bool(server: Any, name: str, given: bool | None) -> bool:
    """Explicit argument > the server's constructor settings > environment > False."""
    if given is not None:
        return bool(given)
    value = (getattr(server, "settings", None) or {}).get(name)
    if value is not None:
        return bool(value)
    env = _env(name.upper())
    return env is not None and env.strip().lower() not in ("0", "false", "no", "off", "")


def _setting_str(server: Any, name: str, given: str | None, default: str) -> str:
    if given is not None:
        return given
    value = (getattr(server, "settings", None) or {}).get(name)
    if value is not None:
        return str(value)
    return _env(name.upper()) or default


def _custom_routes(server: Any, seen: set[int] | None = None) -> list[Route | Mount]:
    """The server's custom routes, then those of its mounted servers (depth first)."""
    seen = set() if seen is None else seen
    if id(server) in seen:
        return []
    seen.add(id(server))
    routes = list(getattr(server, "_additional_http_routes", None) or ())
    for mounted in getattr(server, "_mounted_servers", None) or ():
        child = getattr(mounted, "server", mounted)
        routes.extend(_custom_routes(child, seen))
    return routes


class _UnavailableEndpoint:
    """Stands in for an MCP endpoint whose module is not built yet (answers 501)."""

    def __init__(self, what: str) -> None:
        self.what = what

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
    routes: Sequence[Route | Mount] | None = None,
) -> TrimcpApp:
    """Build the ASGI app of `server`.

    Args:
        path: the MCP endpoint path (default `/mcp`; for `transport="sse"` the SSE path,
            default `/sse`). Served with and without a trailing slash.
        middleware: Starlette-style middleware around the whole app, first = outermost.
        json_response: answer JSON rather than SSE where the handler allows.
        stateless_http, stateless: no sessions (either name).
        transport: `"http"`/`"streamable-http"` (streamable HTTP) or `"sse"` (legacy HTTP+SSE).
        event_store, retry_interval, session_idle_timeout, session_handshake_timeout,
        max_sessions, get_stream_buffer, max_body_size, max_session_requests,
        max_server_requests: passed to the streamable HTTP endpoint
            (`None`: its defaults; the request limits default to `trimcp.settings`).
        allowed_hosts, allowed_origins, host_origin_protection, bound_host: the
            `OriginGuard` in front of the MCP endpoints.
        sse_path, message_path: the legacy transport's paths (`/sse`, `/messages/`).
        routes: extra routes served after the server's custom routes.

    Every option is explicit: an unknown one (a misspelling, or a FastMCP option trimcp does
    not implement) raises `TypeError` before anything is served, as FastMCP does.
    """
    if transport not in ("http", "streamable-http", "sse"):
        raise ValueError(f"Unknown HTTP transport: {transport!r}")
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
    mcp_routes: list[Route | Mount]
    if transport == "sse":
        sse_path = path or _setting_str(server, "sse_path", sse_path, "/sse")
        message_path = _setting_str(server, "message_path", message_path, "/messages/")
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
            Route(sse_path, guarded, name="sse", trailing_slash=True, include_in_schema=False),
            Route(
                message_path, guarded, name="messages", trailing_slash=True, include_in_schema=False
            ),
        ]
        mcp_path = sse_path
    else:
        mcp_path = _setting_str(server, "streamable_http_path", path, "/mcp")
        if stateless is None and stateless_http is None:
            is_stateless = _setting_bool(server, "stateless_http", None)
        else:
            is_stateless = bool(stateless) or bool(stateless_http)
        options: dict[str, Any] = {
            "path": mcp_path,
            "json_response": _setting_bool(server, "json_response", json_response),
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
        else:
            endpoint = _UnavailableEndpoint("The streamable HTTP transport")
        mcp_routes = [
            Route(
                mcp_path, guard(endpoint), name="mcp", trailing_slash=True, include_in_schema=False
            )
        ]

    router = Router([*mcp_routes, *_custom_routes(server), *(routes or ())])
    return TrimcpApp(
        server,
        router=router,
        endpoints=[endpoint],
        middleware=middleware_triples,
        path=mcp_path,
        transport=transport,
    )
