"""2025-03-26 JSON-RPC batches on the streamable HTTP endpoint (`trimcp.http.streamable`).

Only that revision has batches (removed in 2025-06-18): a batch is served in a session
negotiated at 2025-03-26, or statelessly when the request states that version or none. Every
request of the batch runs concurrently; their answers go back together as one JSON array
(202 when the batch held no request). Each request counts against the concurrency limits
as a single one does; one past them gets its own -32000 error in the array.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from trimcp.exceptions import McpError
from trimcp.http.channels import _NullChannel, _PostChannel, ignore_cancel
from trimcp.http.wire import Scope, Send, _respond, _respond_error, header_version
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INVALID_REQUEST, REQUEST_CANCELLED, ErrorData
from trimcp.protocol.jsonrpc import (
    Batch,
    ErrorResponse,
    Invalid,
    Notification,
    Request,
    RequestId,
    Response,
)
from trimcp.protocol.versions import ASSUMED_HANDSHAKE_VERSION
from trimcp.server.handlers import fault_reply

if TYPE_CHECKING:
    from trimcp.http.sessions import HttpSession
    from trimcp.http.streamable import StreamableHTTPEndpoint

__all__ = ["post_batch"]

logger = logging.getLogger("trimcp.http")

# what a batch's request still running when the grace period at shutdown ends is answered
SHUTTING_DOWN = ErrorData(REQUEST_CANCELLED, "Request cancelled: the server is shutting down")
CANCELLED = ErrorData(REQUEST_CANCELLED, "Request cancelled")
DUPLICATE = ErrorData(INVALID_REQUEST, "Duplicate request id in flight")


async def post_batch(
    endpoint: StreamableHTTPEndpoint,
    scope: Scope,
    send: Send,
    headers: dict[bytes, bytes],
    batch: Batch,
) -> None:
    """A 2025-03-26 JSON-RPC batch: in a session negotiated at that version, or stateless
    with that version stated (or assumed: no `MCP-Protocol-Version` header)."""
    session: HttpSession | None = None
    if endpoint.stateless:
        version = header_version(headers) or ASSUMED_HANDSHAKE_VERSION
        accepted = version == ASSUMED_HANDSHAKE_VERSION
    else:
        session = endpoint.sessions.get(headers.get(b"mcp-session-id", b"").decode("latin-1"))
        accepted = session is not None and session.accepts_batches
    if not accepted:
        await _respond_error(
            send,
            400,
            INVALID_REQUEST,
            "JSON-RPC batches are only accepted in 2025-03-26 sessions",
        )
        return
    if session is None:
        mcp = await endpoint._stateless_session(ASSUMED_HANDSHAKE_VERSION)
        cancel: Callable[[RequestId], object] = ignore_cancel
    else:
        session.touch()
        mcp, cancel = session.mcp, session.cancel
    replies: list[bytes] = []
    admitted = 0
    # a stateless batch is its own session for the per-session limit
    budget = endpoint.max_session_requests if session is None else None

    async def serve(request: Request, cancel_scope: anyio.CancelScope) -> None:
        channel = _PostChannel(
            endpoint, session, request.id, send, sse=False, headers=None, extra={"scope": scope}
        )
        try:
            with cancel_scope:
                try:
                    result = await mcp.handle_request(request, channel)
                    replies.append(jsonrpc.encode_result(request.id, result))
                except McpError as exc:
                    replies.append(jsonrpc.encode_error(request.id, exc.error))
                except Exception as exc:  # as `_dispatch`: one failure costs only its own reply
                    replies.append(fault_reply(endpoint.server, request, exc))
        finally:
            endpoint._request_scopes.discard(cancel_scope)
            if session is not None:
                session.untrack(request.id)
        if cancel_scope.cancelled_caught:  # shutdown, DELETE or notifications/cancelled
            error = SHUTTING_DOWN if endpoint._cancelled_at_shutdown else CANCELLED
            replies.append(jsonrpc.encode_error(request.id, error))

    if session is not None:
        session.active += 1
    try:
        async with anyio.create_task_group() as tg:
            for item in batch.items:
                if isinstance(item, Request):
                    # each request is in flight like a single one: counted against the limits,
                    # cancellable, its id unique among the session's requests in flight
                    busy = endpoint.busy(session)
                    if busy is None and budget is not None:
                        busy = 429 if budget <= 0 else None
                        budget -= 1
                    if busy is not None:
                        replies.append(jsonrpc.encode_error(item.id, endpoint.busy_error(busy)))
                        continue
                    cancel_scope = endpoint._new_scope()
                    if session is not None and not session.track(item.id, cancel_scope):
                        replies.append(jsonrpc.encode_error(item.id, DUPLICATE))
                        continue
                    endpoint._request_scopes.add(cancel_scope)
                    admitted += 1
                    endpoint.inflight += 1
                    tg.start_soon(serve, item, cancel_scope)
                elif isinstance(item, Notification):
                    try:
                        await mcp.handle_notification(
                            item, cancel=cancel, channel=_NullChannel(session)
                        )
                    except Exception:  # no answer to carry it: logged, the batch goes on
                        logger.exception("notification %s failed", item.method)
                elif isinstance(item, Response | ErrorResponse):
                    if session is not None:
                        session.resolve(item)
                elif isinstance(item, Invalid):
                    replies.append(jsonrpc.encode_error(item.id, item.error))
    finally:
        endpoint.inflight -= admitted
        if session is not None:
            session.active -= 1
    if replies:
        await _respond(send, 200, b"[" + b",".join(replies) + b"]")
    else:
        await _respond(send, 202)
