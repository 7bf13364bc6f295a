"""Middleware state shared by server processes through one real redis-server (the issue's
scale-out tests): two trimcp servers, each its own subprocess over stdio, on the test's
backend (asyncio or trio, in the servers as in the test):

- a tool result cached by the first process (`ResponseCachingMiddleware` on a `RedisStore`)
  is served by the second without running the tool there;
- a rate limit (`RateLimitingMiddleware(storage=RedisStore(...))`) of N requests holds for
  both processes together: the (N+1)th call, whichever process gets it, is refused.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import pytest

from tests.conftest import RedisServer
from trimcp import Client
from trimcp.client.transports import PythonStdioTransport
from trimcp.exceptions import McpError

pytestmark = pytest.mark.anyio

WAIT = 30  # two interpreters start (about a second each on a loaded machine)

SERVER = """
import os
import sys

from trimcp import FastMCP
from trimcp.server.middleware.caching import ResponseCachingMiddleware
from trimcp.server.middleware.rate_limiting import RateLimitingMiddleware
from trimcp.storage.redis import RedisStore

url, runs_file, mode, backend = sys.argv[1:5]
store = RedisStore(url=url)
if mode == "cache":
    middleware = [ResponseCachingMiddleware(cache_storage=store)]
else:  # "limit=N": N requests in all, no refill during the test
    burst = int(mode.split("=")[1])
    middleware = [
        RateLimitingMiddleware(max_requests_per_second=0.0001, burst_capacity=burst, storage=store)
    ]
mcp = FastMCP("replica", middleware=middleware)


@mcp.tool(output_schema=None)
def compute(x: int) -> str:
    with open(runs_file, "a") as runs:
        runs.write(f"{os.getpid()}\\n")
    return f"{x * 2} computed by {os.getpid()}"


if __name__ == "__main__":
    mcp.run("stdio", show_banner=False, backend=backend)
"""


@asynccontextmanager
async def two_servers(
    tmp_path: Path, redis: RedisServer, mode: str, backend: str
) -> AsyncIterator[tuple[Client, Client, Path]]:
    script = tmp_path / "replica.py"
    script.write_text(SERVER)
    runs = tmp_path / "runs.txt"
    runs.touch()
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(2):
            transport = PythonStdioTransport(
                script,
                args=[redis.url, str(runs), mode, backend],
                python_cmd=sys.executable,
                keep_alive=False,
            )
            clients.append(await stack.enter_async_context(Client(transport, protocol="modern")))
        yield clients[0], clients[1], runs


def _text(result: object) -> str:
    text: str = result.content[0].text  # type: ignore[attr-defined]
    return text


async def test_a_second_process_serves_the_firsts_cached_result(
    tmp_path: Path, redis_server: RedisServer, anyio_backend: str
) -> None:
    with anyio.fail_after(WAIT):
        async with two_servers(tmp_path, redis_server, "cache", anyio_backend) as (a, b, runs):
            first = _text(await a.call_tool("compute", {"x": 21}))
            ran = runs.read_text().split()
            second = _text(await b.call_tool("compute", {"x": 21}))
            other = _text(await b.call_tool("compute", {"x": 1}))
            all_runs = runs.read_text().split()
    assert first.startswith("42 computed by ") and len(ran) == 1
    assert second == first  # the first process's answer, with its pid
    assert all_runs[0] == ran[0] and len(all_runs) == 2 and all_runs[1] != ran[0]
    assert other == f"2 computed by {all_runs[1]}"  # the second process ran this one itself


async def test_a_rate_limit_holds_for_two_processes_together(
    tmp_path: Path, redis_server: RedisServer, anyio_backend: str
) -> None:
    limit = 3  # calls; each process also counts its client's introduction and its own
    burst = limit + 2 * 2  # tools/list before the first call, as FastMCP's does
    with anyio.fail_after(WAIT):
        async with two_servers(tmp_path, redis_server, f"limit={burst}", anyio_backend) as (
            a,
            b,
            runs,
        ):
            for n, client in enumerate((a, b, a)):
                assert _text(await client.call_tool("compute", {"x": n})).startswith(str(2 * n))
            for client in (b, a):
                with pytest.raises(McpError, match="Rate limit exceeded for client: global") as no:
                    await client.call_tool("compute", {"x": 9})
                assert no.value.code == -32000
    assert len(runs.read_text().split()) == limit
    assert len(set(runs.read_text().split())) == 2  # both processes served some
