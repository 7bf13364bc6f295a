"""Bench server: FastMCP 4.x on stdio, banner off."""

from fastmcp import FastMCP

mcp = FastMCP("bench")


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool
async def aadd(a: int, b: int) -> int:
    """Add two integers (async)."""
    return a + b


@mcp.tool
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    mcp.run(transport="stdio", show_banner=False)
