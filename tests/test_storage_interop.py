"""trimcp's stores and py-key-value's (FastMCP's store library, 0.5) in each other's place.

py-key-value is asyncio-bound (its stores and wrappers take asyncio locks), so this module runs
on asyncio only: `anyio_backend` is overridden here. Everything else about trimcp's stores runs
on trio as well (tests/test_storage.py and friends).

- The conformance suite of tests/test_storage.py, the same functions, against py-key-value's
  `MemoryStore` (apart from the refused-TTL test: py-key-value accepts a NaN TTL).
- trimcp's stores inside py-key-value's wrappers, and py-key-value's store inside trimcp's
  wrappers and event store.
- Values encrypted by either library's `FernetEncryptionWrapper` read back through the other's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from key_value.aio import errors as kv_errors
from key_value.aio.adapters.pydantic import PydanticAdapter
from key_value.aio.protocols.key_value import AsyncKeyValue as KvAsyncKeyValue
from key_value.aio.stores.memory import MemoryStore as KvMemoryStore
from key_value.aio.wrappers.encryption import FernetEncryptionWrapper as KvFernetWrapper
from key_value.aio.wrappers.prefix_collections import (
    PrefixCollectionsWrapper as KvPrefixCollectionsWrapper,
)
from key_value.aio.wrappers.statistics import StatisticsWrapper as KvStatisticsWrapper
from pydantic import BaseModel

from tests.test_storage import (
    Case,
    test_a_missing_key_reads_as_none,
    test_a_value_put_reads_back_equal,
    test_a_value_that_is_not_json_able_is_refused_and_not_stored,
    test_an_entry_expires_after_its_ttl,
    test_calls_without_a_collection_use_the_default_collection,
    test_collections_are_isolated,
    test_concurrent_writers_all_land,
    test_delete_many_counts_the_keys_that_were_there,
    test_delete_removes_the_key_and_says_whether_it_was_there,
    test_get_many_answers_in_the_order_asked_with_none_for_missing_keys,
    test_large_values_read_back_whole,
    test_put_many_needs_one_value_per_key,
    test_put_many_sets_one_ttl_for_all,
    test_put_replaces_the_previous_value,
    test_put_without_ttl_replaces_a_ttl_with_none,
    test_the_store_keeps_a_copy_the_caller_cannot_change,
    test_the_store_satisfies_the_protocol,
    test_ttl_reports_the_value_and_the_seconds_left,
    test_unicode_keys_collections_and_values,
)
from trimcp.http.event_store import EventStore
from trimcp.storage import (
    AsyncKeyValue,
    DiskStore,
    FernetEncryptionWrapper,
    MemoryStore,
    PrefixCollectionsWrapper,
    StatisticsWrapper,
)

pytestmark = pytest.mark.anyio

CONFORMANCE = [
    test_a_missing_key_reads_as_none,
    test_a_value_put_reads_back_equal,
    test_a_value_that_is_not_json_able_is_refused_and_not_stored,
    test_an_entry_expires_after_its_ttl,
    test_calls_without_a_collection_use_the_default_collection,
    test_collections_are_isolated,
    test_concurrent_writers_all_land,
    test_delete_many_counts_the_keys_that_were_there,
    test_delete_removes_the_key_and_says_whether_it_was_there,
    test_get_many_answers_in_the_order_asked_with_none_for_missing_keys,
    test_large_values_read_back_whole,
    test_put_many_needs_one_value_per_key,
    test_put_many_sets_one_ttl_for_all,
    test_put_replaces_the_previous_value,
    test_put_without_ttl_replaces_a_ttl_with_none,
    test_the_store_keeps_a_copy_the_caller_cannot_change,
    test_the_store_satisfies_the_protocol,
    test_ttl_reports_the_value_and_the_seconds_left,
    test_unicode_keys_collections_and_values,
]  # imported above, so pytest runs each here too, on py-key-value's store


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: py-key-value's stores and wrappers are asyncio-bound."""
    return "asyncio"


@pytest.fixture(params=["py-key-value memory", "trimcp memory in py-key-value wrappers"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Case]:
    if request.param == "py-key-value memory":
        yield Case(
            store=KvMemoryStore(),
            serialization_errors=(kv_errors.SerializationError,),
            invalid_ttl_errors=(kv_errors.InvalidTTLError,),
            trimcp_guarantees=False,
        )
    else:
        wrapped = KvStatisticsWrapper(
            key_value=KvPrefixCollectionsWrapper(key_value=MemoryStore(), prefix="kv")
        )
        yield Case(store=wrapped)


def test_each_library_s_store_satisfies_the_other_s_protocol(tmp_path: Path) -> None:
    assert isinstance(KvMemoryStore(), AsyncKeyValue)
    assert isinstance(MemoryStore(), KvAsyncKeyValue)
    assert isinstance(DiskStore(directory=tmp_path), KvAsyncKeyValue)
    assert isinstance(StatisticsWrapper(key_value=MemoryStore()), KvAsyncKeyValue)


async def test_py_key_value_statistics_wrapper_counts_a_trimcp_store(tmp_path: Path) -> None:
    async with DiskStore(directory=tmp_path) as disk:
        stats = KvStatisticsWrapper(key_value=disk)
        await stats.put("k", {"v": 1}, collection="c")
        assert await stats.get("k", collection="c") == {"v": 1}
        assert await stats.get("missing", collection="c") is None
        counted = stats.statistics.collections["c"]
        assert (counted.put.count, counted.get.hit, counted.get.miss) == (1, 1, 1)
        assert await disk.get("k", collection="c") == {"v": 1}


async def test_trimcp_wrappers_around_a_py_key_value_store() -> None:
    inner = KvMemoryStore()
    store = StatisticsWrapper(key_value=PrefixCollectionsWrapper(key_value=inner, prefix="t"))
    await store.put("k", {"v": 1}, collection="c", ttl=60)
    assert await inner.get("k", collection="t__c") == {"v": 1}
    assert store.statistics.collections["c"].put.count == 1


async def test_the_event_store_runs_on_a_py_key_value_store() -> None:
    events = EventStore(KvMemoryStore(), max_events_per_stream=2)
    first = await events.store_event("s.1", b'{"n":1}')
    await events.store_event("s.1", b'{"n":2}')
    await events.store_event("s.1", b'{"n":3}')  # the oldest goes
    got: list[tuple[str, bytes]] = []

    async def collect(event_id: str, message: bytes) -> None:
        got.append((event_id, message))

    await events.replay_events_after(first, collect)
    assert got == [("s.1.2", b'{"n":2}'), ("s.1.3", b'{"n":3}')]


async def test_fernet_values_cross_between_the_libraries() -> None:
    key = Fernet(Fernet.generate_key())
    inner = MemoryStore()
    ours = FernetEncryptionWrapper(key_value=inner, fernet=key)
    theirs = KvFernetWrapper(key_value=inner, fernet=key)
    await ours.put("from-trimcp", {"secret": 1})
    await theirs.put("from-py-key-value", {"secret": 2})
    assert await theirs.get("from-trimcp") == {"secret": 1}
    assert await ours.get("from-py-key-value") == {"secret": 2}


async def test_derived_fernet_keys_match_between_the_libraries() -> None:
    inner = MemoryStore()
    await KvFernetWrapper(key_value=inner, source_material="material", salt="salt").put(
        "k", {"secret": 1}
    )
    ours = FernetEncryptionWrapper(key_value=inner, source_material="material", salt="salt")
    assert await ours.get("k") == {"secret": 1}


class Token(BaseModel):
    access_token: str
    expires_in: int


async def test_py_key_value_pydantic_adapter_on_an_encrypted_trimcp_disk_store(
    tmp_path: Path,
) -> None:
    """How FastMCP's OAuth keeps tokens (`PydanticAdapter` over an encrypted store)."""
    async with DiskStore(directory=tmp_path) as disk:
        secure = FernetEncryptionWrapper(key_value=disk, fernet=Fernet(Fernet.generate_key()))
        tokens = PydanticAdapter(key_value=secure, pydantic_model=Token)
        await tokens.put("alice", Token(access_token="abc", expires_in=60), collection="t", ttl=60)
        assert await tokens.get("alice", collection="t") == Token(access_token="abc", expires_in=60)
        raw = await disk.get("alice", collection="t")
        assert raw is not None and "abc" not in str(raw)
