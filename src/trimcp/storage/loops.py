"""What `RedisStore` and its RESP2 client hold once per event loop: a store may be used under
several loops (one after another, or at once from several threads), each with its own
connections, which only that loop may touch.

- `PerLoop`: one entry per event loop, made on first use there; entries of loops that ended
  (or that are done) are dropped when a new one is made. Entries hold their loop weakly, as
  `loop`, a `weakref.ref`.
- `PoolRunner`: the task that holds a coredis client entered (its pool open) on one loop.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

import anyio

from trimcp._backend import current_loop

__all__ = ["PerLoop", "PoolRunner"]

_CLOSE_BOUND = 10.0
"""Seconds closing a pool waits for it to close (it takes milliseconds) before cancelling it."""


class _OfLoop(Protocol):
    loop: weakref.ref[Any]


_Entry = TypeVar("_Entry", bound=_OfLoop)
_Client = TypeVar("_Client", bound=AbstractAsyncContextManager[Any])


class PerLoop(Generic[_Entry]):
    """One entry per event loop, by `id()` of the loop (checked against the entry's weak
    reference, since ids are reused)."""

    __slots__ = ("_by_loop",)

    def __init__(self) -> None:
        self._by_loop: dict[int, _Entry] = {}

    def get(self, make: Callable[[object], _Entry], done: Callable[[_Entry], bool]) -> _Entry:
        """This loop's entry; a new one (`make(loop)`) when it has none or it is `done`."""
        loop = current_loop()
        entry = self._by_loop.get(id(loop))
        if entry is None or entry.loop() is not loop or done(entry):
            # no checkpoint from the check to here: concurrent first calls make one entry
            for key, other in list(self._by_loop.items()):  # those of loops that ended
                if done(other) or other.loop() is None:
                    self._by_loop.pop(key, None)  # (another thread's loop may purge too)
            entry = self._by_loop[id(loop)] = make(loop)
        return entry

    def take(self) -> _Entry | None:
        """This loop's entry, no longer kept (None: it has none)."""
        loop = current_loop()
        entry = self._by_loop.get(id(loop))
        if entry is None or entry.loop() is not loop:
            return None
        del self._by_loop[id(loop)]
        return entry


class PoolRunner(Generic[_Client]):
    """The task that holds one client entered (`RedisStore`'s coredis client: its connection
    pool open), on one event loop, from `run()` until `stop` is set or the loop cancels it."""

    __slots__ = ("_pending", "client", "done", "error", "loop", "ready", "scope", "stop")

    def __init__(self, client: _Client, loop: object) -> None:
        self._pending = client
        self.loop = weakref.ref(loop)
        self.client: _Client | None = None
        """The entered client, while the pool is open."""
        self.error: BaseException | None = None
        self.scope = anyio.CancelScope()
        self.ready = anyio.Event()
        self.stop = anyio.Event()
        self.done = anyio.Event()

    async def run(self) -> None:
        try:
            with self.scope:
                async with self._pending:
                    self.client = self._pending
                    self.ready.set()
                    await self.stop.wait()
        except BaseException as exc:  # a detached task reports its outcome, never raises
            self.error = exc
        finally:
            self.client = None
            self.ready.set()
            self.done.set()

    async def finish(self) -> None:
        """Stop the runner and wait (shielded, bounded) until the pool is closed."""
        self.stop.set()
        with anyio.move_on_after(_CLOSE_BOUND, shield=True):
            await self.done.wait()
        if not self.done.is_set():
            self.scope.cancel()
            with anyio.move_on_after(_CLOSE_BOUND, shield=True):
                await self.done.wait()
