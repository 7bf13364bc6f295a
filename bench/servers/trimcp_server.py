"""Bench server: trimcp on stdio.  python trimcp_server.py [--backend trio|asyncio]"""

import sys

from trimcp import FastMCP

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
    backend = "asyncio"
    args = sys.argv[1:]
    if "--backend" in args:
        backend = args[args.index("--backend") + 1]
    elif any(a.startswith("--backend=") for a in args):
        backend = next(a for a in args if a.startswith("--backend=")).split("=", 1)[1]
    if backend not in ("asyncio", "trio"):
        sys.exit(f"--backend must be asyncio or trio, not {backend!r}")
    mcp.run(show_banner=False, backend=backend)
