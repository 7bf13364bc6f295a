"""A JSON-RPC peer over a message stream: the reader, the writer and the workers.

`Peer.run()` reads messages until the stream ends and hands each to its `RequestEngine`
(`trimcp.runtime.engine`), which owns everything else: the in-flight table (limits,
duplicate ids, cancellation), correlation of outbound requests, batches and the one
exception boundary. Deliberately not MCP-aware.

Each inbound request is served on a reusable worker task (`_Workers`) under that worker's
cancel scope, so `cancel(request_id)` can stop it; its answer is written whenever it
finishes, in any order. Bad input from the peer is answered with a JSON-RPC error and never
ends the loop.

The MCP layer (server connection or client session) plugs in through `handler` (or the
one-argument `on_request`) and `on_notification`; it raises `McpError` to answer with an
error, and the fault policy `on_fault` turns any other exception into the answer (by default
a bare "Internal error": the text of an exception never reaches the peer unless the MCP
layer chooses to send it).

Limits: at most `max_inflight` inbound requests are served at once; one more is refused at
once with `SERVER_BUSY` (-32000), never queued, so a flood cannot grow memory.
"""

from __future__ import annotations

import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

import anyio
import msgspec

from trimcp._backend import Wakeup, wakeup_factory
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
from trimcp.runtime.engine import FaultPolicy, Handler, PeerClosed, RequestEngine, internal_error

__all__ = ["FaultPolicy", "MessageStream", "Peer", "PeerClosed"]

logger = logging.getLogger("trimcp.runtime")


class MessageStream(Protocol):
    """One JSON-RPC message per `receive`/`send` (bytes, no framing)."""

    async def receive(self) -> bytes: ...

    async def send(self, message: bytes) -> None: ...


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


RequestHandler = Callable[[Request], Awaitable[Any]]
NotificationHandler = Callable[[Notification], Awaitable[None]]
_CLOSED_ERRORS = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)


class Peer:
    """Reads and writes one `MessageStream`; its `engine` serves and correlates.

    Args:
        stream: the message stream.
        handler: `await handler(request, channel)` serves a request (`channel` is the one
            given here); or `on_request(request)`, for a layer without channels.
        on_notification: called (in a task of its own) for each notification.
        on_fault: the fault policy for exceptions other than `McpError`.
        channel: passed to `handler` with every request.
        id_prefix: prefix of our outbound request ids.
        max_inflight: inbound requests in flight at once (None: no limit).
    """

    def __init__(
        self,
        stream: MessageStream,
        *,
        on_notification: NotificationHandler,
        handler: Handler | None = None,
        on_request: RequestHandler | None = None,
        on_fault: FaultPolicy = internal_error,
        channel: Any = None,
        id_prefix: str = "",
        max_inflight: int | None = None,
    ) -> None:
        if handler is None:
            if on_request is None:
                raise TypeError("Peer needs a handler or on_request")
            handler = _one_argument(on_request)
        self._stream = stream
        self._on_notification = on_notification
        self._channel = channel
        limit = sys.maxsize if max_inflight is None else max_inflight
        self.engine = RequestEngine(
            handler,
            fault=on_fault,
            limit=max_inflight,
            refusal=ErrorData(
                SERVER_BUSY,
                f"Too many concurrent requests: at most {limit} in flight per session",
            ),
            id_prefix=id_prefix,
        )
        # bound once: the per-request path allocates no bound methods
        self._admit = self.engine.admit
        self._serve_queued = self.engine.serve_queued
        # answers through the stream's `send_answer` if it has one (no cancellation point)
        self._answer_out: Callable[[bytes], Awaitable[None]] = getattr(
            stream, "send_answer", stream.send
        )
        self._send_bound = self._send_answer
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
            self._closed = True
            self.engine.close("connection closed")

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

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def running(self) -> bool:
        """Whether `run()` has started and not ended."""
        return self._task_group is not None and not self._closed

    def spawn(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> bool:
        """Run `fn(*args)` in the peer's task group (from synchronous code on the loop);
        False when the peer is not running (or its task group is closing)."""
        tg = self._task_group
        if tg is None or self._closed:
            return False
        try:
            tg.start_soon(fn, *args)
        except RuntimeError:  # the task group is closing
            return False
        return True

    def _dispatch(self, message: jsonrpc.Incoming) -> None:
        assert self._task_group is not None and self._workers is not None
        if isinstance(message, Request):
            refused = self._admit(message.id)
            if refused is not None:
                self._task_group.start_soon(self._send_error, message.id, refused)
                return
            self._workers.submit(self._serve_queued, message, self._channel, self._send_bound)
        elif isinstance(message, Notification):
            self._task_group.start_soon(self._notify, message)
        elif isinstance(message, Response | ErrorResponse):
            self.engine.resolve(message)
        elif isinstance(message, Invalid):
            self._task_group.start_soon(self._send_error, message.id, message.error)
        elif isinstance(message, Batch):
            self._task_group.start_soon(self._serve_batch, message)

    # -- inbound -------------------------------------------------------------------------

    async def wait_idle(self) -> None:
        """Return once no inbound request is in flight (its answer written, or cancelled and
        unwound), batch requests included; at once when the peer has closed."""
        await self.engine.wait_idle()

    def inflight_ids(self) -> list[RequestId]:
        """The ids of the inbound requests that can still be cancelled (not yet answered)."""
        return self.engine.inflight_ids()  # type: ignore[return-value]

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
        await self.engine.serve_batch(
            batch, channel=self._batch_channel, notify=self._notify, write=self._write_batch
        )

    def _batch_channel(self, _request: Request) -> Any:
        return self._channel

    async def _write_batch(self, replies: list[bytes]) -> None:
        if replies:
            await self._send(b"[" + b",".join(replies) + b"]")

    def cancel(self, request_id: RequestId, answer: ErrorData | None = None) -> bool:
        """Cancel an inbound request (on `notifications/cancelled`); unknown ids, and requests
        whose answer is already being written, are ignored. Returns whether it cancelled.
        `answer`: the error it is answered with once it unwinds (None: no answer)."""
        return self.engine.cancel(request_id, answer)

    async def cancel_inflight(self, answer: ErrorData) -> None:
        """Cancel every inbound request still in flight (the server is shutting down); each
        is answered with `answer` as it unwinds, a request of a batch in its batch's reply
        (`wait_idle()` waits for them)."""
        self.engine.cancel_inflight(answer)
        await anyio.lowlevel.checkpoint()

    # -- outbound ------------------------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        try:
            await self._stream.send(data)
        except _CLOSED_ERRORS:
            logger.debug("peer gone; message dropped")

    async def _send_answer(self, data: bytes) -> None:
        try:
            await self._answer_out(data)
        except _CLOSED_ERRORS:
            logger.debug("peer gone; message dropped")

    async def _send_error(self, request_id: RequestId | None, error: ErrorData) -> None:
        await self._send(jsonrpc.encode_error(request_id, error))

    def next_id(self) -> RequestId:
        return self.engine.next_id()

    async def request(
        self,
        method: str,
        params: Any = None,
        *,
        timeout: float | None = None,
        request_id: RequestId | None = None,
    ) -> msgspec.Raw:
        """Send a request and wait for its result; raise `McpError` for an error answer,
        `PeerClosed` when the connection ends first."""
        if self._closed:
            raise PeerClosed("connection closed")
        return await self.engine.request(
            self._stream.send,
            method,
            params,
            timeout=timeout,
            request_id=request_id,
            send_cancel=self._send,
        )

    async def notify(self, method: str, params: Any = None) -> None:
        await self._send(jsonrpc.encode_notification(method, params))


def _one_argument(on_request: RequestHandler) -> Handler:
    def handler(request: Request, _channel: Any) -> Awaitable[Any]:
        return on_request(request)

    return handler
