"""trimcp: an async-native, trio-compatible FastMCP.

`import trimcp` stays cheap: the public names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from trimcp.client import Client
    from trimcp.server.context import Context
    from trimcp.server.server import FastMCP
    from trimcp.settings import settings

__all__ = ["Client", "Context", "FastMCP", "__version__", "settings"]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "trimcp.client": ("Client",),
        "trimcp.server.context": ("Context",),
        "trimcp.server.server": ("FastMCP",),
        "trimcp.settings": ("settings",),
    },
)
