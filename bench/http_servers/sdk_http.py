"""Bench server: the official MCP SDK (mcp==2.3.0) MCPServer over streamable HTTP.

python sdk_http.py --port N [--json-response] [--stateless]

Same app as `MCPServer.run("streamable-http", ...)` (`streamable_http_app()` on uvicorn), but the
uvicorn access log is off (trimcp and the bare ceilings log no requests either) and the log
level is warning.
"""

import argparse

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer

mcp = MCPServer("bench")


@mcp.tool()
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
    app = mcp.streamable_http_app(
        json_response=a.json_response, stateless_http=a.stateless, host=a.host
    )
    config = uvicorn.Config(app, host=a.host, port=a.port, log_level="warning", access_log=False)
    anyio.run(uvicorn.Server(config).serve)
