"""Bench server: trimcp over streamable HTTP (hypercorn).

python trimcp_http.py --port N [--backend asyncio|trio] [--json-response] [--stateless]

Tools: `add(a, b)` (sync: a worker thread runs it, trimcp's default), `add_inline(a, b)` (the
same with `run_in_thread=False`: on the event loop's thread; only with a trimcp that has the
option, so that `--baseline-python` can run an earlier one) and `add_progress(a, b, ctx)`
(reports progress once, so a request that carries a progressToken gets an SSE response).
Banner off, access log off.
"""

import argparse
import inspect

from trimcp import Context, FastMCP

mcp = FastMCP("bench")


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def add_inline(a: int, b: int) -> int:
    """Add two integers, on the event loop's thread."""
    return a + b


if "run_in_thread" in inspect.signature(mcp.tool).parameters:  # not in an earlier trimcp
    mcp.tool(add_inline, run_in_thread=False)


@mcp.tool
async def add_progress(a: int, b: int, ctx: Context) -> int:
    """Add two integers, reporting progress once."""
    await ctx.report_progress(1, 1)
    return a + b


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    ap.add_argument("--json-response", action="store_true")
    ap.add_argument("--stateless", action="store_true")
    a = ap.parse_args()
    mcp.run(
        transport="http",
        host=a.host,
        port=a.port,
        json_response=a.json_response,
        stateless_http=a.stateless,
        show_banner=False,
        backend=a.backend,
    )
