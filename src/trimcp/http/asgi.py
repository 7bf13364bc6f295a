"""The ASGI types trimcp's raw endpoints are written against, the default body limit, and
`get_route_path`.

Requests, responses and routing are Starlette's (`starlette.requests`, `starlette.responses`,
`starlette.routing`); `trimcp.http` re-exports the common names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "get_route_path",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024
"""Default cap on a request body, MCP endpoints and custom routes alike (4 MiB)."""


def get_route_path(scope: Scope) -> str:
    """The part of `scope["path"]` below `scope["root_path"]` (the path this app routes on).

    ASGI servers and Starlette's `Mount` keep the full path in `path` and the mount point in
    `root_path`; older ones strip the prefix from `path`. Both are handled.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if len(path) == len(root_path):
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path
