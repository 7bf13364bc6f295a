"""uvicorn as `trimcp.http.serve.run_http` drives it (`server="uvicorn"`): asyncio only.

`run_http` owns everything around the server, as it does for hypercorn (its module docstring
is the theory of operation): it binds the socket (port 0, `TCP_NODELAY`), enters the app's
lifespan once in its own task, reports the address, and on cancellation stops the server,
ends the endpoints' streams, gives requests in flight the grace period, then has the
endpoints answer those still running. This module only adapts uvicorn to that:

- `uvicorn.Server.serve(sockets=[sock])` on the socket `run_http` bound; `lifespan="off"`
  (the lifespan is `run_http`'s); `task_status.started()` once uvicorn listens.
- uvicorn installs no signal handlers (`capture_signals` does nothing here): SIGTERM/SIGINT
  reach `FastMCP.run`/`trimcp run`, which cancel the serving task; `stop()` is uvicorn's
  own graceful exit (`should_exit`: stop accepting, close each connection once its response
  is done), its own cut (`timeout_graceful_shutdown`) our grace period plus a margin.
- One write per response, as under hypercorn (`trimcp.http.tuning`): uvicorn writes a
  response's head when the app sends `http.response.start` and its body with the next
  message, two system calls and two TCP segments. `HeadLimitedHttpToolsProtocol` gives the
  request's cycle a transport that holds what a response writes in the loop iteration in
  which it starts (its head, and the body that usually follows at once, up to 64 KiB) and
  writes it at once when that iteration's callbacks have run (`call_soon`): a streamed
  response's head is never held past the iteration in which the app sent it, later writes
  go straight out, and nothing is reordered. `close()` writes what is held first. The
  responses finished in one iteration thus leave back to back, after the work of that
  iteration: a client on the same host (a local proxy, the benchmark's wrk) is woken once
  for several of them, not once per response while the server computes the next. Measured
  with an async tool, 32 connections: 1.33x the requests per second of writing each
  response as soon as its body is sent, whose wake-ups of the reader took 16% of the CPU.
- The keep-alive timeout without a timer per request, as under hypercorn: uvicorn arms a
  `call_later` after every response and cancels it on the next read. Here one check per
  idle period runs `timeout_keep_alive` after the connection fell idle and closes it if
  nothing was read or answered since (else it looks again one timeout later): an idle
  connection closes between one and two timeouts after its last response, a busy one never
  pays for a timer. `on_response_complete` repeats uvicorn's own (its `call_later`
  replaced); tests/test_http_uvicorn.py pins the uvicorn code this relies on.
- The request head is bounded as under hypercorn: `HeadLimitedHttpToolsProtocol` refuses a
  head larger than `max_header_size` (default 16 KiB, uvicorn's own name for it is
  `h11_max_incomplete_event_size`) with 431 and closes the connection, whether the head
  is still arriving or came whole; with `http="h11"` uvicorn's h11 limit applies (400).
  Bodies are bounded by the app itself, as under hypercorn.
- Quiet as trimcp's hypercorn: a request cut at the end of the grace period logs no
  traceback (a filter on `uvicorn.error`, installed once); no access log; uvicorn's error
  log at `log_level` (default warning) and its logging config not applied (records go to
  the `uvicorn.*` loggers as any library's); `X-Forwarded-*` not trusted
  (`proxy_headers=False`), as under hypercorn; no WebSocket protocol (`ws="none"`: trimcp
  serves none; set `ws` to serve one of your own).
- uvicorn's request callbacks (`on_message_begin`, `on_headers_complete`,
  `on_message_complete`, `data_received`) are repeated with trimcp's additions rather than
  called through `super()`: a Python call fewer for each on every request, 1.01-1.05x the
  requests per second (paired rounds, 32 connections). tests/test_http_uvicorn.py pins the
  uvicorn code repeated.

asyncio, kept to the least: nothing of asyncio is imported here. uvicorn runs on the asyncio
loop already running (`run_http` checked it is asyncio; uvloop if the caller started the
loop on it); its per-connection protocol objects are asyncio protocols, and the transport
calls made here are uvicorn's own (`is_closing`, `write`, `close`, flow control) and the
holding transport's; the request cycle's event class comes from the backend seam
(`trimcp._backend.asyncio_event_class`); the loop's cancellation exception is named through
`anyio.get_cancelled_exc_class()`.

Everything in `uvicorn_config` is passed to `uvicorn.Config` as given, except what trimcp
owns: `lifespan` (always off), `timeout_graceful_shutdown` (the grace period when
`graceful_timeout` is not given), `loop` (the running loop serves), and `host`/`port` (read by
`run_http`); `uds`, `fd`, `reload`, `workers` are refused (`ValueError`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import anyio
import anyio.abc
import httptools
import uvicorn
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from trimcp._backend import asyncio_event_class
from trimcp.http.held_writes import HeldWrites
from trimcp.http.serve import DEFAULT_GRACEFUL_TIMEOUT

__all__ = ["DEFAULT_MAX_HEADER_SIZE", "HeadLimitedHttpToolsProtocol", "UvicornServing"]

logger = logging.getLogger("trimcp.http")

DEFAULT_MAX_HEADER_SIZE = 16 * 1024  # hypercorn's and h11's default
_REFUSED = ("uds", "fd", "reload", "workers", "app")
_IGNORED = ("loop", "lifespan", "host", "port")
_TOO_LARGE = b"Request Header Fields Too Large"
_new_event = asyncio_event_class()  # each request cycle's event, as uvicorn makes it


class _HeadTooLargeError(Exception):
    """Raised out of the parser's callback to stop it (uvicorn then calls
    `send_400_response`, which answers 431 for this)."""


class _HeadHoldingTransport:
    """A connection's transport, holding the writes of each response's first loop iteration
    (see the module docstring; `trimcp.http.held_writes`); everything else is the
    transport's own."""

    __slots__ = ("_hold", "_transport", "_writes")

    def __init__(self, transport: Any, call_soon: Callable[[Callable[[], None]], object]) -> None:
        self._transport = transport
        # as uvicorn would have written it, closing or not
        self._writes = HeldWrites(transport.write, call_soon)
        self._hold = False

    def hold_next(self) -> None:
        """Hold the next write (a response's head), and those after it in this loop
        iteration, until the end of the iteration."""
        self._hold = True

    def write(self, data: bytes) -> None:
        if self._hold or self._writes.holding:
            self._hold = False
            self._writes.hold(bytes(data))  # (a copy only of what is not `bytes`)
            return
        self._transport.write(data)

    def flush(self) -> None:
        """Write what is held, if anything (before closing)."""
        self._writes.flush()

    def is_closing(self) -> bool:
        return self._transport.is_closing()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._writes.drop()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the request head bounded by
    `config.h11_max_incomplete_event_size` bytes (request line and headers, up to but not
    including the blank line), as hypercorn bounds it: a longer head gets 431 and the
    connection is closed.

    While a head arrives over several reads, the bytes received since it began are counted
    (httptools buffers a header until it is whole, so its callbacks cannot bound it). A head
    that begins after another request ended in the same read (pipelining) is counted from
    the next read: what it has in that read is bounded by the read's size. A whole head is
    measured as its request line and `name: value` lines.

    Each response is written at once, head and body (`_HeadHoldingTransport`)."""

    head_open = False  # a head has begun and is not complete yet
    head_seen = 0  # its bytes counted so far
    head_began_here = False  # it began in the read being parsed
    head_after_another = False  # ... after a request that ended in that read
    ended_here = False  # a request ended in the read being parsed
    head_refused = False
    head_limit = DEFAULT_MAX_HEADER_SIZE  # the connection's (`connection_made`)
    read_size = 0  # bytes in the read being parsed
    reads = 0  # reads so far
    responses = 0  # responses completed so far
    idle_check: Any = None  # the armed keep-alive check (`TimerHandle`)
    idle_mark: tuple[int, int] = (0, 0)  # (reads, responses) when it was armed

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.transport = _HeadHoldingTransport(transport, self.loop.call_soon)  # type: ignore[assignment]
        limit = self.config.h11_max_incomplete_event_size
        self.head_limit = DEFAULT_MAX_HEADER_SIZE if limit is None else limit

    # -- the keep-alive timeout, without a timer per request --------------------------------

    def _unset_keepalive_if_required(self) -> None:
        """uvicorn cancels its timer on every read and arms a new one after every response
        (a timer made and cancelled per request); here one check per idle period does."""

    def on_response_complete(self) -> None:
        # uvicorn's, with `_arm_idle_check` for its `call_later`
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self.responses += 1
            if self.idle_check is None:
                self._arm_idle_check()

    def _arm_idle_check(self) -> None:
        self.idle_mark = (self.reads, self.responses)
        self.idle_check = self.loop.call_later(self.timeout_keep_alive, self._check_idle)

    def _check_idle(self) -> None:
        """`timeout_keep_alive` after arming: close the connection if nothing was read or
        answered since, and no request is in progress; otherwise look again one timeout
        later (so an idle connection closes between one and two timeouts after it fell
        idle, and one in use never pays for a timer)."""
        self.idle_check = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed, or upgraded (a WebSocket protocol has the connection now)
        busy = self.cycle is not None and not self.cycle.response_complete
        if busy:  # its response's completion arms the next check
            return
        if (self.reads, self.responses) == self.idle_mark:
            self.timeout_keep_alive_handler()
        else:
            self._arm_idle_check()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle_check is not None:
            self.idle_check.cancel()
            self.idle_check = None
        super().connection_lost(exc)

    # -- the request's callbacks: uvicorn's own, with the head bounded and its answer held
    # (repeated, not called through `super()`: see the module docstring)

    def on_message_begin(self) -> None:
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self.scope = {  # type: ignore[typeddict-item]
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,  # type: ignore[typeddict-item]
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }
        self.head_open = True
        self.head_seen = 0
        self.head_began_here = True
        self.head_after_another = self.ended_here

    def on_headers_complete(self) -> None:
        self.head_open = False
        parser = self.parser
        # a head that began in this read is no longer than the read: measured only if the
        # read is longer than the limit
        if not self.head_began_here or self.read_size > self.head_limit:
            size = len(parser.get_method()) + len(self.url) + 12  # 2 SP, HTTP/1.1, CRLF
            for name, value in self.headers:
                size += len(name) + len(value) + 4
            if size > self.head_limit:
                self.head_refused = True
                raise _HeadTooLargeError
        transport = self.transport
        if isinstance(transport, _HeadHoldingTransport):  # (unless a subclass replaced it)
            transport.hold_next()
        http_version = parser.get_http_version()
        scope = self.scope
        scope["method"] = parser.get_method().decode("ascii")
        if http_version != "1.1":
            scope["http_version"] = http_version
        if parser.should_upgrade() and self._should_upgrade():
            return
        parsed_url = httptools.parse_url(self.url)
        raw_path = parsed_url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope["path"] = self.root_path + path
        scope["raw_path"] = self.root_path.encode("ascii") + raw_path
        scope["query_string"] = parsed_url.query or b""
        if self.limit_concurrency is not None and (
            len(self.connections) >= self.limit_concurrency
            or len(self.tasks) >= self.limit_concurrency
        ):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        else:
            app = self.app
        existing_cycle = self.cycle
        self.cycle = RequestResponseCycle(
            scope=scope,
            transport=transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=_new_event(),
            expect_100_continue=self.expect_100_continue,
            keep_alive=http_version != "1.0" and parser.should_keep_alive(),
            on_response=self.on_response_complete,
        )
        if existing_cycle is None or existing_cycle.response_complete:
            self._start_asgi_task(self.cycle, app)
        else:  # pipelined: queued
            self.flow.pause_reading()
            self.pipeline.appendleft((self.cycle, app))

    def on_message_complete(self) -> None:
        self.ended_here = True
        cycle = self.cycle
        if (self.parser.should_upgrade() and self._should_upgrade()) or cycle.response_complete:
            return
        cycle.more_body = False
        cycle.message_event.set()

    def data_received(self, data: bytes) -> None:
        # (uvicorn's first calls `_unset_keepalive_if_required`, which does nothing here)
        self.ended_here = False
        self.read_size = len(data)
        self.reads += 1
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        if self.head_open and not self.transport.is_closing():
            if not (self.head_began_here and self.head_after_another):
                self.head_seen += len(data)
            self.head_began_here = False
            if self.head_seen > self.head_limit:
                self.refuse_head()

    def send_400_response(self, msg: str) -> None:
        if self.head_refused:
            self.refuse_head()
        else:
            super().send_400_response(msg)

    def refuse_head(self) -> None:
        """Answer 431 and close the connection."""
        self.head_open = False
        self.head_refused = False
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content += [name, b": ", value, b"\r\n"]
        content += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(_TOO_LARGE),
            b"connection: close\r\n\r\n",
            _TOO_LARGE,
        ]
        self.transport.write(b"".join(content))
        self.transport.close()


class _Server(uvicorn.Server):
    """uvicorn's `Server`, without signal handlers, reporting when it listens."""

    started_callback: Callable[[], object] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals are the embedding program's: it cancels `run_http`

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.started_callback is not None:
            self.started_callback()


class UvicornServing:
    """uvicorn serving `app` as `run_http` drives it (`trimcp.http.serve.ServingServer`).

    Args:
        app: the ASGI app (its lifespan is entered by `run_http`, never by uvicorn).
        log_level: uvicorn's error log level (default `warning`).
        graceful_timeout: seconds requests in flight get on shutdown (default
            `uvicorn_config`'s `timeout_graceful_shutdown`, else 3).
        max_header_size: the request head bound (default `uvicorn_config`'s
            `h11_max_incomplete_event_size`, else 16 KiB).
        uvicorn_config: `uvicorn.Config` options (see the module docstring).
        cut_margin: uvicorn cuts what is still open `cut_margin` seconds after the grace
            period (`timeout_graceful_shutdown`).

    Raises:
        ValueError: an option trimcp does not serve with (`uds`, `fd`, `reload`, `workers`).
        TypeError: an option `uvicorn.Config` does not have.
    """

    def __init__(
        self,
        app: Any,
        *,
        log_level: str | None = None,
        graceful_timeout: float | None = None,
        max_header_size: int | None = None,
        uvicorn_config: Mapping[str, Any] | None = None,
        cut_margin: float = 1.0,
    ) -> None:
        options = dict(uvicorn_config or {})
        for key in _REFUSED:
            if key in options and not (key == "workers" and options[key] in (None, 1)):
                raise ValueError(
                    f"uvicorn_config[{key!r}]: trimcp serves in this process on the socket it "
                    "binds (use host= and port=; trimcp run --reload to reload)"
                )
        for key in _IGNORED:
            if options.pop(key, None) is not None:
                logger.debug("uvicorn option %r is trimcp's own; ignored", key)
        options.pop("workers", None)
        if graceful_timeout is None:
            graceful_timeout = options.get("timeout_graceful_shutdown")
        self.grace = DEFAULT_GRACEFUL_TIMEOUT if graceful_timeout is None else graceful_timeout
        self.grace = float(self.grace)
        options["timeout_graceful_shutdown"] = self.grace + cut_margin
        if max_header_size is not None:
            options["h11_max_incomplete_event_size"] = int(max_header_size)
        if options.get("http", "auto") in ("auto", "httptools"):
            options["http"] = HeadLimitedHttpToolsProtocol
        options.setdefault("log_config", None)
        options.setdefault("log_level", (log_level or "warning").lower())
        options.setdefault("access_log", False)
        options.setdefault("proxy_headers", False)
        options.setdefault("ws", "none")
        options.setdefault("interface", "asgi3")
        self.config = uvicorn.Config(app, lifespan="off", **options)
        self.backlog = self.config.backlog
        self.tls = self.config.is_ssl or self.config.ssl_context_factory is not None
        self.server = _Server(self.config)

    async def serve(self, sock: socket.socket, *, task_status: anyio.abc.TaskStatus[Any]) -> None:
        """Serve on `sock` until stopped (uvicorn closes it); started once uvicorn listens."""
        self.server.started_callback = task_status.started
        _quiet_cut()
        await self.server.serve(sockets=[sock])

    def stop(self) -> None:
        """uvicorn's graceful exit: within its next tick (0.1 s) it stops accepting, closes
        idle connections and each busy one once its response is done, and returns when all
        are closed (or at its cut)."""
        self.server.should_exit = True


class _QuietCut(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" traceback for a request cancelled by
    the loop's own cancellation: only uvicorn's cut at the end of its grace period does that
    to the task of a request (the app's own cancel scopes never let it out). As under
    hypercorn, the cut is no error; uvicorn still logs one line saying how many it cut."""

    def __init__(self, cancelled: type[BaseException]) -> None:
        super().__init__()
        self.cancelled = cancelled

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, self.cancelled)


@functools.cache
def _quiet_cut() -> None:
    """Install `_QuietCut` on uvicorn's error log, once per process (called on asyncio): the
    tracebacks come from the cut tasks after `Server.serve` has returned, so it stays."""
    logging.getLogger("uvicorn.error").addFilter(_QuietCut(anyio.get_cancelled_exc_class()))
