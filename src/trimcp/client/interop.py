"""The client's meeting point with the official SDK's `mcp.types`, when the user has it loaded.

trimcp never imports `mcp`; it looks in `sys.modules`. FastMCP code often checks what it
receives with `isinstance(x, mcp.types.Y)`: where trimcp hands the user an object of a kind
FastMCP builds from `mcp.types` and no trimcp type stands for it (a whole server notification,
for a `MessageHandler`), it builds that `mcp.types` object when `mcp.types` is loaded. An error answer is raised as
trimcp's `McpError` that is also the SDK's.
"""

from __future__ import annotations

import sys
from typing import Any

from trimcp.exceptions import McpError, MissingCapabilityError, ToolCallRefused
from trimcp.protocol.errors import MISSING_REQUIRED_CLIENT_CAPABILITY

__all__ = ["as_client_error", "sdk_error", "sdk_notification"]

_dual_errors: dict[type[BaseException], type[BaseException]] = {}


def sdk_error(exc: McpError) -> McpError:
    """`exc`, as an instance of a class deriving from both its own and the SDK's `McpError`
    when `mcp` is loaded, so `except mcp.McpError` (FastMCP's clients raise that) catches it.
    Its `.error` stays trimcp's `ErrorData` (`.code`, `.message`, `.data`, as the SDK's)."""
    module = sys.modules.get("mcp.shared.exceptions")
    sdk = getattr(module, "McpError", None) or getattr(module, "MCPError", None)  # 1.x, 2.x
    if not isinstance(sdk, type) or isinstance(exc, sdk):
        return exc
    own = type(exc)
    dual = _dual_errors.get(own)
    if dual is None:
        dual = type(own.__name__, (own, sdk), {"__module__": own.__module__})
        _dual_errors[own] = dual
    twin: McpError = dual.__new__(dual)  # type: ignore[assignment]
    twin.__dict__.update(exc.__dict__)
    twin.args = exc.args
    twin.__cause__, twin.__context__ = exc.__cause__, exc.__context__
    twin.__traceback__ = exc.__traceback__
    return twin


def as_client_error(exc: McpError, method: str) -> McpError:
    """The error a `Client` call of `method` raises for the error answer `exc`, in the SDK's
    class too when `mcp` is loaded (`sdk_error`); `exc` is its cause when it differs:

    - a missing client capability (-32021): `MissingCapabilityError`, a `ToolError` too, as a
      FastMCP tool that needs it fails;
    - any other error answer to `tools/call` (-32602, the specification's error for an
      unknown tool; an error a tool or middleware raised, a rate limit's): `ToolCallRefused`,
      a `ToolError` too, as FastMCP's client raises for the `isError` result FastMCP's server
      answers instead."""
    refined: type[McpError] | None = None
    if exc.code == MISSING_REQUIRED_CLIENT_CAPABILITY:
        refined = MissingCapabilityError
    elif method == "tools/call":
        refined = ToolCallRefused
    if refined is None or isinstance(exc, refined):
        return sdk_error(exc)
    error = refined(exc.error)
    error.__cause__ = exc
    return sdk_error(error)


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
