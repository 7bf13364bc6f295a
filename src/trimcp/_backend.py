"""The one small backend seam: the only place that names asyncio or trio directly."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ["running_backend", "threadsafe_scheduler"]


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


def threadsafe_scheduler() -> Callable[[Callable[[], None]], None]:
    """A function that, called from any thread, runs a callback soon on the current loop."""
    backend = running_backend()
    if backend == "asyncio":
        import asyncio

        return asyncio.get_running_loop().call_soon_threadsafe
    if backend == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    raise RuntimeError("no running asyncio or trio event loop")
