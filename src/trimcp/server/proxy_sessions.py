"""The sessions a proxy holds open beyond one operation: the pool of its lifespan, and how
one session is held (`hold_session`) until the proxy lets it go or the backend ends it.

`ProxyBackend` (`trimcp.server.proxy`) owns them; this module knows nothing of the proxy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.abc

from trimcp.server.proxy_client import serve_nothing

if TYPE_CHECKING:
    from trimcp.client import Client
    from trimcp.server.proxy_client import Relay

__all__ = ["BackendStatistics", "SessionPool", "hold_session"]

logger = logging.getLogger("trimcp.proxy")


@dataclass(frozen=True)
class BackendStatistics:
    """What `ProxyBackend.statistics()` reports."""

    held_sessions: int
    """Backend sessions the proxy holds open now, for its lifespan's pool or for client
    sessions (`StatefulProxyClient`), counting those it is closing."""
    idle_sessions: int
    """Sessions of the lifespan's pool waiting for an operation to borrow them."""


class SessionPool:
    """The backend sessions of one run of the proxy's lifespan: held by tasks of `tasks`
    until `stop` (or until the backend ends one); `idle` ones are lent to one operation at a
    time (`lent` counts those out). A run that ends waits for its lent sessions to come back
    before closing them."""

    def __init__(self, tasks: anyio.abc.TaskGroup) -> None:
        self.tasks = tasks
        self.stop = anyio.Event()
        self.idle: list[tuple[Client, Relay]] = []
        self.listener: Client | None = None
        self.open = True
        self.lent = 0
        self.returned = anyio.Event()

    def forget(self, client: Client) -> None:
        """`client`'s session is closed: it is no longer idle, nor the one listening."""
        self.idle = [(c, relay) for c, relay in self.idle if c is not client]
        if self.listener is client:
            self.listener = None

    def give_back(self, client: Client | None, relay: Relay | None) -> None:
        """End a loan (`client` None: it failed to start); a live session goes back idle."""
        if self.open and client is not None and relay is not None and client.is_connected():
            self.idle.append((client, relay))
        self.lent -= 1
        if self.lent == 0:
            self.returned.set()

    async def drain(self) -> None:
        """No more lending; wait for the sessions lent out, then close them all."""
        self.open = False
        try:
            while self.lent:
                self.returned = anyio.Event()
                await self.returned.wait()
        finally:
            self.stop.set()


async def hold_session(
    client: Client,
    *stops: anyio.Event,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Connect `client` (a failure is raised to whoever starts this), then hold it connected
    until one of `stops` is set or its session ends (the backend closed it: a stdio server
    that exited); then close the connection (a stdio server is reaped)."""
    serve_nothing()  # this session outlives the request whose task started it
    started = False
    try:
        async with client:
            task_status.started()
            started = True
            async with anyio.create_task_group() as waiting:
                for stop in stops:
                    waiting.start_soon(_cancel_when_set, stop, waiting.cancel_scope)
                waiting.start_soon(_cancel_when_closed, client, waiting.cancel_scope)
    except Exception as exc:
        if not started:
            raise
        # Closing a session the backend broke must not end the task group holding it.
        logger.debug("closing the backend session of %r failed: %s", client, exc)


async def _cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _cancel_when_closed(client: Client, scope: anyio.CancelScope) -> None:
    """Cancel `scope` once `client`'s session has ended (its task group, where a watcher
    waits, is cancelled then), or at once if it has already."""
    closed = anyio.Event()

    async def watch() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            closed.set()

    try:
        watching = client.is_connected() and client.session.start_soon(watch)
    except RuntimeError:  # the session's task group has closed
        watching = False
    if watching:
        await closed.wait()
    scope.cancel()
