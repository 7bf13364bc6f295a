"""The cost of MCP-level middleware on a `tools/call`, in process (issue 17).

Two measurements, each on the asyncio and trio backends:

- `engine`: `ServerSession.handle_request` called directly with a decoded `tools/call` (the
  server-side path from the request's params to its result: era, params, middleware, tool,
  2026-07-28 dressing), no transport, so the middleware's share is not buried in noise;
- `client`: full `tools/call` round trips through an in-memory `Client`.

For each, the time of one call with 0, 1 and 5 middleware, median over rounds, and the
issue's figure: per-middleware cost = (time with 5 - time with 0) / 5, for two kinds:

- `pass-through`: `Middleware()` subclasses that override nothing (the issue's "empty
  chain"); trimcp links no hook of theirs, so they should cost next to nothing;
- `on_call_tool`: each overrides `on_call_tool` with `return await call_next(context)`, so
  the chain really runs: the fixed cost of having any (the `Context` and
  `MiddlewareContext` a chain hands its hooks, divided by 5 in the figure; the `1 mw` column
  shows it) and a hook call per middleware.

Run it on two commits to compare:

    python bench/middleware_chain_bench.py [--rounds 15] [--calls 2000] [--backend asyncio|trio]
        [--telemetry off]

Side by side with FastMCP in one run: `--fastmcp-python bench/.venvs/fastmcp-suite-reference/bin/python`
(FastMCP 2.13.3; or bench/.venvs/fastmcp/bin/python, FastMCP 4.x) runs the `client`
measurement there too, one round at a time alternating with trimcp's (asyncio), and prints the
median over rounds of the paired ratios (FastMCP / trimcp) of the per-call time and of the
per-middleware cost.

With `opentelemetry-api` installed, trimcp wraps each session for spans (`trimcp.telemetry`),
which costs a little even while no provider is set up; `--telemetry off` turns that off
(on a trimcp without `trimcp.telemetry` the option changes nothing).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import anyio

# `--framework fastmcp` (the reference side, run in FastMCP's venv): only the public API that
# FastMCP and trimcp share is used on that side.
if "--framework=fastmcp" in sys.argv:
    from fastmcp import Client, FastMCP  # type: ignore[import-not-found,no-redef]
    from fastmcp.server.middleware import Middleware  # type: ignore[import-not-found,no-redef]
else:
    from trimcp import Client, FastMCP
    from trimcp.server.middleware import Middleware

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


class PassThrough(Middleware):
    """Overrides nothing: every hook is the default `return await call_next(context)`."""


class Hooked(Middleware):
    """Has a hook for the method measured, which only passes the call on."""

    async def on_call_tool(self, context: Any, call_next: Any) -> Any:
        return await call_next(context)


KINDS: dict[str, type[Middleware]] = {"pass-through": PassThrough, "on_call_tool": Hooked}


class Channel:
    """The least a request's channel must be (nothing is sent on it here)."""

    transport = "bench"
    session_id = None
    extra: dict[str, Any] = {}

    async def notify(self, method: str, params: Any, *, related_request_id: Any) -> None:
        raise AssertionError("no notification expected")

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no request expected")


def make_server(n_middleware: int, kind: type[Middleware] = PassThrough) -> FastMCP:
    mcp = FastMCP("bench")

    async def add(a: int, b: int) -> int:  # async: no worker thread to blur the figures
        return a + b

    mcp.tool(add)
    for _ in range(n_middleware):
        mcp.add_middleware(kind())
    return mcp


async def engine_round(session: Any, request: Any, calls: int) -> float:
    """Microseconds per `handle_request` over `calls` sequential calls."""
    channel = Channel()
    handle = session.handle_request
    start = time.perf_counter()
    for _ in range(calls):
        await handle(request, channel)  # type: ignore[arg-type]
    return (time.perf_counter() - start) / calls * 1e6


async def measure_engine(
    counts: list[int], rounds: int, calls: int, kind: type[Middleware]
) -> dict[int, float]:
    import msgspec

    from trimcp.core.session import ServerSession
    from trimcp.protocol.jsonrpc import Request

    params = msgspec.json.encode(
        {"name": "add", "arguments": {"a": 1, "b": 2}, "_meta": MODERN_META}
    )
    request = Request(id=1, method="tools/call", params=msgspec.Raw(params))
    sessions = {n: ServerSession(make_server(n, kind)) for n in counts}
    for session in sessions.values():  # warm up (and build whatever is built once)
        await engine_round(session, request, 200)
    samples: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits all alike
        for n, session in sessions.items():
            samples[n].append(await engine_round(session, request, calls))
    return {n: statistics.median(s) for n, s in samples.items()}


async def measure_client(
    counts: list[int], rounds: int, calls: int, kind: type[Middleware]
) -> dict[int, float]:
    samples: dict[int, list[float]] = {n: [] for n in counts}
    args = {"a": 1, "b": 2}
    async with Client(make_server(0)) as c0, Client(make_server(1, kind)) as c1:
        async with Client(make_server(5, kind)) as c5:
            clients = {0: c0, 1: c1, 5: c5}
            for client in clients.values():
                for _ in range(200):
                    await client.call_tool("add", args)
            for _ in range(rounds):
                for n in counts:
                    client = clients[n]
                    start = time.perf_counter()
                    for _ in range(calls):
                        await client.call_tool("add", args)
                    samples[n].append((time.perf_counter() - start) / calls * 1e6)
    return {n: statistics.median(s) for n, s in samples.items()}


def report(label: str, figures: dict[int, float]) -> None:
    per = (figures[5] - figures[0]) / 5
    print(
        f"{label:<32} 0 mw {figures[0]:8.2f} µs   1 mw {figures[1]:8.2f} µs   "
        f"5 mw {figures[5]:8.2f} µs   per middleware {per:6.2f} µs (target < 5)"
    )


async def main(rounds: int, calls: int, backend: str) -> None:
    counts = [0, 1, 5]
    for name, kind in KINDS.items():
        report(f"engine {name} ({backend})", await measure_engine(counts, rounds, calls, kind))
    for name, kind in KINDS.items():
        figures = await measure_client(counts, rounds, max(calls // 10, 100), kind)
        report(f"client {name} ({backend})", figures)


def per_middleware(figures: dict[int, float]) -> float:
    return (figures[5] - figures[0]) / 5


def reference_round(python: str, calls: int) -> dict[str, dict[int, float]]:
    """One round of the `client` measurement in FastMCP's venv (asyncio)."""
    out = subprocess.run(
        [python, __file__, "--framework=fastmcp", "--json-round", "--calls", str(calls)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return {kind: {int(n): t for n, t in figures.items()} for kind, figures in data.items()}


async def client_round(calls: int) -> dict[str, dict[int, float]]:
    return {name: await measure_client([0, 1, 5], 1, calls, kind) for name, kind in KINDS.items()}


def side_by_side(python: str, rounds: int, calls: int) -> None:
    """Alternate rounds of trimcp (here) and FastMCP (its venv); medians of paired ratios."""
    label = subprocess.run(
        [python, "-c", "import fastmcp; print(fastmcp.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ratios: dict[str, dict[str, list[float]]] = {
        kind: {"call, 5 mw": [], "per middleware": []} for kind in KINDS
    }
    ours_all: dict[str, list[dict[int, float]]] = {kind: [] for kind in KINDS}
    theirs_all: dict[str, list[dict[int, float]]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        ours = anyio.run(client_round, calls)
        theirs = reference_round(python, calls)
        for kind in KINDS:
            ours_all[kind].append(ours[kind])
            theirs_all[kind].append(theirs[kind])
            ratios[kind]["call, 5 mw"].append(theirs[kind][5] / ours[kind][5])
            ratios[kind]["per middleware"].append(
                per_middleware(theirs[kind]) / max(per_middleware(ours[kind]), 0.05)
            )
    print(f"\nside by side, in-memory Client, asyncio: trimcp vs FastMCP {label}, {rounds} rounds")
    for kind in KINDS:
        mine = {n: statistics.median(r[n] for r in ours_all[kind]) for n in (0, 1, 5)}
        ref = {n: statistics.median(r[n] for r in theirs_all[kind]) for n in (0, 1, 5)}
        report(f"trimcp {kind}", mine)
        report(f"FastMCP {label} {kind}", ref)
        print(
            f"  paired medians (FastMCP / trimcp): call with 5 mw "
            f"{statistics.median(ratios[kind]['call, 5 mw']):.2f}x, per middleware "
            f"{statistics.median(ratios[kind]['per middleware']):.1f}x (trimcp's floored at 0.05 µs)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--backend", choices=["asyncio", "trio", "both"], default="both")
    parser.add_argument("--telemetry", choices=["as-installed", "off"], default="as-installed")
    parser.add_argument("--fastmcp-python", help="run FastMCP side by side (its venv's python)")
    parser.add_argument("--framework", choices=["trimcp", "fastmcp"], default="trimcp")
    parser.add_argument("--json-round", action="store_true", help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.json_round:  # one round of the client measurement, as JSON (the reference side)
        print(json.dumps(anyio.run(client_round, ns.calls)))
        sys.exit(0)
    if ns.telemetry == "off":
        try:
            from trimcp import telemetry
        except ImportError:
            pass
        else:
            telemetry.configure(enabled=False)
    for backend in ["asyncio", "trio"] if ns.backend == "both" else [ns.backend]:
        anyio.run(main, ns.rounds, ns.calls, backend, backend=backend)
    if ns.fastmcp_python:
        side_by_side(ns.fastmcp_python, min(ns.rounds, 7), max(ns.calls // 10, 100))
