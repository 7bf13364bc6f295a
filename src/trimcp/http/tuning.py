"""How trimcp tunes hypercorn for its own servers: two pieces of its per-request machinery,
replaced (and faults fixed on the way).

Both keep hypercorn's contracts and change what a request costs (the small differences are
listed below). Measured on `tools/call` over 32 keep-alive connections (bench/http_bench.py,
asyncio): the keep-alive timer took a bare hypercorn app from about 3,640 to 4,015 req/s; one
write per response gave trimcp about 5% more.

**How they are put in place.** hypercorn builds both inside its connection code, by
module-global names and with no parameter to pass others: each connection's `TCPServer` makes
its timer (`AsyncioSingleTask()`/`TrioSingleTask()`) and its `ProtocolWrapper`, which makes an
`H11Protocol`. So trimcp serves with connection classes of its own: `TunedProtocolWrapper`
here (it builds `CoalescingH11Protocol`), and per backend a `TCPServer` subclass (whose timer
is `DeferredIdleTask` and whose `run` builds `TunedProtocolWrapper`) and the serve loop that
makes it (`trimcp.http.worker_asyncio`, `trimcp.http.worker_trio`: hypercorn's own loop, TCP
only). `trimcp.http.serve.serve_asgi` serves any ASGI app that way; `run_http` uses it, and
so does the benchmark's bare ceiling, so that the ceiling is what trimcp's own serving could
reach. Nothing in hypercorn's modules is replaced: any other hypercorn server in the process
(`hypercorn.asyncio.serve`, `hypercorn.trio.serve`) keeps hypercorn's own classes.
`check_hypercorn` verifies, before the first server starts, that the hypercorn internals
this builds on are as expected, and raises `RuntimeError` naming the installed hypercorn
version otherwise (a test also pins the hypercorn code the serve loops repeat).

**The keep-alive timer.** hypercorn gives every connection a "single task" that closes it
once it has been idle for `keep_alive_timeout`: the task is restarted after each response
and stopped when the next request begins. Its own implementation does that literally: every
request cancels a task (that sits in `wait_for`, itself a task) and every response spawns a
new one, about 40 µs of a hypercorn request's 270 µs on asyncio. `DeferredIdleTask` keeps
hypercorn's contract (`restart(task_group, action)`, `stop()`) but starts the action only
once the connection has stayed idle for `DEFER` to `2 * DEFER` seconds: a response costs a
counter increment, and a connection that gets its next request within `DEFER` never makes a
task at all. One watcher task per connection wakes every `DEFER` while the connection is
idle, and runs the action (in a cancel scope that `stop`/`restart` cancel) once no restart
came during a whole `DEFER`. It reads no clock, so it also runs under a test clock.
Differences: the keep-alive timeout counts from up to `2 * DEFER` after the response, and at
shutdown an idle connection is closed up to `2 * DEFER` later.

**One write per response.** hypercorn writes a response's head as soon as the app sends
`http.response.start`, and its body with the next message: two writes, two TCP segments, two
trips through the kernel's network stack (on loopback the costliest system call a request
makes). `CoalescingH11Protocol` holds the head of a small response, one that declares a
`Content-Length` of at most 64 KiB (and no `Transfer-Encoding`), and writes it with the
first body chunk or the end of the message. A response that ends before its body still gets
its head first, as with hypercorn. Everything else goes out as before: streamed responses
(SSE, chunked) and big ones send their head at once, so a client sees a stream open before
its first event. The one difference: a small `Content-Length` response whose body the app
is slow to produce shows its head only with that body.

**A connection closed by its peer is released at once.** hypercorn notices the end of stream
but, between requests, leaves the socket to the keep-alive timer: every closed connection
held its fd for `keep_alive_timeout` (5 s), and a client opening a connection per request
ran the server out of fds (3,000 in a row reached the 1,024 limit: "Too many open files").
`CoalescingH11Protocol` stops the timer and closes the socket when the peer's end of stream
(or a broken socket) comes between requests. During a request the app gets `http.disconnect`
and the connection closes when the app is done, as before.

**An answer sent before the request's body was read says `Connection: close`.** An app
that answers early (403 for a foreign `Origin`, 405, 406, 413, 415) leaves the rest of the
body unread, and hypercorn then closes the connection (h11 cannot reuse it), without saying
so: a keep-alive client sent its next request on it and got "Server disconnected without
sending a response" (a 1 MB POST refused, then a valid one: about half failed). RFC 9112
section 9.6: a server that closes after a response SHOULD send `Connection: close`.
`CoalescingH11Protocol` adds it to a response whose request body h11 has not wholly received;
a body received whole (a small one, pipelined requests) is consumed when the response ends,
so the connection stays open, as it does when the app has read the body. Nothing is read
from the socket for that: a hostile client's huge body is never read to keep its connection.
The cost on an ordinary response is one state check.

**A peer that half-closes after its requests gets their answers (asyncio).** hypercorn's
asyncio reader ends at the peer's end of stream without handing it on as empty `RawData`
when it came with the last data (pipelined requests, then `shutdown(SHUT_WR)`), so the
`Closed` that follows looked like a dead socket and the last request's answer was dropped.
A `Closed` while the transport can still be written counts as the peer's end of stream; the
connection then closes once that request is answered.

**A write racing hypercorn-trio's close is dropped.** On trio, hypercorn sends a closing
connection's EOF without its send lock; a response written at that moment (the app
answering a request whose body hypercorn has just refused) raised `BusyResourceError`, which
escaped hypercorn's connection task and ended the whole server: a few malformed requests
killed a trio server (pgjones/hypercorn#203). `CoalescingH11Protocol` treats it as the
connection gone (its trio subclass, `worker_trio.TrioCoalescingH11Protocol`, names the
error).

**What the app sends to a gone client is dropped.** Once a write to the socket has failed
(or the connection was closed on our side), hypercorn still framed every chunk the app sent
and wrote it to the dead socket: on asyncio each write raised inside the transport and was
logged ("socket.send() raised exception."), and the chunks stayed alive until the app
ended (a tool streaming 20,000 progress events of 20 KB after its client left grew the
process by 386 MB). `CoalescingH11Protocol` drops them and counts them in `dropped`. The
peer's end of stream alone does not count: it may be a half-close, and that peer still
reads its answer.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import h11
from hypercorn.events import Closed, RawData, Updated
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.events import StreamClosed
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.protocol.h11 import H11Protocol

__all__ = [
    "DEFER",
    "HYPERCORN_TESTED",
    "CoalescingH11Protocol",
    "DeferredIdleTask",
    "TunedProtocolWrapper",
    "check_hypercorn",
    "hypercorn_version",
]

logger = logging.getLogger("trimcp.http")

DEFER = 0.05  # seconds a connection stays idle before its keep-alive task starts


class DeferredIdleTask:
    """hypercorn's `SingleTask` protocol, for the keep-alive timer of one connection."""

    __slots__ = ("_action", "_restarts", "_scope", "_watching")

    def __init__(self) -> None:
        self._action: Callable[[], Awaitable[Any]] | None = None  # None: a request is on
        self._restarts = 0  # responses so far: the watcher's sign that the connection was busy
        self._scope: anyio.CancelScope | None = None  # around the running action
        self._watching = False

    async def restart(self, task_group: Any, action: Callable[[], Awaitable[Any]]) -> None:
        self._cancel_action()
        self._restarts += 1
        self._action = action
        if not self._watching:
            self._watching = True
            task_group.spawn(self._watch)

    async def stop(self) -> None:
        self._action = None
        self._cancel_action()

    def _cancel_action(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None

    async def _watch(self) -> None:
        try:
            while self._action is not None:
                seen = self._restarts
                await anyio.sleep(DEFER)
                action = self._action
                if action is None or self._restarts != seen:
                    continue  # busy now, or a response since: not idle for a whole DEFER
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    await action()
                if self._scope is scope:
                    self._scope = None
                if not scope.cancelled_caught:
                    return  # the action ran its course (it closes the connection)
                # stopped or restarted while running: watch the next idle period, if any
        finally:
            self._watching = False


_COALESCE_LIMIT = 1 << 16  # bigger bodies: head at once, body not copied onto it


class CoalescingH11Protocol(H11Protocol):
    """hypercorn's HTTP/1.1 protocol, writing a small `Content-Length` response's head
    together with its body, and closing an idle connection whose peer has gone (see the
    module's docstring)."""

    _busy: tuple[type[BaseException], ...] = ()  # trio's subclass: (BusyResourceError,)
    _held: bytes | None = None  # the head written by h11 and not yet sent
    _released = False  # the connection was closed for its peer's end of stream
    _eof = False  # the peer's end of stream was just read: it may still read (half-close)
    _half_closed = False  # that end of stream came: once the answer is out, close
    _gone = False  # writing failed, or we closed: whatever the app still sends is dropped
    dropped = 0  # events the app sent after that

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # asyncio: hypercorn's TCPServer (whose bound `protocol_send` is `send`) and its
        # writer, to tell a peer's half-close from a dead socket (see `_still_writable`)
        self._writer = getattr(getattr(self.send, "__self__", None), "writer", None)
        if self._busy:
            self._socket_send = self.send
            self.send = self._send_unless_closing

    async def _send_unless_closing(self, event: Any) -> None:
        try:
            await self._socket_send(event)
        except self._busy:
            # trio: hypercorn's TCPServer sends its EOF without the send lock when it closes a
            # connection, so a write racing the close (the app answering while hypercorn
            # refuses a broken request: a bad chunk, a body shorter than announced) finds the
            # stream busy. That escaped hypercorn's connection task and ended the whole
            # server (upstream pgjones/hypercorn#203). The connection is closing: drop it.
            self._gone = True
            self.dropped += 1

    async def handle(self, event: Any) -> None:
        between_requests = self.stream is None
        kind = type(event)
        if kind is RawData:
            if not event.data:
                self._eof = True  # hypercorn follows this with `Closed`
        elif kind is Closed:
            if self._eof or self._still_writable():
                self._eof = False  # that end of stream: a half-closed peer still reads
                self._half_closed = True
            else:
                self._gone = True  # a failed write, a timeout, or our own close
        await super().handle(event)
        if type(event) is Closed and between_requests and not self._released:
            # The peer closed (or the socket broke) between requests: hypercorn would keep
            # the socket until the keep-alive timer fires (`keep_alive_timeout`, 5 s), so a
            # client that opens a connection per request holds an fd each for that long.
            # Stop the timer and close now. (During a request hypercorn tells the app
            # `http.disconnect` and closes once the app is done, as before.) The flag also
            # ends the recursion of trio's `protocol_send(Closed())`, which hands `Closed`
            # back to `handle`.
            self._released = True
            await self.send(Updated(idle=False))
            await self.send(Closed())

    async def _send_h11_event(self, event: Any) -> None:
        if self._gone:
            # hypercorn would still frame every chunk and write it to the dead socket (on
            # asyncio each write raises inside the transport and is logged: "socket.send()
            # raised exception."), and the chunks piled up until the app ended: 20,000
            # progress events of 20 KB after a client left grew the process by 386 MB.
            if not self.dropped:
                logger.debug("client gone: dropping what the app still sends")
            self.dropped += 1
            return
        connection = self.connection
        head = type(event) is h11.Response
        if head and connection.their_state is h11.SEND_BODY and not _body_buffered(connection):
            # An early answer (403, 406, 413, 415...): the request's body has not been read,
            # and hypercorn will close the connection after this response (h11 cannot reuse
            # it). Say so, as RFC 9112 section 9.6 asks: a keep-alive client would otherwise
            # send its next request on it and see "Server disconnected". (A body already
            # received whole is consumed when the response ends: see `stream_send`.)
            event = _closing(event)
        try:
            data = connection.send(event)
        except h11.LocalProtocolError:
            if connection.their_state != h11.ERROR:
                raise
            return  # as hypercorn: nothing to send to a client that broke the protocol
        if head and _small_body(event.headers):
            self._held = data
            return
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        if data:  # the end of a Content-Length body is no bytes at all
            await self.send(RawData(data=data))

    async def stream_send(self, event: Any) -> None:
        if type(event) is not StreamClosed:
            await super().stream_send(event)
            return
        if self._held is not None:
            held, self._held = self._held, None  # the response ended before its body
            await self.send(RawData(data=held))
        connection = self.connection
        if connection.their_state is h11.SEND_BODY and connection.our_state is h11.DONE:
            # answered early, the rest of the body already received (`_send_h11_event` said
            # keep-alive): consume it, so that hypercorn reuses the connection rather than
            # closing it unannounced (on trio the app may answer before hypercorn has parsed
            # the end of a body it holds whole).
            _finish_buffered_body(connection)
        await super().stream_send(event)
        if self._half_closed and not self._released and self.stream is None:
            # The peer half-closed during the request and has its answer: nothing more can
            # come. hypercorn would keep the socket until the keep-alive timer fires.
            self._released = True
            await self.send(Updated(idle=False))
            await self.send(Closed())

    def _still_writable(self) -> bool:
        """asyncio: whether the socket can still be written to when hypercorn hands us
        `Closed`. Its reader ends at the peer's end of stream without passing it on as
        empty `RawData` (as trio's does) when that end came with the last data: a peer that
        half-closed after pipelining requests still reads their answers, and a failed write
        (or our own close) leaves the transport closing."""
        writer = self._writer
        if writer is None:
            return False
        transport = getattr(writer, "transport", None)
        return transport is not None and not transport.is_closing()


def _body_buffered(connection: h11.Connection) -> bool:
    """Whether h11 already holds the rest of the request body (a `Content-Length` body;
    a chunked one counts as not). h11 offers no public way to ask: its reader's `_remaining`
    and its receive buffer; anything unexpected answers False (the connection then closes,
    announced)."""
    remaining = getattr(getattr(connection, "_reader", None), "_remaining", None)
    buffer = getattr(connection, "_receive_buffer", None)
    return type(remaining) is int and buffer is not None and len(buffer) >= remaining


def _finish_buffered_body(connection: h11.Connection) -> None:
    """Consume the request body h11 already holds, up to its end (the app has answered and
    wants no more of it). Reads nothing from the socket: a body still arriving stays unread
    and the connection closes."""
    while connection.their_state is h11.SEND_BODY:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError:
            return
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return


def _closing(response: h11.Response) -> h11.Response:
    """`response` with `Connection: close` (any other `Connection` header dropped)."""
    headers = [(name, value) for name, value in response.headers if name != b"connection"]
    headers.append((b"connection", b"close"))
    return h11.Response(
        status_code=response.status_code,
        headers=headers,
        reason=response.reason,
        http_version=response.http_version,
    )


def _small_body(headers: Any) -> bool:
    """Whether response headers (h11 lowercases the names) declare a body of a known,
    small length."""
    small = False
    for name, value in headers:
        if name == b"content-length":
            small = value.isdigit() and int(value) <= _COALESCE_LIMIT
        elif name == b"transfer-encoding":
            return False  # h11 frames the body by this, whatever Content-Length says
    return small


class TunedProtocolWrapper(ProtocolWrapper):
    """hypercorn's `ProtocolWrapper` (HTTP/1.1, switching to HTTP/2 when the client asks),
    whose HTTP/1.1 protocol is `h11_class`."""

    h11_class: type[H11Protocol] = CoalescingH11Protocol

    def __init__(
        self,
        app: Any,
        config: Any,
        context: Any,
        task_group: Any,
        state: Any,
        ssl: bool,
        client: tuple[str, int] | None,
        server: tuple[str, int] | None,
        send: Callable[[Any], Awaitable[None]],
        alpn_protocol: str | None = None,
    ) -> None:
        # hypercorn's own `__init__` sets these and builds its `H11Protocol`: not called, so
        # that a connection builds one protocol, not two (`handle` reads these attributes
        # when it switches to HTTP/2)
        self.app = app
        self.config = config
        self.context = context
        self.task_group = task_group
        self.ssl = ssl
        self.client = client
        self.server = server
        self.send = send
        self.state = state
        protocol_class: type[H11Protocol | H2Protocol] = (
            H2Protocol if alpn_protocol == "h2" else self.h11_class
        )
        self.protocol = protocol_class(
            app, config, context, task_group, state, ssl, client, server, send
        )


# What trimcp's tuned serving builds on, beyond hypercorn's public `serve`: "module:Class"
# -> the parameters its constructor takes (positionally, as hypercorn's code passes them)
# and the attributes trimcp's classes use or override.
_HYPERCORN_COMMON: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "hypercorn.protocol:ProtocolWrapper": (
        (
            "app", "config", "context", "task_group", "state", "ssl", "client", "server",
            "send", "alpn_protocol",
        ),
        ("handle", "initiate"),
    ),
    "hypercorn.protocol.h11:H11Protocol": (
        (
            "app", "config", "context", "task_group", "connection_state", "ssl", "client",
            "server", "send",
        ),
        ("handle", "stream_send", "_send_h11_event"),
    ),
    "hypercorn.protocol.h2:H2Protocol": (
        (
            "app", "config", "context", "task_group", "connection_state", "ssl", "client",
            "server", "send",
        ),
        ("handle", "initiate"),
    ),
    "hypercorn.config:Config": (
        (),
        ("create_sockets", "create_ssl_context", "set_statsd_logger_class"),
    ),
    "hypercorn.utils:raise_shutdown": (("shutdown_event",), ()),
    "hypercorn.utils:wrap_app": (("app", "wsgi_max_body_size", "mode"), ()),
}  # fmt: skip
_TCP_SERVER_ATTRIBUTES = (
    "run",
    "protocol_send",
    "_read_data",
    "_close",
    "_idle_timeout",
    "_initiate_server_close",
)
_HYPERCORN_BACKEND: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "asyncio": {
        "hypercorn.asyncio.tcp_server:TCPServer": (
            ("app", "loop", "config", "context", "state", "reader", "writer"),
            _TCP_SERVER_ATTRIBUTES,
        ),
        "hypercorn.asyncio.lifespan:Lifespan": (
            ("app", "config", "loop", "lifespan_state"),
            ("handle_lifespan", "wait_for_startup", "wait_for_shutdown"),
        ),
        "hypercorn.asyncio.worker_context:WorkerContext": (("max_requests",), ()),
        "hypercorn.asyncio.task_group:TaskGroup": (("loop",), ()),
    },
    "trio": {
        "hypercorn.trio.tcp_server:TCPServer": (
            ("app", "config", "context", "state", "stream"),
            _TCP_SERVER_ATTRIBUTES,
        ),
        "hypercorn.trio.lifespan:Lifespan": (
            ("app", "config", "state"),
            ("handle_lifespan", "wait_for_startup", "wait_for_shutdown"),
        ),
        "hypercorn.trio.worker_context:WorkerContext": (("max_requests",), ()),
        "hypercorn.trio.task_group:TaskGroup": ((), ()),
    },
}

HYPERCORN_TESTED = "0.18.0"  # the hypercorn whose code trimcp's serve loops were written from


def check_hypercorn(backend: str) -> None:
    """Check that the installed hypercorn has the internals trimcp's tuned serving on
    `backend` builds on: its connection, protocol, lifespan and worker-context classes with
    the constructors and methods trimcp's subclasses and serve loop use.

    Raises:
        RuntimeError: something differs; the message names the installed hypercorn, the one
            trimcp was written against and what differs.
    """
    problems: list[str] = []
    for where, (parameters, attributes) in {
        **_HYPERCORN_COMMON,
        **_HYPERCORN_BACKEND[backend],
    }.items():
        module_name, _, name = where.partition(":")
        try:
            value = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            problems.append(f"{module_name}.{name} is gone")
            continue
        if parameters and not _takes(value, parameters):
            problems.append(f"{module_name}.{name} does not take {parameters}")
        missing = [attribute for attribute in attributes if not hasattr(value, attribute)]
        if missing:
            problems.append(f"{module_name}.{name} has no {', '.join(missing)}")
    if problems:
        raise RuntimeError(
            f"trimcp's hypercorn serving ({backend}) was written for hypercorn "
            f"{HYPERCORN_TESTED} and does not fit the installed hypercorn "
            f"{hypercorn_version()}: {'; '.join(problems)}"
        )


def _takes(function: Any, parameters: tuple[str, ...]) -> bool:
    """Whether `function` takes `parameters` first, in that order, and nothing else without
    a default (so hypercorn's positional calls, which trimcp's code repeats, still fit)."""
    try:
        found = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    names = tuple(parameter.name for parameter in found[: len(parameters)])
    required_extra = [
        parameter
        for parameter in found[len(parameters) :]
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    return names == parameters and not required_extra


def hypercorn_version() -> str:
    """The installed hypercorn's version (`"unknown"` if its metadata is missing)."""
    try:
        return importlib.metadata.version("hypercorn")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
