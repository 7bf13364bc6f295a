"""The client holds no memory or resources past their use: a bounded type cache, closed streams."""

from __future__ import annotations

import gc
import sys
import warnings
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.client.results import TYPE_CACHE_SIZE, json_schema_to_type

pytestmark = pytest.mark.anyio


def _schema(i: int) -> dict[str, object]:
    return {"type": "object", "properties": {f"field_{i}": {"type": "integer"}}}


async def test_type_cache_is_bounded() -> None:
    # A server chooses the output schemas: a long-lived client keeps at most TYPE_CACHE_SIZE types.
    built: list[weakref.ref[type]] = []
    for i in range(TYPE_CACHE_SIZE * 3):
        built.append(weakref.ref(json_schema_to_type(_schema(i))))
    gc.collect()
    alive = [ref for ref in built if ref() is not None]
    assert len(alive) <= TYPE_CACHE_SIZE
    # the most recent ones are still cached: the same schema gives the same type
    assert json_schema_to_type(_schema(TYPE_CACHE_SIZE * 3 - 1)) is built[-1]()


async def test_type_cache_keeps_recently_used() -> None:
    first = json_schema_to_type(_schema(-1))
    for i in range(TYPE_CACHE_SIZE * 2):
        json_schema_to_type(_schema(10_000 + i))
        assert json_schema_to_type(_schema(-1)) is first  # used each round: never evicted


def _server() -> FastMCP:
    mcp = FastMCP("leaks")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    return mcp


async def test_closed_client_leaves_no_unclosed_streams() -> None:
    # An unclosed anyio stream warns from `__del__`, where the warning cannot propagate: it
    # reaches `sys.unraisablehook`, which is where we look for it.
    caught: list[BaseException | None] = []

    def hook(unraisable: Any) -> None:
        caught.append(unraisable.exc_value)

    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            with anyio.fail_after(10):
                async with Client(_server()) as client:
                    assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
                    await client.ping()
            del client
            gc.collect()
    finally:
        sys.unraisablehook = previous
    assert [exc for exc in caught if isinstance(exc, ResourceWarning)] == []


async def test_client_entered_in_one_task_and_left_in_another() -> None:
    # pytest-asyncio's async fixtures do this: setup and teardown run in different tasks.
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[None]:
        events.append("start")
        try:
            yield
        finally:
            events.append("stop")

    mcp = FastMCP("tasks", lifespan=lifespan)

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    client = Client(mcp)

    async def enter() -> None:
        await client.__aenter__()

    async def leave() -> None:
        await client.__aexit__(None, None, None)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(enter)
        assert client.is_connected()
        assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
        async with anyio.create_task_group() as tg:
            tg.start_soon(leave)
    assert not client.is_connected()
    assert events == ["start", "stop"]
    with anyio.fail_after(10):  # and it opens again afterwards
        async with client:
            assert (await client.call_tool("add", {"a": 1, "b": 1})).data == 2
    assert not client.is_connected()
    assert events == ["start", "stop", "start", "stop"]


async def test_failed_connection_raises_in_the_opening_task() -> None:
    @asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[None]:
        raise RuntimeError("lifespan refused")
        yield

    client = Client(FastMCP("refuses", lifespan=lifespan))
    with anyio.fail_after(10), pytest.raises(Exception) as info:
        async with client:
            pass
    assert "lifespan refused" in repr(info.value) + repr(getattr(info.value, "exceptions", ""))
    assert not client.is_connected()
