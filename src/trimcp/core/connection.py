"""One client connection served over a message stream (stdio, in-memory, legacy SSE).

`ServerConnection` puts a `ServerSession` (the MCP layer) on a `runtime.Peer` (JSON-RPC over
the stream, served by the peer's `RequestEngine`) and is the `Channel` for the requests
arriving on it. The server's fault policy (`answer_fault`, masking under
`mask_error_details`) is the engine's, as on every transport.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from trimcp.core.handlers import answer_fault
from trimcp.core.session import ServerSession, decode_params
from trimcp.core.subscriptions import Listener, ListenParams
from trimcp.exceptions import McpError
from trimcp.protocol.envelope import is_modern, parse_modern
from trimcp.protocol.errors import METHOD_NOT_FOUND, ErrorData
from trimcp.protocol.jsonrpc import Notification, Request, RequestId
from trimcp.protocol.versions import ASSUMED_HANDSHAKE_VERSION
from trimcp.runtime.peer import MessageStream, Peer
from trimcp.settings import settings

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["ServerConnection", "decode_params", "serve_in_memory"]

logger = logging.getLogger("trimcp.server")

EXIT_GRACE = 2.0
"""Seconds an in-memory connection gets to wind down after its client left."""


@asynccontextmanager
async def serve_in_memory(server: FastMCP) -> AsyncIterator[MessageStream]:
    """Serve one client of `server` over a pair of memory streams; yields the client's end.

    The server's lifespan runs (once, shared with its other transports) while the
    connection is open, and the connection runs in a task group of its own, so neither a
    thread nor a socket is involved. What `Client(mcp)` connects through
    (`FastMCP.memory_connection()`)."""
    from trimcp.runtime.memory import memory_stream_pair

    client_end, server_end = memory_stream_pair()
    connection = ServerConnection(server, server_end, transport="memory")
    finished = anyio.Event()

    async def serve(*, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await connection.run(task_status=task_status)
        except Exception:  # never cancel the caller's body from a background task
            logger.exception("in-memory server connection failed")
        finally:
            server_end.close()
            finished.set()

    async with server.lifespan_context(), anyio.create_task_group() as tg:
        await tg.start(serve)
        try:
            yield client_end
        finally:
            client_end.close()  # the server sees end-of-stream and winds down
            with anyio.move_on_after(EXIT_GRACE, shield=True):
                await finished.wait()
            tg.cancel_scope.cancel()


class ServerConnection:
    """Serves one client over a `MessageStream`; the `Channel` of its requests."""

    def __init__(self, server: FastMCP, stream: MessageStream, *, transport: str) -> None:
        self.server = server
        self.transport = transport
        self.session_id: str | None = None
        self.session = ServerSession(server)
        self.peer = Peer(
            stream,
            handler=self._on_request,
            on_notification=self._on_notification,
            on_fault=partial(answer_fault, server),
            channel=self,
            max_inflight=settings.max_session_requests,
        )
        self.extra: dict[str, Any] = {}
        self._listeners: set[Listener] = set()
        # listen-stream notifications not yet written, oldest first, and whether a task is
        # writing them (see `_forward`)
        self._unsent: deque[tuple[str, Any]] = deque()
        self._writing = anyio.Lock()
        server.add_notification_sink(self)

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        self.server.capture_event_loop()  # a sync tool's changes notify from this loop
        try:
            await self.peer.run(task_status=task_status)
        finally:
            self.session.close()
            self.server.remove_notification_sink(self)

    async def _on_request(self, request: Request, channel: ServerConnection) -> Any:
        if request.method == "subscriptions/listen":
            return await self._listen(request)
        result = await self.session.handle_request(request, channel)
        if self._unsent or self._writing.locked():
            await self._write_unsent()  # what this request changed goes out before its result
        if request.method == "initialize":
            self.peer.accept_batches = self.session.protocol_version == ASSUMED_HANDSHAKE_VERSION
        return result

    async def _on_notification(self, notification: Notification) -> None:
        await self.session.handle_notification(notification, cancel=self.peer.cancel, channel=self)

    def post_notification(self, method: str, params: Any = None) -> None:
        """Queue a session notification (list changed...) from synchronous code on the loop."""
        if not self.peer.running or not self.session.lifecycle.initialized:
            return
        if self.session.wants(method, params):
            self._forward(method, params)

    async def _listen(self, request: Request) -> Any:
        """2026-07-28 `subscriptions/listen`: the acknowledgement, then the opted-in change
        notifications, each tagged with the subscription id, until the client cancels it."""
        params = decode_params(request.params, ListenParams)
        if not is_modern(params.meta):
            raise McpError(METHOD_NOT_FOUND, "Method not found: subscriptions/listen (2026-07-28)")
        envelope = parse_modern(params.meta)
        if isinstance(envelope, ErrorData):
            raise McpError(envelope)
        listener = Listener(request.id, params.notifications)
        self._listeners.add(listener)
        try:
            with listener.attached(self.server), listener.inbox:
                await self.peer.notify(*listener.acknowledgement())
                listener.forward = self._forward
                async for method, tagged in listener.inbox:  # only those before the ack
                    await self.peer.notify(method, tagged)
        finally:
            self._listeners.discard(listener)
        # The inbox closed: the server tears the subscription down (`end_listens`). On stdio
        # that MUST be a `notifications/cancelled` for the listen request, sent while it is
        # still in progress (basic/patterns/subscriptions.mdx §Cancellation,
        # cancellation.mdx); then the final result of a graceful end (SubscriptionsListenResult).
        await self.peer.notify(*listener.cancellation("the server is shutting down"))
        return self.server.finish_modern(listener.final_result())

    def _forward(self, method: str, params: Any) -> None:
        """A change notification (of the session, or tagged for a listen stream): queued and
        written in order by whoever holds the write lock first: a task spawned for it, or a
        request that made changes, which writes them before its result (`_on_request`)."""
        self._unsent.append((method, params))
        if not self._writing.locked():
            self.peer.spawn(self._write_unsent)

    async def _write_unsent(self) -> None:
        async with self._writing:
            while self._unsent:
                await self.peer.notify(*self._unsent.popleft())

    def end_listens(self) -> None:
        """The server is shutting down: end this connection's `subscriptions/listen` requests
        (each sends its `notifications/cancelled`, then its final result)."""
        for listener in list(self._listeners):
            listener.close()

    # -- Channel -------------------------------------------------------------------------

    async def notify(
        self, method: str, params: Any, *, related_request_id: RequestId | None
    ) -> None:
        await self.peer.notify(method, params)

    async def request(
        self,
        method: str,
        params: Any,
        *,
        related_request_id: RequestId | None,
        timeout: float | None,
    ) -> msgspec.Raw:
        return await self.peer.request(method, params, timeout=timeout)
