"""Bench server: trimcp's `http_app()` on uvicorn with uvloop and httptools (asyncio).

python trimcp_uvicorn.py --port N [--json-response] [--stateless] [--via auto|trimcp|direct]

The same `mcp` as trimcp_http.py (imported from it: the same tools).

--via trimcp   trimcp's own `run_http_async("http", server="uvicorn")` (issue 18) on a uvloop
               loop, under `serve_until_signalled`, as `trimcp run --server uvicorn` runs it
               (`run_async` cannot take `server=`: its own first parameter has that name)
--via direct   `uvicorn.Server` on `mcp.http_app(...)` with loop="uvloop", http="httptools",
               lifespan="on" (uvicorn enters the app's lifespan, as a host does), access log off,
               log level warning
--via auto     (default) trimcp's own when this trimcp has it, else direct

Prints one line `bench-serving: ...` saying which ran (the bench keeps it with the results).
"""

import argparse
import importlib.util

from trimcp_http import mcp


def trimcp_serves_uvicorn() -> bool:
    """Whether this trimcp serves with uvicorn itself (`server="uvicorn"`, issue 18)."""
    return importlib.util.find_spec("trimcp.http.serve_uvicorn") is not None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--json-response", action="store_true")
    ap.add_argument("--stateless", action="store_true")
    ap.add_argument("--via", choices=("auto", "trimcp", "direct"), default="auto")
    a = ap.parse_args()
    via = a.via
    if via == "auto":
        via = "trimcp" if trimcp_serves_uvicorn() else "direct"

    if via == "trimcp":
        # as `trimcp run --server uvicorn` does: the loop on uvloop, SIGTERM/SIGINT handled
        import anyio

        from trimcp.core.running import serve_until_signalled

        async def serve() -> None:
            await serve_until_signalled(
                lambda: mcp.run_http_async(
                    "http",
                    show_banner=False,
                    server="uvicorn",
                    host=a.host,
                    port=a.port,
                    json_response=a.json_response,
                    stateless_http=a.stateless,
                    log_level="warning",
                )
            )

        print(
            "bench-serving: trimcp run_http_async('http', server='uvicorn') on uvloop (as `trimcp"
            " run --server uvicorn`)",
            flush=True,
        )
        anyio.run(serve, backend="asyncio", backend_options={"use_uvloop": True})
        return

    import uvicorn

    app = mcp.http_app(json_response=a.json_response, stateless_http=a.stateless)
    config = uvicorn.Config(
        app,
        host=a.host,
        port=a.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
    print(
        "bench-serving: trimcp http_app() on uvicorn.Server (uvloop, httptools, lifespan on)",
        flush=True,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
