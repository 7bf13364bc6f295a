"""`Context`: what a tool, resource or prompt function sees of the request it serves.

A parameter annotated `Context` (any name, also `Context | None` or `Annotated[Context, ...]`)
is injected by the component machinery and hidden from schemas.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["Context", "get_context"]

_current: ContextVar[Context | None] = ContextVar("trimcp_context", default=None)


class Context:
    """Per-request handle on the server and the client that sent the request."""

    def __init__(self, fastmcp: FastMCP, request: Any = None) -> None:
        self._fastmcp = fastmcp
        self._request = request
        self._state: dict[str, Any] = {}

    @property
    def fastmcp(self) -> FastMCP:
        return self._fastmcp


def get_context() -> Context:
    """The `Context` of the request being served (RuntimeError outside one)."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("No active context found: get_context() works only inside a request")
    return ctx
