"""Tools: `Tool`, `FunctionTool` and `ToolResult` (see `trimcp.tools.tool`), and the
`ToolManager` (`trimcp.tools.tool_manager`),
and `forward` / `forward_raw` for tool transformation (`trimcp.tools.tool_transform`). The names load on first use (`trimcp._lazy`), so
that `FastMCP` imports its `ToolManager` without the component machinery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports

if TYPE_CHECKING:
    from trimcp.tools.tool import FunctionTool, Tool, ToolResult
    from trimcp.tools.tool_manager import ToolManager
    from trimcp.tools.tool_transform import forward, forward_raw

__all__ = [
    "FunctionTool",
    "Tool",
    "ToolManager",
    "ToolResult",
    "forward",
    "forward_raw",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "trimcp.tools.tool": ("FunctionTool", "Tool", "ToolResult"),
        "trimcp.tools.tool_manager": ("ToolManager",),
        "trimcp.tools.tool_transform": ("forward", "forward_raw"),
    },
)
