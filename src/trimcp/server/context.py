"""FastMCP's `fastmcp.server.context` path: `Context`, `get_context` and the rest of
`trimcp.core.context`'s `__all__`, with FastMCP's `LogData` and `set_context`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from trimcp.core.context import *  # noqa: F403
from trimcp.core.context import Context, enter_context
from trimcp.core.context import __all__ as _core_all

__all__ = [*_core_all, "LogData", "set_context"]


@dataclass
class LogData:
    """A log message's `data` as `Context.log` sends it: `{"msg": ..., "extra": ...}`."""

    msg: str
    extra: Mapping[str, Any] | None = None


@contextmanager
def set_context(context: Context) -> Iterator[Context]:
    """Make `context` what `get_context()` returns inside the block."""
    token = enter_context(context)
    try:
        yield context
    finally:
        token.reset()
