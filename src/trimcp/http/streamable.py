"""The streamable HTTP endpoint (`/mcp`): both protocol eras on one path.

The era is chosen per request (shared/SPEC-NOTES.md omission 2): a body whose `_meta` carries
`io.modelcontextprotocol/protocolVersion` (or a modern `MCP-Protocol-Version` header) is a
2026-07-28 request, validated by the ladder (`trimcp.http.wire`) and served by one shared
stateless `ServerSession`; `initialize` without it opens a handshake-era session
(`Mcp-Session-Id`).

This module owns the endpoint object: its settings, lifetime (disconnect watch, idle reaping,
shutdown), the ASGI entry that dispatches by HTTP method, POST (single messages,
`initialize`, serving one request) and DELETE. Requests are served by a
`trimcp.runtime.engine.RequestEngine`, the one every transport uses: each handshake-era
session owns one (`HttpSession.engine`: its requests in flight by id, its server-to-client
requests), and the endpoint owns one for the requests of no session (2026-07-28 and
stateless: ids are not unique across clients, so they are keyed by their scope and
cancelled only by a disconnect or shutdown). The rest is split by what
it owns: `trimcp.http.wire` (headers, body, `Accept`, the ladder, writing simple responses),
`trimcp.http.channels` (`PostChannel`, `NullChannel`, `DisconnectWatch`) and
`trimcp.http.streams` (GET: the session stream, resumption, and `subscriptions/listen`),
`trimcp.http.handshake` (opening a session with `initialize`, finding the session a request
names, the shared sessions of stateless requests) and `trimcp.http.batch` (2025-03-26
JSON-RPC batches).

Modern ladder, first failure wins: required `_meta` keys (400, -32602) → headers
`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` (400, -32020) → supported version (400,
-32022) → dispatch (unknown or removed method: 404, -32601; -32020/-32021/-32022: 400; any
other error: 200 with the error body).

Hot path (shared/DESIGN.md §3): the handler runs in the ASGI task itself; a JSON answer is one
`http.response.body`. The response turns into SSE only when the handler emits something
first (lazy SSE). A client disconnect cancels a modern request: requests still running after
a short grace get a watcher task from `DisconnectWatch`, so quick requests pay for no task.
In the handshake era a disconnect is not cancellation (the response may be replayed); a
request cancelled by `notifications/cancelled`, DELETE or shutdown still answers its POST, with
a `-32800` error (`PostChannel.answer_cancelled`). Stateless handshake-era requests are served at the
version their `MCP-Protocol-Version` header names (2025-03-26 without one).

Status codes for bad input (HTTP and SDK convention, not spec rules): 406 when the Accept
header does not list what we answer with, 415 for a non-JSON body, 413 past `max_body_size`,
400 + -32700 for invalid JSON. Past `max_sessions` a new `initialize` gets 503 (after idle
sessions were reaped), so a client can tell "server busy" from "session unknown" (404).

Concurrency: a session with `max_session_requests` requests in flight gets 429 for one more,
and the endpoint with `max_server_requests` in flight (all sessions, stateless and modern
requests together: a `SharedLimit` every engine counts against) gets 503; both with a
JSON-RPC error -32000 (`SERVER_BUSY`) in the body and `Retry-After: 1`; an id still in flight
in its session gets 400. Refused at once, never queued: a request past the limit costs nothing.

Faults: an exception no handler converted (middleware, a bug) reaches the engine's one
boundary, whose fault policy is `trimcp.core.handlers.answer_fault` (it masks the text when
the server asks for it), as on every transport.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from trimcp._backend import cancel_scope_class
from trimcp.core.handlers import answer_fault
from trimcp.core.session import ServerSession, predecode
from trimcp.http.asgi import Receive, Scope, Send
from trimcp.http.batch import post_batch
from trimcp.http.channels import DisconnectWatch, NullChannel, PostChannel, ignore_cancel
from trimcp.http.context import PendingHttpRequest, http_request_var
from trimcp.http.event_store import EventStoreProtocol
from trimcp.http.guard import reject
from trimcp.http.handshake import open_session, session_for, stateless_session
from trimcp.http.sessions import HttpSession, SessionManager
from trimcp.http.streams import serve_get, serve_listen
from trimcp.http.wire import (
    DEFAULT_MAX_BODY_SIZE,
    MODERN_STATUS,
    SERVER_BUSY_ERROR,
    SESSION_BUSY,
    Disconnected,
    accepts_json_sse,
    header_version,
    may_be_modern,
    modern_ladder,
    param_header_error,
    read_json_body,
    respond,
    respond_error,
    respond_refused,
    routing_of,
    wanted_headers,
)
from trimcp.protocol import jsonrpc
from trimcp.protocol.envelope import PROTOCOL_VERSION_KEY
from trimcp.protocol.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    ErrorData,
)
from trimcp.protocol.jsonrpc import (
    Batch,
    ErrorResponse,
    Invalid,
    Notification,
    Request,
    Response,
)
from trimcp.protocol.lifecycle import SessionState
from trimcp.protocol.requests import CUT_AT_SHUTDOWN, SharedLimit
from trimcp.protocol.versions import ASSUMED_HANDSHAKE_VERSION, HANDSHAKE_VERSIONS, MODERN_VERSIONS
from trimcp.runtime.engine import RequestEngine
from trimcp.settings import settings

if TYPE_CHECKING:
    from trimcp.http.guard import OriginGuard
    from trimcp.server.server import FastMCP

__all__ = ["StreamableHTTPEndpoint"]

logger = logging.getLogger("trimcp.http")

_HANDSHAKE_RAW = frozenset(version.encode() for version in HANDSHAKE_VERSIONS)


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
        session_handshake_timeout: seconds a session whose client never came back with its id
            lives (None: as long as any session).
        max_sessions: cap on live sessions (None: no cap); at the cap an idle session is
            evicted (never-confirmed first, then the least recently used); 503 only when
            every session is busy.
        get_stream_buffer: messages a GET stream holds for a slow reader; more are dropped
            and counted (the stream stays open).
        max_body_size: POST bodies past this many bytes get 413.
        keepalive_interval: seconds between `:` comments on a quiet listen stream.
        max_session_requests: requests in flight per session (default:
            `settings.max_session_requests`); one more gets 429.
        max_server_requests: requests in flight on this endpoint (default:
            `settings.max_server_requests`); one more gets 503.
    """

    def __init__(
        self,
        server: FastMCP,
        *,
        path: str = "/mcp",
        json_response: bool = False,
        stateless: bool = False,
        event_store: EventStoreProtocol | None = None,
        retry_interval: int | None = None,
        session_idle_timeout: float | None = 1800.0,
        session_handshake_timeout: float | None = 60.0,
        max_sessions: int | None = 10_000,
        get_stream_buffer: int = 256,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        keepalive_interval: float = 15.0,
        max_session_requests: int | None = None,
        max_server_requests: int | None = None,
    ) -> None:
        self.server = server
        self.max_session_requests = (
            settings.max_session_requests if max_session_requests is None else max_session_requests
        )
        self.max_server_requests = (
            settings.max_server_requests if max_server_requests is None else max_server_requests
        )
        self.limit = SharedLimit(self.max_server_requests, SERVER_BUSY_ERROR)
        """Requests being served now, in every engine of the endpoint (503 past it)."""
        self._fault = partial(answer_fault, server)
        self.keepalive_interval = keepalive_interval
        self.path = path
        self.json_response = json_response
        self.stateless = stateless
        self.event_store = event_store
        self.retry_ms = retry_interval
        self.max_body_size = max_body_size
        self.sessions = SessionManager(
            idle_timeout=session_idle_timeout,
            max_sessions=max_sessions,
            handshake_timeout=session_handshake_timeout,
            stream_buffer=get_stream_buffer,
        )
        self.shared = ServerSession(server, shared=True)  # modern requests; all when stateless
        self.shared.lifecycle.state = SessionState.OPERATING
        self.engine = RequestEngine(
            self.shared.handle_request,
            fault=self._fault,
            refusal=SESSION_BUSY,
            shared=self.limit,
            keyed=False,
        )
        """Serves the requests of no session (2026-07-28, stateless): their ids are not unique
        across clients, so each is keyed by its scope; cancelled only by a disconnect
        (2026-07-28) or shutdown."""
        # stateless handshake-era requests: one pre-initialized session per protocol version
        self.stateless_sessions: dict[str, ServerSession] = {}
        """By protocol version, the sessions serving stateless handshake-era requests
        (`trimcp.http.handshake.stateless_session`)."""
        self._watch = DisconnectWatch()
        self.stream_scopes: set[anyio.CancelScope] = set()
        """The scopes of the long-lived SSE responses (GET streams, listen), ended at shutdown."""
        self.shutting_down = False
        self.new_scope: Callable[[], anyio.CancelScope] = anyio.CancelScope
        self.guard: OriginGuard | None = None
        """The `Origin`/`Host` check, made here on the headers read once (`http_app` sets
        it; an endpoint mounted bare checks nothing)."""

    # -- lifetime ------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[StreamableHTTPEndpoint]:
        """Run the background work (disconnect watch, idle reaping) while serving."""
        self.shutting_down = False
        self.new_scope = cancel_scope_class()
        async with anyio.create_task_group() as tg:
            await tg.start(self._watch.run)
            if self.sessions.reap_interval() != math.inf and not self.stateless:
                tg.start_soon(self._reap_loop)
            try:
                yield self
            finally:
                self.shutdown()
                self.cancel_inflight()  # the host's grace period, if any, has passed
                with anyio.CancelScope(shield=True):
                    await self.sessions.close_all()
                tg.cancel_scope.cancel()

    def shutdown(self) -> None:
        """End open SSE streams (GET streams) and refuse new requests: the server stops.
        Requests in flight go on (the grace period) until `cancel_inflight()`."""
        self.shutting_down = True
        for scope in list(self.stream_scopes):
            scope.cancel()

    def cancel_inflight(self) -> None:
        """The grace period is over: cancel every request still running; each is answered
        with a `-32800` error saying the server is shutting down (in both eras: the client
        is still there, unlike a 2026-07-28 request cancelled by its disconnect)."""
        self.engine.cancel_inflight(CUT_AT_SHUTDOWN)
        for session in list(self.sessions.sessions.values()):
            session.engine.cancel_inflight(CUT_AT_SHUTDOWN)

    @property
    def inflight(self) -> int:
        """Requests being served now (the `max_server_requests` count)."""
        return self.limit.count

    def new_engine(self, mcp: ServerSession) -> RequestEngine:
        """The engine of a new handshake-era session: at most `max_session_requests` in
        flight (429), counted against the endpoint's limit too (503)."""
        return RequestEngine(
            mcp.handle_request,
            fault=self._fault,
            limit=self.max_session_requests,
            refusal=SESSION_BUSY,
            shared=self.limit,
            id_prefix="s",
        )

    async def _reap_loop(self) -> None:
        while True:
            await anyio.sleep(self.sessions.reap_interval())
            await self.sessions.reap_idle()

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = wanted_headers(scope)
        guard = self.guard
        if guard is not None:
            refused = guard.check(scope, headers)
            if refused is not None:
                await reject(scope, send, *refused)
                return
        method = scope["method"]
        try:
            if method == "POST":
                await self._post(scope, receive, send, headers)
            elif method == "GET":
                await serve_get(self, scope, receive, send, headers)
            elif method == "DELETE":
                await self._delete(send, headers)
            else:
                allow = b"POST" if self.stateless else b"GET, POST, DELETE"
                await respond(send, 405, b"", [(b"allow", allow)])
        except Disconnected:
            logger.debug("client disconnected before its request was read")

    # -- POST ----------------------------------------------------------------------------

    async def _post(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes]
    ) -> None:
        json_ok, sse_ok = accepts_json_sse(headers.get(b"accept"))
        if self.json_response:
            sse_ok = False
        if not json_ok or not (sse_ok or self.json_response):
            wanted = (
                "application/json"
                if self.json_response
                else "application/json and text/event-stream"
            )
            await respond_error(
                send, 406, INVALID_REQUEST, f"Not Acceptable: the client must accept {wanted}"
            )
            return
        body = await read_json_body(receive, send, headers, self.max_body_size)
        if body is None:
            return
        message = jsonrpc.decode(body)
        if self.shutting_down and (
            isinstance(message, Request)
            or (isinstance(message, Batch) and any(isinstance(m, Request) for m in message.items))
        ):
            # no new work; the client's answers and notifications (cancellations) still reach
            # the requests that run through the grace period
            await respond_error(send, 503, INTERNAL_ERROR, "Server shutting down")
            return
        if isinstance(message, Request):
            plain = self._plain_session(headers, message, body)
            if plain is not None:  # the common case, without `_post_request`'s coroutine
                await self.dispatch(scope, receive, send, message, plain.mcp, plain, sse_ok, body)
            else:
                await self._post_request(scope, receive, send, headers, message, sse_ok, body)
        elif isinstance(message, Notification):
            await self._post_notification(scope, send, headers, message)
        elif isinstance(message, Response | ErrorResponse):
            session = await session_for(self, send, headers)
            if session is not None and session is not True:
                session.touch()
                session.engine.resolve(message)
            if session is not None:
                await respond(send, 202)
        elif isinstance(message, Invalid):
            await respond(send, 400, jsonrpc.encode_error(message.id, message.error))
        else:
            await post_batch(self, scope, send, headers, message, body)

    def _plain_session(
        self, headers: dict[bytes, bytes], request: Request, body: bytes
    ) -> HttpSession | None:
        """The session of a handshake-era request to a live session with nothing else to
        sort out (not `initialize`, no modern `_meta`, a handshake-era version header if
        any): the common case, dispatched at once. None: `_post_request` decides."""
        raw = headers.get(b"mcp-session-id")
        if raw is None or self.stateless or request.method == "initialize" or may_be_modern(body):
            return None
        version = headers.get(b"mcp-protocol-version")
        if (
            version is not None
            and version not in _HANDSHAKE_RAW
            and header_version(headers) not in HANDSHAKE_VERSIONS
        ):
            return None
        return self.sessions.get(raw.decode("latin-1"))

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
        version = header_version(headers)
        modern_header = version in MODERN_VERSIONS
        routing: Any = None
        if modern_header or may_be_modern(body):
            # its params decoded once, for the handler too; else only the parts routing reads
            routing = predecode(request) or routing_of(request.params)
        if routing is not None and (
            modern_header
            or (isinstance(routing.meta, dict) and PROTOCOL_VERSION_KEY in routing.meta)
        ):
            error = modern_ladder(headers, version, request, routing)
            if error is not None:
                status, data = error
                await respond(send, status, jsonrpc.encode_error(request.id, data))
                return
            if request.method == "subscriptions/listen":
                await serve_listen(self, receive, send, request, sse_ok)
                return
            if request.method == "tools/call" and isinstance(routing.name, str):
                tool = self.server.tool_manager.find(routing.name)
                mismatch = None if tool is None else param_header_error(scope, request, tool)
                if mismatch is not None:
                    await respond(send, 400, jsonrpc.encode_error(request.id, mismatch))
                    return
            await self.dispatch(
                scope, receive, send, request, self.shared, None, sse_ok, body, True
            )
            return
        if version is not None and version not in HANDSHAKE_VERSIONS:
            await respond_error(
                send,
                400,
                INVALID_REQUEST,
                f"Unsupported MCP-Protocol-Version: {version!r}",
                request.id,
            )
            return
        if request.method == "initialize":
            await open_session(self, scope, receive, send, request, sse_ok, body)
            return
        if self.stateless:
            mcp = await stateless_session(self, version or ASSUMED_HANDSHAKE_VERSION)
            await self.dispatch(scope, receive, send, request, mcp, None, sse_ok, body)
            return
        # `session_for` inline: a coroutine fewer on the hot path
        raw = headers.get(b"mcp-session-id")
        session = None if raw is None else self.sessions.get(raw.decode("latin-1"))
        if session is None:
            await session_for(self, send, headers, request.id)  # answers 400 or 404
            return
        await self.dispatch(scope, receive, send, request, session.mcp, session, sse_ok, body)

    async def dispatch(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        request: Request,
        mcp: ServerSession,
        session: HttpSession | None,
        sse_ok: bool,
        body: bytes,
        modern: bool = False,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> bool:
        """Serve one request and write its answer (JSON, or SSE if the handler emitted first).
        Returns whether a result (not an error) was sent. (`modern` and `headers` may come
        positionally: keywords cost a 2026-07-28 request more than the line they save.)"""
        # what can cancel a request: the end of the grace period at shutdown (any request),
        # notifications/cancelled and DELETE (sessions), a disconnect (modern)
        cancel_scope = self.new_scope()
        key: Hashable
        if session is None:
            engine, key = self.engine, cancel_scope
        else:
            engine, key = session.engine, request.id
        refused = engine.admit(key, cancel_scope)  # admitted and begun at once
        if refused is not None:
            await respond_refused(send, refused, request.id)
            return False
        channel = PostChannel(self, session, request.id, send, sse_ok, headers, scope)
        watch = self._watch.register(receive, engine, key) if modern else None
        if session is not None:
            session.request_started()
        # a Request is built only if a tool asks for it (`set_http_request`, inline)
        token = http_request_var.set(PendingHttpRequest(scope, body))
        answer: bytes | ErrorData | None = None
        try:
            # `RequestEngine.serve` spelled out, its `respond` too (`answer_to` is the
            # boundary): the handler runs in this task, no coroutine between the endpoint
            # and the session
            try:
                with cancel_scope:
                    try:
                        answer = jsonrpc.encode_result(
                            request.id, await mcp.handle_request(request, channel)
                        )
                    except BaseException as exc:
                        answer = engine.answer_to(request, exc)
            except BaseException:  # the ASGI task itself cancelled: nothing to answer
                engine.finish(key)
                raise
            answer = engine.conclude(key, answer)
        finally:
            http_request_var.reset(token)
            if watch is not None:
                self._watch.unregister(watch)
            if session is not None:
                session.request_done()
        if answer is None:  # cancelled before it had an answer; a stalled client cannot hold it
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                await channel.answer_cancelled(modern=modern)
            return False
        status = 200
        if isinstance(answer, bytes):
            reply = answer
        else:
            reply = jsonrpc.encode_error(request.id, answer)
            if modern:
                status = MODERN_STATUS.get(answer.code, 200)
        if cancel_scope.cancel_called:  # cut at shutdown: a stalled client cannot hold it
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                await channel.write_answer(status, reply)
            return False
        if channel.stream is None:  # `write_answer` inline: a JSON answer
            await send(channel.json_head(status, reply))
            await send({"type": "http.response.body", "body": reply})
        else:
            await channel.write_answer(status, reply)
        return isinstance(answer, bytes)

    async def _post_notification(
        self, scope: Scope, send: Send, headers: dict[bytes, bytes], notification: Notification
    ) -> None:
        routing = routing_of(notification.params)
        if isinstance(routing.meta, dict) and PROTOCOL_VERSION_KEY in routing.meta:
            await respond(send, 202)  # modern HTTP defines no client notifications: accepted
            return
        session = await session_for(self, send, headers)
        if session is None:
            return
        try:
            if session is True:
                await self.shared.handle_notification(
                    notification, cancel=ignore_cancel, channel=NullChannel()
                )
            else:
                session.touch()
                await session.mcp.handle_notification(
                    notification, cancel=session.engine.cancel, channel=NullChannel(session)
                )
        except Exception:  # a notification has no answer to carry it: logged, accepted
            logger.exception("notification %s failed", notification.method)
        await respond(send, 202)

    # -- DELETE ----------------------------------------------------------------------------

    async def _delete(self, send: Send, headers: dict[bytes, bytes]) -> None:
        raw_id = headers.get(b"mcp-session-id")
        if self.stateless or raw_id is None:
            await respond(send, 405, b"", [(b"allow", b"POST")])
            return
        if await self.sessions.end(raw_id.decode("latin-1")):
            await respond(send, 200)
        else:
            await respond_error(send, 404, INVALID_REQUEST, "Session not found")
