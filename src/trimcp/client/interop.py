"""The client's meeting point with the official SDK's `mcp.types`, when the user has it loaded.

trimcp never imports `mcp`; it looks in `sys.modules`. FastMCP code often checks what it
receives with `isinstance(x, mcp.types.Y)`: where trimcp hands the user an object of a kind
FastMCP builds from `mcp.types` and no trimcp type stands for it (a whole server notification,
for a `MessageHandler`), it builds that `mcp.types` object when `mcp.types` is loaded.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["sdk_notification"]


def sdk_notification(method: str, params: dict[str, Any] | None) -> Any | None:
    """The `mcp.types.ServerNotification` (its `.root` the specific notification) for a
    notification, or `None` when `mcp.types` is not loaded, has no such model (the SDK's 2.x
    spells it as a union), or does not know the notification."""
    types = sys.modules.get("mcp.types")
    validate = getattr(getattr(types, "ServerNotification", None), "model_validate", None)
    if validate is None:
        return None
    try:
        return validate({"method": method, "params": params})
    except Exception:  # pydantic's ValidationError: not a notification the SDK knows
        return None
