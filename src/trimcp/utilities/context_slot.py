"""Where the `Context` of the request being served lives: a seam below the components.

Components (tools, resources, prompts: `trimcp.utilities.callables`) recognise a parameter
annotated with `Context` and inject the current one, but `Context` belongs to the server
core, which imports the components. So the components know only this module:
`ContextBase` is the class `trimcp.core.context.Context` derives from (a parameter whose
annotation is a subclass of it receives the context), and `current_context` is the context
variable holding the one in use, which the server core sets around each request
(`trimcp.core.context.enter_context`) and `get_context()` reads.
"""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["ContextBase", "current_context"]


class ContextBase:
    """The base of `trimcp.core.context.Context` (nothing else derives from it)."""

    __slots__ = ()


current_context: ContextVar[ContextBase | None] = ContextVar("trimcp_context", default=None)
"""The `Context` of the request being served in this task, or None outside a request."""
