"""A server's lifespan: the user's lifespan function and the mounts' lifespans around it, run
once however many transports (stdio, HTTP apps, in-memory clients, a parent mounting it) share
the server, and what it yielded while it runs.

A `FastMCP` owns one `ServerLifespan`; `FastMCP.lifespan_context()`, `lifespan_result` and
`has_custom_lifespan` read it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from trimcp.runtime.shared import SharedContext

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["LifespanFn", "ServerLifespan", "default_lifespan"]

LifespanFn = Callable[["FastMCP"], AbstractAsyncContextManager[Any]]


@asynccontextmanager
async def default_lifespan(server: FastMCP) -> AsyncIterator[dict[str, Any]]:
    """The lifespan of a server given none: yields `{}`."""
    yield {}


class ServerLifespan:
    """The lifespan of `owner`: `lifespan(owner)` inside its mounts' lifespans, shared."""

    __slots__ = ("function", "owner", "shared")

    def __init__(self, owner: FastMCP, lifespan: LifespanFn | None) -> None:
        self.owner = owner
        self.function: LifespanFn = lifespan or default_lifespan
        self.shared: SharedContext[Any] = SharedContext(self.run)

    @property
    def is_custom(self) -> bool:
        """Whether the server was given a lifespan of its own."""
        return self.function is not default_lifespan

    def enter(self) -> AbstractAsyncContextManager[Any]:
        """Run the lifespan, or join the run already going; yields its result."""
        return self.shared.enter()

    @property
    def result(self) -> Any:
        """What the running lifespan yielded (`None` when it is not running)."""
        return self.shared.value

    @asynccontextmanager
    async def run(self) -> AsyncIterator[Any]:
        """One run: mounts' lifespans first, then the user's; `None` yielded becomes `{}`."""
        owner = self.owner
        owner.capture_event_loop()  # change notifications from worker threads hop to this loop
        async with owner.composition.lifespans(), self.function(owner) as result:
            yield result if result is not None else {}
