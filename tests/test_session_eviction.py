"""Issue 14, finding 5: sessions cannot lock new clients out.

Before: `initialize` requests with no follow-up filled the session cap (10,240 of them in
about 3 s against the default 10,000) and every new client got 503 until the idle timeout
(30 minutes) reaped them. Now a session whose client never came back has a short timeout of
its own, and at the cap the server evicts (never-confirmed first, then the least recently
used idle session) instead of refusing; a session with a request in flight is never cut.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from tests.test_http_streamable import GATES, Harness, init_params, running, wait_until
from trimcp.http.event_store import InMemoryEventStore

pytestmark = pytest.mark.anyio


async def initialize_only(h: Harness) -> str:
    """An `initialize` and nothing more: the client never comes back."""
    response = await h.post(h.body("initialize", init_params()))
    assert response.status_code == 200, response.text
    return response.headers["mcp-session-id"]


def gated_call(h: Harness, request_id: int) -> tuple[bytes, anyio.Event]:
    """A `tools/call` of `wait_for_gate` with `request_id`, and the gate that lets it finish."""
    GATES.clear()
    gate = GATES[str(request_id)] = anyio.Event()
    return h.body("tools/call", {"name": "wait_for_gate", "arguments": {}}, id=request_id), gate


async def works(h: Harness, session_id: str) -> bool:
    response = await h.call(session_id, "tools/call", {"name": "add", "arguments": {"a": 1}})
    if response.status_code == 404:
        assert response.json()["error"]["code"] == -32600
        return False
    assert response.status_code == 200, response.text
    return True


async def add(h: Harness, session_id: str) -> Any:
    response = await h.call(
        session_id, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}
    )
    assert response.status_code == 200, response.text
    return response.json()["result"]["structuredContent"]


async def test_never_initialized_sessions_at_the_cap_do_not_lock_out_a_new_client() -> None:
    async with running(max_sessions=5) as h:
        abandoned = [await initialize_only(h) for _ in range(5)]
        newcomer = await h.initialize()  # was 503 "Too many sessions"
        assert await add(h, newcomer) == {"result": 3}
        assert len(h.endpoint.sessions) == 5
        # the oldest abandoned session made room; its id is now unknown: 404
        assert not await works(h, abandoned[0])
        assert h.endpoint.sessions.evicted == 1


async def test_exactly_max_sessions_live_and_the_next_one_evicts() -> None:
    async with running(max_sessions=5) as h:
        sessions = [await h.initialize() for _ in range(5)]
        assert len(h.endpoint.sessions) == 5
        for session_id in sessions:  # the fifth did not evict anyone
            assert await add(h, session_id) == {"result": 3}
        assert h.endpoint.sessions.evicted == 0
        sixth = await h.initialize()
        assert len(h.endpoint.sessions) == 5
        assert h.endpoint.sessions.evicted == 1
        assert await add(h, sixth) == {"result": 3}
        assert not await works(h, sessions[0])  # the least recently used


async def test_idle_initialized_sessions_are_evicted_least_recently_used_first() -> None:
    async with running(max_sessions=3) as h:
        a, b, c = [await h.initialize() for _ in range(3)]
        assert await add(h, a) == {"result": 3}  # a is used again: b is now the oldest
        d = await h.initialize()
        assert not await works(h, b)
        assert await works(h, a)
        assert await works(h, c)
        assert await works(h, d)
        e = await h.initialize()  # used in the order a, c, d: a is the least recent now
        assert not await works(h, a)
        assert [await works(h, s) for s in (c, d, e)] == [True, True, True]


async def test_never_initialized_sessions_are_evicted_before_initialized_ones() -> None:
    async with running(max_sessions=3) as h:
        older = await h.initialize()
        abandoned = await initialize_only(h)
        newer = await h.initialize()
        await h.initialize()
        assert not await works(h, abandoned)  # not `older`, although it is older
        assert await works(h, older)
        assert await works(h, newer)


async def test_session_with_a_slow_tool_call_in_flight_is_never_evicted() -> None:
    async with running(max_sessions=2) as h:
        busy = await h.initialize()
        idle = await h.initialize()
        call, gate = gated_call(h, 7001)
        results: list[Any] = []

        async def slow_call() -> None:
            results.append(await h.post(call, {"mcp-session-id": busy}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_call)
            await wait_until(lambda: h.endpoint.sessions.sessions[busy].active > 0)
            # the busy one is older and its client has not touched it since: still kept
            newcomers = [await h.initialize() for _ in range(3)]
            assert not await works(h, idle)
            assert h.endpoint.sessions.sessions.keys() == {busy, newcomers[-1]}
            gate.set()
        assert results[0].status_code == 200
        assert results[0].json()["result"]["structuredContent"] == {"result": "opened"}
        assert await works(h, busy)


async def test_at_the_cap_with_every_session_busy_a_new_client_gets_503() -> None:
    async with running(max_sessions=1) as h:
        busy = await h.initialize()
        call, gate = gated_call(h, 7002)
        async with anyio.create_task_group() as tg:
            tg.start_soon(h.post, call, {"mcp-session-id": busy})
            await wait_until(lambda: h.endpoint.sessions.sessions[busy].active > 0)
            refused = await h.post(h.body("initialize", init_params()))
            assert refused.status_code == 503
            gate.set()
        assert await works(h, busy)


async def test_never_initialized_session_is_reaped_after_the_handshake_timeout() -> None:
    async with running(session_idle_timeout=1800.0) as h:
        sessions = h.endpoint.sessions
        assert sessions.handshake_timeout == 60.0  # the default
        sessions.handshake_timeout = 30.0
        abandoned = await initialize_only(h)
        kept = await h.initialize()
        now = time.monotonic()
        assert await sessions.reap_idle(now=now + 10) == 0
        assert await sessions.reap_idle(now=now + 31) == 1
        assert sessions.get(abandoned) is None
        assert await works(h, kept)
        assert await sessions.reap_idle(now=time.monotonic() + 1801) == 1
        assert len(sessions) == 0


async def test_reap_interval_follows_the_shorter_timeout() -> None:
    async with running(session_idle_timeout=1800.0) as h:
        h.endpoint.sessions.handshake_timeout = 40.0
        assert h.endpoint.sessions.reap_interval() == 10.0


async def test_an_evicted_session_leaves_no_stored_events_behind() -> None:
    store = InMemoryEventStore()
    async with running(max_sessions=1, event_store=store) as h:
        evicted = await h.initialize("2025-11-25")  # resumable: its streams are stored
        # a stream closed early keeps its events for a resuming GET
        response = await h.call(evicted, "tools/call", {"name": "close_early", "arguments": {}})
        assert response.status_code == 200
        await wait_until(lambda: h.endpoint.sessions.sessions[evicted].active == 0)
        assert any(stream_id.startswith(evicted) for stream_id in store._heads)
        await h.initialize()
        assert not await works(h, evicted)
        await h.endpoint.sessions.reap_idle()  # the store is async: dropped on the next pass
        assert not any(stream_id.startswith(evicted) for stream_id in store._heads)


async def test_a_session_past_its_timeout_with_a_call_in_flight_is_not_reaped() -> None:
    # active sessions keep their place in the order of use (a request's start costs nothing
    # there): reaping skips them, reaps the idle ones behind them, and `busy` counts them
    async with running(session_idle_timeout=30.0) as h:
        sessions = h.endpoint.sessions
        busy = await h.initialize()
        assert await works(h, busy)  # confirmed
        idle = await h.initialize()
        assert await works(h, idle)
        assert sessions.busy == 0
        call, gate = gated_call(h, 7003)
        async with anyio.create_task_group() as tg:
            tg.start_soon(h.post, call, {"mcp-session-id": busy})
            await wait_until(lambda: sessions.sessions[busy].active > 0)
            assert sessions.busy == 1
            assert await sessions.reap_idle(now=time.monotonic() + 31) == 1
            assert sessions.sessions.keys() == {busy}
            assert sessions.busy == 1
            gate.set()
        await wait_until(lambda: sessions.sessions[busy].active == 0)
        assert sessions.busy == 0
        assert await works(h, busy)
        assert await sessions.reap_idle(now=time.monotonic() + 31) == 1
        assert len(sessions) == 0 and sessions.busy == 0
