"""The MCP client: `Client` and its transports (FastMCP's `fastmcp.client` names).

The HTTP transports, the launcher transports and `client.auth` load on first use, so
`import trimcp.client` imports neither the HTTP stack nor pydantic's secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports
from trimcp.client.client import Client
from trimcp.client.elicitation import ElicitResult, RequestContext
from trimcp.client.results import CallToolResult
from trimcp.client.session import ServerNotification
from trimcp.client.transports import (
    ClientTransport,
    FastMCPTransport,
    PythonStdioTransport,
    StdioTransport,
    infer_transport,
)

if TYPE_CHECKING:
    from trimcp.client.auth import BearerAuth, OAuth
    from trimcp.client.config_transport import MCPConfigTransport
    from trimcp.client.http import SSETransport, StreamableHttpTransport
    from trimcp.client.launchers import (
        NodeStdioTransport,
        NpxStdioTransport,
        UvStdioTransport,
        UvxStdioTransport,
        WSTransport,
    )

__all__ = [
    "BearerAuth",
    "CallToolResult",
    "Client",
    "ClientTransport",
    "ElicitResult",
    "FastMCPTransport",
    "MCPConfigTransport",
    "NodeStdioTransport",
    "NpxStdioTransport",
    "OAuth",
    "PythonStdioTransport",
    "RequestContext",
    "SSETransport",
    "ServerNotification",
    "StdioTransport",
    "StreamableHttpTransport",
    "UvStdioTransport",
    "UvxStdioTransport",
    "WSTransport",
    "infer_transport",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "trimcp.client.auth": ("BearerAuth", "OAuth"),
        "trimcp.client.config_transport": ("MCPConfigTransport",),
        "trimcp.client.http": ("SSETransport", "StreamableHttpTransport"),
        "trimcp.client.launchers": (
            "NodeStdioTransport",
            "NpxStdioTransport",
            "UvStdioTransport",
            "UvxStdioTransport",
            "WSTransport",
        ),
    },
)
