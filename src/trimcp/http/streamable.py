"""The streamable HTTP endpoint (`/mcp`): both protocol eras on one path.

The era is chosen per request (shared/SPEC-NOTES.md omission 2): a body whose `_meta` carries
`io.modelcontextprotocol/protocolVersion` (or a modern `MCP-Protocol-Version` header) is a
2026-07-28 request, validated by the ladder below and served by one shared stateless
`ServerSession`; `initialize` without it opens a handshake-era session (`Mcp-Session-Id`).

Modern ladder, first failure wins: required `_meta` keys (400, -32602) → headers
`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` (400, -32020) → supported version (400,
-32022) → dispatch (unknown or removed method: 404, -32601; -32020/-32021/-32022: 400; any
other error: 200 with the error body).

Hot path (shared/DESIGN.md §3): the handler runs in the ASGI task itself; a JSON answer is one
`http.response.body`. The response turns into SSE only when the handler emits something
first (lazy SSE). A client disconnect cancels a modern request: requests still running after
a short grace get a watcher task from `_DisconnectWatch`, so quick requests pay for no task.
In the handshake era a disconnect is not cancellation (the response may be replayed).

Status codes for bad input (HTTP and SDK convention, not spec rules): 406 when the Accept
header does not list what we answer with, 415 for a non-JSON body, 413 past `max_body_size`,
400 + -32700 for invalid JSON. Past `max_sessions` a new `initialize` gets 503 (after idle
sessions were reaped), so a client can tell "server busy" from "session unknown" (404).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from trimcp.exceptions import McpError
from trimcp.http.event_store import EventStore, stream_of
from trimcp.http.sessions import (
    HttpSession,
    SessionManager,
    SSEStream,
    new_session_id,
)
from trimcp.protocol import jsonrpc
from trimcp.protocol.envelope import (
    CLIENT_CAPABILITIES_KEY,
    PROTOCOL_VERSION_KEY,
    SUBSCRIPTION_ID_KEY,
    unsupported_version,
)
from trimcp.protocol.errors import (
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorData,
)
from trimcp.protocol.jsonrpc import (
    Batch,
    ErrorResponse,
    Invalid,
    Notification,
    Request,
    RequestId,
    Response,
)
from trimcp.protocol.lifecycle import SessionState
from trimcp.protocol.sse import encode_comment
from trimcp.protocol.versions import HANDSHAKE_VERSIONS, MODERN_VERSIONS
from trimcp.server.session import ServerSession
from trimcp.types.results import Result

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["StreamableHTTPEndpoint"]

logger = logging.getLogger("trimcp.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024

_JSON_HEADERS = [(b"content-type", b"application/json")]
_WANTED = frozenset(
    {
        b"accept",
        b"content-type",
        b"content-length",
        b"mcp-session-id",
        b"mcp-protocol-version",
        b"mcp-method",
        b"mcp-name",
        b"last-event-id",
    }
)
_NAME_FIELD = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
_MODERN_STATUS = {
    METHOD_NOT_FOUND: 404,
    HEADER_MISMATCH: 400,
    MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
}


class _Routing(msgspec.Struct):
    """The parts of `params` routing needs; everything else is skipped by the decoder."""

    meta: Any = msgspec.field(default=None, name="_meta")
    name: Any = None
    uri: Any = None


_decode_routing = msgspec.json.Decoder(_Routing).decode
_NO_ROUTING = _Routing()


def _routing(params: msgspec.Raw | None) -> _Routing:
    if params is None:
        return _NO_ROUTING
    try:
        return _decode_routing(params)
    except msgspec.DecodeError:  # not an object: the handler reports -32602
        return _NO_ROUTING


def _headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in _WANTED and name not in found:
            found[name] = value
    return found


def _media_types(value: bytes | None) -> set[str]:
    if not value:
        return set()
    return {part.split(";", 1)[0].strip().lower() for part in value.decode("latin-1").split(",")}


def _accepts(types: set[str], wanted: str) -> bool:
    return wanted in types or "*/*" in types or f"{wanted.split('/')[0]}/*" in types


def decode_header_value(value: str) -> str | None:
    """A header value with the Base64 sentinel (`=?base64?...?=`) decoded; None if malformed."""
    value = value.strip(" \t")
    if not (value.startswith("=?base64?") and value.endswith("?=") and len(value) >= 11):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


async def _respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    out = list(headers) if headers else []
    if body:
        out.append((b"content-type", b"application/json"))
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def _respond_error(
    send: Send, status: int, code: int, message: str, request_id: RequestId | None = None, data: Any = None
) -> None:
    await _respond(send, status, jsonrpc.encode_error(request_id, ErrorData(code, message, data)))


async def read_body(receive: Receive, limit: int, content_length: bytes | None) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes."""
    if content_length is not None:
        try:
            if int(content_length) > limit:
                return None
        except ValueError:
            pass
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                # stop buffering; drain a bounded amount more so a client still writing its
                # body can read the 413 (a connection cut mid-upload loses the answer)
                if message.get("more_body", False):
                    await _drain(receive, max(limit, 1 << 20))
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


class _Disconnected(Exception):
    """The client went away while we read its request."""


class _DisconnectWatch:
    """Watches for `http.disconnect` on modern requests that run longer than one period.

    A request registers `(receive, cancel scope)`; the run loop ticks every `period` seconds
    while something is registered, and a request seen on two ticks gets a watcher task (in the
    endpoint's task group) that cancels its scope when the client disconnects. Quick
    requests finish before that and cost no task.
    """

    def __init__(self, *, period: float = 0.05) -> None:
        self.period = period
        self._entries: dict[int, list[Any]] = {}
        self._next = 0
        self._wake: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    def register(self, receive: Receive, scope: anyio.CancelScope) -> int | None:
        if self._tg is None:
            return None
        self._next += 1
        key = self._next
        self._entries[key] = [receive, scope, False, None]
        if self._wake is not None:
            self._wake.set()
        return key

    def unregister(self, key: int | None) -> None:
        if key is None:
            return
        entry = self._entries.pop(key, None)
        if entry is not None and entry[3] is not None:
            entry[3].cancel()

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            try:
                while True:
                    if not self._entries:
                        self._wake = anyio.Event()
                        await self._wake.wait()
                        self._wake = None
                    await anyio.sleep(self.period)
                    for entry in list(self._entries.values()):
                        if entry[2] and entry[3] is None:
                            entry[3] = anyio.CancelScope()
                            tg.start_soon(self._watch, entry)
                        entry[2] = True
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    @staticmethod
    async def _watch(entry: list[Any]) -> None:
        receive, target, _, own = entry
        with own:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    target.cancel()
                    return


class _PostChannel:
    """The `Channel` of one POSTed request: request-related messages go on this POST's SSE
    stream (started lazily), session-level ones on the session's GET stream."""

    transport = "streamable-http"

    __slots__ = ("_endpoint", "_headers", "_send", "_sse", "extra", "request_id", "session", "stream")

    def __init__(
        self,
        endpoint: StreamableHTTPEndpoint,
        session: HttpSession | None,
        request_id: RequestId,
        send: Send,
        *,
        sse: bool,
        headers: list[tuple[bytes, bytes]] | None,
        extra: dict[str, Any],
    ) -> None:
        self._endpoint = endpoint
        self.session = session
        self.request_id = request_id
        self._send = send
        self._sse = sse
        self._headers = headers
        self.stream: SSEStream | None = None
        self.extra = extra

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
                )
                if session.streams is None:
                    session.streams = {}
                session.streams[stream_id] = self.stream
            else:
                self.stream = SSEStream(self._send, extra_headers=self._headers)
        return self.stream

    async def notify(self, method: str, params: Any, *, related_request_id: RequestId | None) -> None:
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
        request_id = session.next_request_id()
        pending = session.expect(request_id)
        stream = self._stream() if related_request_id is not None else None
        answered = False
        try:
            if stream is not None:
                await stream.send_message(jsonrpc.encode_request(request_id, method, params))
            elif not session.post_message(jsonrpc.encode_request(request_id, method, params)):
                raise McpError(
                    INTERNAL_ERROR,
                    f"{method}: no stream to send it on (JSON responses and no GET stream open)",
                )
            with anyio.fail_after(timeout):
                await pending.event.wait()
            answered = True
        finally:
            session.forget(request_id)
            if not answered and not session.closed:
                cancelled = jsonrpc.encode_notification(
                    "notifications/cancelled", {"requestId": request_id, "reason": "timed out or cancelled"}
                )
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    if stream is not None and stream.connected:
                        await stream.send_message(cancelled)
                    else:
                        session.post_message(cancelled)
        if pending.error is not None:
            raise McpError(pending.error)
        assert pending.result is not None
        return pending.result

    async def close_sse_stream(self) -> bool:
        """End this request's SSE response now (SEP-1699, sessions at 2025-11-25 or later):
        the client reconnects with GET and `Last-Event-ID` and receives the rest there.
        False (nothing done) when the response cannot be resumed."""
        stream = self._stream()
        if stream is None or not stream.resumable:
            return False
        await stream.close_connection()
        return True


class StreamableHTTPEndpoint:
    """The ASGI callable serving streamable HTTP at one path (both eras).

    Args:
        server: the `FastMCP` server.
        path: where it is mounted (informational; routing is the app's job).
        json_response: answer every request with JSON, never SSE.
        stateless: no sessions; every request served by one shared session.
        event_store: enables resumable streams for sessions at 2025-11-25 or later.
        retry_interval: the SSE `retry` hint, in milliseconds.
        session_idle_timeout: seconds without traffic before a session is reaped (None: never).
        max_sessions: cap on live sessions (None: no cap).
        max_body_size: POST bodies past this many bytes get 413.
        keepalive_interval: seconds between `:` comments on a quiet listen stream.
    """

    def __init__(
        self,
        server: FastMCP,
        *,
        path: str = "/mcp",
        json_response: bool = False,
        stateless: bool = False,
        event_store: EventStore | None = None,
        retry_interval: int | None = None,
        session_idle_timeout: float | None = 1800.0,
        max_sessions: int | None = 10_000,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        keepalive_interval: float = 15.0,
    ) -> None:
        self.server = server
        self.keepalive_interval = keepalive_interval
        self.path = path
        self.json_response = json_response
        self.stateless = stateless
        self.event_store = event_store
        self.retry_ms = retry_interval
        self.max_body_size = max_body_size
        self.sessions = SessionManager(idle_timeout=session_idle_timeout, max_sessions=max_sessions)
        self.shared = ServerSession(server)  # modern requests, and everything when stateless
        self.shared.lifecycle.state = SessionState.OPERATING
        self._watch = _DisconnectWatch()
        self._tg: anyio.abc.TaskGroup | None = None
        self._stream_scopes: set[anyio.CancelScope] = set()
        self._shutting_down = False
        self._http_context: Any = None

    # -- lifetime ------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[StreamableHTTPEndpoint]:
        """Run the background work (disconnect watch, idle reaping) while serving."""
        self._shutting_down = False
        async with anyio.create_task_group() as tg:
            self._tg = tg
            await tg.start(self._watch.run)
            if self.sessions.idle_timeout is not None and not self.stateless:
                tg.start_soon(self._reap_loop)
            try:
                yield self
            finally:
                self.shutdown()
                with anyio.CancelScope(shield=True):
                    await self.sessions.close_all()
                self._tg = None
                tg.cancel_scope.cancel()

    def shutdown(self) -> None:
        """End open SSE streams (GET streams) and refuse new requests: the server stops."""
        self._shutting_down = True
        for scope in list(self._stream_scopes):
            scope.cancel()
        for session in list(self.sessions.sessions.values()):
            if session.inflight:
                for scope in session.inflight.values():
                    scope.cancel()

    async def _reap_loop(self) -> None:
        while True:
            await anyio.sleep(self.sessions.reap_interval())
            await self.sessions.reap_idle()

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        try:
            if method == "POST":
                await self._post(scope, receive, send)
            elif method == "GET":
                await self._get(scope, receive, send)
            elif method == "DELETE":
                await self._delete(scope, send)
            else:
                allow = b"POST" if self.stateless else b"GET, POST, DELETE"
                await _respond(send, 405, b"", [(b"allow", allow)])
        except _Disconnected:
            logger.debug("client disconnected before its request was read")

    # -- POST ----------------------------------------------------------------------------

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        accept = _media_types(headers.get(b"accept"))
        json_ok = _accepts(accept, "application/json")
        sse_ok = not self.json_response and _accepts(accept, "text/event-stream")
        if not json_ok or not (sse_ok or self.json_response):
            wanted = "application/json" if self.json_response else "application/json and text/event-stream"
            await _respond_error(send, 406, INVALID_REQUEST, f"Not Acceptable: the client must accept {wanted}")
            return
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type != b"application/json":
            await _respond_error(send, 415, INVALID_REQUEST, "Unsupported Media Type: send application/json")
            return
        body = await read_body(receive, self.max_body_size, headers.get(b"content-length"))
        if body is None:
            await _respond_error(send, 413, INVALID_REQUEST, "Request body too large")
            return
        if self._shutting_down:
            await _respond_error(send, 503, INTERNAL_ERROR, "Server shutting down")
            return
        message = jsonrpc.decode(body)
        if isinstance(message, Request):
            await self._post_request(scope, receive, send, headers, message, sse_ok, body)
        elif isinstance(message, Notification):
            await self._post_notification(scope, send, headers, message)
        elif isinstance(message, Response | ErrorResponse):
            session = await self._session_for(send, headers)
            if session is not None and session is not True:
                session.touch()
                session.resolve(message)
            if session is not None:
                await _respond(send, 202)
        elif isinstance(message, Invalid):
            await _respond(send, 400, jsonrpc.encode_error(message.id, message.error))
        else:
            await self._post_batch(scope, send, headers, message)

    async def _post_request(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        request: Request,
        sse_ok: bool,
        body: bytes,
    ) -> None:
        routing = _routing(request.params)
        meta = routing.meta
        header_version = headers.get(b"mcp-protocol-version")
        if (isinstance(meta, dict) and PROTOCOL_VERSION_KEY in meta) or (
            header_version is not None and header_version.decode("latin-1").strip() in MODERN_VERSIONS
        ):
            error = self._modern_ladder(headers, request, routing)
            if error is not None:
                status, data = error
                await _respond(send, status, jsonrpc.encode_error(request.id, data))
                return
            if request.method == "subscriptions/listen":
                await self._listen(receive, send, request, sse_ok)
                return
            await self._dispatch(scope, receive, send, request, self.shared, None, sse_ok, body, modern=True)
            return
        if header_version is not None and header_version.decode("latin-1").strip() not in HANDSHAKE_VERSIONS:
            await _respond_error(
                send, 400, INVALID_REQUEST,
                f"Unsupported MCP-Protocol-Version: {header_version.decode('latin-1')!r}", request.id,
            )
            return
        if request.method == "initialize":
            await self._initialize(scope, receive, send, request, sse_ok, body)
            return
        session = await self._session_for(send, headers, request.id)
        if session is None:
            return
        if session is True:
            await self._dispatch(scope, receive, send, request, self.shared, None, sse_ok, body)
            return
        session.touch()
        await self._dispatch(scope, receive, send, request, session.mcp, session, sse_ok, body)

    def _modern_ladder(
        self, headers: dict[bytes, bytes], request: Request, routing: _Routing
    ) -> tuple[int, ErrorData] | None:
        meta = routing.meta
        if not isinstance(meta, dict) or PROTOCOL_VERSION_KEY not in meta or CLIENT_CAPABILITIES_KEY not in meta:
            missing = [
                key for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY)
                if not isinstance(meta, dict) or key not in meta
            ]
            return 400, ErrorData(
                INVALID_PARAMS, f"params._meta is missing the required key(s): {', '.join(missing)}"
            )
        version = meta[PROTOCOL_VERSION_KEY]
        header_version = headers.get(b"mcp-protocol-version")
        if header_version is None:
            return 400, ErrorData(HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version header is missing")
        if header_version.decode("latin-1").strip(" \t") != version:
            return 400, ErrorData(
                HEADER_MISMATCH,
                "Header mismatch: MCP-Protocol-Version header does not match "
                f"params._meta[{PROTOCOL_VERSION_KEY!r}]",
            )
        method_header = headers.get(b"mcp-method")
        if method_header is None:
            return 400, ErrorData(HEADER_MISMATCH, "Header mismatch: Mcp-Method header is missing")
        if method_header.decode("latin-1").strip(" \t") != request.method:
            return 400, ErrorData(
                HEADER_MISMATCH, "Header mismatch: Mcp-Method header does not match the body's method"
            )
        field = _NAME_FIELD.get(request.method)
        if field is not None:
            expected = routing.name if field == "name" else routing.uri
            name_header = headers.get(b"mcp-name")
            if name_header is None:
                return 400, ErrorData(HEADER_MISMATCH, "Header mismatch: Mcp-Name header is missing")
            try:
                decoded = decode_header_value(name_header.decode("utf-8"))
            except UnicodeDecodeError:
                decoded = None
            if decoded is None:
                return 400, ErrorData(HEADER_MISMATCH, "Header mismatch: Mcp-Name header is malformed")
            if decoded != expected:
                return 400, ErrorData(
                    HEADER_MISMATCH, f"Header mismatch: Mcp-Name header does not match params.{field}"
                )
        if not isinstance(version, str) or version not in MODERN_VERSIONS:
            return 400, unsupported_version(version if isinstance(version, str) else repr(version))
        return None

    async def _session_for(
        self, send: Send, headers: dict[bytes, bytes], request_id: RequestId | None = None
    ) -> HttpSession | bool | None:
        """The request's session; True when stateless; None after answering 400/404."""
        if self.stateless:
            return True
        raw = headers.get(b"mcp-session-id")
        if raw is None:
            await _respond_error(send, 400, INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required", request_id)
            return None
        session = self.sessions.get(raw.decode("latin-1"))
        if session is None:
            await _respond_error(send, 404, INVALID_REQUEST, "Session not found", request_id)
            return None
        return session

    async def _initialize(
        self, scope: Scope, receive: Receive, send: Send, request: Request, sse_ok: bool, body: bytes
    ) -> None:
        mcp = ServerSession(self.server)
        if self.stateless:
            await self._dispatch(scope, receive, send, request, mcp, None, sse_ok, body)
            return
        if self.sessions.full():
            await self.sessions.reap_idle()
            if self.sessions.full():
                await _respond_error(send, 503, INTERNAL_ERROR, "Too many sessions; retry later", request.id)
                return
        session = HttpSession(new_session_id(), mcp, store=self.event_store)
        self.sessions.add(session)
        ok = await self._dispatch(
            scope, receive, send, request, mcp, session, sse_ok, body,
            headers=[(b"mcp-session-id", session.id.encode())],
        )
        if ok and mcp.lifecycle.initialized:
            self.server._connections.add(session)  # type: ignore[arg-type]  # list-changed fan-out
        else:
            await self.sessions.end(session.id)

    async def _dispatch(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: Request,
        mcp: ServerSession,
        session: HttpSession | None,
        sse_ok: bool,
        body: bytes,
        *,
        modern: bool = False,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> bool:
        """Serve one request and write its answer (JSON, or SSE if the handler emitted first).
        Returns whether a result (not an error) was sent."""
        channel = _PostChannel(
            self, session, request.id, send, sse=sse_ok, headers=headers, extra={"scope": scope}
        )
        cancel_scope = anyio.CancelScope()
        if session is not None:
            if not session.track(request.id, cancel_scope):
                await _respond_error(send, 400, INVALID_REQUEST, "Duplicate request id in flight", request.id)
                return False
            session.active += 1
        watch = self._watch.register(receive, cancel_scope) if modern else None
        token = self._enter_http_context(scope, body)
        ok = False
        status = 200
        try:
            with cancel_scope:
                try:
                    result = await mcp.handle_request(request, channel)
                    reply = jsonrpc.encode_result(request.id, result)
                    ok = True
                except McpError as exc:
                    reply = jsonrpc.encode_error(request.id, exc.error)
                    if modern:
                        status = _MODERN_STATUS.get(exc.error.code, 200)
                except Exception as exc:
                    logger.exception("request %r (%s) failed", request.id, request.method)
                    reply = jsonrpc.encode_error(request.id, ErrorData(INTERNAL_ERROR, str(exc)))
        finally:
            self._exit_http_context(token)
            self._watch.unregister(watch)
            if session is not None:
                session.untrack(request.id)
                session.active -= 1
                session.touch()
        stream = channel.stream
        if cancel_scope.cancel_called:
            # cancelled: by a client disconnect (modern), notifications/cancelled, DELETE or
            # shutdown. A cancelled request gets no answer.
            if stream is not None:
                with anyio.CancelScope(shield=True):
                    await self._finish_stream(stream, session)
            elif not modern:
                with anyio.CancelScope(shield=True):
                    await _respond(send, 204, b"", headers)
            return False
        if stream is not None and stream.started:
            await stream.send_message(reply)
            await self._finish_stream(stream, session)
        else:
            if headers:
                await _respond(send, status, reply, headers)
            else:
                await send(
                    {
                        "type": "http.response.start",
                        "status": status,
                        "headers": [*_JSON_HEADERS, (b"content-length", b"%d" % len(reply))],
                    }
                )
                await send({"type": "http.response.body", "body": reply})
        return ok

    async def _finish_stream(self, stream: SSEStream, session: HttpSession | None) -> None:
        await stream.finish()
        if session is not None and session.streams is not None and stream.stream_id is not None:
            session.streams.pop(stream.stream_id, None)

    def _enter_http_context(self, scope: Scope, body: bytes) -> Any:
        setter = self._http_context
        if setter is None:
            try:
                from trimcp.http import context
                from trimcp.http.asgi import Request as HttpRequest
            except ImportError:
                self._http_context = False
                return None
            set_request = getattr(context, "set_http_request", None)
            if set_request is None:
                self._http_context = False
                return None
            self._http_context = setter = (set_request, HttpRequest, getattr(context, "reset_http_request", None))
        if setter is False:
            return None
        set_request, request_cls, _ = setter
        http_request = request_cls(scope)
        http_request._body = body
        return set_request(http_request)

    def _exit_http_context(self, token: Any) -> None:
        if token is None:
            return
        reset = getattr(token, "reset", None)
        if callable(reset):
            reset()
        elif self._http_context and self._http_context[2] is not None:
            self._http_context[2](token)

    async def _post_notification(
        self, scope: Scope, send: Send, headers: dict[bytes, bytes], notification: Notification
    ) -> None:
        routing = _routing(notification.params)
        if isinstance(routing.meta, dict) and PROTOCOL_VERSION_KEY in routing.meta:
            await _respond(send, 202)  # modern HTTP defines no client notifications: accepted
            return
        session = await self._session_for(send, headers)
        if session is None:
            return
        if session is True:
            await self.shared.handle_notification(notification, cancel=lambda _id: None, channel=_NullChannel())
        else:
            session.touch()
            await session.mcp.handle_notification(
                notification, cancel=session.cancel, channel=_NullChannel(session)
            )
        await _respond(send, 202)

    async def _post_batch(self, scope: Scope, send: Send, headers: dict[bytes, bytes], batch: Batch) -> None:
        session = None if self.stateless else self.sessions.get(
            headers.get(b"mcp-session-id", b"").decode("latin-1")
        )
        if session is None or not session.accepts_batches:
            await _respond_error(
                send, 400, INVALID_REQUEST, "JSON-RPC batches are only accepted in 2025-03-26 sessions"
            )
            return
        session.touch()
        replies: list[bytes] = []

        async def serve(request: Request) -> None:
            channel = _PostChannel(self, session, request.id, send, sse=False, headers=None, extra={"scope": scope})
            try:
                result = await session.mcp.handle_request(request, channel)
                replies.append(jsonrpc.encode_result(request.id, result))
            except McpError as exc:
                replies.append(jsonrpc.encode_error(request.id, exc.error))

        session.active += 1
        try:
            async with anyio.create_task_group() as tg:
                for item in batch.items:
                    if isinstance(item, Request):
                        tg.start_soon(serve, item)
                    elif isinstance(item, Notification):
                        await session.mcp.handle_notification(
                            item, cancel=session.cancel, channel=_NullChannel(session)
                        )
                    elif isinstance(item, Response | ErrorResponse):
                        session.resolve(item)
                    elif isinstance(item, Invalid):
                        replies.append(jsonrpc.encode_error(item.id, item.error))
        finally:
            session.active -= 1
        if replies:
            await _respond(send, 200, b"[" + b",".join(replies) + b"]")
        else:
            await _respond(send, 202)

    # -- subscriptions/listen (2026-07-28) ----------------------------------------------------

    async def _listen(self, receive: Receive, send: Send, request: Request, sse_ok: bool) -> None:
        """A long-lived SSE response: the acknowledgement first, then only the change
        notifications the client opted in to, each tagged with the subscription id (the
        listen request's id); `:` comments keep quiet connections alive."""
        if not sse_ok:
            await _respond_error(
                send, 400, INVALID_REQUEST, "subscriptions/listen needs an SSE response (text/event-stream)", request.id
            )
            return
        try:
            params = _decode_listen(request.params or b"{}")
        except msgspec.ValidationError as exc:
            await _respond(send, 200, jsonrpc.encode_error(request.id, ErrorData(INVALID_PARAMS, f"Invalid params: {exc}")))
            return
        wanted = params.notifications
        honoured: dict[str, Any] = {key: True for key in _LISTEN_KINDS.values() if wanted.get(key) is True}
        resources = wanted.get("resourceSubscriptions")
        uris = {u for u in resources if isinstance(u, str)} if isinstance(resources, list) else set()
        if uris:
            honoured["resourceSubscriptions"] = sorted(uris)
        listener = _Listener(request.id, {m for m, key in _LISTEN_KINDS.items() if key in honoured}, uris)
        stream = SSEStream(send)
        self.server._connections.add(listener)  # type: ignore[arg-type]
        try:
            async with self._serving_stream(receive):
                await stream.send_message(
                    jsonrpc.encode_notification(
                        "notifications/subscriptions/acknowledged",
                        {"notifications": honoured, "_meta": {SUBSCRIPTION_ID_KEY: request.id}},
                    )
                )
                async with listener.inbox:
                    while True:
                        with anyio.move_on_after(self.keepalive_interval):
                            await stream.send_message(await listener.inbox.receive())
                            continue
                        await stream.send_raw(encode_comment())
        finally:
            self.server._connections.discard(listener)  # type: ignore[arg-type]
            listener.outbox.close()
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                if self._shutting_down:  # a graceful end: the final result (SHOULD)
                    result = self.server._finish_modern(Result(meta={SUBSCRIPTION_ID_KEY: request.id}))
                    await stream.send_message(jsonrpc.encode_result(request.id, result))
                await stream.finish()

    # -- GET: the standalone stream, or resuming a stream -----------------------------------------

    async def _get(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        raw_id = headers.get(b"mcp-session-id")
        if self.stateless or raw_id is None:
            await _respond(send, 405, b"", [(b"allow", b"POST")])
            return
        if not _accepts(_media_types(headers.get(b"accept")), "text/event-stream"):
            await _respond_error(send, 406, INVALID_REQUEST, "Not Acceptable: the client must accept text/event-stream")
            return
        session = self.sessions.get(raw_id.decode("latin-1"))
        if session is None:
            await _respond_error(send, 404, INVALID_REQUEST, "Session not found")
            return
        last_event_id = headers.get(b"last-event-id")
        if last_event_id is not None and session.resumable:
            await self._resume(receive, send, session, last_event_id.decode("latin-1"))
            return
        if session.outbox is not None:
            await _respond_error(send, 409, INVALID_REQUEST, "Conflict: this session already has a GET stream")
            return
        await self._standalone(receive, send, session)

    async def _standalone(
        self, receive: Receive, send: Send, session: HttpSession, *, replay_from: str | None = None
    ) -> None:
        outbox, inbox = anyio.create_memory_object_stream[bytes](256)
        session.outbox = outbox
        session.active += 1
        resumable = session.resumable
        stream = SSEStream(
            send,
            stream_id=session.new_stream_id(standalone=True) if resumable else None,
            store=session.store,
            retry_ms=self.retry_ms,
        )
        try:
            async with self._serving_stream(receive):
                await stream.start()
                if replay_from is not None and session.store is not None:
                    await session.store.replay_events_after(
                        replay_from, lambda eid, msg: stream.send_raw(_event(msg, eid))
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
            with anyio.CancelScope(shield=True):
                await stream.finish()

    @asynccontextmanager
    async def _serving_stream(self, receive: Receive) -> AsyncIterator[None]:
        """A scope for a long-lived response: ends on client disconnect or server shutdown."""
        async with anyio.create_task_group() as tg:
            self._stream_scopes.add(tg.cancel_scope)
            if self._shutting_down:
                tg.cancel_scope.cancel()

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                yield
            finally:
                self._stream_scopes.discard(tg.cancel_scope)
                tg.cancel_scope.cancel()

    async def _resume(self, receive: Receive, send: Send, session: HttpSession, last_event_id: str) -> None:
        stream_id = stream_of(last_event_id)
        if stream_id is None or not stream_id.startswith(session.id + ".") or session.store is None:
            await _respond_error(send, 400, INVALID_REQUEST, "Unknown Last-Event-ID")
            return
        if stream_id == f"{session.id}.0":
            if session.outbox is not None:
                await _respond_error(send, 409, INVALID_REQUEST, "Conflict: this session already has a GET stream")
                return
            await self._standalone(receive, send, session, replay_from=last_event_id)
            return
        live = session.streams.get(stream_id) if session.streams else None
        sink, source = anyio.create_memory_object_stream[bytes](256)
        if live is not None and not live.attach(sink):
            live = None
        out = SSEStream(send)
        session.active += 1
        try:
            async with self._serving_stream(receive):
                await out.start()
                replayed: set[str] = set()

                async def replay(event_id: str, message: bytes) -> None:
                    replayed.add(event_id)
                    await out.send_raw(_event(message, event_id))

                await session.store.replay_events_after(last_event_id, replay)
                if live is not None:
                    async with source:
                        async for chunk in source:
                            await out.send_raw(chunk)
        finally:
            sink.close()
            session.active -= 1
            session.touch()
            with anyio.CancelScope(shield=True):
                await out.finish()

    # -- DELETE ----------------------------------------------------------------------------

    async def _delete(self, scope: Scope, send: Send) -> None:
        raw_id = _headers(scope).get(b"mcp-session-id")
        if self.stateless or raw_id is None:
            await _respond(send, 405, b"", [(b"allow", b"POST")])
            return
        if await self.sessions.end(raw_id.decode("latin-1")):
            await _respond(send, 200)
        else:
            await _respond_error(send, 404, INVALID_REQUEST, "Session not found")

    # -- introspection ---------------------------------------------------------------------

    async def close_sse_stream(self, channel: Any) -> bool:
        """End the SSE response of the request behind `channel` early (see
        `_PostChannel.close_sse_stream`); the `Context` wiring calls this."""
        close = getattr(channel, "close_sse_stream", None)
        return bool(close is not None and await close())


class _ListenParams(msgspec.Struct):
    notifications: dict[str, Any] = msgspec.field(default_factory=dict)


_decode_listen = msgspec.json.Decoder(_ListenParams).decode


# notification method -> the SubscriptionFilter key that opts in to it
_LISTEN_KINDS = {
    "notifications/tools/list_changed": "toolsListChanged",
    "notifications/prompts/list_changed": "promptsListChanged",
    "notifications/resources/list_changed": "resourcesListChanged",
}


class _Listener:
    """One `subscriptions/listen` stream, fed by the server's change fan-out."""

    __slots__ = ("__weakref__", "inbox", "methods", "outbox", "resources", "subscription_id")

    def __init__(
        self, subscription_id: RequestId, methods: set[str], resources: set[str] | None = None
    ) -> None:
        self.subscription_id = subscription_id
        self.methods = methods
        self.resources = resources or set()
        self.outbox, self.inbox = anyio.create_memory_object_stream[bytes](64)

    def post_notification(self, method: str, params: Any = None) -> None:
        if method == "notifications/resources/updated":
            if not (isinstance(params, dict) and params.get("uri") in self.resources):
                return
        elif method not in self.methods:
            return
        tagged = dict(params or {})
        tagged["_meta"] = {**tagged.get("_meta", {}), SUBSCRIPTION_ID_KEY: self.subscription_id}
        try:
            self.outbox.send_nowait(jsonrpc.encode_notification(method, tagged))
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            logger.debug("listen stream %r: %s dropped", self.subscription_id, method)


def _event(message: bytes, event_id: str) -> bytes:
    from trimcp.protocol.sse import encode_event

    return encode_event(message, event="message", id=event_id)


class _NullChannel:
    """The channel handed to notification handlers (roots list changed...)."""

    transport = "streamable-http"

    def __init__(self, session: HttpSession | None = None) -> None:
        self.session = session
        self.session_id = None if session is None else session.id
        self.extra: dict[str, Any] = {}

    async def notify(self, method: str, params: Any, *, related_request_id: RequestId | None) -> None:
        if self.session is not None:
            self.session.post_message(jsonrpc.encode_notification(method, params))

    async def request(
        self, method: str, params: Any, *, related_request_id: RequestId | None, timeout: float | None
    ) -> msgspec.Raw:
        raise McpError(INTERNAL_ERROR, f"{method}: no request to relate this to")
