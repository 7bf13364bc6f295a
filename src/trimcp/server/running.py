"""Running a server: the sync `run` wrapper, `run_async` dispatch by transport, stdio serving,
and the banner. `FastMCP`'s methods of the same names delegate here."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Literal

import anyio

from trimcp import __version__

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["print_banner", "run", "run_async", "run_stdio_async"]


async def run_async(
    server: FastMCP,
    transport: str | None = None,
    show_banner: bool | None = None,
    **transport_kwargs: Any,
) -> None:
    from trimcp.settings import settings

    transport = transport or "stdio"
    if show_banner is None:
        show_banner = settings.show_server_banner
    if transport == "stdio":
        await server.run_stdio_async(show_banner=show_banner, **transport_kwargs)
    elif transport in ("http", "streamable-http", "sse"):
        await server.run_http_async(
            transport=transport,  # type: ignore[arg-type]  # narrowed by the `in` test above
            show_banner=show_banner,
            **transport_kwargs,
        )
    else:
        raise ValueError(f"Unknown transport: {transport!r}")


def run(
    server: FastMCP,
    transport: str | None = None,
    show_banner: bool | None = None,
    *,
    backend: Literal["asyncio", "trio"] | None = None,
    **transport_kwargs: Any,
) -> None:
    from trimcp._backend import running_backend
    from trimcp.settings import settings

    if running_backend() is not None:
        raise RuntimeError(
            "FastMCP.run() was called inside a running event loop: use `await mcp.run_async()`"
        )

    async def main() -> None:
        await server.run_async(transport, show_banner, **transport_kwargs)  # type: ignore[arg-type]

    try:
        anyio.run(main, backend=backend or settings.backend)
    except KeyboardInterrupt:
        pass


async def run_stdio_async(
    server: FastMCP, *, show_banner: bool = True, log_level: str | None = None
) -> None:
    """Serve one client over this process's stdin/stdout until stdin closes."""
    from trimcp.server.connection import ServerConnection
    from trimcp.transports.stdio import stdio_stream

    if log_level:
        logging.getLogger("trimcp").setLevel(log_level.upper())
    if show_banner:
        print_banner(server, "stdio")
    async with server._lifespan_manager(), stdio_stream() as stream:
        await ServerConnection(server, stream, transport="stdio").run()


def print_banner(server: FastMCP, transport: str, url: str | None = None) -> None:
    """One line on stderr (never stdout: on stdio that is the wire)."""
    where = f" at {url}" if url else ""
    print(
        f"trimcp {__version__} · server {server.name!r} · {transport}{where}",
        file=sys.stderr,
        flush=True,
    )
