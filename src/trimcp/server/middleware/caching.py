"""FastMCP's response-caching middleware (`fastmcp.server.middleware.caching`).

`ResponseCachingMiddleware` answers repeated requests from a store, each method with its own
settings (`ttl` in seconds, `enabled`): `tools/call` (keyed by tool and arguments; only the
tools `included_tools` names, less those `excluded_tools` names), `resources/read` (by URI)
and `prompts/get` (by prompt and arguments) for an hour by default; the listings
(`tools/list`, `resources/list`, `prompts/list`) for five minutes.

The store is any `AsyncKeyValue` (`cache_storage`): trimcp's `MemoryStore` (the default, at
most 10,000 entries and 64 MiB, the least recently used going first), `DiskStore` or
`RedisStore`, or a py-key-value store. Entries are JSON dicts in one collection per method, so several server
processes sharing a `DiskStore` or `RedisStore` share the cache. An entry's key is a SHA-256
(hex) of what it answers and whose it is (below), so keys are short however large the
arguments, and no tool name, URI or argument a client sends can spell another entry's key.
A listing is cached as the components' definitions: what comes back from the cache lists and
filters like the original, but is not the original object (it cannot be run). A value larger
than `max_item_size` (its JSON) is not stored. `statistics()` counts hits, misses and writes
per method, as FastMCP's does.

Whose entry:
- A request that carries credentials (an access token, or an `Authorization` header over
  HTTP) reads and writes entries of its own principal: what one user's request produced is
  never served to another. The principal is the token's client and subject (without a
  subject, the token itself: the users of one client do not share), else the header.
- Requests without credentials share entries among themselves, apart from every principal's:
  a credentialed request is never answered with what an anonymous one produced, nor the
  other way round.
- Unless results are declared the same for every caller: the server's `cache_scope="public"`
  (the 2026-07-28 caching hint), or a result that carries `cacheScope: "public"` itself. Such
  entries are written once for everyone, and a request that finds no entry of its own is
  answered with them.

The 2026-07-28 caching hints are honoured. A wire result a hook returns (a `ListToolsResult`
or `ReadResourceResult` with `ttlMs`/`cacheScope`, as a proxy may) is cached as it is: its
`ttlMs` bounds how long the entry lives (`0`: not cached) and its `cacheScope` says whose it
is. The server's own defaults (`FastMCP(cache_ttl_ms=0)`, what clients may keep) do not turn
this cache off: it is the server's, configured here. A retry of a multi round-trip request
(`inputResponses`, `requestState`) is never answered from the cache nor stored, and neither is
an `input_required` round, as the specification asks.

The cache never fails a request: a store that raises (Redis down, disk full) is logged and the
request is served as if there were no cache.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NotRequired, TypedDict

import msgspec

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.server.middleware.cache_entries import (
    CachableReadResourceContents,
    CachableToolResult,
    dump_contents,
    dump_prompt,
    dump_prompts,
    dump_resources,
    dump_tool_result,
    dump_tools,
    dump_wire,
    load_contents,
    load_prompt,
    load_prompts,
    load_resources,
    load_tool_result,
    load_tools,
    load_wire,
)
from trimcp.storage import AsyncKeyValue, MemoryStore
from trimcp.storage.wrappers import (
    CollectionStatistics,
    CountStatistics,
    HitMissStatistics,
    LimitSizeWrapper,
    StatisticsWrapper,
)

__all__ = [
    "FIVE_MINUTES_IN_SECONDS",
    "GLOBAL_KEY",
    "ONE_HOUR_IN_SECONDS",
    "ONE_MB_IN_BYTES",
    "CachableReadResourceContents",
    "CachableToolResult",
    "CallToolSettings",
    "GetPromptSettings",
    "ListPromptsSettings",
    "ListResourcesSettings",
    "ListToolsSettings",
    "ReadResourceSettings",
    "ResponseCachingMiddleware",
    "ResponseCachingStatistics",
    "SharedMethodSettings",
]

logger = logging.getLogger(__name__)

ONE_HOUR_IN_SECONDS = 3600
FIVE_MINUTES_IN_SECONDS = 300
ONE_MB_IN_BYTES = 1024 * 1024
GLOBAL_KEY = "__global__"
"""The key of a listing (there is one per method, or one per principal)."""


class SharedMethodSettings(TypedDict):
    """The cache settings of one method: time to live (seconds), on or off."""

    ttl: NotRequired[int]
    enabled: NotRequired[bool]


class ListToolsSettings(SharedMethodSettings):
    """`tools/list` caching."""


class ListResourcesSettings(SharedMethodSettings):
    """`resources/list` caching."""


class ListPromptsSettings(SharedMethodSettings):
    """`prompts/list` caching."""


class CallToolSettings(SharedMethodSettings):
    """`tools/call` caching, for the tools `included_tools` names (all when absent), less
    those `excluded_tools` names."""

    included_tools: NotRequired[list[str]]
    excluded_tools: NotRequired[list[str]]


class ReadResourceSettings(SharedMethodSettings):
    """`resources/read` caching."""


class GetPromptSettings(SharedMethodSettings):
    """`prompts/get` caching."""


def _statistics(value: Any) -> CollectionStatistics | None:
    """`value` as trimcp's `CollectionStatistics`, from any object of that shape (a
    py-key-value `KVStoreCollectionStatistics`, say), so the two compare equal."""
    if value is None or type(value) is CollectionStatistics:
        return value

    def hit_miss(part: Any) -> HitMissStatistics:
        return HitMissStatistics(count=part.count, hit=part.hit, miss=part.miss)

    return CollectionStatistics(
        count=value.count,
        get=hit_miss(value.get),
        ttl=hit_miss(value.ttl),
        put=CountStatistics(count=value.put.count),
        delete=hit_miss(value.delete),
        exists=hit_miss(value.exists),
    )


@dataclass
class ResponseCachingStatistics:
    """Per method, the cache's gets (hits, misses) and puts; None for a method not used yet.
    Takes py-key-value's statistics objects too (and then equals trimcp's)."""

    list_tools: CollectionStatistics | None = None
    list_resources: CollectionStatistics | None = None
    list_prompts: CollectionStatistics | None = None
    read_resource: CollectionStatistics | None = None
    get_prompt: CollectionStatistics | None = None
    call_tool: CollectionStatistics | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _statistics(getattr(self, f.name)))


_STATISTICS_FIELDS = {
    "tools/list": "list_tools",
    "resources/list": "list_resources",
    "prompts/list": "list_prompts",
    "resources/read": "read_resource",
    "prompts/get": "get_prompt",
    "tools/call": "call_tool",
}


def _cursor(context: MiddlewareContext[Any]) -> Any:
    """The cursor of a request for a later page of a listing, else None (a wire result a hook
    returns is one page; the specification keys cached pages by cursor)."""
    return getattr(context.message, "cursor", None)


_KEY_ENCODER = msgspec.json.Encoder(order="sorted")

# Whose an entry is, the first part of what its key hashes: one principal's, the requests'
# without credentials, or everyone's (declared public).
_PRIVATE = "private"
_ANONYMOUS = "anonymous"
_PUBLIC = "public"


def _request_key(method: str, name: str | None, arguments: Any) -> bytes:
    """What an entry answers, as JSON: the method, the tool or prompt name (or URI, or
    `GLOBAL_KEY` for a listing) and the arguments (or a listing's cursor), with sorted keys so
    the order a client sends them in does not matter. Raises `TypeError` (or `ValueError`)
    for arguments that are not JSON: such a request is not cached."""
    return _KEY_ENCODER.encode([method, name, arguments])


def _entry_key(scope: str, principal: str | None, request: bytes) -> str:
    """The store key of `request`'s entry of `scope`: the SHA-256 of a JSON array of the scope
    and principal followed by the request's JSON. The array is whole JSON, so nothing a
    request holds can pass for another scope or principal."""
    return hashlib.sha256(_KEY_ENCODER.encode([scope, principal]) + request).hexdigest()


def _principal() -> str | None:
    """A digest of the credentials the request being served carries: its access token's
    client and subject (without a subject, the token itself), else its HTTP `Authorization`
    header; None without any."""
    from trimcp.server.dependencies import get_access_token, get_http_headers

    token = get_access_token()
    identity: list[Any]
    if token is not None:
        client_id = getattr(token, "client_id", None)
        claims = getattr(token, "claims", None) or {}
        subject = claims.get("sub") if isinstance(claims, dict) else None
        if subject:
            identity = ["token", client_id, "sub", str(subject)]
        else:  # every user of the client has a token of their own
            identity = ["token", client_id, "token", str(getattr(token, "token", ""))]
    else:
        authorization = get_http_headers(include={"authorization"}).get("authorization")
        if not authorization:
            return None
        identity = ["authorization", authorization]
    return hashlib.sha256(_KEY_ENCODER.encode(identity)).hexdigest()


def _is_mrtr_retry(message: Any) -> bool:
    return (
        getattr(message, "inputResponses", None) is not None
        or getattr(message, "requestState", None) is not None
    )


class ResponseCachingMiddleware(Middleware):
    """Answers repeated requests from a store (see the module for what, how long and whose).

    Args:
        cache_storage: any `AsyncKeyValue` store; default a new `trimcp.storage.MemoryStore`
            of at most 10,000 entries and 64 MiB (the least recently used goes first).
        list_tools_settings: ... and the other `*_settings`: `ttl` (seconds) and `enabled`
            per method; `call_tool_settings` also `included_tools` and `excluded_tools`.
        max_item_size: entries whose JSON is larger than this many bytes are not stored.
    """

    def __init__(
        self,
        cache_storage: AsyncKeyValue | None = None,
        list_tools_settings: ListToolsSettings | None = None,
        list_resources_settings: ListResourcesSettings | None = None,
        list_prompts_settings: ListPromptsSettings | None = None,
        read_resource_settings: ReadResourceSettings | None = None,
        get_prompt_settings: GetPromptSettings | None = None,
        call_tool_settings: CallToolSettings | None = None,
        max_item_size: int = ONE_MB_IN_BYTES,
    ):
        if cache_storage is not None and not isinstance(cache_storage, AsyncKeyValue):
            raise TypeError(
                "cache_storage is an AsyncKeyValue store (trimcp.storage or py-key-value), "
                f"not {type(cache_storage).__name__}"
            )
        self.store: AsyncKeyValue = (
            cache_storage
            if cache_storage is not None
            else MemoryStore(max_entries=10_000, max_bytes=64 << 20)
        )
        self.stats = StatisticsWrapper(
            key_value=LimitSizeWrapper(
                key_value=self.store, max_size=max_item_size, raise_on_too_large=False
            )
        )
        self.max_item_size = max_item_size
        self.call_tool_settings: CallToolSettings = call_tool_settings or CallToolSettings()
        self.ttls: dict[str, float | None] = {
            "tools/list": _ttl(list_tools_settings, FIVE_MINUTES_IN_SECONDS),
            "resources/list": _ttl(list_resources_settings, FIVE_MINUTES_IN_SECONDS),
            "prompts/list": _ttl(list_prompts_settings, FIVE_MINUTES_IN_SECONDS),
            "resources/read": _ttl(read_resource_settings, ONE_HOUR_IN_SECONDS),
            "prompts/get": _ttl(get_prompt_settings, ONE_HOUR_IN_SECONDS),
            "tools/call": _ttl(call_tool_settings, ONE_HOUR_IN_SECONDS),
        }

    def statistics(self) -> ResponseCachingStatistics:
        """The gets (hits, misses) and puts of each method so far, in this process."""
        collections = self.stats.statistics.collections
        return ResponseCachingStatistics(
            **{name: collections.get(method) for method, name in _STATISTICS_FIELDS.items()}
        )

    def caches_tool(self, name: str) -> bool:
        """Whether `tools/call` of tool `name` is cached (`excluded_tools` wins)."""
        included = self.call_tool_settings.get("included_tools")
        if included and name not in included:
            return False
        return name not in (self.call_tool_settings.get("excluded_tools") or ())

    # -- the hooks -----------------------------------------------------------------------------

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._cached(
            context, call_next, "tools/list", GLOBAL_KEY, _cursor(context), dump_tools, load_tools
        )

    async def on_list_resources(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._cached(
            context,
            call_next,
            "resources/list",
            GLOBAL_KEY,
            _cursor(context),
            dump_resources,
            load_resources,
        )

    async def on_list_prompts(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._cached(
            context,
            call_next,
            "prompts/list",
            GLOBAL_KEY,
            _cursor(context),
            dump_prompts,
            load_prompts,
        )

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        message = context.message
        if not self.caches_tool(message.name):
            return await call_next(context)
        return await self._cached(
            context,
            call_next,
            "tools/call",
            message.name,
            message.arguments,
            dump_tool_result,
            load_tool_result,
        )

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        uri = str(context.message.uri)
        return await self._cached(
            context, call_next, "resources/read", uri, None, dump_contents, load_contents
        )

    async def on_get_prompt(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        message = context.message
        return await self._cached(
            context,
            call_next,
            "prompts/get",
            message.name,
            message.arguments,
            dump_prompt,
            load_prompt,
        )

    # -- the one path --------------------------------------------------------------------------

    async def _cached(
        self,
        context: MiddlewareContext[Any],
        call_next: CallNext[Any, Any],
        method: str,
        name: str | None,
        arguments: Any,
        dump: Callable[[Any], dict[str, Any] | None],
        load: Callable[[dict[str, Any]], Any],
    ) -> Any:
        ttl = self.ttls[method]
        if ttl is None or _is_mrtr_retry(context.message):
            return await call_next(context)
        try:
            request = _request_key(method, name, arguments)
        except (TypeError, ValueError, OverflowError):  # arguments a hook made, not JSON
            return await call_next(context)
        principal = _principal()
        own = _entry_key(_ANONYMOUS if principal is None else _PRIVATE, principal, request)
        public = _entry_key(_PUBLIC, None, request)
        stored = await self._get(method, [own, public])
        if stored is not None:
            try:
                if "wire" in stored:
                    return load_wire(method, stored)
                return load(stored)
            except Exception:  # an entry no version of this middleware wrote: a miss
                logger.warning("ignoring an unreadable %s cache entry", method, exc_info=True)
        result = await call_next(context)
        data = dump_wire(method, result) or _dumped(dump, result)
        if data is not None:
            ttl = _hinted_ttl(result, ttl)
            if ttl is not None:
                shared = _scope(context, result) == "public"
                await self._put(method, public if shared else own, data, ttl)
        return result

    async def _get(self, method: str, keys: list[str]) -> dict[str, Any] | None:
        """The first entry of `keys` found, counted as one get (hit or miss) of `method`, as
        FastMCP counts a lookup."""
        try:
            # past the statistics wrapper, which would count each key
            found = await self.stats.key_value.get_many(keys, collection=method)
        except Exception:
            logger.warning(
                "response cache: %s read failed; serving uncached", method, exc_info=True
            )
            return None
        value = next((value for value in found if value is not None), None)
        counts = self.stats.statistics.get_collection(method).get
        if value is None:
            counts.increment_miss()
        else:
            counts.increment_hit()
        return value

    async def _put(self, method: str, key: str, data: dict[str, Any], ttl: float) -> None:
        try:
            await self.stats.put(key, data, collection=method, ttl=ttl)
        except Exception:
            logger.warning("response cache: %s write failed", method, exc_info=True)


def _dumped(dump: Callable[[Any], dict[str, Any] | None], result: Any) -> dict[str, Any] | None:
    """`dump(result)`, or None (not cached) for a result of a shape it does not know (a
    hook's own answer)."""
    try:
        return dump(result)
    except (AttributeError, TypeError, ValueError, msgspec.ValidationError):
        logger.debug("response cache: not caching a %s", type(result).__name__, exc_info=True)
        return None


def _ttl(settings: SharedMethodSettings | None, default: int) -> float | None:
    """The method's time to live, or None when its caching is off."""
    settings = settings or {}
    if settings.get("enabled", True) is False:
        return None
    return settings.get("ttl", default)


def _hinted_ttl(result: Any, ttl: float) -> float | None:
    """`ttl` bounded by an explicit `ttlMs` on `result` (None: not to be cached)."""
    ttl_ms = getattr(result, "ttlMs", None)
    if isinstance(ttl_ms, int) and not isinstance(ttl_ms, bool):
        return None if ttl_ms <= 0 else min(ttl, ttl_ms / 1000)
    return ttl


def _scope(context: MiddlewareContext[Any], result: Any) -> str:
    """`"public"` when the result, or else the server, declares results the same for every
    caller; `"private"` otherwise."""
    scope = getattr(result, "cacheScope", None)
    if scope is not None:
        return str(scope)
    ctx = context.fastmcp_context
    server = getattr(ctx, "fastmcp", None) if ctx is not None else None
    return str(getattr(server, "cache_scope", "private"))
