"""`RedisStore`'s connection pool when the store is never entered (as FastMCP users write it:
`ResponseCachingMiddleware(cache_storage=RedisStore(...))`), on a real redis-server, on asyncio
and trio: connections are reused across calls and tasks (Redis's own `CLIENT LIST` and
connection counter say so), many tasks share the store at once, a store first used by a
short-lived task serves later ones, closing closes every connection, a Redis restart is
survived, and an event loop that ends without `aclose()` takes the pool with it (no hang, no
`ResourceWarning`, no task destroyed while pending)."""

from __future__ import annotations

import gc
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import coredis
import pytest

from tests.conftest import RedisServer, RedisServerFactory
from trimcp.storage import StorageUnavailableError
from trimcp.storage.redis import RedisStore

# An unclosed socket is an error here. coredis (6.9) leaves the anyio memory streams of a
# connection that never connected (Redis down) unclosed, which anyio reports on collection:
# not a socket and nothing to leak, so that one is let through (the last filter wins).
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings(
        "error::ResourceWarning", "ignore:Unclosed <MemoryObject:ResourceWarning"
    ),
]

DOWN_BOUND = 5.0  # seconds a call may take to fail while Redis is down (it takes milliseconds)
POOL_MAX = 64  # coredis' default `max_connections`


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Finalize what the test dropped, so an unclosed socket warns (an error) in its teardown."""
    yield
    gc.collect()


class Probe:
    """A client of its own on the test's Redis, to see the store's connections from Redis's
    side: the other clients connected now, and the connections Redis has accepted so far."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.own_id: int | None = None

    async def others(self) -> int:
        if self.own_id is None:
            self.own_id = int(await self.client.client_id())
        clients = await self.client.client_list()
        return sum(1 for c in clients if int(c["id"]) != self.own_id)

    async def accepted(self) -> int:
        return int((await self.client.info("stats"))["total_connections_received"])

    async def wait_for_others(self, count: int) -> None:
        """Wait (bounded) until Redis has `count` other clients: Redis notices a closed
        connection on its own schedule, and no event says when."""
        with anyio.fail_after(5):
            while await self.others() != count:  # noqa: ASYNC110
                await anyio.sleep(0.01)


@asynccontextmanager
async def probing(server: RedisServer) -> AsyncIterator[Probe]:
    async with coredis.Redis(host=server.host, port=server.port) as client:
        probe = Probe(client)
        await probe.others()
        yield probe


async def test_an_unentered_store_keeps_one_connection_across_calls(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    async with probing(server) as probe:
        with anyio.fail_after(10):
            before = await probe.accepted()
            store = RedisStore(url=server.url)
            for n in range(100):
                await store.put(f"k{n}", {"n": n})
                assert await store.get(f"k{n}") == {"n": n}
            assert await probe.accepted() - before == 1  # one connection for 200 calls
            assert await probe.others() == 1  # and it stays open between calls
            await store.aclose()
        await probe.wait_for_others(0)


async def test_many_tasks_share_an_unentered_store_at_once(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    store = RedisStore(url=server.url)
    results: dict[tuple[int, int], Any] = {}

    async def worker(burst: int, n: int) -> None:
        await store.put(f"k{burst}.{n}", {"n": n}, ttl=60)
        results[burst, n] = await store.get(f"k{burst}.{n}")

    async with probing(server) as probe:
        with anyio.fail_after(20):
            before = await probe.accepted()
            for burst in range(2):
                async with anyio.create_task_group() as tg:
                    for n in range(100):
                        tg.start_soon(worker, burst, n)
            opened = await probe.accepted() - before
            assert results == {(b, n): {"n": n} for b in range(2) for n in range(100)}
            # 400 calls from 200 tasks: at most one pool's worth of connections, all kept
            assert 1 <= opened <= POOL_MAX
            assert await probe.others() == opened
            await store.aclose()
        await probe.wait_for_others(0)


async def test_a_store_first_used_by_a_short_lived_task_serves_later_tasks(
    redis_server_factory: RedisServerFactory,
) -> None:
    """The first call starts the pool in a task of the loop's own, not in the caller (a
    request handler that ends, or is cancelled, right after)."""
    server = redis_server_factory()
    store = RedisStore(url=server.url)

    async def handler(n: int) -> None:
        await store.put(f"k{n}", {"n": n})

    async with probing(server) as probe:
        with anyio.fail_after(10):
            before = await probe.accepted()
            async with anyio.create_task_group() as tg:
                tg.start_soon(handler, 1)
            # that task is gone; another one, then one cancelled right after its call
            async with anyio.create_task_group() as tg:
                tg.start_soon(handler, 2)
            with anyio.CancelScope() as scope:
                await handler(3)
                scope.cancel()
                await anyio.sleep_forever()
            assert await store.get_many(["k1", "k2", "k3"]) == [{"n": 1}, {"n": 2}, {"n": 3}]
            assert await probe.accepted() - before == 1
            assert await probe.others() == 1

            # closed by another task than the one that opened it
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.aclose)
        await probe.wait_for_others(0)


async def test_close_closes_every_connection_and_a_later_call_opens_again(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    store = RedisStore(url=server.url)
    async with probing(server) as probe:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for n in range(20):
                    tg.start_soon(store.put, f"k{n}", {"n": n})
            assert await probe.others() >= 1
            await store.aclose()
            await store.aclose()  # again: nothing left to close
        await probe.wait_for_others(0)

        with anyio.fail_after(10):  # used again after closing: a new pool
            assert await store.get("k7") == {"n": 7}
            assert await probe.others() == 1
            await store.aclose()
        await probe.wait_for_others(0)

        # entered (counted): the last exit closes the pool, from however it was opened
        with anyio.fail_after(10):
            await store.get("k1")
            async with store:
                async with store:
                    assert await store.get("k2") == {"n": 2}
                assert await store.get("k3") == {"n": 3}
                assert await probe.others() == 1
        await probe.wait_for_others(0)


async def test_an_unentered_store_survives_a_redis_restart(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    store = RedisStore(url=server.url, connect_timeout=1, timeout=2)
    with anyio.fail_after(10):
        await store.put("k", {"x": 1})

    async def call(n: int, failures: list[BaseException]) -> None:
        try:
            await store.get(f"k{n}")
        except StorageUnavailableError as exc:
            failures.append(exc)

    for _ in range(2):  # down and back twice: the same store object each time
        server.stop()
        failures: list[BaseException] = []
        with anyio.fail_after(DOWN_BOUND):  # ten tasks at once, each refused promptly
            async with anyio.create_task_group() as tg:
                for n in range(10):
                    tg.start_soon(call, n, failures)
        assert len(failures) == 10
        assert all("unavailable" in str(exc) for exc in failures)
        server.start()  # same port, empty
        async with probing(server) as probe:
            with anyio.fail_after(10):
                assert await store.get("k") is None
                for n in range(20):
                    await store.put("k", {"x": n})
                assert await store.get("k") == {"x": 19}
                assert await probe.others() == 1  # a new connection, kept
    with anyio.fail_after(10):
        await store.aclose()


async def test_two_event_loops_at_once_keep_one_pool_each(
    redis_server_factory: RedisServerFactory, anyio_backend: str
) -> None:
    """One store used alternately from this loop and from another running in a thread (as an
    app served in a portal while the test calls it): one pool per loop, not one per switch;
    closing in a loop closes that loop's pool. The other loop runs the other backend (a trio
    portal called from a trio worker thread does not stop: anyio's, not the store's)."""
    server = redis_server_factory()
    store = RedisStore(url=server.url)
    other_backend = "asyncio" if anyio_backend == "trio" else "trio"
    async with probing(server) as probe:
        with anyio.from_thread.start_blocking_portal(other_backend) as portal:
            with anyio.fail_after(20):
                before = await probe.accepted()
                for n in range(10):
                    await store.put(f"here{n}", {"n": n})
                    await anyio.to_thread.run_sync(
                        portal.call, partial(store.put, f"there{n}", {"n": n})
                    )
                assert await probe.accepted() - before == 2
                assert await probe.others() == 2
                there = await anyio.to_thread.run_sync(portal.call, store.get, "here3")
                assert there == {"n": 3}
                await anyio.to_thread.run_sync(portal.call, store.aclose)
            await probe.wait_for_others(1)
            with anyio.fail_after(10):
                assert await store.get("there9") == {"n": 9}  # this loop's pool is still open
                await store.aclose()
            await probe.wait_for_others(0)


LOOP_ENDS = """
import gc
import socket
import sys
import time

import anyio

from trimcp.storage.redis import RedisStore

host, port, backend = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def others() -> int:
    # CLIENT LIST over a plain socket: clients other than this probe
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"CLIENT LIST\\r\\n")
        data = b""
        while not data.endswith(b"\\r\\n") or data.count(b"\\r\\n") < 2:
            data += sock.recv(65536)
    return len(data.split(b"\\r\\n", 1)[1].strip().splitlines()) - 1


store = RedisStore(host=host, port=port)


async def main(n: int) -> None:
    async with anyio.create_task_group() as tg:  # first used by a short-lived task
        tg.start_soon(store.put, "k", {"n": n})
    assert await store.get("k") == {"n": n}
    assert others() == 1
    # no aclose(): the loop ends with the pool open


for n in (1, 2):  # the same store under a second loop opens a pool there
    anyio.run(main, n, backend=backend)
    gc.collect()
    deadline = time.monotonic() + 5
    while others() != 0:  # the loop closed its pool; Redis notices on its own schedule
        assert time.monotonic() < deadline, "the pool outlived its event loop"
        time.sleep(0.01)
print("closed")
"""


async def test_a_loop_that_ends_without_aclose_closes_the_pool(
    redis_server: RedisServer, tmp_path: Path, anyio_backend: str
) -> None:
    """A store never closed: when its event loop ends, the pool's runner is cancelled with it
    and closes every connection; nothing hangs, nothing warns (ResourceWarning is an error
    here, and asyncio would log a task destroyed while pending)."""
    script = tmp_path / "loop_ends.py"
    script.write_text(LOOP_ENDS)
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [
                sys.executable,
                "-W",
                "error::ResourceWarning",
                str(script),
                redis_server.host,
                str(redis_server.port),
                anyio_backend,
            ],
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().split() == ["closed"]
    assert done.stderr.decode() == ""
