"""The HTTP request being served, as a context variable.

The MCP endpoints set it around each request they dispatch, and the app sets it around custom
routes, so `get_http_request()` and `get_http_headers()` work inside tools and handlers:

```python
token = set_http_request(scope, body)  # the ASGI scope and the body already read
try:
    ...
finally:
    reset_http_request(token)
```

Setting it is cheap (one small object, no Starlette import): the hot path sets it for every
MCP request, and few tools ever look. `current_http_request()` builds the
`starlette.requests.Request` on first use and keeps it, so every caller in that request gets
the same object; its `await request.body()` returns the body given here, without receiving
again (the endpoint owns `receive`).

`with http_request_context(request): ...` makes an existing Starlette `Request` current (the
FastMCP 2.x `set_http_request` shape).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import Request

    from trimcp.http.asgi import Message, Scope

__all__ = [
    "PendingHttpRequest",
    "current_http_request",
    "http_request_context",
    "http_request_var",
    "reset_http_request",
    "set_http_request",
]


class PendingHttpRequest:
    """The scope and body of the request being served; the `Request` is built on demand."""

    __slots__ = ("body", "request", "scope")

    def __init__(self, scope: Scope, body: bytes | None) -> None:
        self.scope = scope
        self.body = body
        self.request: Request | None = None

    def get(self) -> Request:
        """The Starlette `Request` of this scope (built once)."""
        request = self.request
        if request is None:
            from starlette.requests import Request

            if self.body is None:
                request = Request(self.scope)
            else:
                request = Request(self.scope, _BodyReplay(self.body))
            self.request = request
        return request


class _BodyReplay:
    """A `receive` that hands out a body read already, once; later calls wait for ever, as
    a live connection's `receive` does until the client goes (a cancelled wait is how
    Starlette's `is_disconnected()` polls it)."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body: bytes | None = body

    async def __call__(self) -> Message:
        body = self.body
        if body is None:
            import anyio

            await anyio.sleep_forever()
        self.body = None
        return {"type": "http.request", "body": body, "more_body": False}


http_request_var: ContextVar[Any] = ContextVar("trimcp_http_request", default=None)
"""What `current_http_request()` reads: a `PendingHttpRequest`, a Starlette `Request` (set by
`http_request_context` or by user code), or `None` outside an HTTP request."""


def set_http_request(scope: Any, body: bytes | None = None) -> Token[Any]:
    """Make the request of `scope` (its `body` read already, if given) the current one;
    returns the token for `reset_http_request`.

    A Starlette `Request` is accepted in place of the scope (an earlier calling convention).
    """
    if type(scope) is dict:
        return http_request_var.set(PendingHttpRequest(scope, body))
    if hasattr(scope, "receive"):  # a Request: Starlette's is a Mapping too, so ask what it has
        return http_request_var.set(scope)
    return http_request_var.set(PendingHttpRequest(scope, body))


def reset_http_request(token: Token[Any]) -> None:
    """Restore the request that was current before `set_http_request`."""
    http_request_var.reset(token)


def current_http_request() -> Request | None:
    """The HTTP request being served in this context (a Starlette `Request`), or `None`."""
    value = http_request_var.get()
    if value is None:
        return None
    if type(value) is PendingHttpRequest:
        return value.get()
    return value  # type: ignore[no-any-return]


@contextmanager
def http_request_context(request: Request) -> Iterator[Request]:
    """`with http_request_context(request):` sets the current request for the block."""
    token = http_request_var.set(request)
    try:
        yield request
    finally:
        http_request_var.reset(token)
