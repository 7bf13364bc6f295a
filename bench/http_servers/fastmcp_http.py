"""Bench server: FastMCP 4.x over streamable HTTP (`run_http_async` on uvicorn).

python fastmcp_http.py --port N [--json-response] [--stateless]

Banner off, log level warning, uvicorn access log off (as for the other servers).
"""

import argparse

import anyio
from fastmcp import FastMCP

mcp = FastMCP("bench")


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--json-response", action="store_true")
    ap.add_argument("--stateless", action="store_true")
    a = ap.parse_args()

    async def main() -> None:
        await mcp.run_http_async(
            show_banner=False,
            transport="http",
            host=a.host,
            port=a.port,
            log_level="warning",
            json_response=a.json_response,
            stateless_http=a.stateless,
            uvicorn_config={"access_log": False},
        )

    anyio.run(main)
