"""Ceiling: a bare ASGI app on hypercorn answering every POST with a canned tools/call body.

python bare_asgi.py --port N [--backend asyncio|trio]

Not an MCP server: it reads the request body (as a real app must) and returns the same JSON-RPC
result each time; no parsing, no routing.  Same hypercorn configuration as trimcp's `run_http`
(its `Config`, built by the same function: access log off, response headers made once per
second; a pre-bound socket with TCP_NODELAY; trimcp's hypercorn tuning), so the ceiling is
what trimcp's own serving could reach.
"""

import argparse
import socket

BODY = (
    b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"3"}],'
    b'"structuredContent":{"result":3},"isError":false}}'
)
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:  # drain the body
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    a = ap.parse_args()

    # private on purpose: the ceiling must use trimcp's exact hypercorn config (renames break this)
    from trimcp.http import tuning
    from trimcp.http.serve import _build_config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(1024)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.set_inheritable(True)
    config = _build_config(
        log_level=None, graceful_timeout=None, uvicorn_config=None, hypercorn_config=None
    )
    config.bind = [f"fd://{sock.detach()}"]
    tuning.install(a.backend)  # trimcp's hypercorn tuning, as run_http installs it
    if a.backend == "trio":
        import hypercorn.trio
        import trio

        trio.run(hypercorn.trio.serve, app, config)
    else:
        import asyncio

        import hypercorn.asyncio

        asyncio.run(hypercorn.asyncio.serve(app, config))


if __name__ == "__main__":
    main()
