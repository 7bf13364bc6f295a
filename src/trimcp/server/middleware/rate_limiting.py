"""FastMCP's rate-limiting middleware (`fastmcp.server.middleware.rate_limiting`).

- `RateLimitingMiddleware`: a token bucket per client (`get_client_id(context)`, else one
  for everyone), or one for the whole server (`global_limit=True`): `burst_capacity` requests
  at once (default twice the rate), refilled at `max_requests_per_second`.
- `SlidingWindowRateLimitingMiddleware`: at most `max_requests` per `window_minutes`.

A request over the limit is answered with `RateLimitError`, an `McpError` with code -32000.
The limiters hold no lock: they never await between reading and updating their state, so
requests on one event loop cannot interleave inside them.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.exceptions import McpError
from trimcp.protocol.errors import ErrorData

__all__ = [
    "RateLimitError",
    "RateLimitingMiddleware",
    "SlidingWindowRateLimiter",
    "SlidingWindowRateLimitingMiddleware",
    "TokenBucketRateLimiter",
]

ClientId = Callable[[MiddlewareContext[Any]], str]


class RateLimitError(McpError):
    """A request over its rate limit (code -32000)."""

    def __init__(self, message: str = "Rate limit exceeded"):
        super().__init__(ErrorData(-32000, message))


class TokenBucketRateLimiter:
    """`capacity` tokens, refilled at `refill_rate` per second; a request takes one."""

    def __init__(self, capacity: int, refill_rate: float):
        self.capacity = capacity
        self.refill_rate = refill_rate
        self.tokens: float = capacity
        self.last_refill = time.monotonic()

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

    async def is_allowed(self) -> bool:
        """Count this request if the window has room for it (True)."""
        now = time.monotonic()
        while self.requests and self.requests[0] < now - self.window_seconds:
            self.requests.popleft()
        if len(self.requests) >= self.max_requests:
            return False
        self.requests.append(now)
        return True


class RateLimitingMiddleware(Middleware):
    """Token-bucket rate limiting, per client or for the whole server (see the module)."""

    def __init__(
        self,
        max_requests_per_second: float = 10.0,
        burst_capacity: int | None = None,
        get_client_id: ClientId | None = None,
        global_limit: bool = False,
    ):
        self.max_requests_per_second = max_requests_per_second
        self.burst_capacity = burst_capacity or int(max_requests_per_second * 2)
        self.get_client_id = get_client_id
        self.global_limit = global_limit
        self.limiters: defaultdict[str, TokenBucketRateLimiter] = defaultdict(self._bucket)
        if global_limit:
            self.global_limiter = self._bucket()

    def _bucket(self) -> TokenBucketRateLimiter:
        return TokenBucketRateLimiter(self.burst_capacity, self.max_requests_per_second)

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if self.global_limit:
            if not await self.global_limiter.consume():
                raise RateLimitError("Global rate limit exceeded")
        else:
            client = self.get_client_id(context) if self.get_client_id else "global"
            if not await self.limiters[client].consume():
                raise RateLimitError(f"Rate limit exceeded for client: {client}")
        return await call_next(context)


class SlidingWindowRateLimitingMiddleware(Middleware):
    """Sliding-window rate limiting per client (see the module)."""

    def __init__(
        self, max_requests: int, window_minutes: int = 1, get_client_id: ClientId | None = None
    ):
        self.max_requests = max_requests
        self.window_seconds = window_minutes * 60
        self.get_client_id = get_client_id
        self.limiters: defaultdict[str, SlidingWindowRateLimiter] = defaultdict(
            lambda: SlidingWindowRateLimiter(self.max_requests, self.window_seconds)
        )

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        client = self.get_client_id(context) if self.get_client_id else "global"
        if not await self.limiters[client].is_allowed():
            raise RateLimitError(
                f"Rate limit exceeded: {self.max_requests} requests per "
                f"{self.window_seconds // 60} minutes for client: {client}"
            )
        return await call_next(context)
