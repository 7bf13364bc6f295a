"""hypercorn's trio worker with trimcp's tuned connection classes (see `trimcp.http.tuning`).

`hypercorn.trio.serve` makes each connection a `TCPServer` by a module-global name, and that
`TCPServer` makes its keep-alive timer and its `ProtocolWrapper` the same way: there is no
parameter to pass other classes. `serve` here is hypercorn 0.18's trio worker loop
(`hypercorn.trio.run.worker_serve`) making `TunedTCPServer`s instead, without HTTP/3 (QUIC
binds are refused). hypercorn's own classes and modules are left as they are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from random import randint
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.task_group import TaskGroup
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import AppWrapper, ConnectionState, LifespanState
from hypercorn.utils import ShutdownError, parse_socket_addr, raise_shutdown, repr_socket_addr

from trimcp.http.tuning import CoalescingH11Protocol, DeferredIdleTask, TunedProtocolWrapper

__all__ = ["TrioCoalescingH11Protocol", "TunedTCPServer", "serve"]


class TrioCoalescingH11Protocol(CoalescingH11Protocol):
    """`CoalescingH11Protocol`, dropping a write that races hypercorn-trio's unlocked close
    (trio's `BusyResourceError`: see `trimcp.http.tuning`)."""

    _busy = (trio.BusyResourceError,)


class TrioProtocolWrapper(TunedProtocolWrapper):
    """`TunedProtocolWrapper` with trio's `CoalescingH11Protocol`."""

    h11_class = TrioCoalescingH11Protocol


class TunedTCPServer(TCPServer):
    """hypercorn's trio connection, with `DeferredIdleTask` as its keep-alive timer and
    `TrioProtocolWrapper` (so `TrioCoalescingH11Protocol`) as its protocol."""

    def __init__(
        self,
        app: AppWrapper,
        config: Config,
        context: WorkerContext,
        state: LifespanState,
        stream: Any,
    ) -> None:
        super().__init__(app, config, context, state, stream)
        self.idle_task = DeferredIdleTask()  # type: ignore[assignment]

    async def run(self) -> None:
        # hypercorn's `TCPServer.run`, making `TrioProtocolWrapper`
        try:
            try:
                with trio.fail_after(self.config.ssl_handshake_timeout):
                    await self.stream.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError):
                return  # Handshake failed
            alpn_protocol = self.stream.selected_alpn_protocol()
            socket = self.stream.transport_stream.socket
            ssl = True
        except AttributeError:  # Not SSL
            alpn_protocol = "http/1.1"
            socket = self.stream.socket
            ssl = False

        try:
            client = parse_socket_addr(socket.family, socket.getpeername())
            server = parse_socket_addr(socket.family, socket.getsockname())

            async with TaskGroup() as task_group:
                self._task_group = task_group
                self.protocol = TrioProtocolWrapper(
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
                await self.idle_task.restart(self._task_group, self._idle_timeout)
                await self._read_data()
        except OSError:
            pass
        finally:
            await self._close()


async def serve(
    app: AppWrapper,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[object]] | None = None,
    task_status: Any = trio.TASK_STATUS_IGNORED,
    lifespan: bool = True,
) -> None:
    """Serve `app` (hypercorn-wrapped: `hypercorn.utils.wrap_app`) on `config`'s binds until
    `shutdown_trigger` returns (or `config.max_requests` is reached), then shut down as
    hypercorn does: stop accepting, give the connections `graceful_timeout`, run the
    lifespan's shutdown. `task_status` gets the bound URLs once listening. `lifespan=False`:
    the app's lifespan is the caller's, and the app never sees a lifespan scope."""
    config.set_statsd_logger_class(StatsdLogger)

    lifespan_state: LifespanState = {}
    life = Lifespan(app, config, lifespan_state) if lifespan else None
    max_requests = None
    if config.max_requests is not None:
        max_requests = config.max_requests + randint(0, config.max_requests_jitter)
    context = WorkerContext(max_requests)

    async with trio.open_nursery() as lifespan_nursery:
        if life is not None:
            await lifespan_nursery.start(life.handle_lifespan)
            await life.wait_for_startup()

        async with trio.open_nursery() as server_nursery:
            sockets = config.create_sockets()  # TCP only: `serve_asgi` refused a `quic_bind`
            for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
                sock.listen(config.backlog)

            ssl_context = config.create_ssl_context()
            listeners: list[trio.SSLListener[trio.SocketStream] | trio.SocketListener] = []
            binds = []
            for sock in sockets.secure_sockets:
                assert ssl_context is not None  # secure binds exist only with a certificate
                listeners.append(
                    trio.SSLListener(
                        trio.SocketListener(trio.socket.from_stdlib_socket(sock)),
                        ssl_context,
                        https_compatible=True,
                    )
                )
                bind = repr_socket_addr(sock.family, sock.getsockname())
                binds.append(f"https://{bind}")
                await config.log.info(f"Running on https://{bind} (CTRL + C to quit)")

            for sock in sockets.insecure_sockets:
                listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
                bind = repr_socket_addr(sock.family, sock.getsockname())
                binds.append(f"http://{bind}")
                await config.log.info(f"Running on http://{bind} (CTRL + C to quit)")

            task_status.started(binds)
            try:
                async with trio.open_nursery(strict_exception_groups=True) as nursery:
                    if shutdown_trigger is not None:
                        nursery.start_soon(raise_shutdown, shutdown_trigger)
                    nursery.start_soon(raise_shutdown, context.terminate.wait)

                    nursery.start_soon(
                        partial(
                            trio.serve_listeners,
                            partial(
                                TunedTCPServer,
                                app,
                                config,
                                context,
                                ConnectionState(lifespan_state.copy()),
                            ),
                            listeners,
                            handler_nursery=server_nursery,
                        ),
                    )

                    await trio.sleep_forever()
            except BaseExceptionGroup as error:
                _, other_errors = error.split((ShutdownError, KeyboardInterrupt))
                if other_errors is not None:
                    raise other_errors from None
            finally:
                await context.terminated.set()
                server_nursery.cancel_scope.deadline = trio.current_time() + config.graceful_timeout

        if life is not None:
            await life.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()
