"""FastMCP's `fastmcp.experimental` paths: the new OpenAPI server and sampling fallbacks."""
