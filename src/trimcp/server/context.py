"""FastMCP's `fastmcp.server.context` path: `Context`, `get_context` and the rest of
`trimcp.core.context`'s `__all__`."""

from __future__ import annotations

from trimcp.core.context import *  # noqa: F403
from trimcp.core.context import __all__ as __all__
