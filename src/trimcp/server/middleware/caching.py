"""FastMCP's response-caching middleware (`fastmcp.server.middleware.caching`).

`ResponseCachingMiddleware` answers repeated requests from a cache, each method with its own
settings (`ttl` in seconds, `enabled`): `tools/call` (keyed by tool and arguments; only the
tools `included_tools` names, or all but `excluded_tools`), `resources/read` (by URI) and
`prompts/get` (by prompt and arguments) for an hour by default; the listings (`tools/list`,
`resources/list`, `prompts/list`) for five minutes. Results go to a `trimcp.storage`
`KeyValueStore` (`cache_storage`; default a `MemoryStore`), serialized, and are left out when
larger than `max_item_size` bytes; listings are kept in this process (components hold
functions, which do not serialize). A failure is never cached.

FastMCP's `cache_storage` is a py-key-value `AsyncKeyValue`; trimcp takes its own store
protocol and refuses any other object, rather than caching somewhere the user did not ask.
"""

from __future__ import annotations

import base64
import time
from typing import Any, NotRequired, TypedDict

import msgspec

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.resources.resource import ReadResourceContents
from trimcp.storage import KeyValueStore, MemoryStore
from trimcp.tools.tool import ToolResult
from trimcp.types.codec import decode
from trimcp.types.prompts import GetPromptResult
from trimcp.types.tools import CallToolResult

__all__ = [
    "CallToolSettings",
    "GetPromptSettings",
    "ListPromptsSettings",
    "ListResourcesSettings",
    "ListToolsSettings",
    "ReadResourceSettings",
    "ResponseCachingMiddleware",
    "SharedMethodSettings",
]

ONE_HOUR_IN_SECONDS = 3600
FIVE_MINUTES_IN_SECONDS = 300
ONE_MB_IN_BYTES = 1024 * 1024


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
    """`tools/call` caching, for the tools named (or all but those named)."""

    included_tools: NotRequired[list[str]]
    excluded_tools: NotRequired[list[str]]


class ReadResourceSettings(SharedMethodSettings):
    """`resources/read` caching."""


class GetPromptSettings(SharedMethodSettings):
    """`prompts/get` caching."""


class _Contents(msgspec.Struct):
    """One `ReadResourceContents` as stored: text, or base64 bytes."""

    text: str | None = None
    blob: str | None = None
    mime_type: str | None = None
    meta: dict[str, Any] | None = None


def _key(name: str, arguments: Any) -> str:
    return f"{name}:{msgspec.json.encode(arguments, order='sorted').decode()}"


def _ttl(settings: SharedMethodSettings | None, default: int) -> float | None:
    """The method's time to live, or None when its caching is off."""
    settings = settings or {}
    return None if settings.get("enabled", True) is False else settings.get("ttl", default)


class ResponseCachingMiddleware(Middleware):
    """Answers repeated requests from a cache (see the module for what and how long)."""

    def __init__(
        self,
        cache_storage: KeyValueStore | None = None,
        list_tools_settings: ListToolsSettings | None = None,
        list_resources_settings: ListResourcesSettings | None = None,
        list_prompts_settings: ListPromptsSettings | None = None,
        read_resource_settings: ReadResourceSettings | None = None,
        get_prompt_settings: GetPromptSettings | None = None,
        call_tool_settings: CallToolSettings | None = None,
        max_item_size: int = ONE_MB_IN_BYTES,
    ):
        if cache_storage is not None and not isinstance(cache_storage, KeyValueStore):
            raise TypeError(
                "trimcp's ResponseCachingMiddleware stores in a trimcp.storage.KeyValueStore "
                f"(MemoryStore, or one of your own), not {type(cache_storage).__name__}"
            )
        self.store: KeyValueStore = cache_storage if cache_storage is not None else MemoryStore()
        self.max_item_size = max_item_size
        self.call_tool_settings: CallToolSettings = call_tool_settings or {}
        self._ttls: dict[str, float | None] = {
            "tools/list": _ttl(list_tools_settings, FIVE_MINUTES_IN_SECONDS),
            "resources/list": _ttl(list_resources_settings, FIVE_MINUTES_IN_SECONDS),
            "prompts/list": _ttl(list_prompts_settings, FIVE_MINUTES_IN_SECONDS),
            "resources/read": _ttl(read_resource_settings, ONE_HOUR_IN_SECONDS),
            "prompts/get": _ttl(get_prompt_settings, ONE_HOUR_IN_SECONDS),
            "tools/call": _ttl(call_tool_settings, ONE_HOUR_IN_SECONDS),
        }
        self._listings: dict[str, tuple[float, Any]] = {}

    # -- listings: kept in this process ----------------------------------------------------

    async def _listing(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        method = context.method or ""
        ttl = self._ttls.get(method)
        if ttl is None:
            return await call_next(context)
        kept = self._listings.get(method)
        if kept is not None and kept[0] > time.monotonic():
            return list(kept[1])
        listed = await call_next(context)
        self._listings[method] = (time.monotonic() + ttl, list(listed))
        return listed

    on_list_tools = _listing
    on_list_resources = _listing
    on_list_prompts = _listing

    # -- results: serialized into the store ------------------------------------------------

    async def _cached(
        self,
        context: MiddlewareContext[Any],
        call_next: CallNext[Any, Any],
        key: str,
        dump: Any,
        load: Any,
    ) -> Any:
        method = context.method or ""
        ttl = self._ttls.get(method)
        if ttl is None:
            return await call_next(context)
        stored = await self.store.get(method, key)
        if stored is not None:
            return load(stored)
        result = await call_next(context)
        data = dump(result)
        if data is not None and len(data) <= self.max_item_size:
            await self.store.put(method, key, data, ttl=ttl)
        return result

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        name = context.message.name
        included = self.call_tool_settings.get("included_tools")
        excluded = self.call_tool_settings.get("excluded_tools") or ()
        if (included is not None and name not in included) or name in excluded:
            return await call_next(context)
        key = _key(name, context.message.arguments or {})
        return await self._cached(context, call_next, key, _dump_tool_result, _load_tool_result)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        key = str(context.message.uri)
        return await self._cached(context, call_next, key, _dump_contents, _load_contents)

    async def on_get_prompt(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        key = _key(context.message.name, context.message.arguments or {})
        return await self._cached(context, call_next, key, _dump_struct, _load_prompt)


def _dump_tool_result(result: Any) -> bytes | None:
    if not isinstance(result, ToolResult):
        return None  # an input round (2026-07-28) or a hook's own result: not cached
    return msgspec.json.encode(result.to_mcp_result())


def _load_tool_result(data: bytes) -> ToolResult:
    wire = decode(data, CallToolResult)
    result = ToolResult.from_final(wire.content, wire.structuredContent)
    result.meta = wire.meta
    return result


def _dump_contents(contents: Any) -> bytes | None:
    if not isinstance(contents, list) or not all(
        isinstance(c, ReadResourceContents) for c in contents
    ):
        return None
    stored = [
        _Contents(blob=base64.b64encode(c.content).decode(), mime_type=c.mime_type, meta=c.meta)
        if isinstance(c.content, bytes)
        else _Contents(text=c.content, mime_type=c.mime_type, meta=c.meta)
        for c in contents
    ]
    return msgspec.json.encode(stored)


def _load_contents(data: bytes) -> list[ReadResourceContents]:
    return [
        ReadResourceContents(
            base64.b64decode(c.blob) if c.blob is not None else c.text or "", c.mime_type, c.meta
        )
        for c in msgspec.json.decode(data, type=list[_Contents])
    ]


def _dump_struct(result: Any) -> bytes | None:
    return msgspec.json.encode(result) if isinstance(result, GetPromptResult) else None


def _load_prompt(data: bytes) -> GetPromptResult:
    return decode(data, GetPromptResult)
