"""FastMCP's `fastmcp.utilities.http` helper: a free TCP port on this machine."""

from __future__ import annotations

import socket

__all__ = ["find_available_port"]


def find_available_port() -> int:
    """A TCP port that was free on 127.0.0.1 when asked (the OS's pick). Another process may
    take it before you bind it: where you can, bind port 0 and read the port back instead."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
