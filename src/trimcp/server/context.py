"""FastMCP's `fastmcp.server.context` path: `Context` and `get_context` (from `trimcp.core`)."""

from __future__ import annotations

from trimcp.core.context import Context, LoggingLevel, enter_context, get_context

__all__ = ["Context", "LoggingLevel", "enter_context", "get_context"]
