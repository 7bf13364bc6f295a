"""The worker pool for sync user functions: results, errors, contextvars, concurrency for
functions that block, never blocking the event loop, results handed back in batches without
waiting for a blocked job, and cancellation (skipped before the start, cooperative after);
plus the peer's per-worker cancel scopes that sync tool calls run under."""

from __future__ import annotations

import contextvars
import json
import threading
import time
from typing import Any

import anyio
import pytest

from trimcp.runtime import threads
from trimcp.runtime.memory import memory_stream_pair
from trimcp.runtime.peer import Peer
from trimcp.runtime.threads import cancel_requested, run_sync

pytestmark = pytest.mark.anyio

WAIT = 10

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


async def test_result_error_and_context_reach_the_caller():
    assert await run_sync(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(KeyError):
        await run_sync({}.__getitem__, "missing")
    var.set("from the caller")
    assert await run_sync(var.get) == "from the caller"
    assert await run_sync(threading.get_ident) != threading.get_ident()


async def test_blocking_functions_still_run_concurrently():
    barrier = threading.Barrier(4, timeout=10)  # four calls must be in flight at once
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(run_sync, barrier.wait)


async def test_the_loop_keeps_running_while_a_function_blocks():
    release = threading.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while not release.is_set():
            ticks += 1
            await anyio.lowlevel.checkpoint()
            if ticks >= 100:
                release.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_sync, release.wait)
            tg.start_soon(ticker)
    assert ticks >= 100


async def test_many_fast_calls_all_complete():
    results: list[int] = []

    async def one(i: int) -> None:
        results.append(await run_sync(lambda x: x * 2, i))

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for i in range(2000):
                tg.start_soon(one, i)
    assert sorted(results) == [2 * i for i in range(2000)]


async def test_cancellation_reaches_a_sync_function_cooperatively():
    started = threading.Event()
    saw_cancel = threading.Event()

    def long_job() -> None:
        started.set()
        deadline = time.monotonic() + WAIT
        while not cancel_requested() and time.monotonic() < deadline:
            time.sleep(0.001)  # a sync tool's work, polling for cancellation between steps
        if cancel_requested():
            saw_cancel.set()

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_sync, long_job)
            assert await anyio.to_thread.run_sync(started.wait, WAIT)
            tg.cancel_scope.cancel()
    assert saw_cancel.is_set()


@pytest.fixture
def one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh pool for the test's loop that never runs more than one worker thread."""
    monkeypatch.setattr(threads, "_pools", type(threads._pools)())
    monkeypatch.setattr(threads, "_last", None)
    monkeypatch.setattr(threads, "_MAX_WORKERS", 1)


async def wait_for_queued(count: int) -> list[threads._Job]:
    jobs = threads._pool()._jobs
    while len(jobs) < count:
        await anyio.lowlevel.checkpoint()
    return list(jobs)


async def test_a_job_cancelled_before_it_starts_never_runs(one_worker: None):
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocker() -> None:
        started.set()
        release.wait(10)

    scope = anyio.CancelScope()

    async def queued() -> None:
        with scope:
            await run_sync(ran.append, "queued")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_sync, blocker)
            assert await anyio.to_thread.run_sync(started.wait, WAIT)
            tg.start_soon(queued)
            (job,) = await wait_for_queued(1)
            scope.cancel()
            while not job.cancelled:
                await anyio.lowlevel.checkpoint()
            release.set()  # the worker comes to the job only now, and skips it
    assert ran == []


async def test_a_result_is_not_held_back_by_a_blocked_job_behind_it(one_worker: None):
    gate, block = threading.Event(), threading.Event()
    fast_result: list[int] = []

    async def fast() -> None:
        fast_result.append(await run_sync(lambda: 42))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_sync, gate.wait, 10)  # occupies the only worker
            while not threads._pool()._running:
                await anyio.lowlevel.checkpoint()
            tg.start_soon(fast)
            await wait_for_queued(1)
            tg.start_soon(run_sync, block.wait, 10)
            await wait_for_queued(2)
            gate.set()  # the worker runs `fast`, then blocks in `block.wait` ...
            while not fast_result:  # ... and `fast`'s result must still arrive
                await anyio.lowlevel.checkpoint()
            block.set()
    assert fast_result == [42]


async def test_the_result_of_a_failed_call_is_its_exception_with_its_traceback():
    def fail() -> None:
        raise ValueError("from the worker")

    with pytest.raises(ValueError, match="from the worker") as info:
        await run_sync(fail)
    assert any(entry.name == "fail" for entry in info.traceback)


async def test_a_cancelled_request_whose_handler_swallows_it_is_unanswered_and_the_next_served():
    entered = anyio.Event()

    async def on_request(request: Any) -> Any:
        if request.method == "stubborn":
            entered.set()
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                return "swallowed"  # a bad handler: its worker must not stay cancelled
        return await run_sync(str.upper, request.method)

    async def on_notification(notification: Any) -> None:
        pass

    ours, theirs = memory_stream_pair()
    peer = Peer(theirs, on_request=on_request, on_notification=on_notification)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(peer.run)
            await ours.send(b'{"jsonrpc":"2.0","id":1,"method":"stubborn"}')
            await entered.wait()
            assert peer.cancel(1)
            for rid in (2, 3):
                await ours.send(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}' % rid)
                answer = json.loads(await ours.receive())  # not the answer to 1
                assert answer == {"jsonrpc": "2.0", "id": rid, "result": "PING"}
            await ours.aclose()


async def test_workers_idling_out_while_woken_lose_no_call(monkeypatch: pytest.MonkeyPatch):
    """Workers (and the watchdog) that idle out after a millisecond, so that their timeouts
    cross the wake-ups of the calls that keep coming: a worker's wait may then time out as
    a wake-up chooses it. Every call still completes, and the pool still serves
    afterwards (its count of awake workers did not drift)."""
    monkeypatch.setattr(threads, "_pools", type(threads._pools)())
    monkeypatch.setattr(threads, "_last", None)
    monkeypatch.setattr(threads, "_IDLE_SECONDS", 0.001)
    done = 0

    async def burst(n: int) -> None:
        nonlocal done
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(run_sync, int, i)
        done += n

    with anyio.fail_after(30):
        for round_ in range(400):
            await burst(1 + round_ % 4)
            # a wait for anyio's own worker now and then: this pool's workers time out
            if round_ % 50 == 0:
                await anyio.to_thread.run_sync(threading.Event().wait, 0.002)
        assert await run_sync(int, "7") == 7
    assert done == sum(1 + r % 4 for r in range(400))
    pool = threads._pool()
    with pool._lock:
        assert pool._awake + len(pool._parked) == pool._workers
        assert pool._in_flight == 0


def test_a_pool_does_not_keep_its_loop_alive() -> None:
    import gc
    import weakref

    from trimcp._backend import current_loop

    loops: list[weakref.ref[object]] = []

    async def main() -> None:
        assert await run_sync(int, "1") == 1
        loops.append(weakref.ref(current_loop()))

    for backend in ("asyncio", "trio"):
        anyio.run(main, backend=backend)
        gc.collect()
        assert loops[-1]() is None, backend


def test_calls_fail_at_once_when_no_worker_thread_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that cannot start (the process is out of threads) fails the call: a lone
    call at once, calls gathered for a worker on the loop (`_kick`; a trio loop survives
    it); and the pool serves again once threads can start."""
    start = threading.Thread.start

    def refusing(self: threading.Thread) -> None:
        if self.name == "trimcp-worker":
            raise RuntimeError("can't start new thread")
        start(self)

    for backend in ("asyncio", "trio"):

        async def main() -> None:
            with anyio.fail_after(WAIT):
                monkeypatch.setattr(threading.Thread, "start", refusing)
                with pytest.raises(RuntimeError, match="can't start new thread"):
                    await run_sync(int, "1")
                pool = threads._pool()
                pool._in_flight += 1  # as if another call's result were on its way
                with pytest.raises(RuntimeError, match="no worker thread could be started"):
                    await run_sync(int, "1")
                pool._in_flight -= 1
                monkeypatch.setattr(threading.Thread, "start", start)
                assert await run_sync(int, "2") == 2
                assert pool._in_flight == 0

        anyio.run(main, backend=backend)


class CrossingPark:
    """A worker's parking lock whose timed wait always ends as if its timeout came just
    before the release that chose it: timed out, the lock released (free to take)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if timeout < 0:
            return self._lock.acquire(blocking)
        if self._lock.acquire(timeout=timeout):
            self._lock.release()
        return False

    def release(self) -> None:
        self._lock.release()


async def test_a_wake_up_reported_as_a_timeout_still_counts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(threads, "_pools", type(threads._pools)())
    monkeypatch.setattr(threads, "_last", None)
    pool = threads._pool()
    pool._new_park = CrossingPark
    with anyio.fail_after(WAIT):
        for i in range(20):  # each call finds the worker parked: its park is released
            assert await run_sync(int, str(i)) == i
            while True:  # until the worker waits again (it is idle between the calls)
                with pool._lock:
                    if pool._parked and not pool._awake:
                        break
                await anyio.lowlevel.checkpoint()
    with pool._lock:
        assert (pool._awake, len(pool._parked), pool._in_flight) == (0, 1, 0)


async def test_a_lone_call_wakes_a_worker_at_once_and_calls_together_are_gathered(
    monkeypatch: pytest.MonkeyPatch,
):
    """The wake-up policy: a call with none in flight wakes a worker as it is submitted;
    after a delivery of several results, the next calls wait for the loop to run what is
    ready (`_kick`), and are then taken by one worker."""
    monkeypatch.setattr(threads, "_pools", type(threads._pools)())
    monkeypatch.setattr(threads, "_last", None)
    pool = threads._pool()
    with anyio.fail_after(WAIT):
        job = threads._Job(int, ("1",), {}, pool.new_wakeup())
        pool.submit(job)
        assert not pool._kick_pending
        with pool._lock:  # woken at once (it may even have run the job since)
            assert pool._awake == 1 or job in pool._finished
        await job.wakeup.wait()
        assert job.result == 1
        pool._gathering = True  # as after a delivery of several results
        while pool._awake:  # the worker goes back to waiting
            await anyio.lowlevel.checkpoint()
        jobs = [threads._Job(int, (str(i),), {}, pool.new_wakeup()) for i in range(3)]
        for job in jobs:
            pool.submit(job)
        assert pool._awake == 0 and pool._kick_pending  # woken once the loop gets to it
        for job in jobs:
            await job.wakeup.wait()
        assert [job.result for job in jobs] == [0, 1, 2]
        assert pool._in_flight == 0


async def test_a_call_behind_a_stuck_worker_gets_another_worker_at_once(
    monkeypatch: pytest.MonkeyPatch,
):
    """The only awake worker has been inside a job for longer than `_STALL`: a call
    submitted now wakes another worker as it is submitted, not at the watchdog's tick."""
    monkeypatch.setattr(threads, "_pools", type(threads._pools)())
    monkeypatch.setattr(threads, "_last", None)
    pool = threads._pool()
    release = threading.Event()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_sync, release.wait, WAIT)
            while not pool._running:
                await anyio.lowlevel.checkpoint()
            with pool._lock:
                pool._last_start -= 1.0  # as if it had been stuck for a second
                awake = pool._awake
            job = threads._Job(int, ("5",), {}, pool.new_wakeup())
            pool.submit(job)
            with pool._lock:
                assert pool._awake == awake + 1 or job in pool._finished
            await job.wakeup.wait()
            assert job.result == 5
            release.set()
    assert pool._in_flight == 0
