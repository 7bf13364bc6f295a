"""The channels of the streamable HTTP endpoint, and the watch that turns a client
disconnect into cancellation.

A channel is what a handler's outbound traffic goes through (shared/DESIGN.md §2):
`PostChannel` belongs to one POSTed request and starts that POST's SSE response lazily, the
first time the handler emits something related to the request; session-level messages go on the
session's GET stream. `NullChannel` is handed to notification handlers, which have no request
to relate anything to. `DisconnectWatch` gives a watcher task only to modern requests that
outlive a short grace, so quick requests pay for no task. `serving_stream` is the scope every
long-lived SSE response (GET streams, `subscriptions/listen`, legacy `/sse`) runs in.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from trimcp.exceptions import McpError
from trimcp.http.asgi import Receive, Scope, Send
from trimcp.http.sessions import HttpSession
from trimcp.http.sse_response import SSEStream
from trimcp.http.wire import JSON_HEADERS
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INTERNAL_ERROR, REQUEST_CANCELLED, ErrorData
from trimcp.protocol.jsonrpc import RequestId

if TYPE_CHECKING:
    from trimcp.http.streamable import StreamableHTTPEndpoint
    from trimcp.runtime.engine import RequestEngine

logger = logging.getLogger("trimcp.http")

_JSON_TYPE = JSON_HEADERS[0]


class DisconnectWatch:
    """Watches for `http.disconnect` on modern requests that run longer than one period.

    A request registers `(receive, engine, key)`; the run loop ticks every `period` seconds
    while something is registered, and a request seen on two ticks gets a watcher task (in the
    endpoint's task group) that cancels it in its engine when the client disconnects. Quick
    requests finish before that and cost no task.
    """

    def __init__(self, *, period: float = 0.05) -> None:
        self.period = period
        self._entries: dict[Hashable, list[Any]] = {}
        self._wake: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    def register(
        self, receive: Receive, engine: RequestEngine, request: Hashable
    ) -> Hashable | None:
        """Watch the client of `request`, its key in `engine`, which must be unique across
        engines (a 2026-07-28 request's key is its cancel scope); the key to `unregister`."""
        if self._tg is None:
            return None
        key = request
        self._entries[key] = [receive, engine, request, False, None]
        wake = self._wake
        if wake is not None:  # set once: later requests find it gone
            self._wake = None
            wake.set()
        return key

    def unregister(self, key: Hashable | None) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry[4] is not None:
            entry[4].cancel()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            try:
                while True:
                    if not self._entries:
                        wake = self._wake = anyio.Event()
                        await wake.wait()
                    await anyio.sleep(self.period)
                    for entry in list(self._entries.values()):
                        if entry[3] and entry[4] is None:
                            entry[4] = anyio.CancelScope()
                            tg.start_soon(self._watch, entry)
                        entry[3] = True
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    @staticmethod
    async def _watch(entry: list[Any]) -> None:
        receive, engine, request, _, own = entry
        with own:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    engine.cancel(request)
                    return


class PostChannel:
    """The `Channel` of one POSTed request: request-related messages go on this POST's SSE
    stream (started lazily), session-level ones on the session's GET stream."""

    transport = "streamable-http"

    __slots__ = (
        "_endpoint",
        "_extra",
        "_headers",
        "_scope",
        "_send",
        "_sse",
        "request_id",
        "session",
        "stream",
    )

    def __init__(
        self,
        endpoint: StreamableHTTPEndpoint,
        session: HttpSession | None,
        request_id: RequestId,
        send: Send,
        sse: bool,
        headers: list[tuple[bytes, bytes]] | None,
        scope: Scope | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        # positional too: one per request, and keywords cost ~0.3 µs
        self._endpoint = endpoint
        self.session = session
        self.request_id = request_id
        self._send = send
        self._sse = sse
        self._headers = headers
        self.stream: SSEStream | None = None
        self._extra = extra
        self._scope = scope

    @property
    def extra(self) -> dict[str, Any]:
        """The transport's extras: `{"scope": ...}` (the POST's ASGI scope), made on first
        use (a handler rarely asks; the request's dict is then the same on every read)."""
        extra = self._extra
        if extra is None:
            extra = self._extra = {} if self._scope is None else {"scope": self._scope}
        return extra

    @property
    def session_id(self) -> str | None:
        return None if self.session is None else self.session.id

    def _stream(self) -> SSEStream | None:
        if self.stream is None and self._sse:
            session, endpoint = self.session, self._endpoint
            if session is not None and session.resumable:
                stream_id = session.new_stream_id()
                self.stream = SSEStream(
                    self._send,
                    stream_id=stream_id,
                    store=session.store,
                    retry_ms=endpoint.retry_ms,
                    extra_headers=self._headers,
                    hold=True,
                )
                if session.streams is None:
                    session.streams = {}
                session.streams[stream_id] = self.stream
            else:
                self.stream = SSEStream(self._send, extra_headers=self._headers)
        return self.stream

    async def notify(
        self, method: str, params: Any, *, related_request_id: RequestId | None
    ) -> None:
        message = jsonrpc.encode_notification(method, params)
        if related_request_id is None:
            if self.session is not None:
                self.session.post_message(message)
            return
        stream = self._stream()
        if stream is None:
            logger.debug("%s dropped: the response to %r is JSON", method, self.request_id)
            return
        await stream.send_message(message)

    async def request(
        self,
        method: str,
        params: Any,
        *,
        related_request_id: RequestId | None,
        timeout: float | None,
    ) -> msgspec.Raw:
        session = self.session
        if session is None:
            raise McpError(
                INTERNAL_ERROR, f"{method}: server-to-client requests need a handshake-era session"
            )
        stream = self._stream() if related_request_id is not None else None

        async def send(message: bytes) -> None:
            if stream is not None:
                await stream.send_message(message)
            elif not session.post_message(message):
                raise McpError(
                    INTERNAL_ERROR,
                    f"{method}: no stream to send it on (JSON responses and no GET stream open)",
                )

        async def send_cancel(message: bytes) -> None:
            if stream is not None and stream.connected:
                await stream.send_message(message)
            else:
                session.post_message(message)

        return await session.engine.request(
            send, method, params, timeout=timeout, send_cancel=send_cancel
        )

    async def write_answer(self, status: int, reply: bytes, *, headers: bool = True) -> None:
        """The request's answer: the last event of its SSE stream if that started, else one
        JSON response (this POST's extra headers first, unless `headers` is False)."""
        stream = self.stream
        if stream is not None and stream.started:
            await stream.send_message(reply)
            await self.finish_stream()
            return
        send = self._send
        await send(self.json_head(status, reply, headers=headers))
        await send({"type": "http.response.body", "body": reply})

    def json_head(self, status: int, reply: bytes, *, headers: bool = True) -> dict[str, Any]:
        """The `http.response.start` of a JSON answer (`write_answer`'s, when no SSE stream
        started: what the endpoint sends itself on its hot path)."""
        extra = self._headers if headers else None
        length = (b"content-length", b"%d" % len(reply))
        out = [*extra, _JSON_TYPE, length] if extra else [_JSON_TYPE, length]
        return {"type": "http.response.start", "status": status, "headers": out}

    async def answer_cancelled(self, *, modern: bool) -> None:
        """End the POST of a request cancelled before it had an answer.

        2026-07-28: only a client disconnect cancels without an answer, so nobody is
        listening; an SSE response already started is just ended (at shutdown the engine
        gives the answer). Handshake era (`notifications/cancelled`, DELETE): the POST of a
        request MUST be answered with an SSE stream or one JSON object (2025-11-25
        basic/transports.mdx, Sending Messages 5), and a response stream ends with the
        request's response, so the request gets a `-32800` error, as the official SDK does; a
        client that sent the cancel ignores it (basic/utilities/cancellation.mdx: "The sender
        of the cancellation notification SHOULD ignore any response to the request that
        arrives afterward"). On a resumable stream it is an event like the others, so the
        replay of a cut stream ends with it too.
        """
        stream, session = self.stream, self.session
        if modern:
            await self.finish_stream()
            return
        reason = "Request cancelled"
        if self._endpoint.shutting_down:
            reason += ": the server is shutting down"
        elif session is not None and session.closed:
            reason += ": the session ended"
        answer = jsonrpc.encode_error(self.request_id, ErrorData(REQUEST_CANCELLED, reason))
        if stream is not None and not stream.started:
            await self.finish_stream()
        await self.write_answer(200, answer, headers=False)

    async def finish_stream(self) -> None:
        """End this POST's SSE stream, if it has one, and forget it in its session."""
        stream, session = self.stream, self.session
        if stream is None:
            return
        await stream.finish()
        if session is not None and session.streams is not None and stream.stream_id is not None:
            session.streams.pop(stream.stream_id, None)

    async def close_sse_stream(self) -> bool:
        """End this request's SSE response now (SEP-1699, sessions at 2025-11-25 or later):
        the client reconnects with GET and `Last-Event-ID` and receives the rest there.
        False (nothing done) when the response cannot be resumed."""
        stream = self._stream()
        if stream is None or not stream.resumable:
            return False
        await stream.close_connection()
        return True


def ignore_cancel(_request_id: RequestId) -> bool:
    """The `cancel` of requests nothing can cancel (stateless handshake-era ones)."""
    return False


@asynccontextmanager
async def serving_stream(
    receive: Receive, scopes: set[anyio.CancelScope], shutting_down: bool
) -> AsyncIterator[None]:
    """A scope for a long-lived response (an SSE stream): it ends on client disconnect, or
    when its server shuts down (which cancels every scope in `scopes`)."""
    async with anyio.create_task_group() as tg:
        scopes.add(tg.cancel_scope)
        if shutting_down:
            tg.cancel_scope.cancel()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        try:
            yield
        finally:
            scopes.discard(tg.cancel_scope)
            tg.cancel_scope.cancel()


class NullChannel:
    """The channel handed to notification handlers (roots list changed...)."""

    transport = "streamable-http"

    def __init__(self, session: HttpSession | None = None) -> None:
        self.session = session
        self.session_id = None if session is None else session.id
        self.extra: dict[str, Any] = {}

    async def notify(
        self, method: str, params: Any, *, related_request_id: RequestId | None
    ) -> None:
        if self.session is not None:
            self.session.post_message(jsonrpc.encode_notification(method, params))

    async def request(
        self,
        method: str,
        params: Any,
        *,
        related_request_id: RequestId | None,
        timeout: float | None,
    ) -> msgspec.Raw:
        raise McpError(INTERNAL_ERROR, f"{method}: no request to relate this to")
