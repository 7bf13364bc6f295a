"""Sources of `fastmcp.json`: `FileSystemSource` (the one kind there is)."""

from trimcp.utilities.mcp_server_config.v1.sources.base import Source
from trimcp.utilities.mcp_server_config.v1.sources.filesystem import FileSystemSource

__all__ = ["FileSystemSource", "Source"]
