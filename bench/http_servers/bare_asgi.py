"""Ceiling: a bare ASGI app on hypercorn answering every POST with a canned tools/call body.

python bare_asgi.py --port N [--backend asyncio|trio] [--server hypercorn|uvicorn]

Not an MCP server: it reads the request body (as a real app must) and returns the same JSON-RPC
result each time; no parsing, no routing.  Served as trimcp's `run_http` serves: through
`trimcp.http.serve.serve_asgi` (hypercorn with trimcp's tuned connection classes) with the
`Config` `run_http` builds (`build_config`: access log off, response headers made once per
second) and a pre-bound socket with TCP_NODELAY, so the ceiling is what trimcp's own serving
could reach.

`--stock`: the same socket, app and `Config`, served by hypercorn's own `serve` (its own
connection classes, not trimcp's tuned ones): the ceiling of stock hypercorn.

`--server uvicorn`: the same app on uvicorn with uvloop and httptools (asyncio only; access log
off, log level warning, lifespan on): the ceiling of trimcp's `http_app()` on uvicorn.
"""

import argparse
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

BODY = (
    b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"3"}],'
    b'"structuredContent":{"result":3},"isError":false}}'
)
HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
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
    ap.add_argument("--server", choices=("hypercorn", "uvicorn"), default="hypercorn")
    ap.add_argument(
        "--stock", action="store_true", help="hypercorn's own serve, not trimcp's tuned one"
    )
    a = ap.parse_args()

    if a.server == "uvicorn":
        if a.backend != "asyncio":
            ap.error("--server uvicorn runs on asyncio only")
        import uvicorn

        uv_config = uvicorn.Config(
            app,
            host=a.host,
            port=a.port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_level="warning",
        )
        print("bench-serving: bare ASGI app on uvicorn (uvloop, httptools)", flush=True)
        uvicorn.Server(uv_config).run()
        return

    from trimcp.http.serve import build_config, serve_asgi

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(1024)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.set_inheritable(True)
    config = build_config()
    config.bind = [f"fd://{sock.detach()}"]
    if a.stock:  # the same socket and config, served by hypercorn's own classes
        if a.backend == "trio":
            import hypercorn.trio
            import trio

            trio.run(hypercorn.trio.serve, app, config)  # type: ignore[arg-type]
        else:
            import asyncio

            import hypercorn.asyncio

            asyncio.run(hypercorn.asyncio.serve(app, config))  # type: ignore[arg-type]
    elif a.backend == "trio":
        import trio

        trio.run(serve_asgi, app, config)
    else:
        import asyncio

        asyncio.run(serve_asgi(app, config))


if __name__ == "__main__":
    main()
