"""FastMCP's `fastmcp.json` server configuration (`fastmcp.utilities.mcp_server_config`):
where the server's code is (`source`), the Python environment it needs (`environment`, run
through `uv`), and how it is served (`deployment`). Version 1 of the format, re-exported.
"""

from trimcp.utilities.mcp_server_config.v1.environments.base import Environment
from trimcp.utilities.mcp_server_config.v1.environments.uv import UVEnvironment
from trimcp.utilities.mcp_server_config.v1.mcp_server_config import (
    Deployment,
    MCPServerConfig,
    generate_schema,
)
from trimcp.utilities.mcp_server_config.v1.sources.base import Source
from trimcp.utilities.mcp_server_config.v1.sources.filesystem import FileSystemSource

__all__ = [
    "Deployment",
    "Environment",
    "FileSystemSource",
    "MCPServerConfig",
    "Source",
    "UVEnvironment",
    "generate_schema",
]
