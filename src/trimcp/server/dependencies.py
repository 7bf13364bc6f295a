"""FastMCP's `fastmcp.server.dependencies` functions: the current context, HTTP request,
headers and access token, for code running inside a request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trimcp.http.context import current_http_request
from trimcp.server.context import Context, get_context, provide_http_request

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "Context",
    "get_access_token",
    "get_context",
    "get_http_headers",
    "get_http_request",
]

# FastMCP 2.13's list: hop-by-hop and framing headers, credentials, the session id.
_EXCLUDED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "connection",
        "transfer-encoding",
        "upgrade",
        "te",
        "keep-alive",
        "expect",
        "accept",
        "authorization",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "mcp-session-id",
    }
)


def _request_from_context() -> Request | None:
    """The HTTP request of the MCP request being served, from what its transport recorded on
    the request's channel (`extra["scope"]`: a batch's POST, a legacy SSE connection), for
    code the endpoint did not wrap with `set_http_request`. Built once per channel."""
    try:
        ctx = get_context()
    except RuntimeError:
        return None
    request = ctx.request_context
    if request is None:
        return None
    extra = getattr(request.channel, "extra", None)
    if not extra:
        return None
    found = extra.get("http_request")
    if found is None and extra.get("scope") is not None:
        from starlette.requests import Request

        scope = extra["scope"]
        if scope.get("type") == "http":
            found = extra["http_request"] = Request(scope)
    return found  # type: ignore[no-any-return]


def get_http_request() -> Request:
    """The HTTP request being served, a `starlette.requests.Request` (RuntimeError outside
    one, e.g. over stdio). In a tool its `await request.body()` is the MCP request's body."""
    request = current_http_request()
    if request is None:
        request = _request_from_context()
    if request is None:
        raise RuntimeError("No active HTTP request found.")
    return request


def get_http_headers(include_all: bool = False, include: set[str] | None = None) -> dict[str, str]:
    """The current request's headers, names lower-cased; `{}` without an HTTP request.

    Without `include_all`, headers that break when forwarded downstream are left out (host,
    content-length, content-type, hop-by-hop headers, authorization, proxy-*, accept,
    mcp-session-id); `include` names some of them to keep anyway.
    """
    try:
        request = get_http_request()
    except RuntimeError:
        return {}
    if include_all:
        excluded: frozenset[str] = frozenset()
    elif include:
        excluded = _EXCLUDED_HEADERS - {h.lower() for h in include}
    else:
        excluded = _EXCLUDED_HEADERS
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name not in excluded:
            headers[name] = value
    return headers


def get_access_token() -> Any:
    """The access token of the authenticated client (`None`: no authentication yet)."""
    return None


def serve_context_requests() -> None:
    """Make `get_http_request` what the core's `Context.get_http_request()` (FastMCP 2.x's,
    deprecated) returns: the core may not import the HTTP layer. Looked up here at each call,
    so patching `trimcp.server.dependencies.get_http_request` reaches it too.
    Internal API: `trimcp.server.server` calls it once as it loads (a `Context` needs a
    server)."""
    provide_http_request(lambda: get_http_request())
