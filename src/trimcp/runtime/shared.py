"""A context entered once however many users share it (a server's lifespan under several
transports and a proxy's pooled sessions, an ASGI app's lifespan under a host that also
enters it).

Theory of operation. Each `SharedContext.enter()` is one *user*. The users of one entry of
the underlying context form a *run*:

    STARTING --entered--> RUNNING --last user left--> STOPPING --exited--> DONE
        \\--entering failed or was cancelled-----------------------------> DONE

- The first user to arrive while there is no run is its *owner*: it enters the underlying
  context in its own `__aenter__` and exits it in its own `__aexit__`, so both happen in the
  owner's task (an underlying context holding a task group or cancel scope needs that).
- A user arriving while the run is STARTING or RUNNING joins it: it waits until the run is
  ready and shares its value.
- Leaving is counted. The owner does not exit the underlying context while others are inside:
  its `__aexit__` waits, shielded, until the last of them left (and a user arriving meanwhile
  joins). So no user's leaving, or cancellation, tears the context down under the others.
- A user arriving while the run is STOPPING waits for the exit to end, then starts (or joins)
  a fresh run.
- If entering fails with an `Exception`, every user waiting for that run gets it, and the next
  arrival tries again. If the owner was cancelled while entering, the waiting users are not:
  one of them becomes the owner of a fresh run.
- A run belongs to the event loop that started it: a user on another loop (the first ended
  with the run never left, say by a client that was never closed) starts a fresh run.

The users' handles are plain objects, not async generators: a handle that is never exited
(a leaked client) is not finalized by the event loop behind the owner's back, out of order
with the underlying context's own generator.

What the caller keeps: the owner's `async with` enters and exits in one task (any `async with`
in one coroutine does; a fixture whose teardown runs as another task does not, and exits the
underlying context there). A user that never leaves keeps the owner's exit waiting: owning a
shared context means waiting for the others.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Generic, TypeVar

import anyio

from trimcp._backend import current_loop

__all__ = ["SharedContext"]

T = TypeVar("T")


class _State(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    DONE = "done"


class _Run(Generic[T]):
    """One entry of the underlying context, from its owner's arrival to the end of its exit."""

    __slots__ = ("context", "error", "exited", "idle", "loop", "ready", "state", "users", "value")

    def __init__(self) -> None:
        self.state = _State.STARTING
        self.users = 1  # the owner
        self.context: AbstractAsyncContextManager[T] | None = None
        self.value: T | None = None
        self.error: Exception | None = None  # why entering failed
        self.ready = anyio.Event()  # entered, or failed to
        self.idle = anyio.Event()  # the owner left and so did the last other user
        self.exited = anyio.Event()  # state is DONE
        self.loop = weakref.ref(current_loop())

    def finish(self) -> None:
        self.state = _State.DONE
        self.ready.set()
        self.exited.set()

    def failed(self) -> bool:
        """Whether entering failed or was cancelled (to ask once `ready` is set)."""
        return self.state is _State.DONE

    def leave(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.idle.set()


class SharedContext(Generic[T]):
    """Share the context `factory` makes among concurrent users; see the module docstring.

    Args:
        factory: Makes the underlying async context manager, once per run.
    """

    __slots__ = ("_factory", "_run")

    def __init__(self, factory: Callable[[], AbstractAsyncContextManager[T]]) -> None:
        self._factory = factory
        self._run: _Run[T] | None = None

    @property
    def value(self) -> T | None:
        """What the underlying context yielded, while it runs (`None` otherwise)."""
        run = self._run
        if run is None or run.state is _State.STARTING or run.state is _State.DONE:
            return None
        return run.value

    @property
    def users(self) -> int:
        """How many users the current run has (0: none is running)."""
        run = self._run
        return 0 if run is None or run.state is _State.DONE else run.users

    def enter(self) -> AbstractAsyncContextManager[T]:
        """One user: `async with shared.enter() as value:` runs or joins the shared context."""
        return _User(self)

    def _current_run(self) -> _Run[T] | None:
        """The run a user arriving now deals with: `None` to start one."""
        run = self._run
        if run is not None and run.loop() is not current_loop():
            run = self._run = None  # its loop is gone (or is another): start afresh here
        return run

    async def _start(self) -> tuple[_Run[T], T]:
        """Start a run as its owner."""
        run: _Run[T] = _Run()
        self._run = run
        try:
            context = self._factory()
            value = await context.__aenter__()
        except BaseException as exc:
            if isinstance(exc, Exception):
                run.error = exc  # for every user waiting for this run
            self._end(run)
            raise
        run.context, run.value, run.state = context, value, _State.RUNNING
        run.ready.set()
        return run, value

    def _end(self, run: _Run[T]) -> None:
        if self._run is run:
            self._run = None
        run.finish()


class _User(Generic[T]):
    """One user of a `SharedContext` (what `enter()` returns)."""

    __slots__ = ("_owner", "_run", "_shared")

    def __init__(self, shared: SharedContext[T]) -> None:
        self._shared = shared
        self._run: _Run[T] | None = None
        self._owner = False

    async def __aenter__(self) -> T:
        if self._run is not None:
            raise RuntimeError("this use of the shared context is already entered")
        shared = self._shared
        while True:
            run = shared._current_run()
            if run is None:
                self._run, value = await shared._start()
                self._owner = True
                return value
            if run.state is _State.STOPPING:
                await run.exited.wait()
                continue
            run.users += 1
            if run.state is _State.STARTING:
                try:
                    await run.ready.wait()
                except BaseException:
                    run.leave()
                    raise
                if run.failed():
                    run.leave()
                    if run.error is not None:
                        raise run.error
                    continue  # the owner was cancelled, not us: try again
            self._run = run
            return run.value  # type: ignore[return-value]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        run, self._run = self._run, None
        if run is None:
            raise RuntimeError("this use of the shared context is not entered")
        if not self._owner:
            run.leave()
            return None
        self._owner = False
        run.users -= 1
        # Shielded: the owner's cancellation must not end the context under the others.
        with anyio.CancelScope(shield=True):
            while run.users:  # (one may join while we wait: the run is still RUNNING)
                run.idle = anyio.Event()
                await run.idle.wait()
        run.state = _State.STOPPING
        try:
            assert run.context is not None
            return await run.context.__aexit__(exc_type, exc, tb)
        finally:
            self._shared._end(run)
