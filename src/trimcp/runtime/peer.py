"""A JSON-RPC peer driven over a message stream: deliberately not MCP-aware.

`Peer.run()` reads messages until the stream ends. Each inbound request runs in its own task
under its own cancel scope (so `cancel(request_id)` can stop it) and its answer is written
whenever it finishes, in any order. Outbound requests get fresh ids and wait for their answer;
a timeout or a cancelled caller sends `notifications/cancelled` and stops waiting. Bad input
from the peer is answered with a JSON-RPC error and never ends the loop.

The MCP layer (server connection or client session) plugs in through `on_request` and
`on_notification`; it raises `McpError` to answer with an error, and `on_fault` turns any
other exception into the answer (by default a bare "Internal error": the text of an
exception never reaches the peer unless the MCP layer chooses to send it).

Limits: at most `max_inflight` inbound requests are served at once; one more is refused at
once with `SERVER_BUSY` (-32000), never queued, so a flood cannot grow memory. The count is
the length of the in-flight table the peer keeps anyway: no extra work per request.
"""

from __future__ import annotations

import enum
import itertools
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import anyio
import msgspec

from trimcp._backend import Wakeup, wakeup_factory
from trimcp.exceptions import ClientError, McpError
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    SERVER_BUSY,
    ErrorData,
)
from trimcp.protocol.framing import LineTooLong
from trimcp.protocol.jsonrpc import (
    Batch,
    ErrorResponse,
    Invalid,
    Notification,
    Request,
    RequestId,
    Response,
)

__all__ = ["FaultHandler", "MessageStream", "Peer", "PeerClosed"]

logger = logging.getLogger("trimcp.runtime")

"""JSON-RPC error code of a request refused because too many are in flight (in the range
JSON-RPC 2.0 leaves to implementations; MCP defines no code for it)."""


class MessageStream(Protocol):
    """One JSON-RPC message per `receive`/`send` (bytes, no framing)."""

    async def receive(self) -> bytes: ...

    async def send(self, message: bytes) -> None: ...


class PeerClosed(ClientError):
    """The connection ended while a request was waiting for its answer."""


class _Workers:
    """Long-lived tasks serving queued jobs, so a request does not pay for a task spawn.

    A job goes to an idle worker if there is one, else to a new worker up to `soft_limit`;
    past that it waits in the queue. If every worker is stuck (handlers waiting on each
    other) while jobs wait, a guard adds a worker every 50 ms, so nothing deadlocks.

    Each worker runs its jobs under a cancel scope of its own, passed to the job as its first
    argument: a job may cancel it to cancel itself, and then returns True (or raises the
    cancellation); the worker goes on in a fresh scope. One scope per worker rather than per
    job, as entering a scope costs as much as serving a small request.
    """

    def __init__(self, task_group: anyio.abc.TaskGroup, *, soft_limit: int = 64) -> None:
        self._tg = task_group
        self._soft_limit = soft_limit
        self._queue: deque[tuple[Callable[..., Awaitable[bool]], tuple[Any, ...]]] = deque()
        self._new_wakeup = wakeup_factory()  # cheaper than an `anyio.Event` per idle spell
        self._idle: list[Wakeup] = []
        self._workers = 0
        self._served = 0
        self._guarding = False

    def submit(self, fn: Callable[..., Awaitable[bool]], *args: Any) -> None:
        """Queue `await fn(scope, *args)`, which returns whether it cancelled `scope`."""
        self._queue.append((fn, args))
        if self._idle:
            self._idle.pop().set()
        elif self._workers < self._soft_limit:
            self._spawn()
        elif not self._guarding:
            self._guarding = True
            self._tg.start_soon(self._guard)

    def _spawn(self) -> None:
        self._workers += 1
        self._tg.start_soon(self._work)

    async def _work(self) -> None:
        queue = self._queue
        served_here = 0
        try:
            while True:
                with anyio.CancelScope() as scope:
                    while True:
                        if not queue:
                            if len(self._idle) >= self._soft_limit:
                                return
                            wake = self._new_wakeup()
                            self._idle.append(wake)
                            await wake.wait()
                            continue
                        fn, args = queue.popleft()
                        self._served += 1
                        if await fn(scope, *args):
                            break  # the scope is spent (the job swallowed the cancellation)
                        # let the reader and writer run, in long bursts. Counted per worker:
                        # with a shared count, handlers that suspend all resumed at the same
                        # multiple of 64 and every one of them paid an extra trip round the loop
                        served_here += 1
                        if served_here % 64 == 0:
                            await anyio.lowlevel.checkpoint()
        finally:
            self._workers -= 1

    async def _guard(self) -> None:
        try:
            while self._queue:
                served = self._served
                await anyio.sleep(0.05)
                if self._queue and self._served == served:
                    self._spawn()
        finally:
            self._guarding = False


class _Cancelled(enum.Enum):
    """`Peer._inflight` markers: a request cancelled (whether or not it started), and one
    whose answer is being written (too late to cancel, still in flight for `wait_idle`)."""

    CANCELLED = enum.auto()
    ANSWERING = enum.auto()


class _BatchItem:
    """`Peer._inflight` state of a request of a batch: its own cancel scope, and the error
    it is answered with in the batch's reply when cancelled at shutdown (None: no answer)."""

    __slots__ = ("answer", "cancelled", "done", "scope")

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.cancelled = False
        self.done = False  # answered (the reply waits for the rest of the batch)
        self.answer: ErrorData | None = None


class _Pending:
    __slots__ = ("error", "event", "result")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.result: msgspec.Raw | None = None
        self.error: ErrorData | None = None


RequestHandler = Callable[[Request], Awaitable[Any]]
NotificationHandler = Callable[[Notification], Awaitable[None]]
FaultHandler = Callable[[Request, Exception], bytes]
"""Turns an exception out of `on_request` (other than `McpError`) into the encoded answer."""


def internal_error(request: Request, exc: Exception) -> bytes:
    """The default `on_fault`: log the exception, answer a bare "Internal error"."""
    logger.error("request %r (%s) failed", request.id, request.method, exc_info=exc)
    return jsonrpc.encode_error(request.id, ErrorData(INTERNAL_ERROR, "Internal error"))


class Peer:
    """Correlates requests and answers over one `MessageStream`."""

    def __init__(
        self,
        stream: MessageStream,
        *,
        on_request: RequestHandler,
        on_notification: NotificationHandler,
        on_fault: FaultHandler = internal_error,
        id_prefix: str = "",
        max_inflight: int | None = None,
    ) -> None:
        self._stream = stream
        self._on_request = on_request
        self._on_notification = on_notification
        self._on_fault = on_fault
        self._max_inflight = sys.maxsize if max_inflight is None else max_inflight
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix
        self._pending: dict[RequestId, _Pending] = {}
        # an inbound request's state: None while queued, then the cancel scope of the worker
        # serving it, `ANSWERING` while its answer is written, or `CANCELLED`; a batch's
        # requests are `_BatchItem`s until the batch's reply is written
        self._inflight: dict[RequestId, anyio.CancelScope | _Cancelled | _BatchItem | None] = {}
        self._idle: anyio.Event | None = None  # only while someone waits in `wait_idle`
        self._task_group: anyio.abc.TaskGroup | None = None
        self._workers: _Workers | None = None
        self._closed = False
        self.on_end_of_input: Callable[[], Awaitable[None]] | None = None
        """Awaited when the stream's input ends (stdin closed) before the requests in flight
        are cancelled: the server's connection lets them finish there, as the peer may still
        read their answers."""
        self.accept_batches = False
        """Set by the MCP layer when the negotiated revision allows JSON-RPC batches."""

    # -- running -------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until the stream ends; then cancel in-flight requests and fail waiting calls."""
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                self._workers = _Workers(tg)
                task_status.started()
                try:
                    while True:
                        try:
                            data = await self._stream.receive()
                        except anyio.EndOfStream:
                            if self.on_end_of_input is not None:  # the peer may still read
                                await self.on_end_of_input()
                            break
                        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                            break
                        except LineTooLong as exc:
                            tg.start_soon(
                                self._send_error, None, ErrorData(INVALID_REQUEST, str(exc))
                            )
                            continue
                        message = None
                        try:
                            message = jsonrpc.decode(data)
                            self._dispatch(message)
                        except Exception as exc:  # a bug: answered, logged, never the end
                            self._undeliverable(message, exc)
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self._close()

    def _undeliverable(self, message: jsonrpc.Incoming | None, exc: Exception) -> None:
        """Answer a message that could not be decoded (`message` None) or dispatched, with a
        JSON-RPC error carrying its id when it is a request (else null); log it once."""
        assert self._task_group is not None
        logger.error("could not handle an incoming message", exc_info=exc)
        if message is None:
            error = ErrorData(PARSE_ERROR, "Parse error")
            request_id = None
        else:
            error = ErrorData(INTERNAL_ERROR, "Internal error")
            request_id = message.id if isinstance(message, Request | Invalid) else None
        if isinstance(message, Notification | Response | ErrorResponse):
            return  # nothing to answer: a notification, or the peer's own answer
        self._task_group.start_soon(self._send_error, request_id, error)

    def _close(self) -> None:
        self._closed = True
        self._inflight.clear()  # queued requests never start now
        self._check_idle()
        for pending in self._pending.values():
            pending.error = ErrorData(INTERNAL_ERROR, "connection closed")
            pending.event.set()

    @property
    def closed(self) -> bool:
        return self._closed

    def _dispatch(self, message: jsonrpc.Incoming) -> None:
        assert self._task_group is not None and self._workers is not None
        if isinstance(message, Request):
            if message.id in self._inflight:
                self._task_group.start_soon(
                    self._send_error, message.id, ErrorData(INVALID_REQUEST, "duplicate request id")
                )
                return
            if len(self._inflight) >= self._max_inflight:
                self._task_group.start_soon(self._send_error, message.id, self._busy())
                return
            self._inflight[message.id] = None
            self._workers.submit(self._serve, message)
        elif isinstance(message, Notification):
            self._task_group.start_soon(self._notify, message)
        elif isinstance(message, Response | ErrorResponse):
            self._resolve(message)
        elif isinstance(message, Invalid):
            self._task_group.start_soon(self._send_error, message.id, message.error)
        elif isinstance(message, Batch):
            self._task_group.start_soon(self._serve_batch, message)

    def _resolve(self, message: Response | ErrorResponse) -> None:
        pending = self._pending.get(message.id) if message.id is not None else None
        if pending is None:
            if isinstance(message, ErrorResponse) and message.id is None:
                # the peer could not read something we sent: worth a warning
                logger.warning("peer reported an error: %s", message.error.message)
            else:  # most often a late answer to a request we cancelled or gave up on
                logger.debug("answer to unknown request id %r ignored", message.id)
            return
        if isinstance(message, Response):
            pending.result = message.result
        else:
            pending.error = message.error
        pending.event.set()

    # -- inbound -------------------------------------------------------------------------

    def _busy(self) -> ErrorData:
        return ErrorData(
            SERVER_BUSY,
            f"Too many concurrent requests: at most {self._max_inflight} in flight per session",
        )

    async def _answer(self, request: Request) -> bytes:
        try:
            return jsonrpc.encode_result(request.id, await self._on_request(request))
        except McpError as exc:
            return jsonrpc.encode_error(request.id, exc.error)
        except Exception as exc:  # the MCP layer's `on_fault` decides what the peer sees
            try:
                return self._on_fault(request, exc)
            except Exception:  # a broken `on_fault` must not take the connection down
                logger.exception("on_fault failed for request %r", request.id)
                return jsonrpc.encode_error(request.id, ErrorData(INTERNAL_ERROR, "Internal error"))

    async def _serve(self, scope: anyio.CancelScope, request: Request) -> bool:
        """Run on a worker; `cancel()` cancels `scope` (the worker's) to cancel this request.
        Returns whether it did. The request stays in flight until its answer is written."""
        inflight = self._inflight
        rid = request.id
        try:
            if inflight[rid] is _Cancelled.CANCELLED:  # before it started
                del inflight[rid]
                return False
            inflight[rid] = scope
            try:
                reply = await self._answer(request)
            except BaseException:
                del inflight[rid]
                raise
            if inflight[rid] is _Cancelled.CANCELLED:  # a cancelled request gets no answer
                del inflight[rid]
                return True
            inflight[rid] = _Cancelled.ANSWERING
            try:
                await self._send(reply)
            finally:
                del inflight[rid]
            return False
        finally:
            if self._idle is not None:
                self._check_idle()

    def _check_idle(self) -> None:
        idle = self._idle
        if idle is not None and not self._inflight:
            self._idle = None
            idle.set()

    async def wait_idle(self) -> None:
        """Return once no inbound request is in flight (its answer written, or cancelled and
        unwound), batch requests included; at once when the peer has closed."""
        while self._inflight:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    def inflight_ids(self) -> list[RequestId]:
        """The ids of the inbound requests that can still be cancelled (not yet answered)."""
        return [
            rid
            for rid, state in self._inflight.items()
            if state is None
            or isinstance(state, anyio.CancelScope)
            or (isinstance(state, _BatchItem) and not (state.cancelled or state.done))
        ]

    async def _notify(self, notification: Notification) -> None:
        try:
            await self._on_notification(notification)
        except Exception:
            logger.exception("notification %s failed", notification.method)

    async def _serve_batch(self, batch: Batch) -> None:
        if not self.accept_batches:
            await self._send_error(
                None, ErrorData(INVALID_REQUEST, "JSON-RPC batches are not supported")
            )
            return
        replies: list[bytes] = []
        inflight = self._inflight
        mine: list[RequestId] = []  # in flight until the batch's reply is written

        async def serve_one(request: Request, state: _BatchItem) -> None:
            reply = None
            with state.scope:
                reply = await self._answer(request)
            state.done = True
            if not state.cancelled:
                assert reply is not None
                replies.append(reply)
            elif state.answer is not None:  # cut at shutdown: answered like the others
                replies.append(jsonrpc.encode_error(request.id, state.answer))

        try:
            async with anyio.create_task_group() as tg:
                for item in batch.items:
                    if isinstance(item, Request):
                        if item.id in inflight:
                            error = ErrorData(INVALID_REQUEST, "duplicate request id")
                            replies.append(jsonrpc.encode_error(item.id, error))
                            continue
                        # the batch's requests count against the limit like any others
                        if len(inflight) >= self._max_inflight:
                            replies.append(jsonrpc.encode_error(item.id, self._busy()))
                            continue
                        state = inflight[item.id] = _BatchItem()
                        mine.append(item.id)
                        tg.start_soon(serve_one, item, state)
                    elif isinstance(item, Notification):
                        tg.start_soon(self._notify, item)
                    elif isinstance(item, Response | ErrorResponse):
                        self._resolve(item)
                    elif isinstance(item, Invalid):
                        replies.append(jsonrpc.encode_error(item.id, item.error))
            if replies:
                await self._send(b"[" + b",".join(replies) + b"]")
        finally:
            for rid in mine:
                inflight.pop(rid, None)  # gone already if the peer closed
            self._check_idle()

    def cancel(self, request_id: RequestId, answer: ErrorData | None = None) -> bool:
        """Cancel an inbound request (on `notifications/cancelled`); unknown ids, and requests
        whose answer is already being written, are ignored. Returns whether it cancelled.

        `answer`: the error a request of a batch is answered with in the batch's reply (a
        cancelled request of a batch is otherwise left out of it). A request on its own is
        never answered here: who cancels it with an answer sends it (see `cancel_inflight`).
        """
        state = self._inflight.get(request_id, _Cancelled.ANSWERING)
        if state is _Cancelled.ANSWERING or state is _Cancelled.CANCELLED:
            return False
        if isinstance(state, _BatchItem):
            if state.cancelled or state.done:
                return False
            state.cancelled = True
            state.answer = answer
            state.scope.cancel()
            return True
        if isinstance(state, anyio.CancelScope):
            state.cancel()
        self._inflight[request_id] = _Cancelled.CANCELLED  # if not started yet, never starts
        return True

    async def cancel_inflight(self, answer: ErrorData) -> None:
        """Cancel every inbound request still in flight and answer each with `answer` (the
        server is shutting down): a request of a batch in its batch's reply, once the batch
        unwinds (`wait_idle()` waits for it), any other one here."""
        # cancel them all before the first await: a request that finishes while an answer
        # is being written leaves the table, and must not be looked up afterwards
        to_answer = []
        for rid in self.inflight_ids():
            in_batch = isinstance(self._inflight.get(rid), _BatchItem)  # answered in its reply
            if self.cancel(rid, answer) and not in_batch:
                to_answer.append(rid)
        for rid in to_answer:
            await self._send(jsonrpc.encode_error(rid, answer))

    # -- outbound ------------------------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        try:
            await self._stream.send(data)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            logger.debug("peer gone; message dropped")

    async def _send_error(self, request_id: RequestId | None, error: ErrorData) -> None:
        await self._send(jsonrpc.encode_error(request_id, error))

    def next_id(self) -> RequestId:
        n = next(self._ids)
        return f"{self._id_prefix}{n}" if self._id_prefix else n

    async def request(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        request_id: RequestId | None = None,
    ) -> msgspec.Raw:
        """Send a request and wait for its result; raise `McpError` for an error answer."""
        if self._closed:
            raise PeerClosed("connection closed")
        rid = self.next_id() if request_id is None else request_id
        pending = _Pending()
        self._pending[rid] = pending
        answered = False
        try:
            await self._stream.send(jsonrpc.encode_request(rid, method, params))
            with anyio.fail_after(timeout):
                await pending.event.wait()
            answered = True
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            raise PeerClosed("connection closed") from exc
        finally:
            self._pending.pop(rid, None)
            if not answered and not self._closed:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    await self._send(
                        jsonrpc.encode_notification(
                            "notifications/cancelled",
                            {"requestId": rid, "reason": "timed out or cancelled"},
                        )
                    )
        if pending.error is not None:
            if (
                self._closed
                and pending.result is None
                and pending.error.message == "connection closed"
            ):
                raise PeerClosed("connection closed")
            raise McpError(pending.error)
        assert pending.result is not None
        return pending.result

    async def notify(self, method: str, params: Any = None) -> None:
        await self._send(jsonrpc.encode_notification(method, params))
