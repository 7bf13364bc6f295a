"""FastMCP's module path for the SSE event store (`fastmcp.server.event_store`), with trimcp's
`RedisEventStore` beside it (loaded on first use: it needs coredis, extra `trimcp[redis]`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports
from trimcp.http.event_store import EventStore, InMemoryEventStore

if TYPE_CHECKING:
    from trimcp.http.redis_event_store import RedisEventStore

__all__ = ["EventStore", "InMemoryEventStore", "RedisEventStore"]

__getattr__, __dir__ = lazy_exports(
    globals(), {"trimcp.http.redis_event_store": ("RedisEventStore",)}
)
