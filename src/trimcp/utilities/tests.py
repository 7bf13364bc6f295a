"""FastMCP's `fastmcp.utilities.tests` helpers for testing servers, on trimcp.

- `temporary_settings(**values)`: `trimcp.settings` values for the block, restored after.
- `run_server_async(server, ...)`: serve `server` over HTTP inside the caller's event loop
  (asyncio or trio) for the block; yields its URL. The server reports its bound address, so
  nothing sleeps and port 0 (the default) is safe.
- `run_server_in_process(server_fn, ...)`: run `server_fn(*args, host=..., port=...)` in a
  child process (a server is not picklable, so a function builds and runs one); yields its
  URL once the port accepts connections, and stops the process after.
- `caplog_for_fastmcp(caplog)`: pytest's `caplog` also sees trimcp's loggers.

FastMCP's `HeadlessOAuth` belongs to the authorization work, which trimcp does not have yet.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any, Literal

import anyio

from trimcp._backend import spawn_detached
from trimcp.settings import settings
from trimcp.utilities.http import find_available_port

__all__ = [
    "caplog_for_fastmcp",
    "run_server_async",
    "run_server_in_process",
    "temporary_settings",
]

_START_TIMEOUT = 10.0  # seconds a server in a child process gets to accept connections
_STOP_TIMEOUT = 5.0


@contextmanager
def temporary_settings(**values: Any) -> Iterator[None]:
    """Set `trimcp.settings` values for the block; the old ones come back after (an unknown
    name raises `AttributeError`, as FastMCP's does)."""
    old = {name: settings.get_setting(name) for name in values}
    try:
        for name, value in values.items():
            settings.set_setting(name, value)
        yield
    finally:
        for name, value in old.items():
            settings.set_setting(name, value)


@asynccontextmanager
async def run_server_async(
    server: Any,
    port: int | None = None,
    transport: Literal["http", "streamable-http", "sse"] = "http",
    path: str = "/mcp",
    host: str = "127.0.0.1",
) -> AsyncIterator[str]:
    """Serve `server` over HTTP in the running event loop for the block; yields
    `http://host:port/path` once it listens (port 0, the default, picks a free one). The
    server shuts down when the block ends.

    The server runs in a task of its own, not the caller's, so the block may be left from
    another task than the one that entered it (pytest-asyncio runs an async fixture's setup
    and teardown in different tasks, and FastMCP's tests use this helper as such a fixture)."""
    started = anyio.Event()
    stopped = anyio.Event()
    scope = anyio.CancelScope()
    outcome: dict[str, Any] = {}

    async def serve() -> None:
        try:
            with scope:
                async with anyio.create_task_group() as tg:
                    outcome["address"] = await tg.start(
                        partial(
                            server.run_http_async,
                            transport=transport,
                            host=host,
                            port=0 if port is None else port,
                            path=path,
                            show_banner=False,
                        )
                    )
                    started.set()
        except Exception as exc:  # reported to the caller, never to the event loop
            while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # the task group's wrapping of the one failure
            outcome["error"] = exc
        finally:
            started.set()
            stopped.set()

    spawn_detached(serve)
    try:
        with anyio.fail_after(_START_TIMEOUT):
            await started.wait()
        if "error" in outcome:
            raise outcome["error"]
        if "address" not in outcome:
            raise RuntimeError("the server stopped before it listened")
        yield f"http://{host}:{outcome['address'].port}{path}"
    finally:
        scope.cancel()
        with anyio.fail_after(_START_TIMEOUT, shield=True):
            await stopped.wait()


@contextmanager
def run_server_in_process(
    server_fn: Callable[..., None],
    *args: Any,
    provide_host_and_port: bool = True,
    host: str = "127.0.0.1",
    port: int | None = None,
    **kwargs: Any,
) -> Iterator[str]:
    """Run `server_fn(*args, **kwargs)` (plus `host=` and `port=` unless
    `provide_host_and_port` is False) in a child process; yield `http://host:port` once the
    port accepts connections; terminate the process after the block (killed if it lingers).
    Call it outside an event loop, as FastMCP's tests do: the child is forked."""
    if port is None:
        port = find_available_port()
    if provide_host_and_port:
        kwargs |= {"host": host, "port": port}
    process = multiprocessing.Process(target=server_fn, args=args, kwargs=kwargs, daemon=True)
    process.start()
    try:
        _wait_until_listening(process, host, port)
        yield f"http://{host}:{port}"
    finally:
        process.terminate()
        process.join(_STOP_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join(_STOP_TIMEOUT)


def _wait_until_listening(process: Any, host: str, port: int) -> None:
    """Poll the port until it accepts a connection (the child has no other way to say it is
    ready); bounded by `_START_TIMEOUT`, and fails at once if the child died."""
    deadline = time.monotonic() + _START_TIMEOUT
    delay = 0.01
    while process.is_alive():
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(delay)  # a child process: there is no event to wait on
            delay = min(delay * 2, 0.2)
    raise RuntimeError(f"the server process did not start listening on {host}:{port}")


@contextmanager
def caplog_for_fastmcp(caplog: Any) -> Iterator[Any]:
    """Let pytest's `caplog` capture trimcp's log records (its `trimcp` loggers) in the block,
    as FastMCP's test setup has its logger: at the settings' level (INFO when unset) when it
    has none of its own, not propagating (so each record is captured once). All restored
    after the block."""
    caplog.clear()
    logger = logging.getLogger("trimcp")
    saved = (logger.level, logger.propagate)
    if logger.level == logging.NOTSET:
        logger.setLevel(settings.log_level or "INFO")
    logger.propagate = False
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
