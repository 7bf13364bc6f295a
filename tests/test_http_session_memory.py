"""Idle handshake-era sessions are cheap, and abandoned ones are reaped back to baseline."""

from __future__ import annotations

import gc
import time
import tracemalloc

import anyio
import pytest

from tests.test_http_streamable import running

pytestmark = pytest.mark.anyio

SESSIONS = 400


async def open_sessions(harness, count: int) -> list[str]:
    ids: list[str] = []
    limiter = anyio.Semaphore(16)

    async def one() -> None:
        async with limiter:
            ids.append(await harness.initialize())

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(one)
    return ids


async def test_hundreds_of_abandoned_sessions_cost_little_and_are_reaped_to_baseline():
    """Memory per idle session stays small, and open-abandon-reap cycles do not accumulate
    anything: after the first cycle has grown the containers (dicts never shrink), each
    further cycle returns to the same level."""
    async with running(session_idle_timeout=60.0) as harness:
        sessions = harness.endpoint.sessions

        async def cycle() -> tuple[int, int]:
            before = tracemalloc.get_traced_memory()[0]
            await open_sessions(harness, SESSIONS)
            gc.collect()
            loaded = tracemalloc.get_traced_memory()[0]
            assert len(sessions) == SESSIONS
            assert await sessions.reap_idle(now=time.monotonic() + 3600) == SESSIONS
            assert len(sessions) == 0
            gc.collect()
            return loaded - before, tracemalloc.get_traced_memory()[0]

        tracemalloc.start()
        try:
            await cycle()  # warm-up: caches and container capacity
            growth, first = await cycle()
            await cycle()
            _, third = await cycle()
        finally:
            tracemalloc.stop()
    per_session = growth / SESSIONS
    drift = (third - first) / 2  # per cycle; noise goes both ways, a leak only up
    print(f"\nper idle session: {per_session / 1024:.2f} KiB; drift per cycle: {drift:.0f} B")
    assert per_session <= 10 * 1024
    assert drift <= 0.35 * growth  # a leak of a third of a session's memory would show


async def test_reaping_never_cancels_an_active_request():
    async with running(session_idle_timeout=60.0) as harness:
        [session_id] = await open_sessions(harness, 1)
        session = harness.endpoint.sessions.get(session_id)
        session.active += 1  # as while a request is in flight
        try:
            assert await harness.endpoint.sessions.reap_idle(now=time.monotonic() + 3600) == 0
            assert harness.endpoint.sessions.get(session_id) is session
        finally:
            session.active -= 1
