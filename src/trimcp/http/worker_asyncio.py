"""hypercorn's asyncio worker with trimcp's tuned connection classes (see `trimcp.http.tuning`).

`hypercorn.asyncio.serve` makes each connection a `TCPServer` by a module-global name, and
that `TCPServer` makes its keep-alive timer and its `ProtocolWrapper` the same way: there is
no parameter to pass other classes. `serve` here is hypercorn 0.18's asyncio worker loop
(`hypercorn.asyncio.run.worker_serve`) making `TunedTCPServer`s instead, without what a
programmatic server does not use: signal handlers (cancel the task, or pass a
`shutdown_trigger`), Windows socket sharing between worker processes, and HTTP/3 (QUIC binds
are refused); one addition: the bound URLs go to `task_status` once listening, as with
`hypercorn.trio.serve`. hypercorn's own classes and modules are left as they are.

**The writes of one loop iteration leave together, after it.** hypercorn writes each chunk to
the socket as the app sends it. `TunedTCPServer` holds what a connection writes
(`trimcp.http.held_writes`, as trimcp's uvicorn serving does) and writes it after the
callbacks ready at the first held write (the rest of the iteration's work): the answers
finished in one iteration leave back to back, and a client on the same host (a local proxy,
the benchmark's wrk) is woken once for several, not once per answer while the server
computes the next (on loopback that wake-up is charged to the writer). `drain()` still
applies backpressure (to what was written before), and every way hypercorn closes a
connection writes what is held first. Measured with 32 keep-alive connections (`tools/call`,
JSON, one core; 6 paired rounds, fresh servers): trimcp 1.08x the requests per second, a bare
app 1.14x. asyncio only: trio has no such hook to write at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from random import randint
from ssl import SSLContext
from typing import Any

import anyio
import anyio.abc
from hypercorn.asyncio.lifespan import Lifespan
from hypercorn.asyncio.statsd import StatsdLogger
from hypercorn.asyncio.task_group import TaskGroup
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData
from hypercorn.typing import AppWrapper, ConnectionState, LifespanState
from hypercorn.utils import ShutdownError, parse_socket_addr, raise_shutdown, repr_socket_addr

from trimcp.http.held_writes import HeldWrites
from trimcp.http.tuning import DeferredIdleTask, TunedProtocolWrapper

__all__ = ["TunedTCPServer", "serve"]


class TunedTCPServer(TCPServer):
    """hypercorn's asyncio connection, with `DeferredIdleTask` as its keep-alive timer,
    `TunedProtocolWrapper` (so `CoalescingH11Protocol`) as its protocol, and its writes held
    to the end of the loop iteration (see the module docstring)."""

    def __init__(
        self,
        app: AppWrapper,
        loop: asyncio.AbstractEventLoop,
        config: Config,
        context: WorkerContext,
        state: LifespanState,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        super().__init__(app, loop, config, context, state, reader, writer)
        self.idle_task = DeferredIdleTask()  # type: ignore[assignment]
        self._writes = HeldWrites(self._write_out, loop.call_soon)

    async def run(self) -> None:
        # hypercorn's `TCPServer.run`, making `TunedProtocolWrapper`
        socket = self.writer.get_extra_info("socket")
        try:
            client = parse_socket_addr(socket.family, socket.getpeername())
            server = parse_socket_addr(socket.family, socket.getsockname())
            ssl_object = self.writer.get_extra_info("ssl_object")
            if ssl_object is not None:
                ssl = True
                alpn_protocol = ssl_object.selected_alpn_protocol()
            else:
                ssl = False
                alpn_protocol = "http/1.1"

            async with TaskGroup(self.loop) as task_group:
                self._task_group = task_group
                self.protocol = TunedProtocolWrapper(
                    self.app,
                    self.config,
                    self.context,
                    task_group,
                    ConnectionState(self.state),
                    ssl,
                    client,
                    server,
                    self.protocol_send,
                    alpn_protocol,
                )
                await self.protocol.initiate()
                await self.idle_task.restart(task_group, self._idle_timeout)
                await self._read_data()
        except OSError:
            pass
        finally:
            await self._close()

    async def protocol_send(self, event: Event) -> None:
        if not isinstance(event, RawData):
            await super().protocol_send(event)
            return
        # hypercorn's, with `writer.write` held to the end of the iteration
        async with self.send_lock:
            try:
                self._writes.hold(event.data)
                await self.writer.drain()
            except (ConnectionError, RuntimeError):
                await self.protocol.handle(Closed())

    def _write_out(self, data: bytes) -> None:
        """To a socket already closing (the peer gone, a failed write) nothing is written,
        like what `CoalescingH11Protocol` drops for a gone client (not counted in its
        `dropped`; a failed write shows at the next `drain()` or read, as it would have)."""
        if not self.writer.transport.is_closing():
            self.writer.write(data)

    async def _close(self) -> None:
        self._writes.flush()
        await super()._close()

    async def _initiate_server_close(self) -> None:
        # hypercorn's (the keep-alive timeout), writing what is held before `close()`: with
        # HTTP/2 the protocol's `Closed` does not reach `_close`
        await self.protocol.handle(Closed())
        self._writes.flush()
        self.writer.close()


async def serve(
    app: AppWrapper,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
    task_status: anyio.abc.TaskStatus[list[str]] = anyio.TASK_STATUS_IGNORED,
    lifespan: bool = True,
) -> None:
    """Serve `app` (hypercorn-wrapped: `hypercorn.utils.wrap_app`) on `config`'s binds until
    `shutdown_trigger` returns (or `config.max_requests` is reached), then shut down as
    hypercorn does: stop accepting, give the connections `graceful_timeout`, run the
    lifespan's shutdown. `task_status` gets the bound URLs once listening. `lifespan=False`:
    the app's lifespan is the caller's, and the app never sees a lifespan scope."""
    config.set_statsd_logger_class(StatsdLogger)
    loop = asyncio.get_running_loop()

    lifespan_state: LifespanState = {}
    life: Lifespan | None = None
    lifespan_task: asyncio.Task[Any] | None = None
    if lifespan:
        life = Lifespan(app, config, loop, lifespan_state)
        lifespan_task = loop.create_task(life.handle_lifespan())
        await life.wait_for_startup()
        if lifespan_task.done():
            exception = lifespan_task.exception()
            if exception is not None:
                raise exception

    sockets = config.create_sockets()  # TCP only: `serve_asgi` refused a `quic_bind`

    ssl_context: SSLContext | None = None
    ssl_handshake_timeout = None
    if config.ssl_enabled:
        ssl_context = config.create_ssl_context()
        ssl_handshake_timeout = config.ssl_handshake_timeout

    max_requests = None
    if config.max_requests is not None:
        max_requests = config.max_requests + randint(0, config.max_requests_jitter)
    context = WorkerContext(max_requests)
    server_tasks: set[asyncio.Task[Any]] = set()

    async def _server_callback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task(loop)
        assert task is not None  # a connection callback runs in its own task
        server_tasks.add(task)
        task.add_done_callback(server_tasks.discard)
        await TunedTCPServer(app, loop, config, context, lifespan_state, reader, writer)

    servers = []
    binds = []
    for sock in sockets.secure_sockets:
        servers.append(
            await asyncio.start_server(
                _server_callback,
                backlog=config.backlog,
                ssl=ssl_context,
                sock=sock,
                ssl_handshake_timeout=ssl_handshake_timeout,
            )
        )
        bind = repr_socket_addr(sock.family, sock.getsockname())
        binds.append(f"https://{bind}")
        await config.log.info(f"Running on https://{bind} (CTRL + C to quit)")

    for sock in sockets.insecure_sockets:
        servers.append(
            await asyncio.start_server(_server_callback, backlog=config.backlog, sock=sock)
        )
        bind = repr_socket_addr(sock.family, sock.getsockname())
        binds.append(f"http://{bind}")
        await config.log.info(f"Running on http://{bind} (CTRL + C to quit)")

    task_status.started(binds)
    try:
        async with asyncio.TaskGroup() as task_group:
            if shutdown_trigger is not None:
                task_group.create_task(raise_shutdown(shutdown_trigger))
            task_group.create_task(raise_shutdown(context.terminate.wait))
    except BaseExceptionGroup as error:
        _, other_errors = error.split((ShutdownError, KeyboardInterrupt))
        if other_errors is not None:
            raise other_errors from None
    except (ShutdownError, KeyboardInterrupt):
        pass
    finally:
        await context.terminated.set()

        for server in servers:
            server.close()
            await server.wait_closed()

        gathered_server_tasks = asyncio.gather(*server_tasks)
        try:
            await asyncio.wait_for(gathered_server_tasks, config.graceful_timeout)
        except TimeoutError:
            pass
        finally:
            # retrieve the gathered tasks' exception (CancelledError once timed out), so
            # that asyncio does not warn that nobody did
            gathered_server_tasks.exception()

            if life is not None and lifespan_task is not None:
                await life.wait_for_shutdown()
                lifespan_task.cancel()
                await lifespan_task
