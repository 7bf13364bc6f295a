"""`AsyncKeyValue`: the store protocol, in py-key-value's shape (key first, collection and TTL
keyword-only, JSON-able dict values, many-key variants).

A py-key-value store satisfies it as it is, and every trimcp store satisfies py-key-value's
`AsyncKeyValue`, so either kind plugs in where the other is expected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, SupportsFloat, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["DEFAULT_COLLECTION", "AsyncKeyValue"]

DEFAULT_COLLECTION = "default_collection"
"""The collection a store uses when a call names none and the store was given no
`default_collection` (py-key-value's name for it)."""


@runtime_checkable
class AsyncKeyValue(Protocol):
    """Async get/put/delete/ttl of JSON-able dicts, by key, in named collections.

    `collection=None` means the store's default collection. `ttl` is in seconds; `None` means
    the entry never expires. A missing or expired key reads as `None` (`(None, None)` from
    `ttl`). Stores raise `trimcp.storage.StorageError` and its subclasses for their own
    failures.
    """

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """The value stored under `key`, or None when it is absent or expired."""
        ...

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store a copy of `value` under `key`, replacing any previous value; it expires after
        `ttl` seconds if given."""
        ...

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """Remove `key`; whether it was there."""
        ...

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`(value, seconds left)`; the seconds are None for an entry that never expires, and
        the pair is `(None, None)` for a missing or expired key."""
        ...

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """The values of `keys`, in their order, None where absent or expired."""
        ...

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store `values[i]` under `keys[i]`, all with the same `ttl`; `ValueError` when the
        two sequences differ in length."""
        ...

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """Remove `keys`; how many were there."""
        ...

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl` of each of `keys`, in their order."""
        ...
