"""FastMCP's `fastmcp.experimental.sampling` path: server-side sampling fallbacks."""
