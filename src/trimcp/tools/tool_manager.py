"""`ToolManager`: a server's tools, as FastMCP 2.13's `fastmcp.tools.tool_manager` names it.

A `FastMCP` owns one (`server._tool_manager`, public spelling `server.tool_manager`) and its
tool methods delegate to it. What every manager does (the registry, lookups through mounted
servers, listing, the duplicate policy, error masking) is `NamedComponentManager`'s, in
`trimcp.utilities.managers`; this class adds FastMCP's tool methods and their wording.

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

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Unpack

from trimcp.exceptions import NotFoundError, ToolError, ValidationError
from trimcp.utilities.managers import ManagerOptions, NamedComponentManager, warn_deprecated

if TYPE_CHECKING:
    from trimcp.tools.tool import Tool, ToolResult
    from trimcp.tools.tool_transform import ToolTransformConfig
    from trimcp.utilities.registry import DuplicateBehavior

__all__ = ["ToolManager"]


class ToolManager(NamedComponentManager["Tool"]):
    """A server's tools: registration, lookup through mounts, listing, calls.

    Args:
        duplicate_behavior: What adding a tool under a key already taken does: `"warn"` (the
            default: replace, and log a warning), `"error"`, `"replace"`, `"ignore"`.
        mask_error_details: `call_tool` hides the text of unexpected exceptions.
        transformations: `ToolTransformConfig`s by tool key (see `add_tool_transformation`).
        **options: The server's `visibility`, `mounts` and list-changed `on_change`
            (`ManagerOptions`; a manager alone has its own visibility and no mounts).
    """

    kind = "tool"
    attribute = "tool_manager"

    def __init__(
        self,
        duplicate_behavior: DuplicateBehavior | None = None,
        mask_error_details: bool | None = None,
        transformations: Mapping[str, Any] | None = None,
        **options: Unpack[ManagerOptions],
    ) -> None:
        super().__init__(duplicate_behavior, mask_error_details, **options)
        self._transformations: dict[str, ToolTransformConfig] = {}
        self._originals: dict[str, Tool] = {}
        self.named_in_listing: set[str] = set()
        """The tool names the server's middleware has seen listed: FastMCP's low-level tool
        cache, which a call to a name not in it refreshes with a `tools/list` of its own
        (`core.session`)."""
        for tool_name, transformation in (transformations or {}).items():
            self.add_tool_transformation(tool_name, transformation)

    @property
    def _tools(self) -> dict[str, Tool]:
        """FastMCP's name for the raw key -> tool map (this server's own tools only)."""
        return self.registry.items

    def not_found(self, key: str) -> NotFoundError:
        return NotFoundError(f"Tool {key!r} not found")

    # -- FastMCP's methods -----------------------------------------------------------------

    async def get_tools(self) -> dict[str, Tool]:
        """The tools clients see, by key (mounted ones as copies under prefixed keys)."""
        return self.listed()

    async def has_tool(self, key: str) -> bool:
        return self.find(key) is not None

    async def get_tool(self, key: str) -> Tool:
        """The tool clients call `key` (a copy keyed `key` when it comes from a mount).

        Raises:
            NotFoundError: No visible tool has that key.
        """
        return self.require_keyed(key)

    def add_tool(self, tool: Tool) -> Tool:
        """Register `tool` under its `key`, per the duplicate policy; returns the tool
        registered (the existing one under `"ignore"`)."""
        tool.header_params()  # refuse x-mcp-header marks clients would drop the tool for
        if tool.key in self._transformations:
            return self._add_transformed(tool.key, tool)
        return self.register(tool)

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
        warn_deprecated(
            "ToolManager.add_tool_from_fn()", "Tool.from_function() and call add_tool()"
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
        original = self._originals.pop(key, None)
        if original is None:
            self.unregister(key)
            return
        transformation = self._transformations[key]
        self.registry.update({}, delete=[transformation.name or key])

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
        tool = self.require(key)
        passing = (ToolError, ValidationError)
        with self.wrap_errors(ToolError, f"Error calling tool {key!r}", passing=passing):
            return await tool.invoke(arguments, context)

    # -- tool transformations ----------------------------------------------------------------
    #
    # A transformation is applied when it meets its tool (on `add_tool_transformation`, or on
    # `add_tool` when it came first): the registry holds the transformed tool under its new
    # key, and the original waits in `_originals` (restored when the transformation goes). So
    # lookups, listings and mounts see transformed tools at no cost per request. Unlike
    # FastMCP, which rebuilds them on each listing, later changes to the original tool object
    # do not reach its transformed tool.

    @property
    def transformations(self) -> Mapping[str, ToolTransformConfig]:
        """The transformations by tool key (read-only: change them with the methods below)."""
        return MappingProxyType(self._transformations)

    def add_tool_transformation(self, tool_name: str, transformation: ToolTransformConfig) -> None:
        """Transform the tool keyed `tool_name` (now, or when it is added) by
        `transformation` (a `ToolTransformConfig`, or anything with its `name` and
        `apply(tool)`); it replaces any transformation of that tool."""
        if not callable(getattr(transformation, "apply", None)):
            raise TypeError(
                f"a tool transformation is a ToolTransformConfig, not {transformation!r}"
            )
        if tool_name in self._transformations:
            self.remove_tool_transformation(tool_name)
        self._transformations[tool_name] = transformation
        tool = self.registry.get_any(tool_name)
        if tool is not None:
            self._add_transformed(tool_name, tool, replace=True)

    def get_tool_transformation(self, tool_name: str) -> ToolTransformConfig | None:
        return self._transformations.get(tool_name)

    def remove_tool_transformation(self, tool_name: str) -> None:
        """Drop the transformation of `tool_name` (if any): the original tool is back."""
        transformation = self._transformations.pop(tool_name, None)
        if transformation is None:
            return
        original = self._originals.pop(tool_name, None)
        if original is not None:
            self.registry.update({tool_name: original}, delete=[transformation.name or tool_name])

    def _add_transformed(self, key: str, tool: Tool, *, replace: bool = False) -> Tool:
        transformation = self._transformations[key]
        transformed = transformation.apply(tool)
        new_key = transformation.name or key
        if transformed.key != new_key:
            transformed.key = new_key
        self._originals[key] = tool
        if replace:
            self.registry.update({new_key: transformed}, delete=[key])
        else:
            self.register(transformed)
        return tool
