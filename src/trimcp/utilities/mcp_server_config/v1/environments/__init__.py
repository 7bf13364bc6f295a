"""Environments of `fastmcp.json`: `UVEnvironment` (the one kind there is)."""

from trimcp.utilities.mcp_server_config.v1.environments.base import Environment
from trimcp.utilities.mcp_server_config.v1.environments.uv import UVEnvironment

__all__ = ["Environment", "UVEnvironment"]
