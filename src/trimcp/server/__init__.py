"""`trimcp.server`: the server side (FastMCP's `fastmcp.server` module path)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.server.proxy import create_proxy
    from trimcp.server.server import FastMCP

__all__ = ["Context", "FastMCP", "create_proxy"]

_LAZY = {
    "FastMCP": "trimcp.server.server",
    "Context": "trimcp.core.context",
    "create_proxy": "trimcp.server.proxy",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trimcp.server' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
