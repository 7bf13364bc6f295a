"""FastMCP's `fastmcp.server.middleware.middleware` path, re-exported from
`trimcp.core.middleware` (its `__all__` is this module's)."""

from __future__ import annotations

from trimcp.core.middleware import *  # noqa: F403
from trimcp.core.middleware import __all__ as __all__
