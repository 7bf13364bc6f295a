"""`ToolManager`: a server's tools, as FastMCP 2.13's `fastmcp.tools.tool_manager` names it.

A `FastMCP` owns one (`server._tool_manager`, public spelling `server.tool_manager`) and its
tool methods delegate to it. The manager owns the server's tool `Registry` (duplicate policy,
list-changed callback), reads the server's `Visibility` and `Mounts`, and is the only place that
knows how a tool is found through mounted servers (`find`) and listed under their prefixes
(`iter_visible`). Built on `trimcp.utilities.registry` (see `Catalog` there for the precedence
rules).

Two audiences:
- FastMCP's methods (`get_tools`, `get_tool`, `has_tool`, `add_tool`, `remove_tool`,
  `call_tool`, the deprecated `add_tool_from_fn`) with FastMCP's signatures. They answer for the
  server as its clients see it: visible tools, mounted ones under their prefixed keys (FastMCP
  2.13's manager lists its own tools only, hidden ones included; the raw inventory here is
  `registry`, or `_tools` as FastMCP spells it).
- The serving path: `find(key)` (every `tools/call`: one dict lookup for a local tool) and
  `iter_visible()` (`tools/list`).

`ToolManager()` also works alone, as in FastMCP's own tests: it then has its own visibility and
no mounts.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from trimcp.exceptions import NotFoundError, ToolError, ValidationError
from trimcp.utilities.registry import Catalog, Mounts, NamePrefix, Registry, Visibility

if TYPE_CHECKING:
    from trimcp.tools.tool import Tool, ToolResult
    from trimcp.utilities.registry import DuplicateBehavior

__all__ = ["ToolManager"]

logger = logging.getLogger("trimcp.server")


class ToolManager:
    """A server's tools: registration, lookup through mounts, listing, calls.

    Args:
        duplicate_behavior: What adding a tool under a key already taken does: `"warn"` (the
            default: replace, and log a warning), `"error"`, `"replace"`, `"ignore"`.
        mask_error_details: `call_tool` hides the text of unexpected exceptions.
        transformations: FastMCP's tool transformations; trimcp does not implement them and
            refuses any.
        visibility: The server's visibility rules (a manager alone has its own).
        mounts: The server's mounts (a manager alone has none).
        on_change: Called after each change of the registry (list-changed notifications).
    """

    def __init__(
        self,
        duplicate_behavior: DuplicateBehavior | None = None,
        mask_error_details: bool | None = None,
        transformations: Mapping[str, Any] | None = None,
        *,
        visibility: Visibility | None = None,
        mounts: Mounts | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        if transformations:
            raise NotImplementedError("trimcp does not implement tool transformations yet")
        if mask_error_details is None:
            from trimcp.settings import settings

            mask_error_details = settings.mask_error_details
        self.mask_error_details = bool(mask_error_details)
        self.visibility = visibility if visibility is not None else Visibility()
        self.mounts = mounts if mounts is not None else Mounts()
        self.registry: Registry[Tool] = Registry(
            "tool",
            self.visibility,
            on_duplicate=duplicate_behavior or "warn",
            on_change=on_change or _nothing,
        )
        self.catalog: Catalog[Tool] = Catalog(
            self.registry, self.mounts, rules=NamePrefix(), child=_child_catalog
        )
        self._get = self.registry.get  # the hot path's first (and usually only) step

    def __repr__(self) -> str:
        return f"ToolManager({len(self.registry)} tools, {len(self.mounts.items)} mounts)"

    @property
    def duplicate_behavior(self) -> DuplicateBehavior:
        return self.registry.on_duplicate

    @property
    def _tools(self) -> dict[str, Tool]:
        """FastMCP's name for the raw key -> tool map (this server's own tools only)."""
        return self.registry.items

    # -- the serving path ------------------------------------------------------------------

    def find(self, key: str) -> Tool | None:
        """The visible tool clients call `key`, here or through a mount, or None.

        A mounted tool comes back as the child's own object (its key is the child's); callers
        that show it under `key` copy it (`get_tool` does)."""
        found = self._get(key)
        if found is not None or not self.mounts.items or key in self.registry:
            return found
        for mount, child_key in self.catalog.routes(key):
            found = mount.server.tool_manager.find(child_key)
            if found is not None:
                return found if self.visibility.visible(key, found) else None
        return None

    def iter_visible(self) -> Iterator[tuple[str, Tool]]:
        """`(key, tool)` for each tool clients see (`tools/list` order)."""
        return self.catalog.visible()

    # -- FastMCP's methods -----------------------------------------------------------------

    async def get_tools(self) -> dict[str, Tool]:
        """The tools clients see, by key (mounted ones as copies under prefixed keys)."""
        return dict(self.iter_visible())

    async def has_tool(self, key: str) -> bool:
        return self.find(key) is not None

    async def get_tool(self, key: str) -> Tool:
        """The tool clients call `key` (a copy keyed `key` when it comes from a mount).

        Raises:
            NotFoundError: No visible tool has that key.
        """
        tool = self.find(key)
        if tool is None:
            raise NotFoundError(f"Tool {key!r} not found")
        return tool if tool.key == key else tool.model_copy(key=key)

    def add_tool(self, tool: Tool) -> Tool:
        """Register `tool` under its `key`, per the duplicate policy; returns the tool
        registered (the existing one under `"ignore"`)."""
        tool.header_params()  # refuse x-mcp-header marks clients would drop the tool for
        return self.registry.add(tool.key, tool)

    def add_tool_from_fn(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        tags: set[str] | None = None,
        annotations: Any = None,
        serializer: Callable[[Any], str] | None = None,
        exclude_args: list[str] | None = None,
    ) -> Tool:
        """Deprecated (FastMCP 2.7): `add_tool(Tool.from_function(fn, ...))`."""
        warnings.warn(
            "ToolManager.add_tool_from_fn() is deprecated. Use Tool.from_function() and call "
            "add_tool() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        from trimcp.tools.tool import Tool

        return self.add_tool(
            Tool.from_function(
                fn,
                name=name,
                description=description,
                tags=tags,
                annotations=annotations,
                serializer=serializer,
                exclude_args=exclude_args,
            )
        )

    def remove_tool(self, key: str) -> None:
        """Remove this server's own tool `key` (not one of a mounted server's).

        Raises:
            NotFoundError: This server has no tool under `key`.
        """
        if key not in self.registry:
            raise NotFoundError(f"Tool {key!r} not found")
        self.registry.remove(key)

    async def call_tool(
        self, key: str, arguments: dict[str, Any], *, context: Any = None
    ) -> ToolResult:
        """Find the tool clients call `key` and run it with `arguments`.

        `ToolError` and `ValidationError` pass through; any other exception becomes a
        `ToolError` ("Error calling tool 'key'", its text appended unless
        `mask_error_details`).

        Raises:
            NotFoundError: No visible tool has that key.
        """
        tool = self.find(key)
        if tool is None:
            raise NotFoundError(f"Tool {key!r} not found")
        try:
            return await tool.invoke(arguments, context)
        except (ToolError, ValidationError):
            raise
        except Exception as exc:
            logger.exception("Error calling tool %r", key)
            if self.mask_error_details:
                raise ToolError(f"Error calling tool {key!r}") from exc
            raise ToolError(f"Error calling tool {key!r}: {exc}") from exc

    # FastMCP's tool transformations are not implemented: none can be added.

    @property
    def transformations(self) -> dict[str, Any]:
        return {}

    def add_tool_transformation(self, tool_name: str, transformation: Any) -> None:
        raise NotImplementedError("trimcp does not implement tool transformations yet")

    def get_tool_transformation(self, tool_name: str) -> Any:
        return None

    def remove_tool_transformation(self, tool_name: str) -> None:
        return None


def _nothing() -> None:
    return None


def _child_catalog(mount: Any) -> Catalog[Any]:
    manager: ToolManager = mount.server.tool_manager
    return manager.catalog
