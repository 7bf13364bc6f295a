"""Running a server: the sync `run` wrapper, `run_async` dispatch by transport, stdio serving,
and the banner. `FastMCP`'s methods of the same names delegate here.

Shutdown. `run_async`, `run_http_async` and `run_stdio_async` serve until cancelled and then
shut down gracefully: no new requests, those in flight get `graceful_timeout` seconds to
finish, any still running after that is answered with a JSON-RPC error, the lifespan exits
once. They never touch signals: an application embedding them cancels them itself. `run` (and
`trimcp run`) are whole programs: `serve_until_signalled` receives SIGTERM and SIGINT as signals
(so SIGINT never becomes a `KeyboardInterrupt` inside task groups, which trio would wrap in an
`ExceptionGroup`), cancels the serving task on the first one, and `run` then exits with status 0
for SIGTERM and 130 for SIGINT. A second SIGINT during the grace period forces the exit.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.abc

from trimcp import __version__

if TYPE_CHECKING:
    from trimcp.core.connection import ServerConnection
    from trimcp.server.server import FastMCP
    from trimcp.transports.stdio import FdStream

__all__ = [
    "exit_status",
    "print_banner",
    "run",
    "run_async",
    "run_stdio_async",
    "serve_until_signalled",
]

logger = logging.getLogger("trimcp")

DEFAULT_GRACEFUL_TIMEOUT = 3.0
SHUTTING_DOWN = "Server shutting down"
_UNWIND = 1.0  # seconds the requests cut at the end of the grace period get to unwind


async def run_async(
    server: FastMCP,
    /,
    transport: str | None = None,
    show_banner: bool | None = None,
    **transport_kwargs: Any,
) -> None:
    """Run the server inside the caller's event loop (asyncio or trio), on `transport`
    (`"stdio"`, the default, `"http"`/`"streamable-http"` or `"sse"`): the server's
    `run_stdio_async` or `run_http_async` with `transport_kwargs`."""
    from trimcp.settings import settings

    transport = transport or "stdio"
    if show_banner is None:
        show_banner = settings.show_server_banner
    if transport == "stdio":
        await server.run_stdio_async(show_banner=show_banner, **transport_kwargs)
    elif transport in ("http", "streamable-http", "sse"):
        await server.run_http_async(
            transport=transport,  # type: ignore[arg-type]  # narrowed by the `in` test above
            show_banner=show_banner,
            **transport_kwargs,
        )
    else:
        raise ValueError(f"Unknown transport: {transport!r}")


def run(
    server: FastMCP,
    /,
    transport: str | None = None,
    show_banner: bool | None = None,
    *,
    backend: Literal["asyncio", "trio"] | None = None,
    **transport_kwargs: Any,
) -> None:
    """Run the server (blocking) until SIGTERM or SIGINT (or, on stdio, until stdin closes):
    `anyio.run` over `run_async`, then a graceful shutdown (requests in flight get
    `graceful_timeout` seconds, then an error answer; the lifespan exits once); after a
    SIGINT, exit with status 130 (`SystemExit`); a second SIGINT stops at once."""
    from trimcp._backend import running_backend
    from trimcp.settings import settings

    if running_backend() is not None:
        raise RuntimeError(
            "FastMCP.run() was called inside a running event loop: use `await mcp.run_async()`"
        )

    # A partial of the server's arguments, as FastMCP hands `anyio.run` (its tests read them)
    main = partial(_run_signalled, server, transport, show_banner=show_banner, **transport_kwargs)
    chosen: str = backend or settings.backend
    options = (
        {"use_uvloop": True}
        if chosen == "asyncio" and _serves_with_uvicorn(transport, transport_kwargs)
        else None
    )  # uvicorn on uvloop, as `trimcp run --server uvicorn` serves
    status = exit_status(lambda: anyio.run(main, backend=chosen, backend_options=options))
    if status:
        raise SystemExit(status)


def _serves_with_uvicorn(transport: str | None, options: dict[str, Any]) -> bool:
    """Whether an HTTP run asks for uvicorn (`server="uvicorn"`, or FastMCP's `uvicorn_config=`
    alone) and uvloop is installed."""
    import importlib.util

    if transport not in ("http", "streamable-http", "sse"):
        return False
    server = options.get("server")
    implied = options.get("uvicorn_config") is not None and options.get("hypercorn_config") is None
    uvicorn = server == "uvicorn" or (server is None and implied)
    return uvicorn and importlib.util.find_spec("uvloop") is not None


async def _run_signalled(server: FastMCP, transport: Any, /, **options: Any) -> int | None:
    return await serve_until_signalled(lambda: server.run_async(transport, **options))


async def serve_until_signalled(serve: Callable[[], Awaitable[None]]) -> int | None:
    """Run `serve()` until it returns or SIGTERM/SIGINT arrives; on the first signal cancel it
    (it shuts down gracefully) and wait for it. Returns the signal's number, or None.

    A second SIGINT while shutting down exits at once with status 130. Signals are only
    received on the main thread of a POSIX process; elsewhere this just awaits `serve()`.
    """
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        await serve()
        return None
    received: list[int] = []
    failed: Exception | None = None
    async with anyio.create_task_group() as tg:
        serving = anyio.CancelScope()

        async def watch(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                task_status.started()
                async for signum in signals:
                    if not received:
                        received.append(int(signum))
                        serving.cancel()
                    elif signum == signal.SIGINT:
                        print(
                            "trimcp: second interrupt, exiting now",
                            file=sys.stderr,
                            flush=True,
                        )
                        os._exit(128 + signal.SIGINT)

        await tg.start(watch)
        with serving:
            try:
                await serve()
            except Exception as exc:  # raised below as it is, not in an exception group
                failed = exc
        tg.cancel_scope.cancel()
    if failed is not None:
        raise failed
    return received[0] if received else None


def exit_status(main: Callable[[], int | None]) -> int:
    """Run `main()` (which returns the signal that stopped it, if any) and turn the outcome
    into an exit status: 0, or 130 after SIGINT, also when a `KeyboardInterrupt` got through
    (before the signal receiver was installed, or after it was removed), wrapped in an
    `ExceptionGroup` or not."""
    try:
        signum = main()
    except KeyboardInterrupt:
        signum = signal.SIGINT
    except BaseExceptionGroup as group:
        _, rest = group.split(KeyboardInterrupt)
        if rest is not None:
            raise
        signum = signal.SIGINT
    return 128 + signal.SIGINT if signum == signal.SIGINT else 0


async def run_stdio_async(
    server: FastMCP,
    show_banner: bool = True,
    log_level: str | None = None,
    stateless: bool = False,
    *,
    graceful_timeout: float | None = None,
) -> None:
    """Serve one client over this process's stdin/stdout until stdin closes, or until
    cancelled: then shut down gracefully (requests in flight get `graceful_timeout` seconds,
    default 3, to finish; those still running are answered with an error).

    Args:
        stateless: accepted for FastMCP compatibility; a stdio connection is one session.
    """
    from trimcp.core.connection import ServerConnection
    from trimcp.transports.stdio import stdio_stream

    del stateless
    if log_level:
        logging.getLogger("trimcp").setLevel(log_level.upper())
    if show_banner:
        print_banner(server, "stdio")
    grace = DEFAULT_GRACEFUL_TIMEOUT if graceful_timeout is None else float(graceful_timeout)
    stop = anyio.Event()
    ended = anyio.Event()

    async def serve(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        # Shielded once started: the caller's cancellation would reach the stream's writer
        # task and the lifespan's own tasks at once, and the answers given during the grace
        # period would not be written. The caller sets `stop` instead.
        try:
            with anyio.CancelScope() as lifecycle:
                async with server.lifespan_context(), stdio_stream() as stream:
                    connection = ServerConnection(server, stream, transport="stdio")
                    lifecycle.shield = True
                    task_status.started()
                    await serve_connection(connection, stream, stop=stop, graceful_timeout=grace)
        finally:
            ended.set()

    failed: Exception | None = None
    async with anyio.create_task_group() as tg:
        try:
            await tg.start(serve)
        except Exception as exc:  # did not start: raised below, not as a task group's
            failed = exc
        else:
            try:
                await ended.wait()
            finally:
                stop.set()
    if failed is not None:
        raise failed


async def serve_connection(
    connection: ServerConnection,
    stream: FdStream,
    *,
    stop: anyio.Event,
    graceful_timeout: float,
) -> None:
    """Serve `connection` until its stream ends or `stop` is set, then shut it down gracefully.

    The shutdown: new requests are answered with an error at once (-32603), the connection's
    `subscriptions/listen` streams end (a `notifications/cancelled` for each, then its final
    result), the requests in flight get `graceful_timeout` seconds
    to finish and those still running after that are cancelled and answered with a -32800
    error, as over HTTP.
    Then the connection ends (what is queued for stdout is flushed by `stdio_stream`).
    """
    from trimcp.protocol import jsonrpc
    from trimcp.protocol.errors import INTERNAL_ERROR, ErrorData
    from trimcp.protocol.requests import CUT_AT_SHUTDOWN

    peer = connection.peer
    ended = anyio.Event()
    serving = anyio.CancelScope()

    async def serve() -> None:
        try:
            with serving:
                await connection.run()
        finally:
            ended.set()
            stop.set()

    async def end_of_input() -> None:
        # stdin closed: the client may still read stdout (`printf ... | server`), so the
        # requests in flight finish (within the grace period) before the connection ends
        connection.end_listens()
        with anyio.move_on_after(graceful_timeout):
            await peer.wait_idle()

    peer.on_end_of_input = end_of_input
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        await stop.wait()
        if not ended.is_set():
            # as over HTTP: a new request is refused, one cut short is cancelled
            refused = ErrorData(INTERNAL_ERROR, SHUTTING_DOWN)
            stream.refuse_requests(partial(jsonrpc.encode_error, error=refused))
            connection.end_listens()  # each: `notifications/cancelled`, then its result
            with anyio.move_on_after(graceful_timeout):
                await peer.wait_idle()
            # answered here, or in their batch's reply once it unwinds
            await peer.cancel_inflight(CUT_AT_SHUTDOWN)
            with anyio.move_on_after(_UNWIND):
                await peer.wait_idle()
        serving.cancel()


def print_banner(server: FastMCP, transport: str, url: str | None = None) -> None:
    """One line on stderr (never stdout: on stdio that is the wire)."""
    where = f" at {url}" if url else ""
    print(
        f"trimcp {__version__} · server {server.name!r} · {transport}{where}",
        file=sys.stderr,
        flush=True,
    )
