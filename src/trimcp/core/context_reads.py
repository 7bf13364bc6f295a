"""What `Context`'s reads of its own server (`read_resource`, `get_prompt`,
`list_resources`, `list_prompts`) need besides the `Context`: `core.nested.serve_nested`,
which runs them through the server's middleware, loaded on first use (`core.nested` imports
`core.context`, which imports this module), and the contents a `resources/read` hook
answered with, as `Context.read_resource()` returns them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.resources.resource import ReadResourceContents

__all__ = ["load_serve_nested", "read_contents"]

_serve_nested: Callable[[Context, str, Any], Awaitable[Any]] | None = None


def load_serve_nested() -> Callable[[Context, str, Any], Awaitable[Any]]:
    """`trimcp.core.nested.serve_nested`, imported on the first call and kept: an import
    statement costs about a microsecond per call."""
    global _serve_nested
    if _serve_nested is None:
        from trimcp.core.nested import serve_nested

        _serve_nested = serve_nested
    return _serve_nested


def read_contents(read: Any) -> list[ReadResourceContents]:
    """What `resources/read` hooks returned, as `Context.read_resource()` returns it: the
    contents of a wire result a hook answered with (a proxy, a cache entry) turned into
    `ReadResourceContents`, which pass as they are."""
    from trimcp.resources.resource import ReadResourceContents, to_read_contents

    items = getattr(read, "contents", read)
    if all(isinstance(item, ReadResourceContents) for item in items):
        return list(items)
    return [
        item if isinstance(item, ReadResourceContents) else to_read_contents([item])[0]
        for item in items
    ]
