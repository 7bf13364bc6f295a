"""The MCP client: `Client` and its transports (FastMCP's `fastmcp.client` names)."""

from __future__ import annotations

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

__all__ = [
    "CallToolResult",
    "Client",
    "ClientTransport",
    "ElicitResult",
    "FastMCPTransport",
    "PythonStdioTransport",
    "RequestContext",
    "ServerNotification",
    "StdioTransport",
    "infer_transport",
]
