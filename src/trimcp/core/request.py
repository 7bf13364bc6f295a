"""The one request model both protocol eras share (shared/DESIGN.md §2).

Each inbound request becomes a `ServerRequest`: method, id, decoded params, its `Envelope`,
and the `Channel` that carries outbound traffic belonging to it (progress, log messages,
server-to-client requests). Each transport implements `Channel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from trimcp.protocol.envelope import Envelope
from trimcp.protocol.jsonrpc import RequestId

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["Channel", "ServerRequest"]


class Channel(Protocol):
    """Where a request's outbound messages go (a stdio connection, a POST's SSE stream...)."""

    @property
    def transport(self) -> str: ...

    @property
    def session_id(self) -> str | None: ...

    async def notify(
        self, method: str, params: Any, *, related_request_id: RequestId | None
    ) -> None:
        """Send a notification that belongs to a request (or to the session when None)."""
        ...

    async def request(
        self,
        method: str,
        params: Any,
        *,
        related_request_id: RequestId | None,
        timeout: float | None,
    ) -> msgspec.Raw:
        """Send a live server-to-client request (handshake era) and await its result."""
        ...

    @property
    def extra(self) -> dict[str, Any]:
        """Transport facts (e.g. the HTTP request) for `get_http_request()` and friends."""
        ...


class ServerRequest:
    __slots__ = ("channel", "envelope", "id", "method", "params", "server")

    def __init__(
        self,
        *,
        server: FastMCP,
        id: RequestId,
        method: str,
        params: Any,
        envelope: Envelope,
        channel: Channel,
    ) -> None:
        self.server = server
        self.id = id
        self.method = method
        self.params = params
        self.envelope = envelope
        self.channel = channel
