"""Running sync user functions in worker threads, cheaply under load.

`anyio.to_thread.run_sync` pays one cross-thread loop wake-up per call. Here worker threads
take jobs from one queue, run them back to back and hand results back in batches: one
callback scheduled on the loop wakes the callers of every job finished by then. Under a
pipelined burst that is one loop wake-up (and one GIL hand-over) for many calls. Threads
are created on demand up to a limit and exit after idling. The job runs in a copy of the
caller's contextvars (so `get_context()` works in sync tools). The caller parks on a `Wakeup`
from the backend seam (a bare future on asyncio, a parked task on trio): an `anyio.Event`
costs several times as much.

Cancellation: a job not started yet is skipped; a running one sees `cancel_requested()` and
is waited for, as with `anyio.to_thread.run_sync` (sync code cannot be interrupted).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from trimcp._backend import (
    Wakeup,
    current_loop,
    loop_scheduler,
    threadsafe_scheduler,
    wakeup_factory,
)

__all__ = ["cancel_requested", "run_sync"]

T = TypeVar("T")

_MAX_WORKERS = 40
_IDLE_SECONDS = 10.0
_STALL = 0.005  # seconds without progress before the watchdog adds a worker (its tick)
_QUIET_TICKS = 50  # ticks finding no job waiting before the watchdog sleeps until a submit


class _Job:
    __slots__ = (
        "args",
        "cancelled",
        "context",
        "delivered",
        "error",
        "fn",
        "kwargs",
        "result",
        "wakeup",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wakeup: Wakeup,
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.context: contextvars.Context | None = contextvars.copy_context()
        self.wakeup = wakeup
        self.cancelled = False  # set by the loop, read by the worker: a plain flag will do
        self.delivered = False  # the loop has been told the job is over (loop thread only)
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        """In a worker thread: run the function unless its caller gave up first."""
        context = self.context
        assert context is not None
        self.context = None  # it will hold the job (`_current_job`): no cycle for the GC
        if self.cancelled:
            return
        context.run(self._call)

    def _call(self) -> None:
        """In the caller's context copy: the function, with `_current_job` set."""
        _current_job.set(self)
        try:
            self.result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.error = exc


_current_job: contextvars.ContextVar[_Job | None] = contextvars.ContextVar(
    "trimcp_worker_job", default=None
)


def cancel_requested() -> bool:
    """Inside a sync function run by `run_sync`: whether its caller was cancelled. A thread
    cannot be interrupted, so a long sync tool may poll this (or `ctx.is_cancelled`) and stop
    early -- cancellation reaching sync code cooperatively."""
    job = _current_job.get()
    return job is not None and job.cancelled


class _Pool:
    """Worker threads for one event loop run.

    Fast sync functions are best run back to back by one awake worker (every extra awake
    thread only adds GIL hand-offs), but a function that blocks must not hold up the others.
    So a worker is woken only when none is awake, or when jobs wait, every awake worker is
    inside a job and none has started one for `_STALL` seconds (`_stalled`: checked at each
    submit and on each tick of a watchdog thread): blocking functions still run concurrently,
    each extra thread joining at once or within a tick. A worker awake but not in a job is
    waiting for the GIL (the loop holds it while it has work): another thread would wait for
    it too. Results go back to the loop in batches (see `_deliver_soon`).

    Thread switches are what the hand-over costs under load (a tenth of a uvicorn server's
    CPU at 0.68 switches per call, 32 connections), so the threads are woken sparingly:
    - while calls come together (the last delivery handed back several), a worker is woken
      once the loop has run what is ready now (`_kick`), not at the first submit: the jobs
      the loop submits in that time wait for it together, and it does not take the GIL from
      the loop in between. A lone call (none in flight, and the last delivery, if any, had
      one) wakes it at once: waiting for the loop would add to its latency (sequential sync
      calls over stdio: 200 -> 235 µs) and gather nothing;
    - the watchdog ticks every `_STALL` seconds while jobs wait, and through `_QUIET_TICKS`
      ticks that find none before it sleeps until the next submit: woken at every submit,
      it cost a switch or two per call.
    """

    def __init__(self, schedule: Callable[[Callable[[], None]], object]) -> None:
        # weakly: the pool is kept per loop and must not keep its loop alive
        self._schedule = weakref.WeakMethod(schedule)
        self.new_wakeup = wakeup_factory()
        self._lock = threading.Lock()
        self._watch = threading.Condition(self._lock)
        self._jobs: deque[_Job] = deque()
        self._finished: deque[_Job] = deque()
        self._delivery_pending = False  # a `_deliver` callback is scheduled and not yet run
        # the idle workers' parking locks, held: released to wake one (a `Condition` does
        # the same in Python, at several times the cost per wake-up)
        self._parked: list[Any] = []
        self._new_park: Callable[[], Any] = threading.Lock  # (tests make parks that race)
        self._workers = 0
        self._awake = 0  # workers running jobs or woken to
        self._running = 0  # workers inside a job (taken, not yet back for the next)
        self._last_start = 0.0  # `time.monotonic()` when a worker last took a job
        self._watching = False
        self._watch_idle = False  # the watchdog sleeps until jobs arrive
        # used on the loop's thread only; weakly, as `_schedule`
        self._soon = weakref.WeakMethod(loop_scheduler())
        self._kick_pending = False  # a `_kick` is scheduled and not yet run
        self._in_flight = 0  # jobs submitted and not yet delivered (the loop's thread only)
        self._gathering = False  # the last delivery had several jobs (the loop's thread only)

    def submit(self, job: _Job) -> None:
        with self._lock:
            if not self._watching:
                watchdog = threading.Thread(target=self._watchdog, name="trimcp-watchdog")
                watchdog.daemon = True
                with contextlib.suppress(RuntimeError):  # no thread now: at the next submit
                    watchdog.start()
                    self._watching = True
            elif self._watch_idle:
                self._watch_idle = False
                self._watch.notify()
            if self._awake == 0:
                if not self._in_flight and not self._gathering:  # a lone call: wake one now
                    self._wake_one()  # (a thread that cannot start fails the call)
                elif not self._kick_pending:
                    soon = self._soon()
                    if soon is not None:  # else the loop is gone; nobody waits any more
                        self._kick_pending = True
                        soon(self._kick)
            elif self._stalled():  # the awake workers are stuck in long jobs: one more
                with contextlib.suppress(RuntimeError):  # else it waits for one of them
                    self._wake_one()
            self._jobs.append(job)
            self._in_flight += 1

    def _kick(self) -> None:
        """On the loop, once what was ready has run: wake a worker for the jobs submitted
        since, unless one is awake. If no worker thread can be started, those jobs fail."""
        with self._lock:
            self._kick_pending = False
            if not self._jobs or self._awake:
                return
            try:
                self._wake_one()
                return
            except RuntimeError as exc:  # "can't start new thread"
                reason = f"no worker thread could be started: {exc}"
                failed = list(self._jobs)
                self._jobs.clear()
        for job in failed:
            job.error = RuntimeError(reason)
            self._finished.append(job)
        self._deliver()

    def _stalled(self) -> bool:
        """With the lock held, jobs waiting: will no worker take one soon? None is awake and
        no kick is coming, or every awake one is inside a job and none started one for
        `_STALL` seconds."""
        if not self._awake:
            return not self._kick_pending
        return self._running >= self._awake and time.monotonic() - self._last_start >= _STALL

    def _wake_one(self) -> None:
        """With the lock held: get one more worker running, unless `_MAX_WORKERS` run and
        none is idle (`RuntimeError` if a thread is needed and cannot be started; nothing is
        counted then)."""
        if self._parked:
            self._awake += 1
            # the last parked: the likeliest still in cache; the others idle out
            self._parked.pop().release()
        elif self._workers < _MAX_WORKERS:
            # started first: it waits for the lock held here, and a start that fails counts
            # no worker
            threading.Thread(target=self._worker, name="trimcp-worker", daemon=True).start()
            self._workers += 1
            self._awake += 1

    def _watchdog(self) -> None:
        with self._lock:
            quiet = 0
            while True:
                if self._jobs:
                    quiet = 0
                    self._deliver_soon()
                    if self._stalled():
                        with contextlib.suppress(RuntimeError):  # no thread: next tick
                            self._wake_one()
                elif quiet == _QUIET_TICKS:  # sleep until a submit, or leave
                    self._watch_idle = True
                    if not self._watch.wait(_IDLE_SECONDS) and not self._jobs:
                        self._watching = False
                        self._watch_idle = False
                        return
                    self._watch_idle = False
                    continue
                else:
                    quiet += 1
                self._watch.wait(_STALL)

    def _worker(self) -> None:
        park = self._new_park()  # held while running; parked, acquired again to wait
        park.acquire()
        ran = False  # back from a job: no longer `_running`
        while True:
            with self._lock:
                if ran:
                    self._running -= 1
                    ran = False
                if not self._jobs:
                    self._awake -= 1
                    if not self._park(park):  # idle for `_IDLE_SECONDS`
                        self._workers -= 1
                        return
                    if not self._jobs:
                        continue
                job = self._jobs.popleft()
                self._last_start = time.monotonic()
                self._running += 1
                last = not self._jobs
            if last:  # it may block: first hand back what is done
                self._deliver_soon()
            ran = True
            job.run()
            self._finished.append(job)
            del job  # not kept while idle: through its waiter it holds the loop
            if not self._jobs:
                self._deliver_soon()

    def _park(self, park: Any) -> bool:
        """With the lock held, in a worker: wait until `_wake_one` releases `park` (True,
        counted awake by it), or for `_IDLE_SECONDS` (False: nobody chose this worker and
        no job waits; True if one does, counted awake here)."""
        self._parked.append(park)
        self._lock.release()
        try:
            woken = park.acquire(timeout=_IDLE_SECONDS)
        finally:
            self._lock.acquire()
        if woken:
            return True
        if park not in self._parked:  # chosen as the wait ended: take that release
            park.acquire()
            return True
        self._parked.remove(park)
        if self._jobs:  # (waiting for a `_kick`, say): taken now
            self._awake += 1
            return True
        return False

    def _deliver_soon(self) -> None:
        """Have the loop wake the callers of the finished jobs: one loop wake-up per batch.

        Called when a worker sees the queue empty (before its last job and after any job)
        and by the watchdog on each tick while jobs wait, so a result waits at most
        `_STALL` for its batch. Deques need no lock: a job is appended before the flag is
        read, so either this call schedules a delivery or the pending one will see the job.
        """
        if self._finished and not self._delivery_pending:
            self._delivery_pending = True
            schedule = self._schedule()
            if schedule is not None:  # else the loop is gone; nobody waits any more
                try:
                    schedule(self._deliver)
                except RuntimeError:  # the loop is closed
                    pass

    def _deliver(self) -> None:
        """On the loop: wake the callers of every job finished so far."""
        self._delivery_pending = False
        finished = self._finished
        if not finished:  # (two deliveries crossed)
            return
        self._gathering = len(finished) > 1  # calls come together: gather the next ones
        while finished:
            job = finished.popleft()
            job.delivered = True
            self._in_flight -= 1
            job.wakeup.set()


_pools: weakref.WeakKeyDictionary[object, _Pool] = weakref.WeakKeyDictionary()


_last: tuple[weakref.ref[object], _Pool] | None = None  # the pool looked up last, by its loop


def _pool() -> _Pool:
    global _last
    loop = current_loop()
    last = _last
    if last is not None and last[0]() is loop:  # one loop at a time, nearly always
        return last[1]
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _Pool(threadsafe_scheduler())
    _last = (weakref.ref(loop), pool)
    return pool


async def run_sync(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` in a worker thread and return its result (or raise its
    exception). Whatever it returns comes back as is, an awaitable too."""
    pool = _pool()
    job = _Job(fn, args, kwargs, pool.new_wakeup())
    pool.submit(job)
    try:
        await job.wakeup.wait()
    except anyio.get_cancelled_exc_class():
        job.cancelled = True  # skipped if not started yet; else the function may poll it
        if not job.delivered:  # wait for it: a thread cannot be killed
            job.wakeup = pool.new_wakeup()
            with anyio.CancelScope(shield=True):
                await job.wakeup.wait()
        raise
    except BaseException:
        job.cancelled = True
        raise
    if job.error is not None:
        raise job.error
    return job.result  # type: ignore[no-any-return]
