"""FastMCP's `fastmcp.server.low_level` path. In FastMCP these classes adapt the official
SDK's low-level server (`mcp.server.lowlevel.Server`) that a `FastMCP` runs on; trimcp serves
without it (its own session and request engine, `trimcp.core`), so there is nothing to adapt:
making either raises `NotImplementedError`, rather than giving an object that would not be
the one serving requests. `FastMCP` itself is the server to configure."""

from __future__ import annotations

from typing import Any

__all__ = ["LowLevelServer", "MiddlewareServerSession"]


def _refuse(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"trimcp has no {name}: it does not run on the MCP SDK's low-level server. Configure "
        "the FastMCP server itself (middleware, handlers, http_app) instead"
    )


class LowLevelServer:
    """FastMCP's subclass of the SDK's low-level server: refused when made."""

    def __init__(self, fastmcp: Any, *args: Any, **kwargs: Any) -> None:
        raise _refuse("LowLevelServer")


class MiddlewareServerSession:
    """FastMCP's subclass of the SDK's server session: refused when made."""

    def __init__(self, fastmcp: Any, *args: Any, **kwargs: Any) -> None:
        raise _refuse("MiddlewareServerSession")
