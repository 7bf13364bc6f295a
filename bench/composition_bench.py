"""Local vs direct-mounted vs proxied (in-memory) tool calls per second.

Two measurements per setup:
- `lookup`: `tool_manager.find` alone (includes an await of the timing loop);
- `dispatch`: the server-side path alone (`tool_manager.find` + `tool.run`, what `tools/call` does
  after decoding), which isolates what mounting adds;
- `client`: full `tools/call` round trips through an in-memory `Client` (sequential).

    python bench/composition_bench.py [--backend asyncio|trio] [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import time

import anyio

from trimcp import Client, FastMCP


def make_servers() -> dict[str, tuple[FastMCP, str]]:
    async def add(a: int, b: int) -> int:  # async: no worker thread to blur the figures
        return a + b

    local = FastMCP("local")
    local.tool(add)

    child = FastMCP("child")
    child.tool(add)
    for i in range(50):  # some bulk, so lookups are not trivially small
        child.tool(add, name=f"add_{i}")
    mounted = FastMCP("mounted")
    mounted.mount(child, prefix="child")

    middle = FastMCP("middle")
    middle.mount(child, prefix="inner")
    nested = FastMCP("nested")
    nested.mount(middle, prefix="outer")

    proxied = FastMCP("proxied")
    proxied.mount(FastMCP.as_proxy(child), prefix="remote")

    return {
        "local": (local, "add"),
        "mounted": (mounted, "child_add"),
        "nested mount (2 levels)": (nested, "outer_inner_add"),
        "proxied (in-memory)": (proxied, "remote_add"),
    }


async def rate(fn, seconds: float) -> float:
    """Calls per second, best of three runs (other load on the machine only slows runs down)."""
    for _ in range(200):  # warm up
        await fn()
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            for _ in range(100):
                await fn()
            count += 100
        best = max(best, count / elapsed)
    return best


def lookup_cost(server: FastMCP, name: str, n: int = 200_000) -> float:
    """Microseconds per `tool_manager.find` (synchronous, so no event-loop cost is included)."""
    lookup = server.tool_manager.find
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n // 3):
            lookup(name)
        best = min(best, (time.perf_counter() - start) / (n // 3))
    return best * 1e6


async def main(seconds: float) -> None:
    args = {"a": 1, "b": 2}
    print(
        f"{'setup':26} {'lookup µs':>9} {'dispatch/s':>11} {'µs':>7} {'client calls/s':>15} {'µs':>7}"
    )
    for label, (server, name) in make_servers().items():
        async with Client(server) as client:  # runs lifespans (the proxy's backend session)

            async def dispatch(server: FastMCP = server, name: str = name) -> None:
                tool = server.tool_manager.find(name)
                await tool.run(args, None)

            async def round_trip(name: str = name) -> None:
                await client.call_tool_mcp(name, args)

            lookup_us = lookup_cost(server, name)
            direct = await rate(dispatch, seconds)
            full = await rate(round_trip, seconds)
        print(
            f"{label:26} {lookup_us:9.3f} {direct:11,.0f} {1e6 / direct:7.2f}"
            f" {full:15,.0f} {1e6 / full:7.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--seconds", type=float, default=1.0)
    options = parser.parse_args()
    anyio.run(main, options.seconds, backend=options.backend)
