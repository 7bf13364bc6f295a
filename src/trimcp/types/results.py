"""Fields every result may carry (2026-07-28 adds `resultType` and caching hints)."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Payload

__all__ = ["CacheableResult", "Result"]


class Result(Payload, kw_only=True):
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")
    resultType: str | None = None


class CacheableResult(Result, kw_only=True):
    ttlMs: int | None = None
    cacheScope: str | None = None


class PaginatedResult(CacheableResult, kw_only=True):
    nextCursor: str | None = None


class EmptyMeta(Payload, kw_only=True):
    """Params of a request that takes none besides `_meta`."""

    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")
