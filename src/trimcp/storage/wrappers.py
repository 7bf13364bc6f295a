"""Wrappers: each an `AsyncKeyValue` around another, with py-key-value's names, constructor
keywords and behaviour.

- `PrefixCollectionsWrapper`: every collection becomes `<prefix>__<collection>`, so several
  users share one store without meeting.
- `PrefixKeysWrapper`: every key becomes `<prefix>__<key>`.
- `TTLClampWrapper`: writes get a TTL within `[min_ttl, max_ttl]`, and `missing_ttl` when they
  name none.
- `StatisticsWrapper`: counts hits and misses of reads and deletes, and writes, per collection.
- `LimitSizeWrapper`: writes of a value whose JSON is larger than `max_size` (or smaller than
  `min_size`) are refused or skipped.

`FernetEncryptionWrapper` lives in `trimcp.storage.encryption` (it needs `cryptography`).
Wrappers hold no lock and add no await of their own: they run wherever the store they wrap
runs (asyncio and trio for trimcp's stores).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, SupportsFloat

import msgspec

from trimcp.storage.base import check_many, check_ttl
from trimcp.storage.errors import EntryTooLargeError, EntryTooSmallError, SerializationError
from trimcp.storage.protocol import DEFAULT_COLLECTION

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from trimcp.storage.protocol import AsyncKeyValue

__all__ = [
    "CollectionStatistics",
    "CountStatistics",
    "HitMissStatistics",
    "LimitSizeWrapper",
    "PrefixCollectionsWrapper",
    "PrefixKeysWrapper",
    "StatisticsWrapper",
    "StoreStatistics",
    "TTLClampWrapper",
    "Wrapper",
]

PREFIX_SEPARATOR = "__"
"""Between a prefix and the collection or key it prefixes (py-key-value's separator)."""


class Wrapper:
    """An `AsyncKeyValue` that passes every call to `key_value`; a wrapper overrides the calls
    it changes.

    Args:
        key_value: the store (or wrapper) wrapped.
    """

    def __init__(self, *, key_value: AsyncKeyValue) -> None:
        self.key_value = key_value

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """The wrapped store's `get`."""
        return await self.key_value.get(key, collection=collection)

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """The wrapped store's `put`."""
        await self.key_value.put(key, value, collection=collection, ttl=ttl)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """The wrapped store's `delete`."""
        return await self.key_value.delete(key, collection=collection)

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """The wrapped store's `ttl`."""
        return await self.key_value.ttl(key, collection=collection)

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """The wrapped store's `get_many`."""
        return await self.key_value.get_many(keys, collection=collection)

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """The wrapped store's `put_many`."""
        await self.key_value.put_many(keys, values, collection=collection, ttl=ttl)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """The wrapped store's `delete_many`."""
        return await self.key_value.delete_many(keys, collection=collection)

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """The wrapped store's `ttl_many`."""
        return await self.key_value.ttl_many(keys, collection=collection)


class PrefixCollectionsWrapper(Wrapper):
    """Stores every collection as `<prefix>__<collection>` in the wrapped store.

    Args:
        key_value: the store wrapped.
        prefix: put before every collection name.
        default_collection: the collection of calls that name none (then prefixed too);
            `"default_collection"` when omitted.
    """

    def __init__(
        self, *, key_value: AsyncKeyValue, prefix: str, default_collection: str | None = None
    ) -> None:
        super().__init__(key_value=key_value)
        self.prefix = prefix
        self.default_collection = default_collection or DEFAULT_COLLECTION

    def prefixed(self, collection: str | None) -> str:
        """The wrapped store's name for `collection`."""
        return f"{self.prefix}{PREFIX_SEPARATOR}{collection or self.default_collection}"

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """`get` in the prefixed collection."""
        return await self.key_value.get(key, collection=self.prefixed(collection))

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put` in the prefixed collection."""
        await self.key_value.put(key, value, collection=self.prefixed(collection), ttl=ttl)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """`delete` in the prefixed collection."""
        return await self.key_value.delete(key, collection=self.prefixed(collection))

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`ttl` in the prefixed collection."""
        return await self.key_value.ttl(key, collection=self.prefixed(collection))

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """`get_many` in the prefixed collection."""
        return await self.key_value.get_many(keys, collection=self.prefixed(collection))

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put_many` in the prefixed collection."""
        await self.key_value.put_many(keys, values, collection=self.prefixed(collection), ttl=ttl)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """`delete_many` in the prefixed collection."""
        return await self.key_value.delete_many(keys, collection=self.prefixed(collection))

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl_many` in the prefixed collection."""
        return await self.key_value.ttl_many(keys, collection=self.prefixed(collection))


class PrefixKeysWrapper(Wrapper):
    """Stores every key as `<prefix>__<key>` in the wrapped store.

    Args:
        key_value: the store wrapped.
        prefix: put before every key.
    """

    def __init__(self, *, key_value: AsyncKeyValue, prefix: str) -> None:
        super().__init__(key_value=key_value)
        self.prefix = prefix

    def prefixed(self, key: str) -> str:
        """The wrapped store's name for `key`."""
        return f"{self.prefix}{PREFIX_SEPARATOR}{key}"

    def _all(self, keys: Sequence[str]) -> list[str]:
        return [f"{self.prefix}{PREFIX_SEPARATOR}{key}" for key in keys]

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """`get` of the prefixed key."""
        return await self.key_value.get(self.prefixed(key), collection=collection)

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put` of the prefixed key."""
        await self.key_value.put(self.prefixed(key), value, collection=collection, ttl=ttl)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """`delete` of the prefixed key."""
        return await self.key_value.delete(self.prefixed(key), collection=collection)

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`ttl` of the prefixed key."""
        return await self.key_value.ttl(self.prefixed(key), collection=collection)

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """`get_many` of the prefixed keys."""
        return await self.key_value.get_many(self._all(keys), collection=collection)

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put_many` of the prefixed keys."""
        await self.key_value.put_many(self._all(keys), values, collection=collection, ttl=ttl)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """`delete_many` of the prefixed keys."""
        return await self.key_value.delete_many(self._all(keys), collection=collection)

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl_many` of the prefixed keys."""
        return await self.key_value.ttl_many(self._all(keys), collection=collection)


class TTLClampWrapper(Wrapper):
    """Keeps the TTL of every write within `[min_ttl, max_ttl]`; reads pass through.

    Args:
        key_value: the store wrapped.
        min_ttl: a shorter TTL becomes this.
        max_ttl: a longer TTL becomes this.
        missing_ttl: the TTL of a write that names none; None keeps it without expiry.
    """

    def __init__(
        self,
        *,
        key_value: AsyncKeyValue,
        min_ttl: SupportsFloat,
        max_ttl: SupportsFloat,
        missing_ttl: SupportsFloat | None = None,
    ) -> None:
        super().__init__(key_value=key_value)
        self.min_ttl = float(min_ttl)
        self.max_ttl = float(max_ttl)
        self.missing_ttl = None if missing_ttl is None else float(missing_ttl)
        if self.min_ttl > self.max_ttl:
            raise ValueError(f"min_ttl ({self.min_ttl}) is above max_ttl ({self.max_ttl})")

    def clamp(self, ttl: SupportsFloat | None) -> float | None:
        """The TTL a write with `ttl` gets."""
        seconds = check_ttl(ttl)
        if seconds is None:
            return self.missing_ttl
        return max(self.min_ttl, min(seconds, self.max_ttl))

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put` with the clamped TTL."""
        await self.key_value.put(key, value, collection=collection, ttl=self.clamp(ttl))

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put_many` with the clamped TTL."""
        await self.key_value.put_many(keys, values, collection=collection, ttl=self.clamp(ttl))


@dataclass
class CountStatistics:
    """How many times an operation ran (for a many-key call: how many keys)."""

    count: int = 0

    def increment(self, *, increment: int = 1) -> None:
        """Count `increment` more."""
        self.count += increment


@dataclass
class HitMissStatistics(CountStatistics):
    """... and how many found their key (`hit`) or not (`miss`)."""

    hit: int = 0
    miss: int = 0

    def increment_hit(self, *, increment: int = 1) -> None:
        """Count `increment` more hits."""
        self.count += increment
        self.hit += increment

    def increment_miss(self, *, increment: int = 1) -> None:
        """Count `increment` more misses."""
        self.count += increment
        self.miss += increment


@dataclass
class CollectionStatistics(CountStatistics):
    """The operations on one collection (py-key-value's `KVStoreCollectionStatistics`)."""

    get: HitMissStatistics = field(default_factory=HitMissStatistics)
    ttl: HitMissStatistics = field(default_factory=HitMissStatistics)
    put: CountStatistics = field(default_factory=CountStatistics)
    delete: HitMissStatistics = field(default_factory=HitMissStatistics)
    exists: HitMissStatistics = field(default_factory=HitMissStatistics)


@dataclass
class StoreStatistics:
    """Per-collection statistics (py-key-value's `KVStoreStatistics`)."""

    collections: dict[str, CollectionStatistics] = field(default_factory=dict)

    def get_collection(self, collection: str) -> CollectionStatistics:
        """The statistics of `collection`, created empty on first use."""
        found = self.collections.get(collection)
        if found is None:
            found = self.collections[collection] = CollectionStatistics()
        return found


class StatisticsWrapper(Wrapper):
    """Counts, per collection, the hits and misses of `get`, `ttl` and `delete` (and their
    many-key forms, one per key) and the keys written; read them from `.statistics`.

    Calls that name no collection count under `"default_collection"`, whatever the wrapped
    store's own default, as py-key-value's wrapper does; the call itself still goes to the
    wrapped store's default collection.

    Args:
        key_value: the store wrapped.
    """

    def __init__(self, *, key_value: AsyncKeyValue) -> None:
        super().__init__(key_value=key_value)
        self.statistics = StoreStatistics()

    def _of(self, collection: str | None) -> CollectionStatistics:
        return self.statistics.get_collection(collection or DEFAULT_COLLECTION)

    @staticmethod
    def _count(stats: HitMissStatistics, *, hit: bool) -> None:
        if hit:
            stats.increment_hit()
        else:
            stats.increment_miss()

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """`get`, counted."""
        value = await self.key_value.get(key, collection=collection)
        self._count(self._of(collection).get, hit=value is not None)
        return value

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put`, counted once it succeeded."""
        await self.key_value.put(key, value, collection=collection, ttl=ttl)
        self._of(collection).put.increment()

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """`delete`, counted."""
        deleted = await self.key_value.delete(key, collection=collection)
        self._count(self._of(collection).delete, hit=deleted)
        return deleted

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`ttl`, counted."""
        value, left = await self.key_value.ttl(key, collection=collection)
        self._count(self._of(collection).ttl, hit=value is not None)
        return value, left

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """`get_many`, counted per key."""
        values = await self.key_value.get_many(keys, collection=collection)
        hits = sum(value is not None for value in values)
        stats = self._of(collection).get
        stats.increment_hit(increment=hits)
        stats.increment_miss(increment=len(values) - hits)
        return values

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put_many`, counted per key once it succeeded."""
        await self.key_value.put_many(keys, values, collection=collection, ttl=ttl)
        self._of(collection).put.increment(increment=len(keys))

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """`delete_many`, counted per key."""
        deleted = await self.key_value.delete_many(keys, collection=collection)
        stats = self._of(collection).delete
        stats.increment_hit(increment=deleted)
        stats.increment_miss(increment=len(keys) - deleted)
        return deleted

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl_many`, counted per key."""
        pairs = await self.key_value.ttl_many(keys, collection=collection)
        hits = sum(value is not None for value, _ in pairs)
        stats = self._of(collection).ttl
        stats.increment_hit(increment=hits)
        stats.increment_miss(increment=len(pairs) - hits)
        return pairs


_encoder = msgspec.json.Encoder()


def json_size(value: Mapping[str, Any]) -> int:
    """The size of `value` as py-key-value measures it: characters of `json.dumps(value,
    sort_keys=True)` (ASCII, so also bytes); `SerializationError` when it is not JSON-able."""
    try:
        return len(json.dumps(dict(value), sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"value is not JSON-able: {exc}") from exc


class LimitSizeWrapper(Wrapper):
    """Refuses (or silently skips) writes of values too large or too small; reads pass
    through, whatever the size of what they return.

    A value's size is its JSON length as py-key-value measures it (`json.dumps` with sorted
    keys), so the same `max_size` draws the same line under either library.

    Args:
        key_value: the store wrapped.
        max_size: values larger than this many bytes are not written. None: no maximum.
        min_size: values smaller than this are not written. None: no minimum.
        raise_on_too_large: raise `EntryTooLargeError` for a value over `max_size` (the
            default) rather than skip it.
        raise_on_too_small: raise `EntryTooSmallError` for a value under `min_size` rather
            than skip it (the default).
    """

    def __init__(
        self,
        *,
        key_value: AsyncKeyValue,
        max_size: int | None = None,
        min_size: int | None = None,
        raise_on_too_large: bool = True,
        raise_on_too_small: bool = False,
    ) -> None:
        super().__init__(key_value=key_value)
        self.max_size = max_size
        self.min_size = min_size
        self.raise_on_too_large = raise_on_too_large
        self.raise_on_too_small = raise_on_too_small

    def accepts(self, value: Mapping[str, Any], *, key: str = "") -> bool:
        """Whether `value` is within the limits; raises instead of answering False where the
        wrapper was told to."""
        if self.min_size is None and self.max_size is not None:
            # fast path: `json.dumps` output is at most 3x msgspec's compact UTF-8 (a
            # separator gains a space, a non-ASCII character becomes at most 3x its bytes as
            # `\uXXXX` escapes), so a value that small is within bounds without the slow
            # measure; measured exactly only near the limit
            try:
                if 3 * len(_encoder.encode(value)) <= self.max_size:
                    return True
            except (TypeError, ValueError):
                pass  # json_size says what is wrong with it
        size = json_size(value)
        if self.min_size is not None and size < self.min_size:
            if self.raise_on_too_small:
                raise EntryTooSmallError(
                    f"value of {key!r} is {size} bytes, under the minimum of {self.min_size}"
                )
            return False
        if self.max_size is not None and size > self.max_size:
            if self.raise_on_too_large:
                raise EntryTooLargeError(
                    f"value of {key!r} is {size} bytes, over the maximum of {self.max_size}"
                )
            return False
        return True

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put` if the value is within the limits."""
        if self.accepts(value, key=key):
            await self.key_value.put(key, value, collection=collection, ttl=ttl)

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """`put_many` of the pairs whose value is within the limits (every value is checked
        before any is written, so a refused one leaves the store unchanged)."""
        check_many(keys, values)
        kept = [(k, v) for k, v in zip(keys, values, strict=True) if self.accepts(v, key=k)]
        if kept:
            await self.key_value.put_many(
                [k for k, _ in kept], [v for _, v in kept], collection=collection, ttl=ttl
            )
