"""The store conformance suite: the same test functions against every trimcp backend (memory,
disk, Redis: a real redis-server from the `redis_server` fixture) and against wrappers around
them, on asyncio and trio.

`store` is a `Case`: the store under test and how to make time pass for it. A store that takes
a clock (`MemoryStore`) gets a fake one and expiry is instant; disk and Redis expire on real
time, so their expiry tests use short TTLs and poll, bounded by `anyio.fail_after`.
tests/test_storage_interop.py runs these same functions against py-key-value's own store
(asyncio only: py-key-value is asyncio-bound).

Behaviour particular to one store or wrapper (LRU eviction, statistics, size limits, prefixes)
is tested after the suite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from trimcp.storage import (
    DEFAULT_COLLECTION,
    AsyncKeyValue,
    DiskStore,
    EntryTooLargeError,
    EntryTooSmallError,
    FernetEncryptionWrapper,
    LimitSizeWrapper,
    MemoryStore,
    PrefixCollectionsWrapper,
    PrefixKeysWrapper,
    RedisStore,
    SerializationError,
    StatisticsWrapper,
    TTLClampWrapper,
)

pytestmark = pytest.mark.anyio

EXPIRY_TIMEOUT = 10.0  # seconds a real-time store may take to drop an expired key
SHORT_TTL = 0.3  # seconds: the TTL of expiry tests on real time


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Case:
    """A store under test, with what its tests need to know about it."""

    store: AsyncKeyValue
    clock: FakeClock | None = None
    default_collection: str = DEFAULT_COLLECTION
    serialization_errors: tuple[type[BaseException], ...] = (SerializationError,)
    invalid_ttl_errors: tuple[type[BaseException], ...] = (ValueError, TypeError)
    trimcp_guarantees: bool = True
    """trimcp's promises beyond the protocol hold: `put_many` stores all or nothing, and
    deleting an expired key reports that it was not there (False for py-key-value's store)."""

    async def wait_expired(self, key: str, ttl: float, *, collection: str | None = None) -> None:
        """Let `ttl` seconds pass, then until `key` reads as missing (bounded)."""
        if self.clock is not None:
            self.clock.advance(ttl)
            return
        with anyio.fail_after(EXPIRY_TIMEOUT):
            # no event for "the backend dropped it": poll, bounded above
            while await self.store.get(key, collection=collection) is not None:  # noqa: ASYNC110
                await anyio.sleep(0.02)

    def ttl_of(self, requested: float) -> tuple[float, float]:
        """The bounds `ttl()` may report right after a put with `requested` seconds."""
        if self.clock is not None:
            return requested, requested
        return requested - 5.0, requested


def fernet_key() -> Fernet:
    return Fernet(Fernet.generate_key())


def memory_case(wrap: Callable[[AsyncKeyValue], AsyncKeyValue] | None = None) -> Case:
    clock = FakeClock()
    inner = MemoryStore(clock=clock)
    return Case(store=inner if wrap is None else wrap(inner), clock=clock)


CASES = [
    "memory",
    "disk",
    "prefix-collections(memory)",
    "prefix-keys(disk)",
    "statistics(memory)",
    "ttl-clamp(memory)",
    "limit-size(disk)",
    "fernet(memory)",
    "fernet(disk)",
    "redis",
    "prefix-collections(redis)",
]


@pytest.fixture(params=CASES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Case]:
    name: str = request.param
    if name == "memory":
        yield memory_case()
    elif name == "prefix-collections(memory)":
        yield memory_case(lambda s: PrefixCollectionsWrapper(key_value=s, prefix="app"))
    elif name == "statistics(memory)":
        yield memory_case(lambda s: StatisticsWrapper(key_value=s))
    elif name == "ttl-clamp(memory)":
        # wide bounds: the suite's TTLs pass through unchanged
        yield memory_case(lambda s: TTLClampWrapper(key_value=s, min_ttl=0.001, max_ttl=1e6))
    elif name == "fernet(memory)":
        yield memory_case(lambda s: FernetEncryptionWrapper(key_value=s, fernet=fernet_key()))
    elif name.endswith("(redis)") or name == "redis":
        server = request.getfixturevalue("redis_server")  # a real redis-server, emptied
        async with RedisStore(url=server.url) as redis:
            if name == "redis":
                yield Case(store=redis)
            else:
                yield Case(store=PrefixCollectionsWrapper(key_value=redis, prefix="app"))
    else:
        async with DiskStore(directory=tmp_path / "store") as disk:
            if name == "disk":
                yield Case(store=disk)
            elif name == "prefix-keys(disk)":
                yield Case(store=PrefixKeysWrapper(key_value=disk, prefix="app"))
            elif name == "limit-size(disk)":
                yield Case(store=LimitSizeWrapper(key_value=disk, max_size=16 << 20))
            else:
                assert name == "fernet(disk)"
                yield Case(store=FernetEncryptionWrapper(key_value=disk, fernet=fernet_key()))


# -- the conformance suite ---------------------------------------------------------------------

VALUE = {"text": "hello", "n": 3, "pi": 3.25, "ok": True, "none": None, "list": [1, "two", {}]}


async def test_the_store_satisfies_the_protocol(store: Case) -> None:
    assert isinstance(store.store, AsyncKeyValue)


async def test_a_value_put_reads_back_equal(store: Case) -> None:
    s = store.store
    await s.put("k", VALUE)
    assert await s.get("k") == VALUE


async def test_a_missing_key_reads_as_none(store: Case) -> None:
    assert await store.store.get("nothing") is None
    assert await store.store.ttl("nothing") == (None, None)


async def test_the_store_keeps_a_copy_the_caller_cannot_change(store: Case) -> None:
    s = store.store
    value: dict[str, Any] = {"list": [1], "inner": {"a": 1}}
    await s.put("k", value)
    value["list"].append(2)
    value["inner"]["a"] = 2
    got = await s.get("k")
    assert got == {"list": [1], "inner": {"a": 1}}
    assert got is not None
    got["list"].append(3)  # nor can a reader change what the next reader gets
    assert await s.get("k") == {"list": [1], "inner": {"a": 1}}


async def test_put_replaces_the_previous_value(store: Case) -> None:
    s = store.store
    await s.put("k", {"v": 1})
    await s.put("k", {"v": 2})
    assert await s.get("k") == {"v": 2}


async def test_put_without_ttl_replaces_a_ttl_with_none(store: Case) -> None:
    s = store.store
    await s.put("k", {"v": 1}, ttl=100)
    await s.put("k", {"v": 2})
    assert await s.ttl("k") == ({"v": 2}, None)


async def test_delete_removes_the_key_and_says_whether_it_was_there(store: Case) -> None:
    s = store.store
    await s.put("k", {"v": 1})
    assert await s.delete("k") is True
    assert await s.get("k") is None
    assert await s.delete("k") is False


async def test_an_entry_expires_after_its_ttl(store: Case) -> None:
    s = store.store
    await s.put("short", {"v": 1}, ttl=SHORT_TTL)
    await s.put("long", {"v": 2}, ttl=3600)
    await s.put("forever", {"v": 3})
    await store.wait_expired("short", SHORT_TTL)
    assert await s.get("short") is None
    assert await s.ttl("short") == (None, None)
    if store.trimcp_guarantees:
        assert await s.delete("short") is False  # an expired entry was not there
    assert await s.get_many(["short", "long", "forever"]) == [None, {"v": 2}, {"v": 3}]


async def test_ttl_reports_the_value_and_the_seconds_left(store: Case) -> None:
    s = store.store
    await s.put("k", {"v": 1}, ttl=100)
    value, left = await s.ttl("k")
    low, high = store.ttl_of(100)
    assert value == {"v": 1}
    assert left is not None and low <= left <= high
    if store.clock is not None:
        store.clock.advance(40)
        assert await s.ttl("k") == ({"v": 1}, 60)
    await s.put("forever", {"v": 2})
    assert await s.ttl("forever") == ({"v": 2}, None)


@pytest.mark.parametrize("ttl", [0, -1, True, float("nan")])
async def test_a_ttl_that_is_not_a_positive_number_is_refused(store: Case, ttl: Any) -> None:
    with pytest.raises(store.invalid_ttl_errors):
        await store.store.put("k", {"v": 1}, ttl=ttl)
    assert await store.store.get("k") is None


async def test_collections_are_isolated(store: Case) -> None:
    s = store.store
    await s.put("k", {"in": "a"}, collection="a")
    await s.put("k", {"in": "b"}, collection="b")
    assert await s.get("k", collection="a") == {"in": "a"}
    assert await s.get("k", collection="b") == {"in": "b"}
    assert await s.get("k") is None  # the default collection is another one
    assert await s.delete("k", collection="a") is True
    assert await s.get("k", collection="b") == {"in": "b"}


async def test_calls_without_a_collection_use_the_default_collection(store: Case) -> None:
    s = store.store
    await s.put("k", {"v": 1})
    assert await s.get("k", collection=store.default_collection) == {"v": 1}
    await s.put("j", {"v": 2}, collection=store.default_collection)
    assert await s.get("j") == {"v": 2}


async def test_get_many_answers_in_the_order_asked_with_none_for_missing_keys(
    store: Case,
) -> None:
    s = store.store
    await s.put_many(["a", "b", "c"], [{"v": "a"}, {"v": "b"}, {"v": "c"}], collection="m")
    got = await s.get_many(["c", "missing", "a", "b", "a"], collection="m")
    assert got == [{"v": "c"}, None, {"v": "a"}, {"v": "b"}, {"v": "a"}]
    assert await s.get_many([], collection="m") == []


async def test_put_many_sets_one_ttl_for_all(store: Case) -> None:
    s = store.store
    await s.put_many(["a", "b"], [{"v": 1}, {"v": 2}], ttl=100)
    low, high = store.ttl_of(100)
    pairs = await s.ttl_many(["a", "missing", "b"])
    assert [value for value, _ in pairs] == [{"v": 1}, None, {"v": 2}]
    assert pairs[1] == (None, None)
    for _, left in (pairs[0], pairs[2]):
        assert left is not None and low <= left <= high


async def test_put_many_needs_one_value_per_key(store: Case) -> None:
    with pytest.raises(ValueError):
        await store.store.put_many(["a", "b"], [{"v": 1}])
    assert await store.store.get_many(["a", "b"]) == [None, None]


async def test_delete_many_counts_the_keys_that_were_there(store: Case) -> None:
    s = store.store
    await s.put_many(["a", "b", "c"], [{"v": 1}, {"v": 2}, {"v": 3}])
    assert await s.delete_many(["a", "missing", "c"]) == 2
    assert await s.get_many(["a", "b", "c"]) == [None, {"v": 2}, None]
    assert await s.delete_many([]) == 0


async def test_a_value_that_is_not_json_able_is_refused_and_not_stored(store: Case) -> None:
    with pytest.raises(store.serialization_errors):
        await store.store.put("k", {"v": object()})
    with pytest.raises(store.serialization_errors):
        await store.store.put_many(["a", "b"], [{"v": 1}, {"v": [object()]}])
    assert await store.store.get_many(["k", "b"]) == [None, None]
    if store.trimcp_guarantees:  # all or nothing
        assert await store.store.get("a") is None


async def test_large_values_read_back_whole(store: Case) -> None:
    big = {"blob": "x" * (2 << 20), "list": list(range(50_000))}
    await store.store.put("big", big)
    assert await store.store.get("big") == big


async def test_unicode_keys_collections_and_values(store: Case) -> None:
    s = store.store
    key, collection = "ключ/🔑 :: x", "コレクション::1"
    await s.put(key, {"text": "naïve ☃ \u0000 end"}, collection=collection)
    assert await s.get(key, collection=collection) == {"text": "naïve ☃ \u0000 end"}
    assert await s.get(key) is None
    assert await s.delete(key, collection=collection) is True


async def test_concurrent_writers_all_land(store: Case) -> None:
    s = store.store

    async def writer(n: int) -> None:
        for i in range(10):
            await s.put(f"w{n}.{i}", {"n": n, "i": i}, collection="c")
            await s.put("shared", {"n": n}, collection="c")

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(writer, n)
    keys = [f"w{n}.{i}" for n in range(20) for i in range(10)]
    got = await s.get_many(keys, collection="c")
    assert got == [{"n": n, "i": i} for n in range(20) for i in range(10)]
    shared = await s.get("shared", collection="c")
    assert shared is not None and shared["n"] in range(20)


# -- MemoryStore -------------------------------------------------------------------------------


async def test_memory_store_evicts_the_least_recently_used_past_max_entries() -> None:
    s = MemoryStore(max_entries=3)
    await s.put("a", {"v": "a"})
    await s.put("b", {"v": "b"}, collection="other")  # one bound across collections
    await s.put("c", {"v": "c"})
    assert await s.get("a") == {"v": "a"}  # a read makes "a" the most recent
    await s.put("d", {"v": "d"})  # one past the bound: "b" is the least recently used
    assert len(s) == 3
    assert await s.get("b", collection="other") is None
    assert await s.get_many(["a", "c", "d"]) == [{"v": "a"}, {"v": "c"}, {"v": "d"}]
    await s.put("c", {"v": "c2"})  # a write refreshes too
    await s.put("e", {"v": "e"})  # so "a" goes now
    assert await s.get_many(["a", "c", "d", "e"]) == [None, {"v": "c2"}, {"v": "d"}, {"v": "e"}]


async def test_memory_store_sweep_returns_memory_once_keys_expire() -> None:
    clock = FakeClock()
    s = MemoryStore(clock=clock)
    await s.put_many([str(i) for i in range(100)], [{"i": i} for i in range(100)], ttl=10)
    await s.put("kept", {"v": 1})
    clock.advance(10)
    assert len(s) == 101  # nothing touched yet
    assert s.sweep() == 100
    assert len(s) == 1


def test_memory_store_refuses_a_max_entries_below_one() -> None:
    with pytest.raises(ValueError):
        MemoryStore(max_entries=0)


# -- wrappers ----------------------------------------------------------------------------------


async def test_prefix_collections_wrapper_keeps_its_collections_apart_in_the_store() -> None:
    inner = MemoryStore()
    s = PrefixCollectionsWrapper(key_value=inner, prefix="app", default_collection="main")
    await s.put("k", {"v": 1})
    await s.put("k", {"v": 2}, collection="c")
    assert await inner.get("k", collection="app__main") == {"v": 1}
    assert await inner.get("k", collection="app__c") == {"v": 2}
    assert await inner.get("k") is None and await inner.get("k", collection="c") is None


async def test_prefix_keys_wrapper_prefixes_every_key() -> None:
    inner = MemoryStore()
    s = PrefixKeysWrapper(key_value=inner, prefix="app")
    await s.put_many(["a", "b"], [{"v": 1}, {"v": 2}], collection="c")
    assert await inner.get_many(["app__a", "app__b", "a"], collection="c") == [
        {"v": 1},
        {"v": 2},
        None,
    ]
    assert await s.delete_many(["a", "b"], collection="c") == 2


async def test_ttl_clamp_wrapper_keeps_ttls_within_bounds_and_fills_a_missing_one() -> None:
    clock = FakeClock()
    inner = MemoryStore(clock=clock)
    s = TTLClampWrapper(key_value=inner, min_ttl=10, max_ttl=100, missing_ttl=50)
    await s.put("short", {"v": 1}, ttl=1)
    await s.put("long", {"v": 2}, ttl=1000)
    await s.put("none", {"v": 3})
    await s.put_many(["m"], [{"v": 4}], ttl=20)
    assert [left for _, left in await inner.ttl_many(["short", "long", "none", "m"])] == [
        10,
        100,
        50,
        20,
    ]
    unbounded = TTLClampWrapper(key_value=inner, min_ttl=1, max_ttl=10)
    await unbounded.put("forever", {"v": 5})
    assert await inner.ttl("forever") == ({"v": 5}, None)  # no missing_ttl: none given


async def test_statistics_wrapper_counts_hits_and_misses_per_collection() -> None:
    s = StatisticsWrapper(key_value=MemoryStore())
    await s.put("a", {"v": 1})
    await s.put_many(["b", "c"], [{"v": 2}, {"v": 3}], collection="x")
    await s.get("a")
    await s.get("missing")
    await s.get_many(["b", "missing", "c"], collection="x")
    await s.ttl("a")
    await s.ttl_many(["missing"], collection="x")
    await s.delete("a")
    await s.delete("a")
    await s.delete_many(["b", "missing"], collection="x")
    default, x = s.statistics.collections[DEFAULT_COLLECTION], s.statistics.collections["x"]
    assert (default.put.count, default.get.hit, default.get.miss) == (1, 1, 1)
    assert (default.ttl.hit, default.ttl.miss) == (1, 0)
    assert (default.delete.hit, default.delete.miss, default.delete.count) == (1, 1, 2)
    assert (x.put.count, x.get.hit, x.get.miss, x.get.count) == (2, 2, 1, 3)
    assert (x.ttl.hit, x.ttl.miss) == (0, 1)
    assert (x.delete.hit, x.delete.miss) == (1, 1)


async def test_limit_size_wrapper_refuses_or_skips_values_out_of_bounds() -> None:
    inner = MemoryStore()
    loud = LimitSizeWrapper(key_value=inner, max_size=20, min_size=5, raise_on_too_small=True)
    with pytest.raises(EntryTooLargeError):
        await loud.put("big", {"v": "x" * 20})
    with pytest.raises(EntryTooSmallError):
        await loud.put("small", {})
    await loud.put("fits", {"v": "x"})  # '{"v": "x"}': 10 bytes
    quiet = LimitSizeWrapper(key_value=inner, max_size=20, raise_on_too_large=False)
    await quiet.put_many(["big", "ok"], [{"v": "x" * 20}, {"v": "y"}])
    assert await inner.get_many(["big", "small", "fits", "ok"]) == [
        None,
        None,
        {"v": "x"},
        {"v": "y"},
    ]
    with pytest.raises(EntryTooLargeError):  # a refused value leaves the batch unwritten
        await loud.put_many(["a", "b"], [{"v": "a"}, {"v": "x" * 20}])
    assert await inner.get("a") is None


async def test_wrappers_are_stores_and_stack() -> None:
    inner = MemoryStore()
    s = StatisticsWrapper(
        key_value=LimitSizeWrapper(
            key_value=PrefixCollectionsWrapper(key_value=inner, prefix="p"), max_size=100
        )
    )
    assert isinstance(s, AsyncKeyValue)
    await s.put("k", {"v": 1}, collection="c")
    assert await inner.get("k", collection="p__c") == {"v": 1}
    assert s.statistics.collections["c"].put.count == 1


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(), _json_values, max_size=6))
def test_the_size_fast_path_never_accepts_what_the_exact_measure_refuses(
    value: dict[str, Any],
) -> None:
    # `LimitSizeWrapper` skips the exact (slow) measure when 3x the msgspec length fits
    import msgspec

    from trimcp.storage.wrappers import json_size

    assert json_size(value) <= 3 * len(msgspec.json.encode(value))
    inner = MemoryStore()
    wrapper = LimitSizeWrapper(key_value=inner, max_size=json_size(value) - 1)
    with pytest.raises(EntryTooLargeError):
        wrapper.accepts(value)


async def test_memory_store_max_bytes_evicts_the_least_recently_used() -> None:
    store = MemoryStore(max_bytes=200)
    for i in range(10):
        await store.put(f"k{i}", {"v": "x" * 20})  # 28 bytes of JSON + key + collection
    assert store.bytes <= 200
    assert await store.get("k0") is None  # the oldest went
    assert await store.get("k9") == {"v": "x" * 20}
    await store.put("huge", {"v": "x" * 500})  # over the whole budget: not kept
    assert await store.get("huge") is None
    assert await store.get("k9") == {"v": "x" * 20}  # and nothing evicted for it
    for i in range(10):
        await store.delete(f"k{i}")
    assert store.bytes == 0 and len(store) == 0


async def test_memory_store_byte_count_follows_overwrites_and_expiry() -> None:
    now = [0.0]
    store = MemoryStore(max_bytes=10_000, clock=lambda: now[0])
    await store.put("k", {"v": "a" * 100}, ttl=5)
    first = store.bytes
    await store.put("k", {"v": "a"}, ttl=5)
    assert store.bytes < first
    now[0] = 10.0
    assert await store.get("k") is None
    assert store.bytes == 0
