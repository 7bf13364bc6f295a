"""trimcp: an async-native, trio-compatible FastMCP.

`import trimcp` stays cheap: the public names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from trimcp.client import Client
    from trimcp.server.context import Context
    from trimcp.server.server import FastMCP
    from trimcp.settings import settings

__all__ = ["Client", "Context", "FastMCP", "__version__", "settings"]

_LAZY = {
    "FastMCP": "trimcp.server.server",
    "Context": "trimcp.server.context",
    "Client": "trimcp.client",
    "settings": "trimcp.settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trimcp' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
