"""`trimcp.server`: the server side (FastMCP's `fastmcp.server` module path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.server.proxy import create_proxy
    from trimcp.server.server import FastMCP

__all__ = ["Context", "FastMCP", "create_proxy"]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "trimcp.core.context": ("Context",),
        "trimcp.server.proxy": ("create_proxy",),
        "trimcp.server.server": ("FastMCP",),
    },
)
