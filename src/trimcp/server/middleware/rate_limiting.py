"""FastMCP's rate-limiting middleware (`fastmcp.server.middleware.rate_limiting`).

- `RateLimitingMiddleware`: a token bucket per client (`get_client_id(context)`, else one
  for everyone), or one for the whole server (`global_limit=True`): `burst_capacity` requests
  at once (default twice the rate), refilled at `max_requests_per_second`.
- `SlidingWindowRateLimitingMiddleware`: at most `max_requests` per `window_minutes`.

A request over the limit is answered with `RateLimitError`, an `McpError` with code -32000.

Where the counters live:
- By default in this process, on its monotonic clock. The limiters hold no lock: they never
  await between reading and updating their state, so requests cannot interleave inside them.
  `limiters` (client id -> limiter) holds only the clients that still count: a bucket that
  has been left alone long enough to be full again (`burst_capacity / max_requests_per_second`
  seconds), or a window with no request left in it, is the same as a new one and is dropped.
  The mapping is kept least recently used first, and each request drops the idle ones at its
  front (amortized O(1)), so however many client ids pass, memory holds only those seen
  within the last refill (or window). A bucket that never refills (a rate of 0) is kept.
- With `storage=` (any `AsyncKeyValue`), in that store, so that every process sharing it
  (several replicas on one `RedisStore` or `DiskStore`) shares one limit per client. Times are
  then wall-clock seconds, which the processes share.
  - On a `trimcp.storage.RedisStore` each decision is one Lua script, atomic in Redis and
    timed by Redis's own clock: exact however many processes race.
  - On any other store a decision is a read and a write of one entry, serialized within the
    process; two processes deciding at the same instant may both admit a request (the
    key-value protocol has no compare-and-set), so the limit may be passed by at most one
    request per other process racing. Use Redis where the limit must be exact.
  - A store that fails (Redis down) lets the request through, with a warning logged: the
    limiter protects the server, it does not take it down with the store.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import anyio

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.exceptions import McpError
from trimcp.protocol.errors import ErrorData
from trimcp.storage import AsyncKeyValue

__all__ = [
    "RateLimitError",
    "RateLimitingMiddleware",
    "SlidingWindowRateLimiter",
    "SlidingWindowRateLimitingMiddleware",
    "StoredSlidingWindows",
    "StoredTokenBuckets",
    "TokenBucketRateLimiter",
]

logger = logging.getLogger(__name__)

ClientId = Callable[[MiddlewareContext[Any]], str]

TOKEN_BUCKET_COLLECTION = "trimcp_rate_limits_token_bucket"
SLIDING_WINDOW_COLLECTION = "trimcp_rate_limits_sliding_window"


class RateLimitError(McpError):
    """A request over its rate limit (code -32000)."""

    def __init__(self, message: str = "Rate limit exceeded"):
        super().__init__(ErrorData(-32000, message))


# -- in this process ---------------------------------------------------------------------------


class TokenBucketRateLimiter:
    """`capacity` tokens, refilled at `refill_rate` per second; a request takes one."""

    def __init__(self, capacity: int, refill_rate: float):
        self.capacity = capacity
        self.refill_rate = refill_rate
        self.tokens: float = capacity
        self.last_refill = time.monotonic()

    def is_idle(self, now: float) -> bool:
        """Whether the bucket, untouched since its last request, is full again at `now` (on
        `time.monotonic()`): the same as a new one."""
        return self.refill_rate > 0 and now - self.last_refill >= self.capacity / self.refill_rate

    async def consume(self, tokens: int = 1) -> bool:
        """Take `tokens` if the bucket holds them (True), else take none (False)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last_refill) * self.refill_rate)
        self.last_refill = now
        if self.tokens < tokens:
            return False
        self.tokens -= tokens
        return True


class SlidingWindowRateLimiter:
    """At most `max_requests` within any `window_seconds`."""

    def __init__(self, max_requests: int, window_seconds: float):
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self.requests: deque[float] = deque()

    def is_idle(self, now: float) -> bool:
        """Whether no request counted is left in the window at `now` (on `time.monotonic()`):
        the same as a new one."""
        return not self.requests or self.requests[-1] < now - self.window_seconds

    async def is_allowed(self) -> bool:
        """Count this request if the window has room for it (True)."""
        now = time.monotonic()
        while self.requests and self.requests[0] < now - self.window_seconds:
            self.requests.popleft()
        if len(self.requests) >= self.max_requests:
            return False
        self.requests.append(now)
        return True


class _Limiter(Protocol):
    def is_idle(self, now: float) -> bool: ...


L = TypeVar("L", bound=_Limiter)


def _limiter_of(limiters: OrderedDict[str, L], client: str, new: Callable[[], L]) -> L:
    """`client`'s limiter (`new()` if it has none), made the most recent; the idle limiters at
    the front of `limiters` (least recent first) are dropped on the way. Each limiter is
    dropped once, so the sweep costs O(1) per request, amortized. All limiters of one mapping
    share their settings, so the front is the first to become idle: the sweep stops at the
    first that is not."""
    limiter = limiters.pop(client, None)
    now = time.monotonic()
    while limiters:
        oldest = next(iter(limiters.values()))
        if not oldest.is_idle(now):
            break
        limiters.popitem(last=False)
    if limiter is None:
        limiter = new()
    limiters[client] = limiter
    return limiter


# -- in a store --------------------------------------------------------------------------------

_TOKEN_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return allowed
"""

_SLIDING_WINDOW_LUA = """
local limit = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window_ms))
if redis.call('ZCARD', KEYS[1]) >= limit then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window_ms)
return 1
"""


def _redis_store(store: AsyncKeyValue) -> Any:
    """`store` if it is a `trimcp.storage.RedisStore` (whose module is loaded if it is one),
    else None."""
    module = sys.modules.get("trimcp.storage.redis")
    redis_store = getattr(module, "RedisStore", None) if module is not None else None
    return store if redis_store is not None and isinstance(store, redis_store) else None


class _Stored:
    """What both stored limiters share: the store, its Redis path, the in-process lock."""

    collection: str

    def __init__(self, store: AsyncKeyValue) -> None:
        self.store = store
        self.redis = _redis_store(store)
        self.lock = anyio.Lock()

    async def _script(self, source: str, key: str, *args: Any) -> bool:
        redis_key = self.redis.redis_key(key, collection=self.collection)
        async with self.redis.connection("rate limit") as client:
            allowed = await client.eval(source, keys=[redis_key], args=list(args))
        return bool(allowed)


class StoredTokenBuckets(_Stored):
    """Token buckets in a store, one entry per bucket (see the module for the guarantees).

    Args:
        store: where the buckets live.
        capacity: tokens a full bucket holds.
        refill_rate: tokens added per second.
    """

    collection = TOKEN_BUCKET_COLLECTION

    def __init__(self, store: AsyncKeyValue, *, capacity: int, refill_rate: float) -> None:
        super().__init__(store)
        self.capacity = capacity
        self.refill_rate = refill_rate
        # past this, an untouched bucket is full again: its entry may go
        self.idle_seconds = capacity / refill_rate + 1 if refill_rate > 0 else None

    async def consume(self, bucket: str) -> bool:
        """Take a token from `bucket` if it holds one (True), else take none (False)."""
        if self.redis is not None:
            idle_ms = math.ceil((self.idle_seconds or 86_400) * 1000)
            return await self._script(
                _TOKEN_BUCKET_LUA, bucket, self.capacity, self.refill_rate, idle_ms
            )
        async with self.lock:
            state = await self.store.get(bucket, collection=self.collection)
            now = time.time()
            tokens = float(state["tokens"]) if state else float(self.capacity)
            at = float(state["at"]) if state else now
            tokens = min(self.capacity, tokens + max(0.0, now - at) * self.refill_rate)
            allowed = tokens >= 1
            if allowed:
                tokens -= 1
            await self.store.put(
                bucket,
                {"tokens": tokens, "at": now},
                collection=self.collection,
                ttl=self.idle_seconds,
            )
            return allowed


class StoredSlidingWindows(_Stored):
    """Sliding windows in a store, one entry per client (see the module for the guarantees).

    Args:
        store: where the windows live.
        max_requests: requests allowed within any `window_seconds`.
        window_seconds: the window's length.
    """

    collection = SLIDING_WINDOW_COLLECTION

    def __init__(self, store: AsyncKeyValue, *, max_requests: int, window_seconds: float):
        super().__init__(store)
        self.max_requests = max_requests
        self.window_seconds = window_seconds

    async def is_allowed(self, client: str) -> bool:
        """Count this request of `client` if its window has room for it (True)."""
        if self.redis is not None:
            return await self._script(
                _SLIDING_WINDOW_LUA,
                client,
                self.max_requests,
                math.ceil(self.window_seconds * 1000),
                uuid.uuid4().hex,
            )
        async with self.lock:
            state = await self.store.get(client, collection=self.collection)
            now = time.time()
            times = [t for t in (state or {}).get("times", []) if t >= now - self.window_seconds]
            allowed = len(times) < self.max_requests
            if allowed:
                times.append(now)
            await self.store.put(
                client, {"times": times}, collection=self.collection, ttl=self.window_seconds
            )
            return allowed


async def _admitted(decide: Callable[[], Any]) -> bool:
    """The stored limiter's answer; True (with a warning) when its store fails."""
    try:
        return bool(await decide())
    except Exception:
        logger.warning("rate limit store failed; letting the request through", exc_info=True)
        return True


# -- the middleware ----------------------------------------------------------------------------


class RateLimitingMiddleware(Middleware):
    """Token-bucket rate limiting, per client or for the whole server (see the module).

    Args:
        max_requests_per_second: the sustained rate (tokens added per second).
        burst_capacity: requests allowed at once (default twice the rate).
        get_client_id: the client a request counts against (default: one for everyone).
        global_limit: one bucket for the whole server, whatever `get_client_id` says.
        storage: keep the buckets in this store, shared by every process using it.
    """

    def __init__(
        self,
        max_requests_per_second: float = 10.0,
        burst_capacity: int | None = None,
        get_client_id: ClientId | None = None,
        global_limit: bool = False,
        *,
        storage: AsyncKeyValue | None = None,
    ):
        self.max_requests_per_second = max_requests_per_second
        self.burst_capacity = burst_capacity or int(max_requests_per_second * 2)
        self.get_client_id = get_client_id
        self.global_limit = global_limit
        # client id -> bucket, least recently used first (idle buckets are dropped)
        self.limiters: OrderedDict[str, TokenBucketRateLimiter] = OrderedDict()
        if global_limit:
            self.global_limiter = self._bucket()
        self.stored = (
            StoredTokenBuckets(
                storage, capacity=self.burst_capacity, refill_rate=max_requests_per_second
            )
            if storage is not None
            else None
        )

    def _bucket(self) -> TokenBucketRateLimiter:
        return TokenBucketRateLimiter(self.burst_capacity, self.max_requests_per_second)

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if self.global_limit:
            if not await self._consume("global", self.global_limiter):
                raise RateLimitError("Global rate limit exceeded")
        else:
            client = self.get_client_id(context) if self.get_client_id else "global"
            if not await self._consume(client, None):
                raise RateLimitError(f"Rate limit exceeded for client: {client}")
        return await call_next(context)

    async def _consume(self, bucket: str, limiter: TokenBucketRateLimiter | None) -> bool:
        stored = self.stored
        if stored is not None:
            return await _admitted(lambda: stored.consume(bucket))
        if limiter is None:
            limiter = _limiter_of(self.limiters, bucket, self._bucket)
        return await limiter.consume()


class SlidingWindowRateLimitingMiddleware(Middleware):
    """Sliding-window rate limiting per client (see the module).

    Args:
        max_requests: requests allowed per window.
        window_minutes: the window's length.
        get_client_id: the client a request counts against (default: one for everyone).
        storage: keep the windows in this store, shared by every process using it.
    """

    def __init__(
        self,
        max_requests: int,
        window_minutes: int = 1,
        get_client_id: ClientId | None = None,
        *,
        storage: AsyncKeyValue | None = None,
    ):
        self.max_requests = max_requests
        self.window_seconds = window_minutes * 60
        self.get_client_id = get_client_id
        # client id -> window, least recently used first (empty windows are dropped)
        self.limiters: OrderedDict[str, SlidingWindowRateLimiter] = OrderedDict()
        self.stored = (
            StoredSlidingWindows(
                storage, max_requests=max_requests, window_seconds=self.window_seconds
            )
            if storage is not None
            else None
        )

    def _window(self) -> SlidingWindowRateLimiter:
        return SlidingWindowRateLimiter(self.max_requests, self.window_seconds)

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        client = self.get_client_id(context) if self.get_client_id else "global"
        stored = self.stored
        if stored is not None:
            allowed = await _admitted(lambda: stored.is_allowed(client))
        else:
            allowed = await _limiter_of(self.limiters, client, self._window).is_allowed()
        if not allowed:
            raise RateLimitError(
                f"Rate limit exceeded: {self.max_requests} requests per "
                f"{self.window_seconds // 60} minutes for client: {client}"
            )
        return await call_next(context)
