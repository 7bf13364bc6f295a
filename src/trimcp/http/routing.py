"""Routing: `Route` (path parameters, methods), `Mount` (a raw ASGI app under a prefix) and
`Router` (first match wins; 404 for no path, 405 with `Allow` for a wrong method).

A `Route` whose endpoint is a function is a request/response handler: `async def h(request)
-> Response` (a sync function runs in a worker thread). Any other callable is a raw ASGI app
(the MCP endpoints), called with the scope, receive and send it was given.

Routes match on the path below `scope["root_path"]` (`asgi.get_route_path`), so an app
mounted inside Starlette or FastAPI routes the same as one served directly.
"""

from __future__ import annotations

import enum
import functools
import inspect
import re
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any

from trimcp.http.asgi import (
    DEFAULT_MAX_BODY_SIZE,
    ASGIApp,
    BodyTooLarge,
    ClientDisconnect,
    PlainTextResponse,
    Receive,
    Request,
    Scope,
    Send,
    get_route_path,
)
from trimcp.http.context import reset_http_request, set_http_request

__all__ = ["Match", "Mount", "Route", "Router", "compile_path"]


class Match(enum.Enum):
    NONE = 0
    PARTIAL = 1  # the path matches, the method does not
    FULL = 2


_CONVERTERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": ("[^/]+", str),
    "path": (".*", str),
    "int": ("[0-9]+", int),
    "float": (r"[0-9]+(?:\.[0-9]+)?", float),
    "uuid": (
        "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        uuid.UUID,
    ),
}
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")


def compile_path(path: str) -> tuple[re.Pattern[str] | None, dict[str, Callable[[str], Any]]]:
    """`/items/{id:int}` -> (regex, converters); `(None, {})` for a path without parameters."""
    pattern = "^"
    converters: dict[str, Callable[[str], Any]] = {}
    index = 0
    for match in _PARAM.finditer(path):
        name, kind = match.group(1), match.group(2) or "str"
        if kind not in _CONVERTERS:
            raise ValueError(f"Unknown path converter {kind!r} in {path!r}")
        if name in converters:
            raise ValueError(f"Duplicate path parameter {name!r} in {path!r}")
        regex, convert = _CONVERTERS[kind]
        pattern += re.escape(path[index : match.start()]) + f"(?P<{name}>{regex})"
        converters[name] = convert
        index = match.end()
    if not converters:
        return None, {}
    return re.compile(pattern + re.escape(path[index:]) + "$"), converters


def _is_handler_function(endpoint: Any) -> bool:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.isfunction(endpoint) or inspect.ismethod(endpoint)


def _is_async_callable(fn: Any) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn)


class Route:
    """One path (with `{name}`, `{name:path}`, `{name:int}`... parameters) and its methods.

    Args:
        path: the path template, starting with `/`.
        endpoint: `async def h(request) -> Response`, a sync function (run in a worker thread),
            or a raw ASGI app (any non-function callable).
        methods: allowed methods; `GET` implies `HEAD`. Default: `GET`/`HEAD` for handler
            functions, every method for raw ASGI apps (they answer 405 themselves).
        name: the route name (defaults to the endpoint's `__name__`).
        include_in_schema: kept for Starlette/FastMCP compatibility (no schema is generated).
        trailing_slash: also serve the path with (or without) a trailing `/`, no redirect.
        max_body_size: cap on `await request.body()` for handler functions (default
            `DEFAULT_MAX_BODY_SIZE`, 4 MiB; a handler may lift it by setting
            `request.max_body_size = None` before reading, or read `request.stream()`).
    """

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
        trailing_slash: bool = False,
        max_body_size: int | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"Route path must start with '/': {path!r}")
        self.path = path
        self.endpoint = endpoint
        self.name = (
            name if name is not None else getattr(endpoint, "__name__", type(endpoint).__name__)
        )
        self.include_in_schema = include_in_schema
        self.trailing_slash = trailing_slash
        self.max_body_size = max_body_size
        self._is_handler = _is_handler_function(endpoint)
        if methods is None and self._is_handler:
            methods = ("GET",)
        if methods is None:
            self.methods: frozenset[str] | None = None
        else:
            upper = {m.upper() for m in methods}
            if "GET" in upper:
                upper.add("HEAD")
            self.methods = frozenset(upper)
        self._regex, self._converters = compile_path(path)
        if self._regex is None:
            stripped = path.rstrip("/") or "/"
            self._static = {path}
            if trailing_slash:
                self._static |= {stripped, stripped + "/" if stripped != "/" else "/"}
        self._call_async = self._is_handler and _is_async_callable(endpoint)
        # what the router awaits: no extra frame in front of a raw ASGI endpoint
        self.handle: ASGIApp = self._handle_request if self._is_handler else endpoint

    def matches(self, route_path: str, method: str) -> tuple[Match, dict[str, Any] | None]:
        if self._regex is None:
            if route_path not in self._static:
                return Match.NONE, None
            params: dict[str, Any] = {}
        else:
            found = self._regex.match(route_path)
            if found is None and self.trailing_slash:
                alt = route_path[:-1] if route_path.endswith("/") else route_path + "/"
                found = self._regex.match(alt)
            if found is None:
                return Match.NONE, None
            params = {k: self._converters[k](v) for k, v in found.groupdict().items()}
        if self.methods is not None and method not in self.methods:
            return Match.PARTIAL, params
        return Match.FULL, params

    async def _handle_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_size
        request = Request(
            scope, receive, max_body_size=DEFAULT_MAX_BODY_SIZE if limit is None else limit
        )
        token = set_http_request(request)
        try:
            if self._call_async:
                response = await self.endpoint(request)
            else:
                from trimcp.runtime.threads import run_sync

                response = await run_sync(self.endpoint, request)
                if inspect.isawaitable(response):
                    response = await response
        except BodyTooLarge:
            await request.drain()
            response = PlainTextResponse("Request body too large", status_code=413)
        except ClientDisconnect:
            return
        finally:
            reset_http_request(token)
        await response(scope, receive, send)

    def __repr__(self) -> str:
        methods = sorted(self.methods) if self.methods is not None else "*"
        return f"Route(path={self.path!r}, name={self.name!r}, methods={methods})"


class Mount:
    """A raw ASGI app served under a path prefix.

    The child sees the full `path` and `root_path` extended by the prefix, as ASGI and
    Starlette prescribe; it routes on what lies below (`get_route_path`).
    """

    def __init__(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        if path and not path.startswith("/"):
            raise ValueError(f"Mount path must start with '/': {path!r}")
        self.path = path.rstrip("/")
        self.app = app
        self.name = name
        self.methods = None
        self.include_in_schema = False

    def matches(self, route_path: str, method: str) -> tuple[Match, dict[str, Any] | None]:
        prefix = self.path
        if route_path == prefix or route_path.startswith(prefix + "/") or not prefix:
            return Match.FULL, {}
        return Match.NONE, None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        root_path = scope.get("root_path", "")
        child = dict(scope)
        child["root_path"] = root_path + self.path
        if root_path and not scope["path"].startswith(root_path):
            # an old-style server stripped the prefix from `path`: keep doing so
            child["path"] = scope["path"][len(self.path) :] or "/"
        await self.app(child, receive, send)

    def __repr__(self) -> str:
        return f"Mount(path={self.path!r}, app={self.app!r})"


_NOT_FOUND = PlainTextResponse("Not Found", status_code=404)


class Router:
    """Dispatches `http` (and `websocket`) scopes to the first matching route."""

    def __init__(self, routes: Sequence[Route | Mount] = ()) -> None:
        self.routes: list[Route | Mount] = list(routes)

    def add_route(self, route: Route | Mount) -> None:
        self.routes.append(route)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        route_path = get_route_path(scope)
        method = scope.get("method", "GET")
        partial: Route | Mount | None = None
        for route in self.routes:
            match, params = route.matches(route_path, method)
            if match is Match.FULL:
                if params:
                    existing = scope.get("path_params")
                    scope["path_params"] = {**existing, **params} if existing else params
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial = route
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})
            return
        if partial is not None and partial.methods is not None:
            allow = ", ".join(sorted(partial.methods))
            response = PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": allow}
            )
            await response(scope, receive, send)
            return
        await _NOT_FOUND(scope, receive, send)
