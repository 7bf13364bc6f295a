"""FastMCP 2.x's deprecated `FastMCP` methods, kept because FastMCP 2.13 keeps them: each is a
plain function of the server (or class) that `FastMCP` binds as a method, and each warns
(`DeprecationWarning`, unless the `deprecation_warnings` setting is off) naming what replaces
it, as FastMCP does.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = [
    "ServerSettings",
    "add_resource_fn",
    "from_client",
    "run_sse_async",
    "run_streamable_http_async",
    "server_settings",
    "sse_app",
    "streamable_http_app",
]


def _warn(message: str) -> None:
    from trimcp.settings import settings  # at call time: the module's current object

    if settings.deprecation_warnings:
        warnings.warn(message, DeprecationWarning, stacklevel=3)


def add_resource_fn(
    server: FastMCP,
    fn: Callable[..., Any],
    uri: str,
    name: str | None = None,
    description: str | None = None,
    mime_type: str | None = None,
    tags: set[str] | None = None,
) -> None:
    """`server.resource(uri, ...)(fn)` (deprecated in FastMCP 2.7)."""
    _warn("add_resource_fn is deprecated. Use add_resource with a Resource instead.")
    server.resource(uri, name=name, description=description, mime_type=mime_type, tags=tags)(fn)


async def run_sse_async(
    server: FastMCP,
    host: str | None = None,
    port: int | None = None,
    log_level: str | None = None,
    path: str | None = None,
    uvicorn_config: dict[str, Any] | None = None,
) -> None:
    """`run_http_async(transport="sse", ...)` (deprecated in FastMCP 2.3.2)."""
    _warn("The run_sse_async method is deprecated (as of 2.3.2). Use run_http_async.")
    await server.run_http_async(
        transport="sse",
        host=host,
        port=port,
        log_level=log_level,
        path=path,
        uvicorn_config=uvicorn_config,
    )


async def run_streamable_http_async(
    server: FastMCP,
    host: str | None = None,
    port: int | None = None,
    log_level: str | None = None,
    path: str | None = None,
    uvicorn_config: dict[str, Any] | None = None,
) -> None:
    """`run_http_async(transport="http", ...)` (deprecated in FastMCP 2.3.2)."""
    _warn("The run_streamable_http_async method is deprecated (as of 2.3.2). Use run_http_async.")
    await server.run_http_async(
        transport="http",
        host=host,
        port=port,
        log_level=log_level,
        path=path,
        uvicorn_config=uvicorn_config,
    )


def sse_app(
    server: FastMCP,
    path: str | None = None,
    message_path: str | None = None,
    middleware: list[Any] | None = None,
) -> Any:
    """`http_app(transport="sse", ...)` (deprecated in FastMCP 2.3.2)."""
    _warn("The sse_app method is deprecated (as of 2.3.2). Use http_app(transport='sse').")
    return server.http_app(path, transport="sse", message_path=message_path, middleware=middleware)


def streamable_http_app(
    server: FastMCP, path: str | None = None, middleware: list[Any] | None = None
) -> Any:
    """`http_app(path, middleware=...)` (deprecated in FastMCP 2.3.2)."""
    _warn("The streamable_http_app method is deprecated (as of 2.3.2). Use http_app() instead.")
    return server.http_app(path, middleware=middleware)


def from_client(cls: type[FastMCP], /, client: Any, **settings: Any) -> Any:
    """`cls.as_proxy(client, ...)` (deprecated in FastMCP 2.3.5)."""
    _warn("FastMCP.from_client() is deprecated; use FastMCP.as_proxy() instead.")
    return cls.as_proxy(client, **settings)


class ServerSettings:
    """FastMCP 2.x's `server.settings`: the process-wide settings with the server's
    constructor transport settings over them. Assigning an attribute sets it for this server
    (what its HTTP serving reads)."""

    __slots__ = ("_given",)

    def __init__(self, given: dict[str, Any]) -> None:
        object.__setattr__(self, "_given", given)

    def __getattr__(self, name: str) -> Any:
        from trimcp.settings import settings

        given = object.__getattribute__(self, "_given")
        return given[name] if name in given else getattr(settings, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._given[name] = value


def server_settings(server: FastMCP) -> ServerSettings:
    """`server.settings` (deprecated in FastMCP 2.8: use `trimcp.settings`)."""
    _warn(
        "Accessing `.settings` on a FastMCP instance is deprecated. Use the global "
        "`fastmcp.settings` instead."
    )
    return ServerSettings(server.transport_settings)
