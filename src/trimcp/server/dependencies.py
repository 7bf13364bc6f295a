"""FastMCP's `fastmcp.server.dependencies` functions: the current context, HTTP request,
headers and access token, for code running inside a request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trimcp.http.context import current_http_request
from trimcp.server.context import Context, get_context

if TYPE_CHECKING:
    from trimcp.http.asgi import Request

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
    """The HTTP request a transport recorded for the MCP request being served
    (`channel.extra["http_request"]`), for code running outside the HTTP handler's task."""
    from trimcp.server.context import _current

    ctx = _current.get()
    if ctx is None:
        return None
    request = ctx.request_context
    if request is None:
        return None
    extra = getattr(request.channel, "extra", None)
    return extra.get("http_request") if extra else None


def get_http_request() -> Request:
    """The HTTP request being served (RuntimeError outside one, e.g. over stdio)."""
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
