"""`MCPConfigTransport`: a `Client` over an MCP config (`{"mcpServers": {name: {...}}}`).

FastMCP's rule: a config naming one server connects to that server directly; a config naming
several connects, in memory, to a composite server that mounts a proxy of each, prefixed with
the entry's name (`weather_get_forecast`, `weather://weather/icons/sunny`).

Reading an entry needs only client transports, so it lives here. Building the composite needs
the server layer, which the client does not import: the server registers its builder through
`set_composite_builder` when it is loaded, and a config of several servers is refused with a
message saying so when it was not.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from trimcp.client.transports import (
    ClientTransport,
    FastMCPTransport,
    InMemoryServer,
    StdioTransport,
    is_sse_url,
)
from trimcp.runtime.peer import MessageStream

__all__ = [
    "CompositeBuilder",
    "MCPConfigTransport",
    "config_transports",
    "is_mcp_config",
    "set_composite_builder",
    "transport_for_entry",
]

CompositeBuilder = Callable[[Mapping[str, ClientTransport], bool], InMemoryServer]
"""`(transports by server name, name_as_prefix) -> server`: the composite of several servers."""

_composite_builder: CompositeBuilder | None = None


def set_composite_builder(builder: CompositeBuilder | None) -> None:
    """Register what builds the composite server of a config naming several servers (the
    server layer calls this when it is loaded; `None` unregisters)."""
    global _composite_builder
    _composite_builder = builder


def is_mcp_config(value: Any) -> bool:
    """A dict with an `mcpServers` mapping, an object with such an attribute (FastMCP's
    `MCPConfig`), or one with `servers` and a `transports()` method (trimcp's)."""
    if isinstance(value, Mapping):
        return isinstance(value.get("mcpServers"), Mapping)
    if isinstance(value, str | bytes):
        return False
    if isinstance(getattr(value, "mcpServers", None), Mapping):
        return True
    return isinstance(getattr(value, "servers", None), Mapping) and callable(
        getattr(value, "transports", None)
    )


def _url_transport(entry: Mapping[str, Any]) -> ClientTransport:
    from trimcp.client.http import SSETransport, StreamableHttpTransport

    url = str(entry["url"])
    kind = entry.get("transport") or entry.get("type")
    if kind is None:
        kind = "sse" if is_sse_url(url) else "http"
    options: dict[str, Any] = {
        "headers": {str(k): str(v) for k, v in (entry.get("headers") or {}).items()} or None,
        "auth": entry.get("auth"),
    }
    timeout = entry.get("sse_read_timeout")
    if timeout is not None:
        options["sse_read_timeout"] = (
            timeout if isinstance(timeout, datetime.timedelta) else float(timeout)
        )
    if kind == "sse":
        return SSETransport(url, **options)
    if kind in ("http", "streamable-http", "streamable_http"):
        return StreamableHttpTransport(url, **options)
    raise ValueError(f"Unknown transport {kind!r} for the MCP server at {url}")


def transport_for_entry(name: str, entry: Any) -> ClientTransport:
    """The client transport of one `mcpServers` entry: a mapping with a `command` (stdio) or a
    `url` (streamable HTTP, or SSE when `transport` says so or the path ends in `/sse`), or an
    object with a `to_transport()` method (a parsed config entry)."""
    to_transport = getattr(entry, "to_transport", None)
    if callable(to_transport):
        transport = to_transport()
        if not isinstance(transport, ClientTransport):
            raise TypeError(f"mcpServers.{name}.to_transport() returned {transport!r}")
        return transport
    if not isinstance(entry, Mapping):
        raise ValueError(f"mcpServers.{name} must be a mapping, not {type(entry).__name__}")
    if "command" in entry:
        return StdioTransport(
            str(entry["command"]),
            [str(arg) for arg in entry.get("args") or ()],
            env={str(k): str(v) for k, v in (entry.get("env") or {}).items()} or None,
            cwd=entry.get("cwd"),
            keep_alive=entry.get("keep_alive"),
        )
    if "url" in entry:
        return _url_transport(entry)
    raise ValueError(f"mcpServers.{name} needs a 'command' (stdio) or a 'url' (HTTP)")


def config_transports(config: Any) -> dict[str, ClientTransport]:
    """One client transport per server of `config` (a dict or a parsed config object)."""
    transports = getattr(config, "transports", None)
    if callable(transports) and not isinstance(config, Mapping):
        built: dict[str, ClientTransport] = transports()
        return built
    servers = config.get("mcpServers") if isinstance(config, Mapping) else None
    if servers is None:
        servers = getattr(config, "mcpServers", None)
    if not isinstance(servers, Mapping):
        raise ValueError('An MCP config is a mapping with an "mcpServers" mapping')
    return {str(name): transport_for_entry(str(name), entry) for name, entry in servers.items()}


class MCPConfigTransport(ClientTransport):
    """Connect to the servers of an MCP config (FastMCP's `MCPConfigTransport`).

    Args:
        config: `{"mcpServers": {name: entry}}`, or a parsed config object.
        name_as_prefix: With several servers, prefix each one's components with its name.

    Attributes:
        transport: What the connection goes through: the one server's own transport, or a
            `FastMCPTransport` to the composite server.
        transports: Every server's transport, by name.

    Raises:
        ValueError: the config names no server.
        RuntimeError: several servers, and trimcp's server layer (which builds the composite)
            was not loaded.
    """

    def __init__(self, config: Any, name_as_prefix: bool = True) -> None:
        self.config = config
        self.name_as_prefix = name_as_prefix
        self.transports = config_transports(config)
        if not self.transports:
            raise ValueError("No MCP servers defined in the config")
        self.transport: ClientTransport
        if len(self.transports) == 1:
            (self.transport,) = self.transports.values()
            return
        if _composite_builder is None:
            raise RuntimeError(
                "A config naming several MCP servers is served by a composite server, which "
                "needs trimcp's server layer: import trimcp.server (or trimcp.FastMCP) first, "
                "or connect to each server with its own Client"
            )
        self.transport = FastMCPTransport(_composite_builder(self.transports, name_as_prefix))  # type: ignore[arg-type]  # a FastMCP, structurally

    @property
    def supports_modern(self) -> bool:
        return bool(getattr(self.transport, "supports_modern", True))

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MessageStream]:
        async with self.transport.connect() as stream:
            yield stream

    async def failure_hint(self) -> str | None:
        return await self.transport.failure_hint()

    @property
    def continued(self) -> bool:  # type: ignore[override]  # the one server's, read-only
        return self.transport.continued

    async def close(self) -> None:
        """Close every server's transport (kept-alive stdio servers stop)."""
        for transport in {id(t): t for t in (self.transport, *self.transports.values())}.values():
            await transport.close()

    def _set_auth(self, auth: Any) -> None:
        set_auth = getattr(self.transport, "_set_auth", None)
        if set_auth is None:
            raise ValueError(f"This transport does not support auth: {self.transport!r}")
        set_auth(auth)

    def __repr__(self) -> str:
        return f"<MCPConfigTransport(servers={list(self.transports)!r})>"
