"""Bench server: the official MCP SDK (mcp==2.3.0), MCPServer on stdio."""

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("bench")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
async def aadd(a: int, b: int) -> int:
    """Add two integers (async)."""
    return a + b


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    mcp.run("stdio")
