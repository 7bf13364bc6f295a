"""Client transports: how a `Client` reaches a server. Each one is an async context manager
factory (`connect()`) yielding a `MessageStream`; the `Client` runs the MCP session over it.

```
ClientTransport
├── FastMCPTransport       a FastMCP instance in this process (memory streams, no I/O)
├── StdioTransport         a subprocess speaking newline-delimited JSON-RPC on its stdin/stdout
│   ├── PythonStdioTransport   `python script.py`
│   └── Node/Uv/Uvx/NpxStdioTransport   launchers (`trimcp.client.launchers`)
├── MCPConfigTransport     the servers of an MCP config (`trimcp.client.config_transport`)
├── StreamableHttpTransport    streamable HTTP, both eras (`trimcp.client.http`)
└── SSETransport               the legacy 2024-11-05 HTTP+SSE transport (`trimcp.client.http`)
```

`infer_transport()` maps what users pass to `Client(...)` onto one of these (FastMCP's rules).
The HTTP transports live in `trimcp.client.http` and are loaded on first use, so importing
this module does not import the HTTP stack.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import subprocess
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

import anyio

from trimcp._backend import spawn_detached, threadsafe_scheduler
from trimcp.exceptions import ClientNotConnected
from trimcp.runtime.peer import MessageStream

if TYPE_CHECKING:
    from trimcp.client.config_transport import MCPConfigTransport
    from trimcp.client.http import SSETransport, StreamableHttpTransport
    from trimcp.client.launchers import (
        NodeStdioTransport,
        NpxStdioTransport,
        UvStdioTransport,
        UvxStdioTransport,
        WSTransport,
    )
    from trimcp.client.session import ClientSession
    from trimcp.server.server import FastMCP

__all__ = [
    "ClientTransport",
    "FastMCPTransport",
    "InMemoryServer",
    "MCPConfigTransport",
    "NodeStdioTransport",
    "NpxStdioTransport",
    "PythonStdioTransport",
    "SSETransport",
    "StdioTransport",
    "StreamableHttpTransport",
    "UvStdioTransport",
    "UvxStdioTransport",
    "WSTransport",
    "infer_transport",
    "script_file",
]

_HTTP_TRANSPORTS = ("SSETransport", "StreamableHttpTransport")
_LAUNCHERS = (
    "NodeStdioTransport",
    "NpxStdioTransport",
    "UvStdioTransport",
    "UvxStdioTransport",
    "WSTransport",
)


def __getattr__(name: str) -> Any:
    # The HTTP transports are imported on first use: `import trimcp` stays free of the HTTP stack.
    if name in _HTTP_TRANSPORTS:
        from trimcp.client import http

        return getattr(http, name)
    if name == "MCPConfigTransport":  # defined over this module's transports
        from trimcp.client.config_transport import MCPConfigTransport

        return MCPConfigTransport
    if name in _LAUNCHERS:  # the stdio transports that build a launcher's command line
        from trimcp.client import launchers

        return getattr(launchers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


logger = logging.getLogger("trimcp.client")

# How long a stdio server gets to exit on its own after stdin closes, then after SIGTERM.
_EXIT_GRACE = 2.0
_TERMINATE_GRACE = 2.0

# The variables a subprocess inherits by default (the official SDK's choice): a server does not
# get the parent's secrets unless the caller passes them in `env`.
_DEFAULT_ENV_POSIX = (
    "HOME",
    "LOGNAME",
    "PATH",
    "SHELL",
    "TERM",
    "USER",
    "LANG",
    "LC_ALL",
    "TMPDIR",
)
_DEFAULT_ENV_WINDOWS = (
    "APPDATA",
    "HOMEDRIVE",
    "HOMEPATH",
    "LOCALAPPDATA",
    "PATH",
    "PATHEXT",
    "PROCESSOR_ARCHITECTURE",
    "SYSTEMDRIVE",
    "SYSTEMROOT",
    "TEMP",
    "USERNAME",
    "USERPROFILE",
)


def default_environment() -> dict[str, str]:
    """The environment a stdio server gets when the caller adds nothing."""
    names = _DEFAULT_ENV_WINDOWS if sys.platform == "win32" else _DEFAULT_ENV_POSIX
    return {
        name: value
        for name in names
        if (value := os.environ.get(name)) is not None and not value.startswith("()")
    }


class ClientTransport:
    """Base class: `connect()` yields a connected `MessageStream` and cleans up on exit."""

    def connect(self) -> Any:  # an async context manager yielding a MessageStream
        raise NotImplementedError

    continued = False
    """True while the open connection continues an earlier one whose session was negotiated
    already (a kept-alive stdio server)."""

    keeping = False
    """True while the connection just opened runs on a server kept alive between connections:
    its session is to be left in `carried` when it ends. Read right after connecting."""

    carried: Any = None
    """The session a client left on a kept-alive connection: what the next client to continue
    it (`continued`) picks up instead of negotiating again."""

    async def failure_hint(self) -> str | None:
        """Why the connection may have ended (e.g. the process's exit code), for error messages."""
        return None

    async def close(self) -> None:
        """Release what the transport keeps between connections (nothing, by default)."""

    @asynccontextmanager
    async def connect_session(self, **session_kwargs: Any) -> AsyncIterator[ClientSession]:
        """FastMCP's transport API: a running client session over a new connection, not yet
        negotiated (`await session.open(protocol="auto")`), with no handlers. `Client` is
        the usual way in; FastMCP's `session_kwargs` (the SDK's callbacks) are refused."""
        if session_kwargs:
            raise TypeError(
                f"connect_session() takes no session arguments in trimcp ({sorted(session_kwargs)}):"
                " give the handlers to Client(...) instead"
            )
        from trimcp import __version__
        from trimcp.client.session import ClientSession, Handlers

        info = {"name": "trimcp", "version": __version__}
        async with self.connect() as stream, anyio.create_task_group() as tg:
            session = ClientSession(stream, handlers=Handlers(), client_info=info)
            await tg.start(session.run)
            try:
                yield session
            finally:
                tg.cancel_scope.cancel()


@runtime_checkable
class InMemoryServer(Protocol):
    """A server this process can talk to without a socket: a `FastMCP` (its
    `memory_connection()` serves one client over a pair of memory streams). The client
    knows servers only through this, so it imports nothing of the server side."""

    name: str

    def memory_connection(self) -> AbstractAsyncContextManager[MessageStream]: ...


class FastMCPTransport(ClientTransport):
    """Talk to a `FastMCP` server in this process over a pair of memory streams.

    The server's lifespan runs (once, shared with other transports of the same server) for as
    long as the connection is open, and its connection task runs in this transport's own task
    group, so no thread or socket is involved.
    """

    def __init__(self, mcp: FastMCP, *, raise_exceptions: bool = False) -> None:
        if not isinstance(mcp, InMemoryServer):
            raise TypeError(_not_in_memory(mcp))
        self.server = mcp
        self.raise_exceptions = raise_exceptions

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MessageStream]:
        async with self.server.memory_connection() as stream:
            yield stream

    def __repr__(self) -> str:
        return f"<FastMCPTransport(server={self.server.name!r})>"


def _not_in_memory(server: Any) -> str:
    """Why `server` cannot be reached in memory; the official SDK's own `FastMCP` (FastMCP
    1.0, which FastMCP 2.x runs in memory through its private low-level server) is named."""
    if type(server).__module__.startswith("mcp.server."):
        return (
            f"trimcp cannot run the official SDK's server {server!r} in memory (FastMCP 1.0, "
            "`mcp.server.fastmcp`, or its successor): serve it over stdio or HTTP and pass its "
            "command or URL, or build it with trimcp's FastMCP"
        )
    return f"{server!r} is not a server this process can reach in memory (a FastMCP)"


class _Running:
    """A started server process, its message stream, and the log file opened for it."""

    def __init__(self, process: Any, stream: Any, log: IO[Any] | None) -> None:
        self.process = process
        self.stream = stream
        self.log = log

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def stop(self) -> int | None:
        """Shut the process down (`_shut_down`), shielded, and close its log file."""
        with anyio.CancelScope(shield=True):
            try:
                code = await _shut_down(self.process)
            finally:
                if self.log is not None:
                    self.log.close()
        return code


async def _launch(argv: list[str], env: dict[str, str], cwd: str | None, log_file: Any) -> _Running:
    """Start a stdio server process and frame its stdin/stdout as a message stream."""
    from trimcp.settings import settings
    from trimcp.transports.stdio import FramedStream

    stderr: Any = None  # inherited
    opened: IO[Any] | None = None
    if isinstance(log_file, str | os.PathLike):
        stderr = opened = open(log_file, "ab")  # noqa: ASYNC230 - a local append, closed by stop()
    elif log_file is not None:
        stderr = log_file
    try:
        process = await anyio.open_process(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd
        )
    except OSError as exc:
        if opened is not None:
            opened.close()
        raise ClientNotConnected(
            f"Client failed to connect: could not start the server process {argv[0]!r}: {exc}"
        ) from exc
    assert process.stdout is not None and process.stdin is not None
    stream = FramedStream(process.stdout, process.stdin, max_line=settings.stdio_max_line)
    return _Running(process, stream, opened)


class _Keeper:
    """A kept-alive server process and the detached task that owns it (`run`, a task of the
    event loop itself): it starts the process, hands it out (`running`), and stops it, in the
    same task, when asked (`stop`), when the transport is dropped (`request_stop`), or when
    the event loop's run ends (the task is cancelled). So the process never outlives the loop
    and is never touched from outside it. Holds no reference to the transport."""

    def __init__(self, launch: Callable[[], Awaitable[_Running]]) -> None:
        self._launch = launch
        self._schedule = threadsafe_scheduler()
        self.running: _Running | None = None
        self.error: Exception | None = None
        self.returncode: int | None = None
        self.ready = anyio.Event()  # `running` or `error` is set
        self.stop = anyio.Event()
        self.done = anyio.Event()  # the process is gone (or never started)

    @property
    def usable(self) -> bool:
        return not self.done.is_set() and self.running is not None and self.running.alive

    async def run(self) -> None:
        try:
            try:
                self.running = await self._launch()
            except Exception as exc:
                self.error = exc
                return
            finally:
                self.ready.set()
            try:
                await self.stop.wait()
            finally:
                try:
                    self.returncode = await self.running.stop()
                except Exception:  # a detached task reports its own failures
                    logger.exception("stopping the kept-alive server process failed")
        finally:
            self.done.set()

    def request_stop(self) -> None:
        """The transport's finalizer: may run at any time, on any thread, after the loop."""
        if self.done.is_set():
            return
        try:
            self._schedule(self.stop.set)
        except RuntimeError:  # the loop is closed: its end stopped the process already
            pass


class StdioTransport(ClientTransport):
    """Run a server as a subprocess and talk JSON-RPC lines over its stdin/stdout.

    Args:
        command: The executable.
        args: Its arguments.
        env: Variables added to a minimal default environment (`PATH`, `HOME`, ...), as the
            official SDK does: the parent's full environment is not passed on.
        cwd: Working directory of the process.
        keep_alive: `True` or `None` (the default, as in FastMCP): keep the server running
            between connections; the next `async with client` continues with the same process
            and session. The process belongs to a task of the event loop: it is stopped by
            `close()` (or `Client.close()`), when a connection ends with an error, when the
            transport is garbage-collected, or at the latest when the event loop's run ends.
            `False`: each connection starts its own process and stops it when it ends.
        log_file: Where the server's stderr goes; by default it is inherited.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        keep_alive: bool | None = None,
        *,
        log_file: str | os.PathLike[str] | IO[Any] | None = None,
    ) -> None:
        self.command = command
        self.args = list(args or [])
        self.env = dict(env) if env is not None else None
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.keep_alive = True if keep_alive is None else bool(keep_alive)
        self.log_file = log_file
        self._returncode: int | None = None
        self._process: Any = None
        self._keeper: _Keeper | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._in_use = False
        self._stop_after_use = False

    async def failure_hint(self) -> str | None:
        process = self._process
        if process is not None and process.returncode is None:
            with anyio.move_on_after(1.0):  # stdout ended: the exit status follows shortly
                await process.wait()
        code = process.returncode if process is not None else self._returncode
        if code is not None:
            return f"the server process {self.command!r} exited with code {code}"
        return None

    def _launcher(self) -> Callable[[], Awaitable[_Running]]:
        env = {**default_environment(), **(self.env or {})}
        return functools.partial(_launch, [self.command, *self.args], env, self.cwd, self.log_file)

    async def _borrow(self) -> tuple[_Running, bool]:
        """The kept process (True: it continues an earlier connection), or a new one."""
        keeper = self._keeper
        if keeper is not None and keeper.usable:
            assert keeper.running is not None
            return keeper.running, True
        await self._release()  # it exited meanwhile (or its loop ended): reap it, start another
        keeper = self._keeper = _Keeper(self._launcher())
        self._finalizer = weakref.finalize(self, keeper.request_stop)
        self._finalizer.atexit = False
        spawn_detached(keeper.run)
        await keeper.ready.wait()
        if keeper.running is None:
            await self._release()
            raise keeper.error or ClientNotConnected("Client failed to connect: no server process")
        return keeper.running, False

    async def _release(self) -> None:
        """Have the keeper stop the kept process, and wait (bounded) until it is gone."""
        keeper, self._keeper = self._keeper, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self.carried = None  # its session ends with the process
        if keeper is None:
            return
        if not keeper.done.is_set():
            keeper.stop.set()
            with anyio.move_on_after(_EXIT_GRACE + _TERMINATE_GRACE + 10.0, shield=True):
                await keeper.done.wait()
        self._process, self._returncode = None, keeper.returncode

    async def _stop(self, running: _Running) -> None:
        try:
            self._returncode = await running.stop()
        finally:
            self._process = None

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MessageStream]:
        borrowing = self.keep_alive and not self._in_use
        if borrowing:
            self._in_use = True  # from now on: a concurrent connection starts its own process
            try:
                running, continued = await self._borrow()
            except BaseException:
                self._in_use = False
                raise
        else:  # its own process (or a second connection while the kept one is in use)
            running, continued = await self._launcher()(), False
        self.continued, self.keeping = continued, borrowing
        self._process, self._returncode = running.process, None
        keep = False
        try:
            writing = getattr(running.stream, "writing", None)  # the coalescing writer's task
            if writing is None:
                yield running.stream
            else:
                async with writing():
                    yield running.stream
            keep = borrowing and not self._stop_after_use and running.alive
        finally:
            if not borrowing:
                await self._stop(running)
            else:
                self._in_use = self._stop_after_use = self.continued = self.keeping = False
                if not keep:
                    await self._release()

    async def close(self) -> None:
        """Stop the kept-alive server now, or the running one when its connection ends."""
        if self._in_use:
            self._stop_after_use = True
        else:
            await self._release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(command={self.command!r}, args={self.args!r})>"


async def _shut_down(process: Any) -> int | None:
    """The stdio spec's order: close stdin, wait, SIGTERM, wait, SIGKILL. Always reaps."""
    try:
        await process.stdin.aclose()
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    for signal_process, grace in (
        (None, _EXIT_GRACE),
        (process.terminate, _TERMINATE_GRACE),
        (process.kill, None),
    ):
        if process.returncode is not None:
            break
        if signal_process is not None:
            try:
                signal_process()
            except ProcessLookupError:
                pass
        with anyio.move_on_after(grace if grace is not None else 5.0):
            await process.wait()
    with anyio.move_on_after(5.0):
        await process.aclose()  # closes the pipes and reaps the child: no zombie
    code: int | None = process.returncode
    return code


def script_file(path: str | os.PathLike[str], suffix: str, language: str) -> Path:
    """`path` resolved, once it names an existing `suffix` file (`~` expanded).

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is not a `language` script (its suffix is not `suffix`)."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f"Script not found: {resolved}")
    if resolved.suffix != suffix:
        raise ValueError(f"Not a {language} script: {resolved}")
    return resolved


class PythonStdioTransport(StdioTransport):
    """Run a Python script as a stdio server (`python_cmd script_path *args`)."""

    def __init__(
        self,
        script_path: str | os.PathLike[str],
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        python_cmd: str = sys.executable,
        keep_alive: bool | None = None,
        *,
        log_file: str | os.PathLike[str] | IO[Any] | None = None,
    ) -> None:
        self.script_path = script_file(script_path, ".py", "Python")
        super().__init__(
            python_cmd,
            [str(self.script_path), *(args or [])],
            env=env,
            cwd=cwd,
            keep_alive=keep_alive,
            log_file=log_file,
        )


def is_sse_url(url: str) -> bool:
    """FastMCP's rule: a URL whose path has an `/sse` segment (`/sse`, `/sse/`, `/sse/x`)
    speaks the legacy SSE transport."""
    from urllib.parse import urlsplit

    return re.search(r"/sse(/|\?|&|$)", urlsplit(url).path) is not None


def _infer_http(url: str) -> ClientTransport:
    """A URL with an `/sse` path segment -> `SSETransport`; any other -> streamable HTTP."""
    from trimcp.client.http import SSETransport, StreamableHttpTransport

    if is_sse_url(url):
        return SSETransport(url)
    return StreamableHttpTransport(url)


def infer_transport(transport: Any) -> ClientTransport:
    """What `Client(x)` connects through.

    - a `ClientTransport` -> itself
    - a `FastMCP` server -> `FastMCPTransport` (in memory)
    - a path ending in `.py` -> `PythonStdioTransport`; in `.js` -> `NodeStdioTransport`
    - an `http(s)://` URL (a string or a URL object) -> `SSETransport` if its path has an
      `/sse` segment, else `StreamableHttpTransport`
    - an MCP config (`{"mcpServers": {...}}`) -> `MCPConfigTransport`
    """
    if isinstance(transport, ClientTransport):
        return transport
    from trimcp.client.config_transport import MCPConfigTransport, is_mcp_config

    if is_mcp_config(transport):
        return MCPConfigTransport(transport)
    if isinstance(transport, InMemoryServer):
        return FastMCPTransport(transport)  # type: ignore[arg-type]  # a FastMCP, structurally
    if isinstance(transport, Path) or isinstance(transport, str):
        text = str(transport)
        if text.startswith(("http://", "https://")):
            return _infer_http(text)
        if text.endswith(".py"):
            return PythonStdioTransport(text)
        if text.endswith(".js"):
            from trimcp.client.launchers import NodeStdioTransport

            return NodeStdioTransport(text)
    elif hasattr(transport, "scheme") and str(transport).startswith(("http://", "https://")):
        return _infer_http(str(transport))  # a URL object (pydantic's `AnyUrl`, ...)
    elif type(transport).__module__.startswith("mcp.server."):
        raise ValueError(_not_in_memory(transport))
    raise ValueError(f"Could not infer a transport from {transport!r}")
