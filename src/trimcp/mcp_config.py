"""MCPConfig: the `{"mcpServers": {name: {...}}}` dictionaries clients such as Claude Desktop
use, parsed into client transports.

```
{"mcpServers": {
    "local":  {"command": "python", "args": ["server.py"], "env": {...}, "cwd": "..."},
    "remote": {"url": "https://example.com/mcp", "transport": "http" | "sse", "headers": {...}}
}}
```

A server entry with a `command` is a stdio server; one with a `url` is reached over streamable
HTTP, or over the legacy SSE transport when `transport` is "sse" (or, with no `transport`,
when the URL path ends in `/sse`, as `Client(url)` decides). Unknown keys are kept in `extra`
and ignored, as FastMCP does for forward compatibility.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trimcp.client.transports import ClientTransport, StdioTransport

__all__ = ["MCPConfig", "RemoteMCPServer", "StdioMCPServer", "is_mcp_config"]


def is_mcp_config(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("mcpServers"), Mapping)


@dataclasses.dataclass
class StdioMCPServer:
    command: str
    args: list[str] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    cwd: str | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_transport(self) -> ClientTransport:
        return StdioTransport(self.command, self.args, env=self.env or None, cwd=self.cwd)


@dataclasses.dataclass
class RemoteMCPServer:
    url: str
    transport: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    auth: Any = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_transport(self) -> ClientTransport:
        from urllib.parse import urlsplit

        from trimcp.client.http import SSETransport, StreamableHttpTransport

        kind = self.transport
        if kind is None:
            kind = "sse" if urlsplit(self.url).path.rstrip("/").endswith("/sse") else "http"
        if kind == "sse":
            return SSETransport(self.url, headers=self.headers or None, auth=self.auth)
        if kind in ("http", "streamable-http", "streamable_http"):
            return StreamableHttpTransport(self.url, headers=self.headers or None, auth=self.auth)
        raise ValueError(f"Unknown transport {kind!r} for {self.url}")


@dataclasses.dataclass
class MCPConfig:
    """Named MCP servers; `transports()` gives one client transport per name."""

    servers: dict[str, StdioMCPServer | RemoteMCPServer]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MCPConfig:
        if not is_mcp_config(data):
            raise ValueError('An MCPConfig is a dict with an "mcpServers" mapping')
        servers: dict[str, StdioMCPServer | RemoteMCPServer] = {}
        for name, entry in data["mcpServers"].items():
            if not isinstance(entry, Mapping):
                raise ValueError(f"mcpServers.{name} must be a mapping")
            servers[str(name)] = _server(str(name), entry)
        return cls(servers)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MCPConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def transports(self) -> dict[str, ClientTransport]:
        return {name: server.to_transport() for name, server in self.servers.items()}


def _server(name: str, entry: Mapping[str, Any]) -> StdioMCPServer | RemoteMCPServer:
    if "command" in entry:
        known = {"command", "args", "env", "cwd", "transport"}
        return StdioMCPServer(
            command=str(entry["command"]),
            args=[str(a) for a in entry.get("args") or ()],
            env={str(k): str(v) for k, v in (entry.get("env") or {}).items()},
            cwd=entry.get("cwd"),
            extra={k: v for k, v in entry.items() if k not in known},
        )
    if "url" in entry:
        known = {"url", "transport", "headers", "auth"}
        return RemoteMCPServer(
            url=str(entry["url"]),
            transport=entry.get("transport"),
            headers={str(k): str(v) for k, v in (entry.get("headers") or {}).items()},
            auth=entry.get("auth"),
            extra={k: v for k, v in entry.items() if k not in known},
        )
    raise ValueError(f"mcpServers.{name} needs a 'command' (stdio) or a 'url' (HTTP)")
