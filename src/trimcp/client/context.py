"""`RequestContext`: what the client's handlers (sampling, elicitation, roots) learn about the
server request they answer (FastMCP hands them the SDK's `RequestContext`)."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["RequestContext"]


@dataclasses.dataclass
class RequestContext:
    """Which server request a handler answers.

    Attributes:
        request_id: The request's JSON-RPC id (or `input:<key>` for a 2026-07-28 input round).
        method: `sampling/createMessage`, `elicitation/create` or `roots/list`.
        meta: The request's `_meta`, if any.
        session: The client session the request arrived on.
        lifespan_context: Always `None` on the client (the SDK's field, kept for its readers).
    """

    request_id: str | int
    method: str
    meta: dict[str, Any] | None = None
    session: Any = None
    lifespan_context: Any = None
