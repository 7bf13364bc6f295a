"""FastMCP's `fastmcp.server.context` path: `Context`, `get_context` and the rest of
`trimcp.core.context`'s `__all__`, and `LoggingLevel`."""

from __future__ import annotations

from trimcp.core.context import *  # noqa: F403
from trimcp.core.context import LoggingLevel
from trimcp.core.context import __all__ as _core_all

__all__ = [*_core_all, "LoggingLevel"]
