"""Tools: `Tool`, `FunctionTool` and `ToolResult` (see `trimcp.tools.tool`), and the
`ToolManager` (`trimcp.tools.tool_manager`).

The names load on first use, so that `FastMCP`, whose `ToolManager` lives here, can be
imported without the component machinery (`import trimcp` stays cheap)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.tools.tool import FunctionTool, Tool, ToolResult
    from trimcp.tools.tool_manager import ToolManager

__all__ = [
    "FunctionTool",
    "Tool",
    "ToolManager",
    "ToolResult",
]

_LAZY = {
    "FunctionTool": "trimcp.tools.tool",
    "Tool": "trimcp.tools.tool",
    "ToolManager": "trimcp.tools.tool_manager",
    "ToolResult": "trimcp.tools.tool",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trimcp.tools' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
