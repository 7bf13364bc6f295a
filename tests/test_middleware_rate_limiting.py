"""Rate limiting (`trimcp.server.middleware.rate_limiting`) on real servers, both eras and both
backends: FastMCP's token bucket and sliding window in one process, and the same limits kept
in a store (`storage=`), shared by several servers: exact on Redis under concurrency, and a
failing store lets requests through."""

from __future__ import annotations

import logging
from typing import Any, Literal

import anyio
import pytest

from tests.conftest import RedisServer
from trimcp import Client, FastMCP
from trimcp.exceptions import McpError
from trimcp.server.middleware.rate_limiting import (
    RateLimitError,
    RateLimitingMiddleware,
    SlidingWindowRateLimitingMiddleware,
    StoredSlidingWindows,
    StoredTokenBuckets,
)
from trimcp.storage import MemoryStore

pytestmark = pytest.mark.anyio

WAIT = 10
SLOW = 0.001  # tokens per second: no refill within a test
BEFORE = 2
"""Requests a limit counts before a client's first call, as FastMCP's does: the client's
introduction (`initialize`, or a 2026-07-28 `server/discover`) and the server's own
`tools/list` before the first call of a tool it has not listed."""


def _server(*middleware: Any) -> FastMCP:
    mcp = FastMCP("limited", middleware=list(middleware))

    # no output schema: the client then has no reason to list tools (which would count; the
    # server's own listing before a first call counts, in `BEFORE`)
    @mcp.tool(output_schema=None)
    def echo(text: str) -> str:
        return text

    return mcp


def _text(result: Any) -> str:
    text: str = result.content[0].text
    return text


async def _calls_until_refused(client: Client, limit: int) -> McpError:
    for n in range(limit):
        assert _text(await client.call_tool("echo", {"text": str(n)})) == str(n)
    with pytest.raises(McpError) as refused:
        await client.call_tool("echo", {"text": "one too many"})
    return refused.value


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_token_bucket_refuses_past_the_burst_with_fastmcps_error(
    protocol: Literal["legacy", "modern"],
) -> None:
    limiter = RateLimitingMiddleware(max_requests_per_second=SLOW, burst_capacity=3 + BEFORE)
    with anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol=protocol) as client:
            refused = await _calls_until_refused(client, 3)
    assert isinstance(refused, McpError) and refused.error.code == -32000
    assert str(refused.error.message) == "Rate limit exceeded for client: global"


async def test_global_limit_and_per_client_buckets() -> None:
    glob = RateLimitingMiddleware(
        max_requests_per_second=SLOW, burst_capacity=2 + BEFORE, global_limit=True
    )
    with anyio.fail_after(WAIT):
        async with Client(_server(glob), protocol="modern") as client:
            refused = await _calls_until_refused(client, 2)
    assert refused.error.message == "Global rate limit exceeded"

    per_text = RateLimitingMiddleware(
        max_requests_per_second=SLOW,
        burst_capacity=1,
        get_client_id=_by_text,
    )
    with anyio.fail_after(WAIT):
        async with Client(_server(per_text), protocol="modern") as client:
            await client.call_tool("echo", {"text": "a"})
            await client.call_tool("echo", {"text": "b"})  # another client, its own bucket
            with pytest.raises(McpError, match="Rate limit exceeded for client: a"):
                await client.call_tool("echo", {"text": "a"})
    assert set(per_text.limiters) == {"a", "b", "initialize", "tools/list"}


async def test_token_bucket_refills_at_its_rate() -> None:
    limiter = RateLimitingMiddleware(
        max_requests_per_second=50, burst_capacity=1, get_client_id=_calls_apart
    )
    with anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol="modern") as client:
            await client.call_tool("echo", {"text": "first"})
            with pytest.raises(McpError, match="Rate limit exceeded"):
                await client.call_tool("echo", {"text": "at once"})
            while True:  # a token comes back within 20 ms (a refused call takes none)
                try:
                    result = await client.call_tool("echo", {"text": "later"})
                    break
                except McpError:
                    await anyio.sleep(0.005)
    assert _text(result) == "later"


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_sliding_window_refuses_past_max_requests(
    protocol: Literal["legacy", "modern"],
) -> None:
    limiter = SlidingWindowRateLimitingMiddleware(max_requests=2 + BEFORE, window_minutes=1)
    with anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol=protocol) as client:
            refused = await _calls_until_refused(client, 2)
    assert refused.error.code == -32000
    assert refused.error.message == (
        f"Rate limit exceeded: {2 + BEFORE} requests per 1 minutes for client: global"
    )


def _by_text(context: Any) -> str:
    """The client id of a request: its `text` argument (a tool call), else its method."""
    arguments = getattr(context.message, "arguments", None) or {}
    return str(arguments.get("text", context.method))


def _calls_apart(context: Any) -> str:
    """One client id for all tool calls, another for each other method."""
    return "calls" if context.method == "tools/call" else str(context.method)


IDS = 200


@pytest.mark.parametrize("kind", ["token bucket", "sliding window"])
async def test_idle_clients_are_forgotten_so_many_ids_do_not_grow_memory(kind: str) -> None:
    """A bucket full again, or a window with no request left in it, is the same as a new one:
    it is dropped, so many distinct client ids leave one limiter (the last one's) behind."""
    limiter: RateLimitingMiddleware | SlidingWindowRateLimitingMiddleware
    if kind == "token bucket":  # full again 1 ms after its last request
        limiter = RateLimitingMiddleware(1000, burst_capacity=1, get_client_id=_by_text)
        idle = 0.001
    else:
        limiter = SlidingWindowRateLimitingMiddleware(max_requests=1, get_client_id=_by_text)
        limiter.window_seconds = idle = 0.01
    most = 0
    with anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol="modern") as client:
            for n in range(IDS):
                await client.call_tool("echo", {"text": f"client-{n}"})
                most = max(most, len(limiter.limiters))
            # not a synchronisation: the clock has to pass the refill (or the window)
            await anyio.sleep(idle * 5)
            await client.call_tool("echo", {"text": "last"})
    assert list(limiter.limiters) == ["last"]
    assert most < IDS  # the sweep ran all along, not only at the end


@pytest.mark.parametrize("kind", ["token bucket", "sliding window"])
async def test_a_client_over_its_limit_stays_limited_while_other_ids_come_and_go(
    kind: str,
) -> None:
    limiter: RateLimitingMiddleware | SlidingWindowRateLimitingMiddleware
    if kind == "token bucket":
        limiter = RateLimitingMiddleware(SLOW, burst_capacity=1, get_client_id=_by_text)
    else:
        limiter = SlidingWindowRateLimitingMiddleware(max_requests=1, get_client_id=_by_text)
    with anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol="modern") as client:
            await client.call_tool("echo", {"text": "hot"})
            for n in range(IDS):
                await client.call_tool("echo", {"text": f"client-{n}"})
            with pytest.raises(McpError, match="for client: hot"):
                await client.call_tool("echo", {"text": "hot"})
            with pytest.raises(McpError, match="for client: client-0"):
                await client.call_tool("echo", {"text": "client-0"})
    # the least recently used first; none is idle, none was dropped
    assert len(limiter.limiters) == IDS + 1 + BEFORE  # and "initialize", "tools/list"
    assert list(limiter.limiters)[-2:] == ["hot", "client-0"]


# -- counters in a store -------------------------------------------------------------------------


async def test_stored_token_bucket_is_one_limit_for_two_servers() -> None:
    shared = MemoryStore()
    first = _server(
        RateLimitingMiddleware(
            max_requests_per_second=SLOW, burst_capacity=3 + 2 * BEFORE, storage=shared
        )
    )
    second = _server(
        RateLimitingMiddleware(
            max_requests_per_second=SLOW, burst_capacity=3 + 2 * BEFORE, storage=shared
        )
    )
    with anyio.fail_after(WAIT):
        async with (
            Client(first, protocol="modern") as a,
            Client(second, protocol="modern") as b,
        ):
            await a.call_tool("echo", {"text": "1"})
            await b.call_tool("echo", {"text": "2"})
            await a.call_tool("echo", {"text": "3"})
            with pytest.raises(McpError, match="Rate limit exceeded for client: global"):
                await b.call_tool("echo", {"text": "4"})
            with pytest.raises(McpError, match="Rate limit exceeded"):
                await a.call_tool("echo", {"text": "5"})


async def test_stored_sliding_window_is_one_limit_for_two_servers() -> None:
    shared = MemoryStore()
    servers = [
        _server(SlidingWindowRateLimitingMiddleware(max_requests=2 + 2 * BEFORE, storage=shared))
        for _ in range(2)
    ]
    with anyio.fail_after(WAIT):
        async with (
            Client(servers[0], protocol="modern") as a,
            Client(servers[1], protocol="modern") as b,
        ):
            await a.call_tool("echo", {"text": "1"})
            await b.call_tool("echo", {"text": "2"})
            with pytest.raises(McpError, match=f"{2 + 2 * BEFORE} requests per 1 minutes"):
                await a.call_tool("echo", {"text": "3"})
    assert await shared.get("global", collection=StoredSlidingWindows.collection) is not None


async def test_stored_token_bucket_refills_on_the_wall_clock() -> None:
    buckets = StoredTokenBuckets(MemoryStore(), capacity=1, refill_rate=50)
    with anyio.fail_after(WAIT):
        assert await buckets.consume("c")
        assert not await buckets.consume("c")
        while not await buckets.consume("c"):  # noqa: ASYNC110 - a token within 20 ms
            await anyio.sleep(0.005)


async def test_redis_counters_are_exact_when_many_requests_race(redis_server: RedisServer) -> None:
    """Two limiters (as two processes would hold) on one Redis: of 40 concurrent requests,
    exactly the limit passes, for the token bucket and for the sliding window."""
    from trimcp.storage.redis import RedisStore

    async with RedisStore(url=redis_server.url) as store:
        buckets = [StoredTokenBuckets(store, capacity=7, refill_rate=SLOW) for _ in range(2)]
        windows = [StoredSlidingWindows(store, max_requests=5, window_seconds=60) for _ in range(2)]
        admitted = {"bucket": 0, "window": 0}

        async def request(n: int) -> None:
            if await buckets[n % 2].consume("client"):
                admitted["bucket"] += 1
            if await windows[n % 2].is_allowed("client"):
                admitted["window"] += 1

        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                for n in range(40):
                    tg.start_soon(request, n)
    assert admitted == {"bucket": 7, "window": 5}


async def test_redis_token_bucket_refills_by_redis_clock(redis_server: RedisServer) -> None:
    from trimcp.storage.redis import RedisStore

    buckets = StoredTokenBuckets(RedisStore(url=redis_server.url), capacity=1, refill_rate=50)
    with anyio.fail_after(WAIT):
        assert await buckets.consume("c")
        assert not await buckets.consume("c")
        while not await buckets.consume("c"):  # noqa: ASYNC110 - a token within 20 ms
            await anyio.sleep(0.005)


async def test_a_failing_store_lets_requests_through(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    from trimcp.storage.redis import RedisStore

    store = RedisStore(url=redis_server.url, connect_timeout=1, timeout=1)
    limiter = RateLimitingMiddleware(max_requests_per_second=SLOW, burst_capacity=1, storage=store)
    redis_server.stop()
    with caplog.at_level(logging.WARNING), anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol="modern") as client:
            for n in range(3):
                assert _text(await client.call_tool("echo", {"text": str(n)})) == str(n)
    assert "rate limit store failed" in caplog.text


def test_rate_limit_error_is_an_mcp_error_with_code_32000() -> None:
    error = RateLimitError()
    assert isinstance(error, McpError)
    assert error.error.code == -32000 and error.error.message == "Rate limit exceeded"
