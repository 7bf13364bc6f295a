"""Version 1 of the `fastmcp.json` format."""
