"""The HTTP request being served, as a context variable.

Custom routes set it around their handler; the MCP endpoints set it around each request they
dispatch, so `get_http_request()` and `get_http_headers()` work inside tools:

```python
token = set_http_request(request)
try:
    ...
finally:
    reset_http_request(token)
```

or `with http_request_context(request): ...` (the FastMCP 2.x `set_http_request` shape).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trimcp.http.asgi import Request

__all__ = [
    "current_http_request",
    "http_request_context",
    "reset_http_request",
    "set_http_request",
]

_current_http_request: ContextVar[Request | None] = ContextVar("trimcp_http_request", default=None)


def set_http_request(request: Request | None) -> Token[Request | None]:
    """Make `request` the current HTTP request; returns the token for `reset_http_request`."""
    return _current_http_request.set(request)


def reset_http_request(token: Token[Request | None]) -> None:
    """Restore the request that was current before `set_http_request`."""
    _current_http_request.reset(token)


def current_http_request() -> Request | None:
    """The HTTP request being served in this context, or `None`."""
    return _current_http_request.get()


@contextmanager
def http_request_context(request: Request) -> Iterator[Request]:
    """`with http_request_context(request):` sets the current request for the block."""
    token = _current_http_request.set(request)
    try:
        yield request
    finally:
        _current_http_request.reset(token)
