"""The one small backend seam: the only place that names asyncio or trio directly."""

from __future__ import annotations

import sys

__all__ = ["running_backend"]


def running_backend() -> str | None:
    """'asyncio' or 'trio' when called from inside a running event loop of that kind, else None."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return "asyncio"
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except RuntimeError:
            pass
        else:
            return "trio"
    return None
