"""Server log messages on the client side (FastMCP's `fastmcp.client.logging`).

A `log_handler` receives each `notifications/message` as a `LogMessage` (`.level`, `.logger`,
`.data`). FastMCP 2.13 servers send `data = {"msg": ..., "extra": ...}`, so a handler written
for FastMCP reads `message.data.get("msg")`. Without a handler, `default_log_handler` writes
each message to the `from_server_logger` at the matching Python level.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from trimcp.types.misc import LoggingMessageParams

__all__ = [
    "LogHandler",
    "LogMessage",
    "default_log_handler",
    "describe_log_data",
    "from_server_logger",
    "logger",
]

logger = logging.getLogger("trimcp.client.logging")
from_server_logger = logging.getLogger("trimcp.client.from_server")
"""Where `default_log_handler` writes what servers log."""

LogMessage: TypeAlias = LoggingMessageParams
LogHandler: TypeAlias = Callable[[LogMessage], Awaitable[None]]

_PYTHON_LEVELS = {  # MCP (syslog) levels -> the `from_server_logger` method that logs them
    "debug": "debug",
    "info": "info",
    "notice": "info",
    "warning": "warning",
    "error": "error",
    "critical": "critical",
    "alert": "critical",
    "emergency": "critical",
}


def describe_log_data(data: Any) -> str:
    """A log message's `data` as text: FastMCP's `{"msg": ..., "extra": ...}` shows its
    message (and its extra fields, if any); any other value shows as itself."""
    if isinstance(data, dict) and "msg" in data and set(data) <= {"msg", "extra"}:
        extra = data.get("extra")
        return f"{data['msg']} {extra}" if extra else str(data["msg"])
    return str(data)


async def default_log_handler(message: LogMessage) -> None:
    """Log `message` to `from_server_logger` at its level, prefixed with where it came from."""
    log = getattr(from_server_logger, _PYTHON_LEVELS.get(str(message.level).lower(), "info"))
    prefix = f"Received {str(message.level).upper()} from server"
    if message.logger:
        prefix += f" ({message.logger})"
    log(msg=f"{prefix}: {describe_log_data(message.data)}")
