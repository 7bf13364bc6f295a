"""Running sync user functions in worker threads, cheaply under load.

`anyio.to_thread.run_sync` pays one cross-thread loop wake-up per call. Here worker threads
take jobs from one queue and hand results back in batches: the first result of a batch
schedules one callback on the loop, which completes every job finished by then. Under a
pipelined burst that is one wake-up for many calls. Threads are created on demand up to a
limit and exit after idling. The job runs in a copy of the caller's contextvars (so
`get_context()` works in sync tools). Cancellation waits for the function to return, as with
`anyio.to_thread.run_sync` (sync code cannot be interrupted).
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from anyio.lowlevel import RunVar

from trimcp._backend import threadsafe_scheduler

__all__ = ["cancel_requested", "run_sync"]

T = TypeVar("T")

_MAX_WORKERS = 40
_IDLE_SECONDS = 10.0
_STALL = 0.002  # seconds without progress before the watchdog adds a worker


class _Job:
    __slots__ = ("args", "cancelled", "context", "done", "error", "fn", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.context = contextvars.copy_context()
        self.done = anyio.Event()
        self.cancelled = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> Any:
        _current_job.set(self)
        return self.fn(*self.args)


_current_job: contextvars.ContextVar[_Job | None] = contextvars.ContextVar(
    "trimcp_worker_job", default=None
)


def cancel_requested() -> bool:
    """Inside a sync function run by `run_sync`: whether its caller was cancelled. A thread
    cannot be interrupted, so a long sync tool may poll this (or `ctx.is_cancelled`) and stop
    early -- cancellation reaching sync code cooperatively."""
    job = _current_job.get()
    return job is not None and job.cancelled.is_set()


class _Pool:
    """Worker threads for one event loop run.

    Fast sync functions are best run back to back by one awake worker (every extra awake
    thread only adds GIL hand-offs), but a function that blocks must not hold up the others.
    So a submit wakes a worker only when none is awake, and a watchdog thread wakes one more
    whenever jobs are waiting and no worker has started one for `_STALL` seconds: blocking
    functions still run concurrently, each extra thread joining within a few milliseconds.
    """

    def __init__(self, schedule: Callable[[Callable[[], None]], None]) -> None:
        self._schedule = schedule
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._watch = threading.Condition(self._lock)
        self._jobs: deque[_Job] = deque()
        self._finished: list[_Job] = []
        self._idle = 0  # workers waiting for a job
        self._wakeups = 0  # notifications sent but not yet taken
        self._workers = 0
        self._awake = 0  # workers running jobs or woken to
        self._started = 0  # jobs taken so far: the watchdog's progress counter
        self._watching = False
        self._watch_idle = False  # the watchdog sleeps until jobs arrive

    def submit(self, job: _Job) -> None:
        with self._lock:
            self._jobs.append(job)
            if self._awake == 0:
                self._wake_one()
            if not self._watching:
                self._watching = True
                threading.Thread(target=self._watchdog, name="trimcp-watchdog", daemon=True).start()
            elif self._watch_idle:
                self._watch_idle = False
                self._watch.notify()

    def _wake_one(self) -> None:
        """With the lock held: get one more worker running."""
        if self._idle > self._wakeups:
            self._wakeups += 1
            self._awake += 1
            self._work.notify()
        elif self._workers < _MAX_WORKERS:
            self._workers += 1
            self._awake += 1
            threading.Thread(target=self._worker, name="trimcp-worker", daemon=True).start()

    def _watchdog(self) -> None:
        with self._lock:
            seen = -1
            while True:
                if self._jobs:
                    if self._started == seen:  # jobs wait and nobody took one: all stuck
                        self._wake_one()
                    seen = self._started
                    self._watch.wait(_STALL)
                else:
                    self._watch_idle = True
                    if not self._watch.wait(_IDLE_SECONDS) and not self._jobs:
                        self._watching = False
                        self._watch_idle = False
                        return
                    self._watch_idle = False
                    seen = self._started  # measure a full stall period from now

    def _worker(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._awake -= 1
                    while not self._jobs:
                        self._idle += 1
                        notified = self._work.wait(_IDLE_SECONDS)
                        self._idle -= 1
                        if notified:
                            self._wakeups -= 1
                            break
                        if not self._jobs:
                            self._workers -= 1
                            return
                    else:
                        self._awake += 1  # woke by timeout to find work
                    if not self._jobs:
                        continue
                job = self._jobs.popleft()
                self._started += 1
            try:
                job.result = job.context.run(job.run)
            except BaseException as exc:
                job.error = exc
            with self._lock:
                self._finished.append(job)
                first = len(self._finished) == 1
            if first:
                try:
                    self._schedule(self._complete)
                except RuntimeError:  # the loop is gone; nobody waits any more
                    pass

    def _complete(self) -> None:
        with self._lock:
            finished, self._finished = self._finished, []
        for job in finished:
            job.done.set()


_pool_var: RunVar[_Pool] = RunVar("trimcp_worker_pool")


def _pool() -> _Pool:
    try:
        return _pool_var.get()
    except LookupError:
        pool = _Pool(threadsafe_scheduler())
        _pool_var.set(pool)
        return pool


async def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a worker thread and return its result (or raise its exception)."""
    job = _Job(fn, args)
    _pool().submit(job)
    try:
        await job.done.wait()
    except anyio.get_cancelled_exc_class():
        job.cancelled.set()  # tell the function, then wait for it: a thread cannot be killed
        with anyio.CancelScope(shield=True):
            await job.done.wait()
        raise
    if job.error is not None:
        raise job.error
    return job.result
