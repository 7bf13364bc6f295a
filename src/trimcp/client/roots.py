"""Roots on the client side (FastMCP's `fastmcp.client.roots`).

`Client(roots=...)` takes a list of roots, or a function `(context) -> list` (sync or async)
asked each time the server lists them. A root is a `file://` URI string, a `Root`, a mapping
with a `uri`, or (trimcp's addition) a `Path` or an absolute path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

from trimcp.client.context import RequestContext
from trimcp.client.elicitation import RootsList, check_roots, root_entry
from trimcp.types.codec import convert
from trimcp.types.misc import Root

__all__ = ["RootsHandler", "RootsList", "check_roots", "convert_roots_list"]

RootsHandler: TypeAlias = Callable[[RequestContext], "RootsList | Awaitable[RootsList]"]


def convert_roots_list(roots: Sequence[Any]) -> list[Root]:
    """`Root`s from what `Client(roots=...)` accepts.

    Raises:
        ValueError: an entry is not a `file://` URI, a `Path` or an absolute path.
    """
    return [convert(root_entry(entry), Root) for entry in roots]
