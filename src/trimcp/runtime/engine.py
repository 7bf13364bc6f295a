"""The one request engine: every transport hands it decoded JSON-RPC messages.

`RequestEngine` is the anyio side of `trimcp.protocol.requests`. It alone owns, for one peer
(a stdio or in-memory connection, a legacy SSE session, a handshake-era HTTP session, or an
HTTP endpoint's stateless and 2026-07-28 requests):

- the in-flight table of inbound requests: admission (limit, duplicate ids), cancellation
  (`cancel` on `notifications/cancelled`, a disconnect, DELETE; `cancel_inflight` at
  shutdown, `close` when the connection ends), `inflight_ids`, `wait_idle`;
- correlation of outbound requests and their answers (`request`, `resolve`), with
  `notifications/cancelled` sent for a request that timed out or whose caller was cancelled;
- 2025-03-26 JSON-RPC batches (`serve_batch`);
- the one exception boundary (`respond`): the handler's result is encoded; `McpError`
  becomes its error; any other exception goes to the injected fault policy (the server's
  `answer_fault`, which masks under `mask_error_details`), whatever raised it.

It is not MCP-aware: it calls an injected `handler(request, channel)` (the server session,
which owns the envelope of both eras and the middleware chain) and never looks at methods.

Two ways to serve a request, both measured fast paths: `serve_queued` runs on a long-lived
worker task that holds one cancel scope for many requests (`runtime.peer`); `serve` enters a
scope the transport made for this one request (HTTP runs it in the ASGI task itself). A cut
request is answered by whoever serves it, once it has unwound: with the error it was cut
with (shutdown), or not at all (`notifications/cancelled`); a transport that must answer
every request (an HTTP POST) gets None and writes its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

import anyio
import msgspec

from trimcp._backend import stray_cancellation
from trimcp.exceptions import ClientError, McpError
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INTERNAL_ERROR, ErrorData
from trimcp.protocol.jsonrpc import (
    Batch,
    ErrorResponse,
    Invalid,
    Notification,
    Request,
    RequestId,
    Response,
)
from trimcp.protocol.requests import Cut, InflightTable, OutboundTable, SharedLimit

__all__ = [
    "Answer",
    "FaultPolicy",
    "Handler",
    "PeerClosed",
    "RequestEngine",
    "internal_error",
]

logger = logging.getLogger("trimcp.runtime")

Handler = Callable[[Request, Any], Awaitable[Any]]
"""`handler(request, channel)`: the request's result; raises `McpError` for an error answer."""
FaultPolicy = Callable[[Request, Exception], "tuple[Any, ErrorData | None]"]
"""Turns an exception out of the handler (other than `McpError`) into `(result, None)` or
`(None, error)`; must not raise (if it does, the answer is a bare "Internal error")."""
Answer = bytes | ErrorData
"""What `respond` gives: an encoded result, or the error to answer with."""
Send = Callable[[bytes], Awaitable[None]]

_INTERNAL = ErrorData(INTERNAL_ERROR, "Internal error")
_CLOSED_ERRORS = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)


def _encodable(request: Request, error: ErrorData) -> ErrorData:
    """`error` if it can be sent (its `data` is JSON-encodable), else a bare "Internal
    error": an answer that cannot be encoded must not take the connection down. Paid only
    on the error path."""
    try:
        jsonrpc.encode_error(request.id, error)
    except (TypeError, ValueError, msgspec.EncodeError):
        logger.error("request %r: its error %r cannot be encoded", request.id, error)
        return _INTERNAL
    return error


class PeerClosed(ClientError):
    """The connection ended while a request was waiting for its answer."""


def internal_error(request: Request, exc: Exception) -> tuple[Any, ErrorData | None]:
    """The default fault policy: log the exception, answer a bare "Internal error"."""
    logger.error("request %r (%s) failed", request.id, request.method, exc_info=exc)
    return None, _INTERNAL


class _Waiter:
    """The slot an outbound request's answer lands in."""

    __slots__ = ("closed", "error", "event", "result")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.result: msgspec.Raw | None = None
        self.error: ErrorData | None = None
        self.closed: str | None = None  # why the peer went before answering


class RequestEngine:
    """Serves inbound requests and correlates outbound ones for one peer (module docstring).

    Args:
        handler: `await handler(request, channel)` serves a request.
        fault: the fault policy for exceptions other than `McpError`.
        limit: requests in flight at once (None: no limit); one more is refused with
            `refusal` (default: -32000 "Too many concurrent requests for this session").
        shared: a limit counted together with other engines (an HTTP endpoint's).
        keyed: requests are keyed by their id (duplicates refused, `cancel(id)` works);
            False where ids are not unique (stateless HTTP): each is keyed by its scope.
        id_prefix: prefix of our outbound request ids.
    """

    __slots__ = (
        "_closed",
        "_fault",
        "_handler",
        "_idle",
        "_outbound",
        "_table",
        "admit",
        "keyed",
    )

    def __init__(
        self,
        handler: Handler,
        *,
        fault: FaultPolicy = internal_error,
        limit: int | None = None,
        refusal: ErrorData | None = None,
        shared: SharedLimit | None = None,
        keyed: bool = True,
        id_prefix: str = "",
    ) -> None:
        self._handler = handler
        self._fault = fault
        self._table: InflightTable[anyio.CancelScope] = InflightTable(
            limit=limit, refusal=refusal, shared=shared
        )
        self._outbound: OutboundTable[_Waiter] = OutboundTable(prefix=id_prefix)
        self._idle: anyio.Event | None = None  # only while someone waits in `wait_idle`
        self._closed = False
        self.keyed = keyed
        # the table's own methods, bound once: no pass-through call on the per-request path
        self.admit: Callable[..., ErrorData | None] = self._table.admit
        """`admit(key)`: take in a request (its id, or its scope when not `keyed`); or the
        error it is refused with: over a limit, or a duplicate id in flight. `admit(key,
        scope)`: and running at once under `scope` (which the caller enters around the
        handler), for a transport that serves it in the same step (HTTP)."""

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def refusal(self) -> ErrorData:
        """The error a request past this engine's own limit gets."""
        return self._table.refusal

    def __len__(self) -> int:
        """Inbound requests in flight (on a peer, answered ones too until their answer is out;
        HTTP finishes a request before writing its answer)."""
        return len(self._table)

    # -- the exception boundary ------------------------------------------------------------

    async def respond(
        self, request: Request, channel: Any, handler: Handler | None = None
    ) -> Answer:
        """Run the handler (`handler` if given, else the engine's) and return the encoded
        result or the error to answer with. The one place an exception becomes an answer."""
        try:
            return jsonrpc.encode_result(
                request.id, await (handler or self._handler)(request, channel)
            )
        except BaseException as exc:
            return self.answer_to(request, exc)

    def answer_to(self, request: Request, exc: BaseException) -> Answer:
        """What `respond` answers when serving `request` raised `exc`: the `McpError`'s error,
        else what the fault policy says; a real cancellation (or the process ending) is
        raised again. For a transport that awaits the handler itself (HTTP: a coroutine fewer
        per request), so the boundary stays this one."""
        if isinstance(exc, McpError):
            return _encodable(request, exc.error)
        if not isinstance(exc, Exception) and not stray_cancellation(exc):
            raise exc
        return self._fault_answer(request, exc)  # type: ignore[arg-type]  # a stray CancelledError

    def _fault_answer(self, request: Request, exc: Exception) -> Answer:
        try:
            result, error = self._fault(request, exc)
            if error is not None:
                return _encodable(request, error)
            return jsonrpc.encode_result(request.id, result)
        except Exception:  # a broken policy (or result) must not take the peer down
            logger.exception("the fault policy failed for request %r", request.id)
            return _INTERNAL

    # -- inbound ---------------------------------------------------------------------------

    def full(self) -> bool:
        """Whether one more request would be refused for a limit."""
        return self._table.full()

    async def serve_queued(
        self, scope: anyio.CancelScope, request: Request, channel: Any, send: Send
    ) -> bool:
        """Serve an admitted request on a worker holding `scope` (shared with the worker's
        other requests: `cancel` cancels it), write its answer with `send`, and return
        whether `scope` was cancelled (the worker then goes on in a fresh one). The request
        stays in flight until its answer is written."""
        table = self._table
        rid = request.id
        cut = table.start(rid, scope)
        if cut is not None:  # cancelled before it started
            try:
                if cut.answer is not None:
                    await send(jsonrpc.encode_error(rid, cut.answer))
            finally:
                self.finish(rid)
            return False
        try:
            answer = await self.respond(request, channel)
        except BaseException:  # its cancellation (or the peer's end) unwinding
            await self._answer_cut(table.answering(rid), rid, send)
            raise
        cut = table.answering(rid)
        if cut is not None:  # the handler swallowed its cancellation: the cut wins
            await self._answer_cut(cut, rid, send)
            return True
        try:
            await send(answer if isinstance(answer, bytes) else jsonrpc.encode_error(rid, answer))
        finally:
            self.finish(rid)
        return False

    async def _answer_cut(self, cut: Cut | None, rid: RequestId, send: Send) -> None:
        """Write a cut request's answer (if it has one) from inside its cancelled scope:
        shielded, and bounded so a stalled peer cannot hold the worker."""
        try:
            if cut is not None and cut.answer is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await send(jsonrpc.encode_error(rid, cut.answer))
        finally:
            self.finish(rid)

    async def serve(
        self,
        request: Request,
        channel: Any,
        *,
        scope: anyio.CancelScope,
        key: Hashable | None = None,
        handler: Handler | None = None,
        finish: bool = True,
    ) -> Answer | None:
        """Serve an admitted request under its own `scope` (entered here); return its answer:
        the encoded result, the error, the error it was cut with, or None when it was
        cancelled without one (the transport decides: nothing, or its own answer).

        `key`: what it was admitted under (default: its id). With `finish=False` it stays in
        flight (ANSWERING) until `finish(key)`, after its answer is written."""
        if key is None:
            key = request.id
        answer: Answer | None = None
        if self._table.start(key, scope) is None:
            try:
                with scope:
                    answer = await self.respond(request, channel, handler)
            except BaseException:  # cancelled from outside (its task, the peer's end)
                self.finish(key)
                raise
        return self.conclude(key, answer, finish=finish)

    def conclude(
        self, key: Hashable, answer: Answer | None, *, finish: bool = True
    ) -> Answer | None:
        """A request admitted with its scope (`admit(key, scope)`) is done (`answer`: what
        `respond` would give, None if its scope was cancelled first): its answer, the error
        it was cut with instead, or None (cut without one). Finished unless `finish=False`
        (then `finish(key)` once written).

        `admit(key, scope)`, the handler under the request's scope with `answer_to` as its
        boundary, then `conclude` is `serve` spelled out, for a transport whose per-request
        path must not pay for more coroutines (HTTP)."""
        table = self._table
        if finish:
            cut = table.pop(key)
            if self._idle is not None and not len(table):
                self._idle.set()
                self._idle = None
        else:
            cut = table.answering(key)
        return answer if cut is None else cut.answer

    def finish(self, key: Hashable) -> None:
        """A request served with `finish=False` is over (its answer written)."""
        if self._table.finish(key) and self._idle is not None:
            self._idle.set()
            self._idle = None

    def cancel(self, key: Hashable, answer: ErrorData | None = None) -> bool:
        """Cancel an inbound request (`notifications/cancelled`, a disconnect); unknown ids
        and requests whose answer is being written are ignored. Returns whether it did.
        `answer`: the error it is answered with (None: whoever serves it decides)."""
        decision = self._table.cancel(key, answer)
        if decision.handle is not None:
            decision.handle.cancel()
        return decision.cancelled

    def inflight_ids(self) -> list[Hashable]:
        """The inbound requests that can still be cancelled (not yet answered)."""
        return self._table.cancellable()

    def cancel_inflight(self, answer: ErrorData | None) -> int:
        """Cancel every inbound request still in flight; each is answered with `answer` by
        whoever serves it, once it unwinds (`wait_idle()` waits for that). How many."""
        handles = self._table.cancel_all(answer)
        for handle in handles:
            handle.cancel()
        return len(handles)

    async def wait_idle(self) -> None:
        """Return once no inbound request is in flight (its answer written, or cancelled and
        unwound), batch requests included; at once when nothing is."""
        while len(self._table):
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    def close(self, reason: str = "connection closed") -> None:
        """The peer is gone: cancel every inbound request (no answer), forget them, and
        fail every outbound request still waiting with `PeerClosed(reason)`."""
        self._closed = True
        self.cancel_inflight(None)
        self._table.clear()
        if self._idle is not None:
            self._idle.set()
            self._idle = None
        for waiter in self._outbound.fail_all():
            waiter.closed = reason
            waiter.event.set()

    # -- batches (2025-03-26) --------------------------------------------------------------

    async def serve_batch(
        self,
        batch: Batch,
        *,
        channel: Callable[[Request], Any],
        notify: Callable[[Notification], Coroutine[Any, Any, None]],
        write: Callable[[list[bytes]], Awaitable[None]],
        new_scope: Callable[[], anyio.CancelScope] = anyio.CancelScope,
        cancelled: ErrorData | None = None,
        item_limit: int | None = None,
        handler: Handler | None = None,
    ) -> None:
        """Serve a JSON-RPC batch: its requests concurrently, each admitted like a single one
        (limits, duplicate ids: refused alone, in the reply), in flight until the reply is
        written; its notifications (`notify`) and answers to our requests as usual. `write`
        gets the replies (none when the batch held no request).

        A request cut at shutdown is answered in the reply with the error it was cut with;
        one cancelled otherwise with `cancelled` (None: left out). `item_limit` caps the
        requests of this batch (a stateless batch is its own session); past it they get the
        engine's `refusal`."""
        replies: list[bytes] = []
        mine: list[Hashable] = []
        keyed = self.keyed

        async def serve_one(request: Request, scope: anyio.CancelScope, key: Hashable) -> None:
            answer = await self.serve(
                request, channel(request), scope=scope, key=key, handler=handler, finish=False
            )
            if answer is None:
                answer = cancelled
            if isinstance(answer, bytes):
                replies.append(answer)
            elif answer is not None:
                replies.append(jsonrpc.encode_error(request.id, answer))

        try:
            async with anyio.create_task_group() as tg:
                for item in batch.items:
                    if isinstance(item, Request):
                        if item_limit is not None and len(mine) >= item_limit:
                            replies.append(jsonrpc.encode_error(item.id, self.refusal))
                            continue
                        scope = new_scope()
                        key: Hashable = item.id if keyed else scope
                        refused = self._table.admit(key)
                        if refused is not None:
                            replies.append(jsonrpc.encode_error(item.id, refused))
                            continue
                        mine.append(key)
                        tg.start_soon(serve_one, item, scope, key)
                    elif isinstance(item, Notification):
                        tg.start_soon(notify, item)
                    elif isinstance(item, Response | ErrorResponse):
                        self.resolve(item)
                    elif isinstance(item, Invalid):
                        replies.append(jsonrpc.encode_error(item.id, item.error))
            await write(replies)
        finally:
            for key in mine:
                self.finish(key)

    # -- outbound --------------------------------------------------------------------------

    def next_id(self) -> RequestId:
        return self._outbound.next_id()

    def resolve(self, message: Response | ErrorResponse) -> bool:
        """An answer to one of our requests; False (logged) when nobody waits for it."""
        waiter = self._outbound.resolve(message.id)
        if waiter is None:
            if isinstance(message, ErrorResponse) and message.id is None:
                # the peer could not read something we sent: worth a warning
                logger.warning("peer reported an error: %s", message.error.message)
            else:  # most often a late answer to a request we cancelled or gave up on
                logger.debug("answer to unknown request id %r ignored", message.id)
            return False
        if isinstance(message, Response):
            waiter.result = message.result
        else:
            waiter.error = message.error
        waiter.event.set()
        return True

    async def request(
        self,
        send: Send,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        request_id: RequestId | None = None,
        send_cancel: Send | None = None,
    ) -> msgspec.Raw:
        """Send a request with `send` and wait for its answer: its result, or `McpError` for
        an error answer, `PeerClosed` when the peer goes first, `TimeoutError` past
        `timeout`. A request not answered (timed out, caller cancelled) is announced to the
        peer with `notifications/cancelled` (through `send_cancel`, default `send`)."""
        if self._closed:
            raise PeerClosed("connection closed")
        rid = self.next_id() if request_id is None else request_id
        waiter = _Waiter()
        outbound = self._outbound
        outbound.expect(rid, waiter)
        sent = answered = False
        try:
            try:
                await send(jsonrpc.encode_request(rid, method, params))
            except _CLOSED_ERRORS as exc:
                raise PeerClosed("connection closed") from exc
            sent = True
            with anyio.fail_after(timeout):
                await waiter.event.wait()
            answered = True
        finally:
            outbound.forget(rid)
            if sent and not answered and not self._closed:
                notice = jsonrpc.encode_notification(
                    "notifications/cancelled",
                    {"requestId": rid, "reason": "timed out or cancelled"},
                )
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    try:
                        await (send_cancel or send)(notice)
                    except (*_CLOSED_ERRORS, McpError):
                        logger.debug("peer gone; cancellation of %r not sent", rid)
        if waiter.error is not None:
            raise McpError(waiter.error)
        if waiter.closed is not None:
            raise PeerClosed(waiter.closed)
        assert waiter.result is not None
        return waiter.result
