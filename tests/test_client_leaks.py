"""The client holds no memory or resources past their use: a bounded type cache, closed streams."""

from __future__ import annotations

import gc
import weakref

import pytest

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
