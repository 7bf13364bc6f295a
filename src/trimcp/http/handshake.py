"""Handshake-era sessions of the streamable HTTP endpoint (`trimcp.http.streamable`).

`open_session` serves an `initialize` that opens a session (`Mcp-Session-Id`; 503 past
`max_sessions` when every session is busy, or past `max_server_requests`), `session_for` finds
the session a request names (400 without `Mcp-Session-Id`, 404 for an unknown one), and
`stateless_session` gives the shared session serving stateless handshake-era requests at one
protocol version. None of these is on the per-request path of a live session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from trimcp.core.session import ServerSession
from trimcp.http.asgi import Receive, Scope, Send
from trimcp.http.channels import NullChannel, ignore_cancel
from trimcp.http.sessions import HttpSession, new_session_id
from trimcp.http.wire import RETRY_AFTER, respond, respond_error, respond_refused
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INVALID_REQUEST, SERVER_BUSY, ErrorData
from trimcp.protocol.jsonrpc import Notification, Request, RequestId

if TYPE_CHECKING:
    from trimcp.http.streamable import StreamableHTTPEndpoint

__all__ = ["open_session", "session_for", "stateless_session"]


async def stateless_session(endpoint: StreamableHTTPEndpoint, version: str) -> ServerSession:
    """The shared session serving stateless handshake-era requests at `version` (one of
    `HANDSHAKE_VERSIONS`): initialized once at that version, through the same public
    `initialize` path a client takes, so handlers see `ctx.protocol_version == version`
    and version-gated behaviour follows it."""
    mcp = endpoint.stateless_sessions.get(version)
    if mcp is not None:
        return mcp
    mcp = ServerSession(endpoint.server, shared=True)
    params = msgspec.json.encode({"protocolVersion": version, "capabilities": {}})
    await mcp.handle_request(Request(0, "initialize", msgspec.Raw(params)), NullChannel())
    await mcp.handle_notification(
        Notification("notifications/initialized"), cancel=ignore_cancel, channel=NullChannel()
    )
    return endpoint.stateless_sessions.setdefault(version, mcp)


async def session_for(
    endpoint: StreamableHTTPEndpoint,
    send: Send,
    headers: dict[bytes, bytes],
    request_id: RequestId | None = None,
) -> HttpSession | Literal[True] | None:
    """The request's session; True when stateless; None after answering 400/404."""
    if endpoint.stateless:
        return True
    raw = headers.get(b"mcp-session-id")
    if raw is None:
        await respond_error(
            send,
            400,
            INVALID_REQUEST,
            "Bad Request: Mcp-Session-Id header is required",
            request_id,
        )
        return None
    session = endpoint.sessions.get(raw.decode("latin-1"))
    if session is None:
        await respond_error(send, 404, INVALID_REQUEST, "Session not found", request_id)
        return None
    return session


async def open_session(
    endpoint: StreamableHTTPEndpoint,
    scope: Scope,
    receive: Receive,
    send: Send,
    request: Request,
    sse_ok: bool,
    body: bytes,
) -> None:
    """Serve `initialize`: in a new session (its id in `Mcp-Session-Id`), which lives on only
    if it initialized; stateless, in a throwaway shared one."""
    mcp = ServerSession(endpoint.server, shared=endpoint.stateless)  # stateless: no session ends
    if endpoint.stateless:
        await endpoint.dispatch(scope, receive, send, request, mcp, None, sse_ok, body)
        return
    if endpoint.sessions.full():  # every session busy: none can be evicted
        error = ErrorData(SERVER_BUSY, "Too many sessions; retry later")
        await respond(send, 503, jsonrpc.encode_error(request.id, error), RETRY_AFTER)
        return
    if endpoint.limit.full():  # before `add`, which may evict a live idle session
        await respond_refused(send, endpoint.limit.refusal, request.id)
        return
    session = HttpSession(
        new_session_id(), mcp, store=endpoint.event_store, engine=endpoint.new_engine(mcp)
    )
    endpoint.sessions.add(session)
    ok = await endpoint.dispatch(
        scope,
        receive,
        send,
        request,
        mcp,
        session,
        sse_ok,
        body,
        headers=[(b"mcp-session-id", session.id.encode())],
    )
    if ok and mcp.lifecycle.initialized:
        endpoint.server.add_notification_sink(session)  # list-changed fan-out
    else:
        await endpoint.sessions.end(session.id)
