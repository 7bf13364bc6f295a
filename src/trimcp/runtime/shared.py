"""A context entered once however many users share it (a server's lifespan under several
transports, an ASGI app's lifespan under a host that also enters it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Generic, TypeVar

import anyio

__all__ = ["SharedContext"]

T = TypeVar("T")


class SharedContext(Generic[T]):
    """The first `enter()` runs the context made by `factory`; nested or concurrent entries
    wait until it is ready and share its value (or fail if it failed to start). The first
    entry owns it and tears it down when it exits."""

    def __init__(self, factory: Callable[[], AbstractAsyncContextManager[T]]) -> None:
        self._factory = factory
        self._users = 0
        self._ready: anyio.Event | None = None
        self._ok = False
        self.value: T | None = None

    @asynccontextmanager
    async def enter(self) -> AsyncIterator[T]:
        if self._users:
            self._users += 1
            try:
                assert self._ready is not None
                await self._ready.wait()
                if not self._ok:
                    raise RuntimeError("the shared context failed to start")
                yield self.value  # type: ignore[misc]
            finally:
                self._users -= 1
            return
        self._users = 1
        self._ready = ready = anyio.Event()
        try:
            async with self._factory() as value:
                self.value = value
                self._ok = True
                ready.set()
                yield value
        finally:
            self._ok = False
            self._users = 0
            self.value = None
            ready.set()  # wake waiters even when starting failed
