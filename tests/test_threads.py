"""The worker pool for sync user functions: results, errors, contextvars, concurrency for
functions that block, and never blocking the event loop."""

from __future__ import annotations

import contextvars
import threading

import anyio
import pytest

from trimcp.runtime.threads import run_sync

pytestmark = pytest.mark.anyio

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
    from trimcp.runtime.threads import cancel_requested

    started = threading.Event()
    saw_cancel = threading.Event()

    def long_job() -> None:
        started.set()
        while not cancel_requested():
            if saw_cancel.wait(0.001):
                break
        saw_cancel.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_sync, long_job)
            await anyio.to_thread.run_sync(started.wait)
            tg.cancel_scope.cancel()
    assert saw_cancel.is_set()
