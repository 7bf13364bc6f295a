"""The GET side of the streamable HTTP endpoint and its long-lived SSE responses.

Owns `GET` on the endpoint (`serve_get`) and the three responses that stay open after the request
that opened them was answered: the GET stream of a handshake-era session (`_standalone`), a
stream resumed with `Last-Event-ID` (`_resume`: replay from the session's event store, then
follow the live stream), and `subscriptions/listen` (2026-07-28: `serve_listen` and its
`trimcp.core.subscriptions.Listener`). Each runs inside `trimcp.http.channels.serving_stream`, a scope that ends on client disconnect or
when the endpoint shuts down. The functions take the `StreamableHTTPEndpoint` they serve.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

from trimcp.core.session import decode_params
from trimcp.core.subscriptions import Listener, ListenParams
from trimcp.exceptions import McpError
from trimcp.http.asgi import Receive, Scope, Send
from trimcp.http.channels import serving_stream
from trimcp.http.event_store import stream_of
from trimcp.http.sessions import HttpSession
from trimcp.http.sse_response import SSEStream
from trimcp.http.wire import accepts, media_types, respond, respond_error
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INVALID_REQUEST
from trimcp.protocol.jsonrpc import Request
from trimcp.protocol.sse import encode_comment, encode_event
from trimcp.storage.errors import StorageError

if TYPE_CHECKING:
    from trimcp.http.streamable import StreamableHTTPEndpoint

logger = logging.getLogger("trimcp.http")


async def _replay(
    session: HttpSession, last_event_id: str, send: Callable[[str, bytes], Awaitable[None]]
) -> None:
    """Replay the stored events after `last_event_id`; an event store that fails (Redis
    down) replays nothing, and the stream carries on live."""
    assert session.store is not None
    try:
        await session.store.replay_events_after(last_event_id, send)
    except StorageError as exc:
        logger.warning(
            "resuming after %r: the event store failed (%s); nothing replayed", last_event_id, exc
        )


# -- subscriptions/listen (2026-07-28) ----------------------------------------------------


async def serve_listen(
    endpoint: StreamableHTTPEndpoint, receive: Receive, send: Send, request: Request, sse_ok: bool
) -> None:
    """A long-lived SSE response: the acknowledgement first, then only the change
    notifications the client opted in to, each tagged with the subscription id (the
    listen request's id); `:` comments keep quiet connections alive."""
    if not sse_ok:
        await respond_error(
            send,
            400,
            INVALID_REQUEST,
            "subscriptions/listen needs an SSE response (text/event-stream)",
            request.id,
        )
        return
    try:
        params = decode_params(request.params, ListenParams)
    except McpError as exc:
        await respond(send, 200, jsonrpc.encode_error(request.id, exc.error))
        return
    listener = Listener(request.id, params.notifications)
    stream = SSEStream(send)
    try:
        with listener.attached(endpoint.server):
            async with serving_stream(receive, endpoint.stream_scopes, endpoint.shutting_down):
                notice = jsonrpc.encode_notification(*listener.acknowledgement())
                await stream.send_message(notice)
                async with listener.inbox:
                    while True:
                        with anyio.move_on_after(endpoint.keepalive_interval):
                            method, tagged = await listener.inbox.receive()
                            await stream.send_message(jsonrpc.encode_notification(method, tagged))
                            continue
                        await stream.send_raw(encode_comment())
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):
            if endpoint.shutting_down:  # a graceful end: the final result (SHOULD)
                result = endpoint.server.finish_modern(listener.final_result())
                await stream.send_message(jsonrpc.encode_result(request.id, result))
            await stream.finish()


# -- GET: the standalone stream, or resuming a stream, and the scope they run in ------------


async def serve_get(
    endpoint: StreamableHTTPEndpoint,
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: dict[bytes, bytes],
) -> None:
    raw_id = headers.get(b"mcp-session-id")
    if endpoint.stateless or raw_id is None:
        await respond(send, 405, b"", [(b"allow", b"POST")])
        return
    if not accepts(media_types(headers.get(b"accept")), "text/event-stream"):
        await respond_error(
            send,
            406,
            INVALID_REQUEST,
            "Not Acceptable: the client must accept text/event-stream",
        )
        return
    session = endpoint.sessions.get(raw_id.decode("latin-1"))
    if session is None:
        await respond_error(send, 404, INVALID_REQUEST, "Session not found")
        return
    last_event_id = headers.get(b"last-event-id")
    if last_event_id is not None and session.resumable:
        await _resume(endpoint, receive, send, session, last_event_id.decode("latin-1"))
        return
    if session.outbox is not None:
        await respond_error(
            send, 409, INVALID_REQUEST, "Conflict: this session already has a GET stream"
        )
        return
    await _standalone(endpoint, receive, send, session)


async def _standalone(
    endpoint: StreamableHTTPEndpoint,
    receive: Receive,
    send: Send,
    session: HttpSession,
    *,
    replay_from: str | None = None,
) -> None:
    inbox = session.open_outbox()
    outbox = session.outbox
    assert outbox is not None  # just opened
    session.active += 1
    resumable = session.resumable
    stream = SSEStream(
        send,
        stream_id=session.new_stream_id(standalone=True) if resumable else None,
        store=session.store,
        retry_ms=endpoint.retry_ms,
    )
    try:
        async with serving_stream(receive, endpoint.stream_scopes, endpoint.shutting_down):
            await stream.start()
            if replay_from is not None and session.store is not None:
                await _replay(
                    session, replay_from, lambda eid, msg: stream.send_raw(_event(msg, eid))
                )
            async with inbox:
                async for message in inbox:
                    await stream.send_message(message)
    finally:
        if session.outbox is outbox:
            session.outbox = None
        outbox.close()
        session.active -= 1
        session.touch()
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):  # a stalled reader
            await stream.finish()


async def _resume(
    endpoint: StreamableHTTPEndpoint,
    receive: Receive,
    send: Send,
    session: HttpSession,
    last_event_id: str,
) -> None:
    stream_id = stream_of(last_event_id)
    if stream_id is None:
        await respond_error(
            send,
            400,
            INVALID_REQUEST,
            "Malformed Last-Event-ID: expected an event id of this session "
            "(<stream id>.<sequence number>, ASCII digits)",
        )
        return
    if not stream_id.startswith(session.id + ".") or session.store is None:
        await respond_error(send, 400, INVALID_REQUEST, "Unknown Last-Event-ID")
        return
    if stream_id == f"{session.id}.0":
        if session.outbox is not None:
            await respond_error(
                send, 409, INVALID_REQUEST, "Conflict: this session already has a GET stream"
            )
            return
        await _standalone(endpoint, receive, send, session, replay_from=last_event_id)
        return
    live = session.streams.get(stream_id) if session.streams else None
    sink, source = anyio.create_memory_object_stream[bytes](256)
    if live is not None and not live.attach(sink):
        live = None
    out = SSEStream(send)
    session.active += 1
    try:
        async with serving_stream(receive, endpoint.stream_scopes, endpoint.shutting_down):
            await out.start()

            async def replay(event_id: str, message: bytes) -> None:
                await out.send_raw(_event(message, event_id))

            await _replay(session, last_event_id, replay)
            if live is not None:
                async with source:
                    async for chunk in source:
                        await out.send_raw(chunk)
    finally:
        sink.close()
        session.active -= 1
        session.touch()
        with anyio.CancelScope(shield=True), anyio.move_on_after(1):  # a stalled reader
            await out.finish()


def _event(message: bytes, event_id: str) -> bytes:
    return encode_event(message, event="message", id=event_id)
