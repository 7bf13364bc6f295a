"""FastMCP's `fastmcp.server.elicitation` path: the elicitation result types and schema
helpers (from `trimcp.core.elicitation`)."""

from __future__ import annotations

from trimcp.core.elicitation import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationResult,
    ElicitationSpec,
    elicitation_schema,
    parse_elicit_result,
    url_elicitation_params,
)

__all__ = [
    "AcceptedElicitation",
    "CancelledElicitation",
    "DeclinedElicitation",
    "ElicitationResult",
    "ElicitationSpec",
    "elicitation_schema",
    "parse_elicit_result",
    "url_elicitation_params",
]
