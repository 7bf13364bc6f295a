"""Harness-ceiling baseline (not an MCP framework): a bare blocking stdio loop, stdlib json.

Answers initialize / tools/list / tools/call add|echo with the same shapes the frameworks use.
Its pipelined rate is roughly the most this harness can measure on this machine; run it with
`stdio_bench.py --servers baseline,...`.
"""

import json
import os
import sys

TOOLS = [{"name": n, "inputSchema": {"type": "object"}} for n in ("add", "echo")]


def answer(msg: dict) -> bytes:
    method, params = msg.get("method"), msg.get("params") or {}
    if method == "initialize":
        result = {
            "protocolVersion": params.get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "baseline", "version": "0"},
        }
    elif method == "tools/list":
        result = {"tools": TOOLS}
    elif method == "tools/call":
        args = params.get("arguments") or {}
        value = args["a"] + args["b"] if params.get("name") == "add" else args.get("text")
        result = {
            "content": [{"type": "text", "text": str(value)}],
            "structuredContent": {"result": value},
            "isError": False,
        }
    else:
        result = {}
    return (
        json.dumps(
            {"jsonrpc": "2.0", "id": msg["id"], "result": result}, separators=(",", ":")
        ).encode()
        + b"\n"
    )


def main() -> None:
    # Read whatever is available, answer every complete line, write the answers in one go.
    rfd, wfd = sys.stdin.fileno(), sys.stdout.fileno()
    buf = b""
    while True:
        chunk = os.read(rfd, 1 << 16)
        if not chunk:
            return
        buf += chunk
        *lines, buf = buf.split(b"\n")
        out = [answer(m) for m in map(json.loads, filter(None, lines)) if "id" in m]
        data = memoryview(b"".join(out))
        while data:
            data = data[os.write(wfd, data) :]


if __name__ == "__main__":
    main()
