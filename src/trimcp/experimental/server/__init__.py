"""FastMCP's `fastmcp.experimental.server` path."""
