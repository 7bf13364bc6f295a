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

__all__ = ["Channel", "RequestMeta", "ServerRequest"]


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


class RequestMeta(dict[str, Any]):
    """A request's `_meta` as FastMCP's `ctx.request_context.meta` shows it: a dict whose
    keys read as attributes too (`meta.progressToken`, `getattr(meta, "user_id", None)`)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class ServerRequest:
    """One request being served (what `Context.request_context` is). Besides trimcp's own
    attributes it reads as FastMCP's `RequestContext`: `request_id`, `meta`,
    `lifespan_context`."""

    __slots__ = (
        "channel",
        "context",
        "envelope",
        "id",
        "method",
        "params",
        "raw_params",
        "server",
        "session",
    )

    def __init__(
        self,
        server: FastMCP,
        id: RequestId,
        method: str,
        params: Any,
        envelope: Envelope,
        channel: Channel,
        session: Any = None,
        raw_params: msgspec.Raw | None = None,
    ) -> None:
        # positional too: the server makes one per request, and keywords cost ~0.5 µs
        self.server = server
        self.id = id
        self.method = method
        self.params = params
        self.envelope = envelope
        self.channel = channel
        self.session = session
        """The `core.session.ServerSession` serving the request (FastMCP's `ctx.session`)."""
        self.raw_params = raw_params
        """The params as the client sent them, when the request came from a client: what a
        2026-07-28 first try's MRTR digest is made of, only if it asks for input (None for
        requests made in process). A `Raw` is a view of the message's buffer: the transports
        decode from immutable `bytes`, so nothing can change it."""
        self.context: Any = None
        """The request's `Context` once made (by the middleware chain, which hands it to
        the handler: FastMCP's middleware and tool share one context, state included)."""

    # FastMCP's `RequestContext` spellings (`ctx.request_context.lifespan_context`, ...)

    @property
    def request_id(self) -> RequestId:
        return self.id

    @property
    def meta(self) -> RequestMeta | None:
        """The request's `_meta` (None when it has none)."""
        meta = self.envelope.meta
        return None if meta is None else RequestMeta(meta)

    @property
    def lifespan_context(self) -> Any:
        """What the server's lifespan yielded."""
        return self.server.lifespan_result
