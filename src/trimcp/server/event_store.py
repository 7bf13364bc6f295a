"""FastMCP's module path for the SSE event store (`fastmcp.server.event_store`)."""

from __future__ import annotations

from trimcp.http.event_store import EventStore, InMemoryEventStore

__all__ = ["EventStore", "InMemoryEventStore"]
