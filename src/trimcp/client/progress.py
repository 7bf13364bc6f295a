"""Progress on the client side (FastMCP's `fastmcp.client.progress`).

A progress handler is `(progress, total, message)`, sync or async, given to `Client` (for every
request) or to one call. Without one, the client asks for no progress at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias

__all__ = ["ProgressHandler", "default_progress_handler"]

logger = logging.getLogger("trimcp.client.progress")

ProgressHandler: TypeAlias = Callable[[float, float | None, str | None], Awaitable[None] | None]


async def default_progress_handler(
    progress: float, total: float | None, message: str | None
) -> None:
    """Log a progress update at debug level: `Progress: 3/4 (75.0%) - message`."""
    text = f"{progress}/{total} ({progress / total * 100:.1f}%)" if total else f"{progress}"
    if message:
        logger.debug("Progress: %s - %s", text, message)
    else:
        logger.debug("Progress: %s", text)
