"""The legacy HTTP+SSE transport (protocol 2024-11-05), deprecated but still served.

`GET /sse` opens the stream: the first event is `endpoint`, whose data is the URL to POST
messages to (`<root_path>/messages/?session_id=<id>`). Every valid POST there is accepted with
202; responses, notifications and server-to-client requests flow back on the SSE stream as
`message` events. When the client disconnects, the session ends. A POST whose body is not a
JSON-RPC message (invalid JSON, or not a request/notification/response) gets 400 with the
JSON-RPC error in its body; the session never sees it.

A session is a `ServerConnection` (the same MCP connection stdio uses) over a message stream
whose `receive` yields the POSTed bodies and whose `send` writes SSE events. The paths, the
`session_id` query parameter and the 202 are SDK convention, not spec text.

Shutdown, as the streamable endpoint: `shutdown()` refuses new requests (503, as a new stream)
and ends the streams with nothing in flight; a stream with requests in flight stays open
while they run (the grace period), their answers going out on it as usual, and ends when the
last is answered. `cancel_inflight()` ends the grace period: what still runs is cancelled and
answered `-32800` "Request cancelled: the server is shutting down" on its stream, which then
ends. Client responses and notifications are still accepted while shutting down (a request in
flight may be waiting for the client's answer).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

import anyio

from trimcp.http.asgi import Receive, Scope, Send, get_route_path
from trimcp.http.channels import serving_stream
from trimcp.http.sse_response import SSE_HEADERS
from trimcp.http.wire import (
    DEFAULT_MAX_BODY_SIZE,
    Disconnected,
    read_json_body,
    respond,
    respond_error,
)
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INTERNAL_ERROR, INVALID_REQUEST
from trimcp.protocol.jsonrpc import Batch, Invalid, Request
from trimcp.protocol.requests import CUT_AT_SHUTDOWN
from trimcp.protocol.sse import encode_event

if TYPE_CHECKING:
    from trimcp.core.connection import ServerConnection
    from trimcp.server.server import FastMCP

__all__ = ["LegacySSEEndpoint"]

logger = logging.getLogger("trimcp.http")


class _SSEMessageStream:
    """`MessageStream` for the connection: POSTed bodies in, SSE `message` events out."""

    def __init__(self, send: Send, inbox: anyio.abc.ObjectReceiveStream[bytes]) -> None:
        self._send = send
        self._inbox = inbox
        self._lock = anyio.Lock()
        self.gone = False

    async def receive(self) -> bytes:
        return await self._inbox.receive()

    async def send(self, message: bytes) -> None:
        if self.gone:
            return  # the session ends with the stream (`serving_stream` saw the disconnect)
        chunk = encode_event(message, event="message")
        async with self._lock:
            try:
                await self._send({"type": "http.response.body", "body": chunk, "more_body": True})
            except OSError:
                # ASGI 2.4: a server may raise an `OSError` subclass once the client is gone
                self.gone = True
                logger.debug("legacy SSE stream: client gone, later messages not written")


_UNWIND = 1.0  # seconds the requests cut at shutdown get to unwind before their stream ends


class _Drain:
    """A session's shutdown: `stop` is set by `shutdown()`, `grace` (the wait for the requests
    in flight) is cancelled by `cancel_inflight()`."""

    __slots__ = ("grace", "stop")

    def __init__(self) -> None:
        self.stop = anyio.Event()
        self.grace = anyio.CancelScope()

    def cut(self) -> None:
        self.stop.set()
        self.grace.cancel()


class LegacySSEEndpoint:
    """ASGI callable serving `GET <sse_path>` and `POST <message_path>?session_id=`."""

    def __init__(
        self,
        server: FastMCP,
        *,
        sse_path: str = "/sse",
        message_path: str = "/messages/",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self.server = server
        self.sse_path = sse_path
        self.message_path = message_path
        self.max_body_size = max_body_size
        self.sessions: dict[str, tuple[ServerConnection, anyio.abc.ObjectSendStream[bytes]]] = {}
        self._drains: set[_Drain] = set()
        self._shutting_down = False

    @asynccontextmanager
    async def running(self) -> AsyncIterator[LegacySSEEndpoint]:
        self._shutting_down = False
        try:
            yield self
        finally:
            self.shutdown()
            self.cancel_inflight()  # the host's grace period, if any, has passed

    def shutdown(self) -> None:
        """Refuse new requests and streams; each open stream ends once its session has no
        request in flight (at once if it has none), or at `cancel_inflight()`."""
        self._shutting_down = True
        for drain in list(self._drains):
            drain.stop.set()

    def cancel_inflight(self) -> None:
        """The grace period is over: cancel every request still running, answer each with a
        `-32800` error on its stream, and end the streams."""
        self._shutting_down = True
        for drain in list(self._drains):
            drain.cut()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = get_route_path(scope) or "/"
        method = scope["method"]
        if path.rstrip("/") == self.sse_path.rstrip("/"):
            if method == "GET":
                await self._stream(scope, receive, send)
            else:
                await respond(send, 405, b"", [(b"allow", b"GET")])
        elif path.rstrip("/") == self.message_path.rstrip("/"):
            if method == "POST":
                try:
                    await self._message(scope, receive, send)
                except Disconnected:
                    pass
            else:
                await respond(send, 405, b"", [(b"allow", b"POST")])
        else:
            await respond(send, 404)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        from trimcp.core.connection import ServerConnection

        if self._shutting_down:
            await respond_error(send, 503, INTERNAL_ERROR, "Server shutting down")
            return
        session_id = secrets.token_hex(16)
        inbox_send, inbox_receive = anyio.create_memory_object_stream[bytes](64)
        stream = _SSEMessageStream(send, inbox_receive)
        connection = ServerConnection(self.server, stream, transport="sse")
        connection.session_id = session_id
        connection.extra["scope"] = scope
        self.sessions[session_id] = (connection, inbox_send)
        drain = _Drain()
        self._drains.add(drain)
        endpoint = f"{scope.get('root_path', '')}{self.message_path}?session_id={quote(session_id)}"
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send(
                {
                    "type": "http.response.body",
                    "body": encode_event(endpoint, event="endpoint"),
                    "more_body": True,
                }
            )
            async with serving_stream(receive, set(), False):
                await self._serve(connection, drain)
        finally:
            self._drains.discard(drain)
            self.sessions.pop(session_id, None)
            inbox_send.close()
            if not stream.gone:  # bounded: a client that stopped reading cannot hold shutdown
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    try:
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                    except OSError:
                        pass  # the client is gone: nothing left to end

    async def _serve(self, connection: ServerConnection, drain: _Drain) -> None:
        """Serve the session until its client goes or the server has shut it down."""
        peer = connection.peer
        async with anyio.create_task_group() as tg:

            async def serve() -> None:
                await connection.run()
                tg.cancel_scope.cancel()

            tg.start_soon(serve)
            await drain.stop.wait()
            with drain.grace:
                await peer.wait_idle()
            if drain.grace.cancel_called:
                await peer.cancel_inflight(CUT_AT_SHUTDOWN)
                with anyio.move_on_after(_UNWIND):
                    await peer.wait_idle()  # a batch's reply is written as it unwinds
            tg.cancel_scope.cancel()

    async def _message(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session_ids = query.get("session_id")
        if not session_ids:
            await respond_error(send, 400, INVALID_REQUEST, "session_id is required")
            return
        entry = self.sessions.get(session_ids[0])
        if entry is None:
            await respond_error(send, 404, INVALID_REQUEST, "Session not found")
            return
        body = await read_json_body(receive, send, dict(scope["headers"]), self.max_body_size)
        if body is None:
            return
        message = jsonrpc.decode(body)
        if isinstance(message, Invalid):
            # SDK convention (its sse.py answers "Could not parse message" with 400): the fault
            # goes back on this POST, and the session never sees the bytes
            await respond(send, 400, jsonrpc.encode_error(message.id, message.error))
            return
        if self._shutting_down and (
            isinstance(message, Request)
            or (isinstance(message, Batch) and any(isinstance(m, Request) for m in message.items))
        ):
            await respond_error(send, 503, INTERNAL_ERROR, "Server shutting down")
            return
        try:
            await entry[1].send(body)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            await respond_error(send, 404, INVALID_REQUEST, "Session not found")
            return
        await respond(send, 202)
