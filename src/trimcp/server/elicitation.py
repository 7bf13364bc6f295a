"""FastMCP's `fastmcp.server.elicitation` path: the elicitation result types and schema
helpers, re-exported from `trimcp.core.elicitation` (its `__all__` is this module's)."""

from __future__ import annotations

from trimcp.core.elicitation import *  # noqa: F403
from trimcp.core.elicitation import __all__ as __all__
