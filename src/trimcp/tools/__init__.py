"""Tools: `Tool`, `FunctionTool` and `ToolResult` (see `trimcp.tools.tool`)."""

from __future__ import annotations

from trimcp.tools.tool import FunctionTool, Tool, ToolResult

__all__ = ["FunctionTool", "Tool", "ToolResult"]
