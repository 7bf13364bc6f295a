"""FastMCP's `fastmcp.server.elicitation` path: the elicitation result types and schema
helpers of `trimcp.core.elicitation` (its `__all__`), and FastMCP's `get_elicitation_schema`."""

from __future__ import annotations

import copy
from typing import Any

from trimcp.core.elicitation import *  # noqa: F403
from trimcp.core.elicitation import __all__ as _core_all
from trimcp.core.elicitation import elicitation_schema

__all__ = [*_core_all, "get_elicitation_schema"]


def get_elicitation_schema(response_type: Any) -> dict[str, Any]:
    """The `requestedSchema` an elicitation for `response_type` sends (a copy; FastMCP's name).

    Raises:
        TypeError: the type cannot be expressed as a flat elicitation schema.
    """
    return copy.deepcopy(elicitation_schema(response_type).requested_schema)
