"""`run_http`: serve a server's app with hypercorn on whichever backend is running, or with
uvicorn on asyncio (`server="uvicorn"`, `trimcp.http.serve_uvicorn`); `serve_asgi`: serve any
ASGI app with hypercorn the same way.

Both serve with trimcp's tuned hypercorn connections (`trimcp.http.tuning`: a keep-alive
timer without a task per request, one write per small response, and fixes for closing
connections), through trimcp's own per-backend serve loops (`trimcp.http.worker_asyncio`,
`trimcp.http.worker_trio`) built from hypercorn's pieces. Nothing in hypercorn's modules is
replaced: a `hypercorn.asyncio.serve` or `hypercorn.trio.serve` elsewhere in the process
serves with hypercorn's own classes. The first server on a backend checks that the installed
hypercorn still has what those loops build on (`tuning.check_hypercorn`).

Theory of operation (the same for both servers; "the server" is hypercorn or uvicorn):

0. Choose the server before anything is built or bound: hypercorn by default and always
   under trio; uvicorn when asked for (`server="uvicorn"`, or FastMCP's `uvicorn_config=` on
   asyncio), refused under trio and when it is not installed.
1. Build the app (`create_app`) and bind the listening socket ourselves (so port 0 works and
   the bound address is known at once, on both backends; `TCP_NODELAY` is inherited by the
   accepted sockets). hypercorn gets it as `fd://N`, uvicorn as `serve(sockets=[sock])`.
2. Enter the app's lifespan here, in this task (server lifespan + endpoints' `running()`);
   the server runs no lifespan of its own (hypercorn: `lifespan=False`; uvicorn: off), so the
   lifespan runs exactly once and is exited by the task that entered it.
3. Run the server in a child task inside a *shielded* cancel scope, and report the address
   to `task_status` once it listens.
4. When this task is cancelled (or the server stops on its own), shield the rest of the
   shutdown from that cancellation, then: stop the server (`stop()`: it stops accepting and
   closes each connection once its response is done), end the endpoints' streams
   (`shutdown()`: open SSE responses would otherwise hold their connections for the whole
   grace period; new requests get 503), and give the requests in flight the grace period
   (`graceful_timeout`) to finish. Those still running then are cancelled through the
   endpoints (`cancel_inflight()`), which answer each with a JSON-RPC error; the server's
   own grace period is ours plus a margin, so it cuts a connection only if that answer did
   not get out in time. Cut the server ourselves if it overstays, and exit the lifespan.

Signals are not handled here, nor by uvicorn (its signal handlers are never installed):
`FastMCP.run` and `trimcp run` turn SIGTERM/SIGINT into the cancellation of this task
(`trimcp.core.running.serve_until_signalled`); an application that embeds `run_http` cancels
it itself.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

import anyio
import anyio.abc

from trimcp._backend import quiet_cancelled_connections, running_backend
from trimcp.http.app import create_app
from trimcp.http.asgi import ASGIApp
from trimcp.http.gc_tuning import serving_gc
from trimcp.settings import settings

if TYPE_CHECKING:
    from hypercorn.config import Config

__all__ = ["SERVERS", "ServerAddress", "build_config", "choose_server", "run_http", "serve_asgi"]

logger = logging.getLogger("trimcp.http")

DEFAULT_GRACEFUL_TIMEOUT = 3.0
_CUT_MARGIN = 1.0  # on top of the server's own grace period before we cancel it outright

SERVERS = ("hypercorn", "uvicorn")
"""The servers `run_http` serves with (`server=`)."""

# uvicorn option -> hypercorn Config attribute (value converter)
_UVICORN_TO_HYPERCORN: dict[str, tuple[str, Any]] = {
    "timeout_keep_alive": ("keep_alive_timeout", float),
    "timeout_graceful_shutdown": ("graceful_timeout", float),
    "limit_max_requests": ("max_requests", int),
    "backlog": ("backlog", int),
    "root_path": ("root_path", str),
    "ssl_keyfile": ("keyfile", str),
    "ssl_certfile": ("certfile", str),
    "ssl_keyfile_password": ("keyfile_password", str),
    "ssl_ca_certs": ("ca_certs", str),
    "ssl_ciphers": ("ciphers", str),
    "server_header": ("include_server_header", bool),
    "date_header": ("include_date_header", bool),
    "h11_max_incomplete_event_size": ("h11_max_incomplete_size", int),
}


class ServerAddress(NamedTuple):
    """Where the server listens: `host`, `port`, and the MCP endpoint's `url`."""

    host: str
    port: int
    url: str


class ServingServer(Protocol):
    """What `run_http` drives: one HTTP server (hypercorn or uvicorn) serving the app on a
    socket `run_http` bound; the app's lifespan is `run_http`'s, not the server's."""

    grace: float
    """Seconds in-flight requests get on shutdown; the server's own cut comes later."""
    backlog: int
    tls: bool

    async def serve(self, sock: socket.socket, *, task_status: anyio.abc.TaskStatus[Any]) -> None:
        """Serve on `sock` (listening) until stopped; `task_status.started()` once it accepts."""

    def stop(self) -> None:
        """Stop accepting; close each connection once its response is done (no wait)."""


def choose_server(
    server: str | None,
    *,
    backend: str,
    uvicorn_config: Mapping[str, Any] | None = None,
    hypercorn_config: Mapping[str, Any] | None = None,
) -> str:
    """The server `run_http` serves with on `backend`: `server` if given, else uvicorn when
    only `uvicorn_config` names one on asyncio (FastMCP's spelling), else hypercorn.

    Raises:
        ValueError: an unknown `server`, or `hypercorn_config` given for uvicorn.
        RuntimeError: uvicorn asked for under trio, or not installed.
    """
    if server is None:
        chosen = (
            "uvicorn"
            if uvicorn_config is not None and hypercorn_config is None and backend == "asyncio"
            else "hypercorn"
        )
    elif server in SERVERS:
        chosen = server
    else:
        raise ValueError(f"unknown HTTP server {server!r}: expected 'hypercorn' or 'uvicorn'")
    if chosen == "uvicorn":
        if backend != "asyncio":
            raise RuntimeError(
                f"uvicorn runs on asyncio only, not on {backend}: serve with hypercorn "
                "(server='hypercorn', the default) or run on asyncio"
            )
        if hypercorn_config is not None:
            raise ValueError("hypercorn_config applies to hypercorn, not to server='uvicorn'")
        _uvicorn_serving()  # not installed: refused here, before anything is built
    return chosen


@functools.cache
def _uvicorn_serving() -> Any:
    """`trimcp.http.serve_uvicorn`, or a clear error when uvicorn is not installed."""
    try:
        return importlib.import_module("trimcp.http.serve_uvicorn")
    except ImportError as exc:
        raise RuntimeError(
            f"server='uvicorn' needs uvicorn (with uvloop and httptools): "
            f"pip install 'trimcp[uvicorn]' ({exc})"
        ) from exc


class _HypercornServing:
    """hypercorn as `run_http` drives it (`ServingServer`): trimcp's tuned serve loop, without
    a lifespan of its own, stopped by a trigger."""

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.config = config
        self.grace = config.graceful_timeout
        # hypercorn cuts the connections still open after its grace period: give the
        # endpoints time to answer the requests they cancel at the end of ours first
        config.graceful_timeout = self.grace + _CUT_MARGIN
        self.backlog = config.backlog
        self.tls = bool(config.ssl_enabled)
        self.trigger = anyio.Event()

    async def serve(self, sock: socket.socket, *, task_status: anyio.abc.TaskStatus[Any]) -> None:
        self.config.bind = [f"fd://{sock.detach()}"]
        await serve_asgi(
            self.app,
            self.config,
            shutdown_trigger=self.trigger.wait,
            task_status=task_status,
            lifespan=False,
        )

    def stop(self) -> None:
        self.trigger.set()


def _log_level_name(level: str | int | None) -> str | None:
    if level is None:
        return None
    if isinstance(level, int):
        return logging.getLevelName(level)
    name = level.upper()
    return "DEBUG" if name == "TRACE" else name


def build_config(
    *,
    log_level: str | None = None,
    graceful_timeout: float | None = None,
    max_header_size: int | None = None,
    uvicorn_config: Mapping[str, Any] | None = None,
    hypercorn_config: Mapping[str, Any] | None = None,
) -> Config:
    """The hypercorn `Config` `run_http` serves with: access log off, hypercorn's error log
    at `log_level` (default `WARNING`), `graceful_timeout` 3 s, the headers hypercorn adds to
    every response made once per second; then `uvicorn_config` (the options with a hypercorn
    meaning), `graceful_timeout`, `max_header_size` and `hypercorn_config` (attributes, set
    last) applied. See `run_http` for each option. No binds: set `config.bind`.

    Raises:
        ValueError: `hypercorn_config` names an attribute `Config` does not have, or a bind.
    """
    config = cast("Config", _config_class()())
    config.accesslog = None
    config.loglevel = log_level or "WARNING"
    config.graceful_timeout = DEFAULT_GRACEFUL_TIMEOUT
    for key, value in (uvicorn_config or {}).items():
        if key in _UVICORN_TO_HYPERCORN:
            attribute, convert = _UVICORN_TO_HYPERCORN[key]
            setattr(config, attribute, convert(value) if value is not None else None)
        elif key == "access_log":
            config.accesslog = "-" if value else None
        elif key == "log_level" and value is not None and log_level is None:
            config.loglevel = _log_level_name(value) or config.loglevel
        else:
            logger.debug("uvicorn option %r has no hypercorn meaning; ignored", key)
    if graceful_timeout is not None:
        config.graceful_timeout = float(graceful_timeout)
    if max_header_size is not None:
        config.h11_max_incomplete_size = int(max_header_size)
    for key, value in (hypercorn_config or {}).items():
        if key in ("bind", "insecure_bind", "quic_bind"):
            raise ValueError(f"hypercorn_config[{key!r}]: use host= and port= instead")
        if not hasattr(config, key):
            raise ValueError(f"hypercorn Config has no attribute {key!r}")
        setattr(config, key, value)
    return config


_clock = time.time  # what `CachedHeadersConfig` reads the second from (tests move it)


@functools.cache
def _config_class() -> type:
    from hypercorn.config import Config

    class CachedHeadersConfig(Config):
        """hypercorn's `Config`, with the headers it adds to every response (`date`,
        `server`, ...) made once per second instead of once per response: formatting the
        date was about 3% of serving a small request."""

        _headers_second = -1
        _headers: dict[str, list[tuple[bytes, bytes]]]

        def response_headers(self, protocol: str) -> list[tuple[bytes, bytes]]:
            second = int(_clock())
            if second != self._headers_second:
                self._headers_second = second
                self._headers = {}
            headers = self._headers.get(protocol)
            if headers is None:
                headers = self._headers[protocol] = super().response_headers(protocol)
            return list(headers)

    return CachedHeadersConfig


def _bind(host: str, port: int, *, backlog: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0: any free port)."""
    infos = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
        # accepted sockets inherit it: no Nagle delay on small JSON responses
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


async def run_http(
    mcp: Any,
    /,
    *,
    transport: str = "http",
    server: str | None = None,
    host: str | None = None,
    port: int | None = None,
    path: str | None = None,
    log_level: str | None = None,
    middleware: Any = None,
    json_response: bool | None = None,
    stateless_http: bool | None = None,
    stateless: bool | None = None,
    show_banner: bool = True,
    uvicorn_config: Mapping[str, Any] | None = None,
    hypercorn_config: Mapping[str, Any] | None = None,
    graceful_timeout: float | None = None,
    max_header_size: int | None = None,
    task_status: anyio.abc.TaskStatus[Any] = anyio.TASK_STATUS_IGNORED,
    **app_options: Any,
) -> None:
    """Serve `mcp` (a `FastMCP`) over HTTP until cancelled, then shut down gracefully.

    Args:
        transport: `"http"`/`"streamable-http"` or `"sse"` (legacy).
        server: `"hypercorn"` (the default; asyncio and trio) or `"uvicorn"` (asyncio only,
            with httptools; the extra `trimcp[uvicorn]`; run the loop on uvloop for its
            speed: `anyio.run(..., backend_options={"use_uvloop": True})`, as `trimcp run
            --server uvicorn` does). Unset: uvicorn if `uvicorn_config` is given (and no
            `hypercorn_config`) on asyncio, else hypercorn.
        host: bind address (default: the server's `host` setting, `uvicorn_config`'s host,
            `trimcp.settings.host`: `TRIMCP_HOST` / `FASTMCP_HOST`, else `127.0.0.1`).
        port: bind port, `0` for any free one (default: the same way, `port`, 8000).
        path: the MCP endpoint path (see `create_app`).
        log_level: level for the `trimcp` logger and the server's error log (default: the
            server's setting, `trimcp.settings.log_level`; unset, the HTTP server logs
            warnings only). Access logs are off unless `uvicorn_config={"access_log":
            True}` or `hypercorn_config={"accesslog": "-"}`.
        middleware, json_response, stateless_http, stateless, **app_options: see `create_app`.
        show_banner: print the banner with the URL to stderr.
        uvicorn_config: uvicorn `Config` options. Served by uvicorn: applied as given (see
            `trimcp.http.serve_uvicorn` for the few trimcp owns); served by hypercorn: those
            with a hypercorn meaning are mapped (`timeout_keep_alive` ->
            `keep_alive_timeout`, ...), the rest ignored.
        hypercorn_config: hypercorn `Config` attributes, applied last (hypercorn only).
        graceful_timeout: seconds in-flight requests get to finish on shutdown (default 3);
            those still running after that are answered with a JSON-RPC error.
        max_header_size: the most bytes of a request head (request line and headers) the
            server buffers while waiting for its end (16 KiB by default); past it the request
            gets 431 and its connection is closed. hypercorn: its `h11_max_incomplete_size`;
            a head that arrives whole in one read (up to 64 KiB) is parsed whatever its size
            (h11). uvicorn: checked by trimcp's httptools protocol, also on a whole head.
        task_status: `await tg.start(run_http, ...)` returns a `ServerAddress`.

    Raises:
        ValueError: an unknown `server`, or options that do not apply to it.
        RuntimeError: no asyncio or trio loop; uvicorn under trio or not installed.
    """
    backend = running_backend()
    if backend not in ("asyncio", "trio"):
        raise RuntimeError("run_http must run inside an asyncio or trio event loop")
    chosen = choose_server(
        server, backend=backend, uvicorn_config=uvicorn_config, hypercorn_config=hypercorn_config
    )
    uvicorn_config = dict(uvicorn_config or {})
    # uvicorn_config's host and port are used only where nothing closer names one
    host = settings.resolve("host", host, server=mcp, fallback=uvicorn_config.pop("host", None))
    port = settings.resolve("port", port, server=mcp, fallback=uvicorn_config.pop("port", None))
    level = _log_level_name(
        settings.resolve(
            "log_level", log_level, server=mcp, fallback=uvicorn_config.get("log_level")
        )
    )
    if level is not None:
        logging.getLogger("trimcp").setLevel(level)

    app = create_app(
        mcp,
        transport=transport,  # type: ignore[arg-type]
        path=path,
        middleware=middleware,
        json_response=json_response,
        stateless_http=stateless_http,
        stateless=stateless,
        bound_host=host,
        **app_options,
    )
    serving: ServingServer
    if chosen == "uvicorn":
        serving = _uvicorn_serving().UvicornServing(
            app,
            log_level=level,
            graceful_timeout=graceful_timeout,
            max_header_size=max_header_size,
            uvicorn_config=uvicorn_config,
            cut_margin=_CUT_MARGIN,
        )
    else:
        config = build_config(
            log_level=level,
            graceful_timeout=graceful_timeout,
            max_header_size=max_header_size,
            uvicorn_config=uvicorn_config,
            hypercorn_config=hypercorn_config,
        )
        serving = _HypercornServing(app, config)

    sock = _bind(host, port, backlog=serving.backlog)
    try:
        bound_port = sock.getsockname()[1]
        url_host = f"[{host.strip('[]')}]" if ":" in host else host
        scheme = "https" if serving.tls else "http"
        address = ServerAddress(
            host, bound_port, f"{scheme}://{url_host}:{bound_port}{app.state.path}"
        )
        await _serve(app, serving, sock, address, show_banner=show_banner, task_status=task_status)
    finally:
        if sock.fileno() != -1:  # never handed to the server, or the server left it open
            sock.close()


async def serve_asgi(
    app: ASGIApp,
    config: Config | None = None,
    *,
    shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
    task_status: anyio.abc.TaskStatus[list[str]] = anyio.TASK_STATUS_IGNORED,
    lifespan: bool = True,
) -> None:
    """Serve any ASGI app with hypercorn on the running backend (asyncio or trio), tuned as
    trimcp's own servers are: hypercorn's `serve`, with trimcp's connection classes
    (`trimcp.http.tuning`) and nothing of hypercorn's replaced. HTTP/1.1 and HTTP/2 over
    TCP (with TLS if `config` has a certificate); hypercorn runs the app's lifespan unless
    `lifespan=False`.

    Args:
        app: an ASGI 3 application.
        config: a hypercorn `Config` (default: `build_config()`); it says where to bind
            (`bind`, `insecure_bind`; `fd://N` serves a socket already bound).
        shutdown_trigger: returns when the server should stop accepting and shut down
            gracefully (`graceful_timeout`); without it the server runs until cancelled, or
            until `max_requests` is reached.
        task_status: `await tg.start(serve_asgi, app, config)` returns the bound URLs once
            the server listens.
        lifespan: False when the caller runs the app's lifespan itself (as `run_http`
            does): the app then never gets a lifespan scope.

    Raises:
        RuntimeError: no asyncio or trio event loop is running, or the installed hypercorn
            lacks what trimcp's serving builds on (the message names its version).
        ValueError: `config` has a `quic_bind` (HTTP/3 is not served).
    """
    backend = running_backend()
    if backend not in ("asyncio", "trio"):
        raise RuntimeError("serve_asgi must run inside an asyncio or trio event loop")
    worker = _tuned_worker(backend)
    if config is None:
        config = build_config()
    if config.quic_bind:  # refused before the lifespan starts: no socket, nothing to undo
        raise ValueError("trimcp serves HTTP/1.1 and HTTP/2 over TCP: no quic_bind")
    from hypercorn.utils import wrap_app

    with serving_gc():  # `trimcp.http.gc_tuning`
        await worker.serve(
            wrap_app(app, config.wsgi_max_body_size, "asgi"),  # type: ignore[arg-type]
            config,
            shutdown_trigger=shutdown_trigger,
            task_status=task_status,
            lifespan=lifespan,
        )


@functools.cache
def _tuned_worker(backend: str) -> Any:
    """`trimcp.http.worker_<backend>` (its `serve`), once the installed hypercorn was found
    to fit it."""
    try:
        from trimcp.http import tuning

        tuning.check_hypercorn(backend)
        return importlib.import_module(f"trimcp.http.worker_{backend}")
    except ImportError as exc:
        try:
            version = importlib.metadata.version("hypercorn")
        except importlib.metadata.PackageNotFoundError:
            version = "(not installed)"
        raise RuntimeError(
            f"trimcp's hypercorn serving ({backend}) cannot import what it builds on from "
            f"hypercorn {version}: {exc}"
        ) from exc


async def _serve(
    app: Any,
    serving: ServingServer,
    sock: socket.socket,
    address: ServerAddress,
    *,
    show_banner: bool,
    task_status: anyio.abc.TaskStatus[Any],
) -> None:
    """Serve until cancelled, then shut down gracefully.

    The lifespan and the server run in a child task that the caller's cancellation reaches
    only until the server is up; after that it is shielded, and this task, when cancelled,
    tells it to stop (`stop`) and waits for it. Shielding the lifespan only once the
    cancellation has arrived would be too late: it reaches the lifespan's own background
    tasks (the endpoints' disconnect watch...) at once, and their task group then cancels
    the shutdown itself.
    """
    served = anyio.Event()  # the server has returned
    wake = anyio.Event()  # the caller cancelled us, or the server returned on its own
    ended = anyio.Event()  # the child is done: lifespan exited
    serve_scope = anyio.CancelScope(shield=True)

    async def serve_server(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
        try:
            with serve_scope:
                await serving.serve(sock, task_status=task_status)
        finally:
            served.set()
            wake.set()

    async def run_server(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        try:
            with anyio.CancelScope() as lifecycle:
                async with app.lifespan(app), anyio.create_task_group() as tg:
                    try:
                        await tg.start(serve_server)
                        lifecycle.shield = True  # up: from now on only `wake` ends serving
                        task_status.started()
                        await wake.wait()
                    finally:
                        lifecycle.shield = True
                        await _shut_down(app, serving, served, serve_scope)
        finally:
            ended.set()

    failed: Exception | None = None
    # the server's cut is no error (asyncio < 3.13); the collector tuned for serving
    with quiet_cancelled_connections(), serving_gc():
        async with anyio.create_task_group() as tg:
            try:
                await tg.start(run_server)
            except Exception as exc:  # did not start: raised below, not as a task group's
                failed = exc
            else:
                await _serving(app, address, show_banner, task_status, ended, wake)
    if failed is not None:
        raise failed


async def _serving(
    app: Any,
    address: ServerAddress,
    show_banner: bool,
    task_status: anyio.abc.TaskStatus[Any],
    ended: anyio.Event,
    wake: anyio.Event,
) -> None:
    """Report the address, wait until the server ends; when cancelled, have it stop first."""
    try:
        if show_banner:
            from trimcp.core.running import print_banner

            print_banner(app.server, app.state.transport, address.url)
        task_status.started(address)
        await ended.wait()
    finally:
        wake.set()


async def _shut_down(
    app: Any, serving: ServingServer, served: anyio.Event, serve_scope: anyio.CancelScope
) -> None:
    serving.stop()
    await app.shutdown()
    with anyio.move_on_after(serving.grace):
        await served.wait()
    if not served.is_set():
        _cancel_inflight(app)
        with anyio.move_on_after(2 * _CUT_MARGIN):  # the server's own cut comes first
            await served.wait()
    serve_scope.cancel()


def _cancel_inflight(app: Any) -> None:
    """The grace period is over: the endpoints cancel the requests still running and answer
    each with an error (an endpoint without `cancel_inflight` leaves them to the server)."""
    for endpoint in getattr(app, "endpoints", ()):
        cancel = getattr(endpoint, "cancel_inflight", None)
        if cancel is not None:
            cancel()
