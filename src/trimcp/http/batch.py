"""2025-03-26 JSON-RPC batches on the streamable HTTP endpoint: the transport's side only.

Only that revision has batches (removed in 2025-06-18): a batch is served in a session
negotiated at 2025-03-26, or statelessly when the request states that version or none. The
batch itself is the engine's (`RequestEngine.serve_batch`, the same path stdio takes): every
request runs concurrently, each admitted like a single one (limits, duplicate ids: a refused
one gets its own error in the reply), cancellable by `notifications/cancelled`, DELETE and
shutdown. Here: which engine and session serve it, each request's channel, and the HTTP
answer: the replies as one JSON array, or 202 when the batch held no request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trimcp.http.asgi import Scope, Send
from trimcp.http.channels import NullChannel, PostChannel, ignore_cancel
from trimcp.http.context import reset_http_request, set_http_request
from trimcp.http.handshake import stateless_session
from trimcp.http.wire import header_version, respond, respond_error
from trimcp.protocol.errors import INVALID_REQUEST, REQUEST_CANCELLED, ErrorData
from trimcp.protocol.jsonrpc import Batch, Notification, Request, RequestId
from trimcp.protocol.versions import ASSUMED_HANDSHAKE_VERSION

if TYPE_CHECKING:
    from trimcp.http.sessions import HttpSession
    from trimcp.http.streamable import StreamableHTTPEndpoint

__all__ = ["post_batch"]

logger = logging.getLogger("trimcp.http")

CANCELLED = ErrorData(REQUEST_CANCELLED, "Request cancelled")
"""The reply of a batch's request cancelled (`notifications/cancelled`, DELETE) while it ran:
every request of a POST is answered."""


async def post_batch(
    endpoint: StreamableHTTPEndpoint,
    scope: Scope,
    send: Send,
    headers: dict[bytes, bytes],
    batch: Batch,
    body: bytes,
) -> None:
    """A 2025-03-26 JSON-RPC batch: in a session negotiated at that version, or stateless
    with that version stated (or assumed: no `MCP-Protocol-Version` header). `body` is the
    batch's body, what `get_http_request()` reads in its requests."""
    session: HttpSession | None = None
    if endpoint.stateless:
        version = header_version(headers) or ASSUMED_HANDSHAKE_VERSION
        accepted = version == ASSUMED_HANDSHAKE_VERSION
    else:
        session = endpoint.sessions.get(headers.get(b"mcp-session-id", b"").decode("latin-1"))
        accepted = session is not None and session.accepts_batches
    if not accepted:
        await respond_error(
            send,
            400,
            INVALID_REQUEST,
            "JSON-RPC batches are only accepted in 2025-03-26 sessions",
        )
        return
    cancel: Callable[[RequestId], object]
    if session is None:
        mcp = await stateless_session(endpoint, ASSUMED_HANDSHAKE_VERSION)
        engine, cancel = endpoint.engine, ignore_cancel
        handler: Any = mcp.handle_request
        item_limit: int | None = endpoint.max_session_requests  # its own session, for limits
    else:
        session.touch()
        mcp, engine, cancel = session.mcp, session.engine, session.engine.cancel
        handler = item_limit = None

    def channel(request: Request) -> PostChannel:
        return PostChannel(
            endpoint, session, request.id, send, sse=False, headers=None, extra={"scope": scope}
        )

    async def notify(notification: Notification) -> None:
        try:
            await mcp.handle_notification(notification, cancel=cancel, channel=NullChannel(session))
        except Exception:  # no answer to carry it: logged, the batch goes on
            logger.exception("notification %s failed", notification.method)

    async def write(replies: list[bytes]) -> None:
        if replies:
            await respond(send, 200, b"[" + b",".join(replies) + b"]")
        else:
            await respond(send, 202)

    if session is not None:
        session.active += 1
    token = set_http_request(scope, body)  # the batch's requests inherit it
    try:
        await engine.serve_batch(
            batch,
            channel=channel,
            notify=notify,
            write=write,
            new_scope=endpoint.new_scope,
            cancelled=CANCELLED,
            item_limit=item_limit,
            handler=handler,
        )
    finally:
        reset_http_request(token)
        if session is not None:
            session.active -= 1
