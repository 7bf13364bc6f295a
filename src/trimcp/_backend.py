"""The one small backend seam: the only place that names asyncio or trio directly (with
`trimcp._backend_trio`, its request scope for trio, kept apart for its size)."""

from __future__ import annotations

import functools
import inspect
import sys
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from threading import get_ident
from typing import Any, Protocol

from trimcp._backend_trio import trio_request_scope_class

__all__ = [
    "Wakeup",
    "asyncio_event_class",
    "cancel_scope_class",
    "current_loop",
    "loop_scheduler",
    "quiet_cancelled_connections",
    "running_backend",
    "spawn_detached",
    "stray_cancellation",
    "threadsafe_scheduler",
    "wakeup_factory",
]


def running_backend() -> str | None:
    """'asyncio' or 'trio' when called from inside a running event loop of that kind, else None."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return "asyncio"
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass
        else:
            return "trio"
    return None


def spawn_detached(fn: Callable[[], Awaitable[None]]) -> None:
    """Run `fn()` as a task of the event loop itself, not of the calling task: it outlives
    the caller (for helpers entered in one task and left in another, as pytest-asyncio's
    async fixtures are). `fn` must not raise: it reports its own outcome. On trio, a system
    task (cancelled when the run ends)."""
    if running_backend() == "trio":
        import trio

        trio.lowlevel.spawn_system_task(fn)
        return
    import asyncio

    task = asyncio.ensure_future(fn())
    _DETACHED.add(task)  # the loop keeps only a weak reference
    task.add_done_callback(_DETACHED.discard)


_DETACHED: set[Any] = set()


def stray_cancellation(exc: BaseException) -> bool:
    """Whether `exc` is asyncio's `CancelledError` raised by user code rather than by a
    cancellation of the running task (say, a tool awaited a future that something else
    cancelled): an ordinary failure of that request, to be answered, not propagated. A real
    cancellation (a cancel scope, the task's end) has the task `cancelling()`. On trio user
    code cannot raise `Cancelled`, so a cancellation is always real."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not isinstance(exc, asyncio.CancelledError):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # on trio: asyncio's exception is never trio's cancellation
        return True
    return task is not None and task.cancelling() == 0


def current_loop() -> object:
    """An object standing for the running loop (asyncio's loop, trio's token), cheaply: a key
    for per-loop state. Weak-referenceable; raises `RuntimeError` outside a loop."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        loop = asyncio._get_running_loop()  # None, not an exception, when not in asyncio
        if loop is not None:
            return loop
    trio = sys.modules.get("trio")
    if trio is not None:
        return trio.lowlevel.current_trio_token()  # RuntimeError outside trio
    raise RuntimeError("no running asyncio or trio event loop")


def threadsafe_scheduler() -> Callable[[Callable[[], None]], object]:
    """A function that, called from any thread, runs a callback soon on the current loop."""
    backend = running_backend()
    if backend == "asyncio":
        import asyncio

        return asyncio.get_running_loop().call_soon_threadsafe
    if backend == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    raise RuntimeError("no running asyncio or trio event loop")


def loop_scheduler() -> Callable[[Callable[[], None]], object]:
    """A function that, called from the current loop's own thread, runs a callback on it once
    what is ready now has run (asyncio's `call_soon`; trio's `run_sync_soon`)."""
    if running_backend() == "asyncio":
        import asyncio

        return asyncio.get_running_loop().call_soon
    return threadsafe_scheduler()


def cancel_scope_class() -> Callable[[], Any]:
    """A class of cancel scopes made per request, for the running loop: `RequestScope` on
    asyncio, `TrioRequestScope` on trio (else anyio's asyncio `CancelScope` class, trio's own
    `CancelScope`). What callers use: `with`, `cancel()`, `cancel_called`, `cancelled_caught`."""
    if running_backend() == "trio":
        lean = trio_request_scope_class()
        if lean is not None:
            return lean
        import trio

        return trio.CancelScope
    light = _request_scope_class()
    if light is not None:
        import asyncio
        import threading

        # bound to the loop (asking for the running loop costs a getpid() on Python 3.11)
        return functools.partial(light, asyncio.get_running_loop(), threading.get_ident())
    import anyio

    return type(anyio.CancelScope())


@functools.cache
def _request_scope_class() -> type | None:
    """`RequestScope` (below) when anyio's asyncio internals it reads look as expected (anyio
    4: `_task_states`, a scope's `_parent_scope`); None, and anyio's own scopes, otherwise."""
    try:
        from anyio._backends import _asyncio as anyio_asyncio

        states = anyio_asyncio._task_states
        refs = states.data  # type: ignore[attr-defined]  # a WeakKeyDictionary's own dict
        slots = anyio_asyncio.CancelScope.__slots__
        task_slots = anyio_asyncio.TaskState.__slots__
    except (ImportError, AttributeError):
        return None
    if "_parent_scope" not in slots or "cancel_scope" not in task_slots:
        return None
    import asyncio

    RequestScope.task_states = states
    RequestScope.task_state_refs = refs
    RequestScope.current_task = staticmethod(asyncio.current_task)
    # Python 3.11's `current_task` is Python code around a lookup in the dict the C tasks keep
    # (3.12 has it in C): the lookup itself, a Python call fewer per request
    tasks: Any = getattr(asyncio.tasks, "_current_tasks", None)
    lookup = isinstance(tasks, dict) and inspect.isfunction(asyncio.current_task)
    RequestScope.task_on = tasks.get if lookup else staticmethod(asyncio.current_task)
    return RequestScope


class RequestScope:
    """A cancel scope for one request on asyncio (29 -> 19 µs of trimcp's work per JSON
    `tools/call` in process against anyio's): it touches no anyio bookkeeping, and a task of
    its own gets no anyio task state. anyio's rules where they matter: `cancel()` is
    level-triggered (`Task.cancel` at once when the task waits, again at each turn of the
    loop until the block is left; never inside a shielded anyio scope entered in the block,
    never the current task from itself, never a task whose awaited future is done); leaving
    takes back its own cancellations (`Task.uncancel`) and swallows the `CancelledError`
    only if no other cancellation is pending, as anyio 4's scopes do. Only `with`,
    `cancel()`, `cancel_called` and `cancelled_caught`; anyio's scopes inside work as usual."""

    # `_handle`, `_pending`, `_caught`: set only once cancelled (nearly no request is)
    __slots__ = (
        "_at_enter",
        "_caught",
        "_handle",
        "_loop",
        "_outer",
        "_pending",
        "_task",
        "_thread",
        "cancel_called",
    )
    task_states: Any = None  # anyio's `_task_states` (a WeakKeyDictionary), its `data` below
    task_state_refs: Any = None
    current_task: Any = None  # asyncio.current_task, set with `task_states`
    task_on: Any = None  # the current task on a given loop, set with `task_states`

    def __init__(self, loop: Any = None, thread: int | None = None) -> None:
        self._loop = loop  # the running loop, when the caller knows it (saves a system call)
        self._thread = thread  # the thread it runs in
        self._task: Any = None
        self._at_enter = -1  # the task's `cancelling()` once entered
        self.cancel_called = False

    @property
    def cancelled_caught(self) -> bool:
        return getattr(self, "_caught", False)

    def __enter__(self) -> RequestScope:
        if self._at_enter >= 0:
            raise RuntimeError("Each CancelScope may only be used for a single 'with' block")
        task = self.task_on(self._loop) if self._thread == get_ident() else None
        if task is None:  # another loop than the one the scopes were made for
            task = self.current_task()
            if task is None:
                raise RuntimeError("a RequestScope is entered in an asyncio task")
        self._task = task
        # `task_states.get(task)` without its Python frame
        state = self.task_state_refs.get(weakref.ref(task))
        self._outer = None if state is None else state.cancel_scope
        self._at_enter = task.cancelling()
        if self.cancel_called:
            self._deliver()
        return self

    def cancel(self) -> None:
        if not self.cancel_called:
            self.cancel_called = True
            self._pending = 0
            self._handle: Any = None
            if self._task is not None:
                self._deliver()

    def _deliver(self) -> None:
        import asyncio

        self._handle = None
        task = self._task
        if task is None or task.done():
            return
        if (
            task is not asyncio.current_task()
            and not task._must_cancel
            and not self._shielded(task)
        ):
            waiter = task._fut_waiter
            if waiter is None or not waiter.done():
                task.cancel()
                self._pending += 1
        self._handle = asyncio.get_running_loop().call_soon(self._deliver)

    def _shielded(self, task: Any) -> bool:
        """Whether the task is inside a shielded anyio scope entered within this block."""
        state = self.task_states.get(task)
        scope = None if state is None else state.cancel_scope
        outer = self._outer
        while scope is not None and scope is not outer:
            if scope.shield:
                return True
            scope = scope._parent_scope
        return False

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        task = self._task
        self._task = None  # left: no more delivery
        if not self.cancel_called:
            return False
        handle = self._handle
        if handle is not None:
            handle.cancel()
            self._handle = None
        if task is None:
            return False
        while self._pending:
            task.uncancel()
            self._pending -= 1
        import asyncio

        if isinstance(exc, asyncio.CancelledError) and task.cancelling() <= self._at_enter:
            self._caught = True
            return True
        return False


_STREAM_CALLBACK = "StreamReaderProtocol.connection_made.<locals>.callback"


@contextmanager
def quiet_cancelled_connections() -> Iterator[None]:
    """For the block, do not log a cancelled `asyncio.start_server` connection as an error:
    before Python 3.13 every connection hypercorn cuts at the end of its grace period is
    logged as "Exception in callback StreamReaderProtocol.connection_made.<locals>.callback"
    with a `CancelledError`. The running loop drops exactly that report. Nothing on trio."""
    if running_backend() != "asyncio" or sys.version_info >= (3, 13):
        yield
        return
    import asyncio

    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        callback = getattr(context.get("handle"), "_callback", None)
        if (
            isinstance(context.get("exception"), asyncio.CancelledError)
            and getattr(callback, "__qualname__", None) == _STREAM_CALLBACK
        ):
            return
        if previous is None:
            loop.default_exception_handler(context)
        else:
            previous(loop, context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        if loop.get_exception_handler() is handler:
            loop.set_exception_handler(previous)


class Wakeup(Protocol):
    """A one-shot wake-up for one waiting task, cheaper than an `anyio.Event`.

    One task awaits `wait()` once; `set()` is called from the loop's thread (never from
    another thread) and may come before or after the wait. A cancelled `wait()` raises the
    backend's cancellation exception and is not woken later: wait on a new `Wakeup` instead.
    """

    def set(self) -> None: ...

    def wait(self) -> Awaitable[None]: ...


def asyncio_event_class() -> Callable[[], Any]:
    """`asyncio.Event`, for asyncio-only code that makes the events a library expects (trimcp's
    uvicorn protocol makes uvicorn's request cycles)."""
    import asyncio

    return asyncio.Event


def wakeup_factory() -> Callable[[], Wakeup]:
    """The `Wakeup` constructor for the running loop."""
    backend = running_backend()
    if backend == "asyncio":
        return _asyncio_wakeup()
    if backend == "trio":
        return _trio_wakeup()
    raise RuntimeError("no running asyncio or trio event loop")


@functools.cache
def _asyncio_wakeup() -> Callable[[], Wakeup]:
    import asyncio

    get_running_loop = asyncio.get_running_loop

    class AsyncioWakeup:
        """A bare future: awaiting it is the cheapest way for an asyncio task to park."""

        __slots__ = ("_future",)

        def __init__(self) -> None:
            self._future = get_running_loop().create_future()

        def set(self) -> None:
            if not self._future.done():  # done also when the waiter was cancelled
                self._future.set_result(None)

        def wait(self) -> Awaitable[None]:
            return self._future

    return AsyncioWakeup


@functools.cache
def _trio_wakeup() -> Callable[[], Wakeup]:
    import trio

    current_task = trio.lowlevel.current_task
    reschedule = trio.lowlevel.reschedule
    wait_task_rescheduled = trio.lowlevel.wait_task_rescheduled
    checkpoint = trio.lowlevel.checkpoint
    succeeded = trio.lowlevel.Abort.SUCCEEDED

    class TrioWakeup:
        """The task parks itself (what `trio.Event` does underneath, minus the parking lot)."""

        __slots__ = ("_is_set", "_task")

        def __init__(self) -> None:
            self._task: Any = None
            self._is_set = False

        def set(self) -> None:
            self._is_set = True
            task, self._task = self._task, None
            if task is not None:
                reschedule(task)

        def wait(self) -> Awaitable[None]:  # no coroutine frame of its own: one per wait
            if self._is_set:
                return checkpoint()
            self._task = current_task()
            return wait_task_rescheduled(self._abort)

        def _abort(self, _raise_cancel: Any) -> Any:
            self._task = None  # cancelled: a later `set()` must not reschedule the task
            return succeeded

    return TrioWakeup
