"""What `ResponseCachingMiddleware` stores (`trimcp.server.middleware.caching`): FastMCP's
`CachableToolResult` and `CachableReadResourceContents`, and the dump and load of each
method's entry: the listings as the components' definitions (with their keys, tags and
state), results in their wire shapes, and a hook's own wire result as it is. A dump answers
None for what is not cached (an input round of 2026-07-28, a hook's answer of another shape).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import msgspec

from trimcp.prompts.prompt import Prompt
from trimcp.resources.resource import ReadResourceContents, Resource
from trimcp.tools.tool import Tool, ToolResult
from trimcp.types.codec import convert
from trimcp.types.content import ContentBlock
from trimcp.types.prompts import GetPromptResult, ListPromptsResult
from trimcp.types.prompts import Prompt as MCPPrompt
from trimcp.types.resources import ListResourcesResult, ReadResourceResult
from trimcp.types.resources import Resource as MCPResource
from trimcp.types.results import CacheableResult
from trimcp.types.tools import ListToolsResult
from trimcp.types.tools import Tool as MCPTool

__all__ = [
    "CachableReadResourceContents",
    "CachableToolResult",
    "dump_contents",
    "dump_prompt",
    "dump_prompts",
    "dump_resources",
    "dump_tool_result",
    "dump_tools",
    "dump_wire",
    "load_contents",
    "load_prompt",
    "load_prompts",
    "load_resources",
    "load_tool_result",
    "load_tools",
    "load_wire",
]


# -- what is stored ----------------------------------------------------------------------------


class CachableToolResult(msgspec.Struct, kw_only=True):
    """A `ToolResult` as the cache keeps it; stored as the wire `CallToolResult` dict."""

    content: list[ContentBlock]
    structured_content: dict[str, Any] | None = msgspec.field(
        default=None, name="structuredContent"
    )
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    @classmethod
    def wrap(cls, value: ToolResult) -> Self:
        return cls(
            content=convert(value.content, list[ContentBlock]),
            structured_content=value.structured_content,
            meta=value.meta,
        )

    def unwrap(self) -> ToolResult:
        result = ToolResult.from_final(list(self.content), self.structured_content)
        result.meta = self.meta
        return result


@dataclass
class CachableReadResourceContents:
    """One `ReadResourceContents` as the cache keeps it; stored as `{"text"}` or `{"blob"}`
    (base64), with `mimeType` and `_meta`."""

    content: str | bytes
    mime_type: str | None = None
    meta: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = (
            {"blob": base64.b64encode(self.content).decode()}
            if isinstance(self.content, bytes)
            else {"text": self.content}
        )
        data["mimeType"] = self.mime_type
        if self.meta is not None:
            data["_meta"] = self.meta
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        blob = data.get("blob")
        content = base64.b64decode(blob) if blob is not None else str(data.get("text", ""))
        return cls(content, data.get("mimeType"), data.get("_meta"))

    def get_size(self) -> int:
        """Its size as stored (JSON bytes)."""
        return len(msgspec.json.encode(self.to_dict()))

    @classmethod
    def get_sizes(cls, values: Sequence[Self]) -> int:
        return sum(item.get_size() for item in values)

    @classmethod
    def wrap(cls, values: Sequence[ReadResourceContents]) -> list[Self]:
        return [cls(item.content, item.mime_type, item.meta) for item in values]

    @classmethod
    def unwrap(cls, values: Sequence[Self]) -> list[ReadResourceContents]:
        return [ReadResourceContents(item.content, item.mime_type, item.meta) for item in values]


# -- listings: the components' definitions -----------------------------------------------------


def _dump_components(items: Iterable[Any], entry: Callable[[Any], Any]) -> dict[str, Any]:
    """Components as a cached listing: each with its key, tags and state, and its wire entry
    (`entry(component)`, without FastMCP's `_meta`)."""
    return {
        "items": [
            {
                "key": c.key,
                "tags": sorted(c.tags),
                "enabled": c.enabled,
                "entry": msgspec.to_builtins(entry(c)),
            }
            for c in items
        ]
    }


def dump_tools(tools: Iterable[Tool]) -> dict[str, Any]:
    return _dump_components(tools, lambda t: t.to_mcp_tool(include_fastmcp_meta=False))


def dump_resources(resources: Iterable[Resource]) -> dict[str, Any]:
    return _dump_components(resources, lambda r: r.to_mcp_resource(include_fastmcp_meta=False))


def dump_prompts(prompts: Iterable[Prompt]) -> dict[str, Any]:
    return _dump_components(prompts, lambda p: p.to_mcp_prompt(include_fastmcp_meta=False))


def load_tools(data: dict[str, Any]) -> list[Tool]:
    tools = []
    for item in data["items"]:
        entry = convert(item["entry"], MCPTool)
        tool = Tool(
            name=entry.name,
            parameters=entry.inputSchema,
            title=entry.title,
            description=entry.description,
            tags=set(item["tags"]),
            annotations=entry.annotations,
            output_schema=entry.outputSchema,
            meta=entry.meta,
            enabled=item["enabled"],
            icons=entry.icons,
        )
        tool.key = item["key"]
        tools.append(tool)
    return tools


def load_resources(data: dict[str, Any]) -> list[Resource]:
    resources = []
    for item in data["items"]:
        entry = convert(item["entry"], MCPResource)
        resources.append(
            Resource(
                uri=entry.uri,
                name=entry.name,
                title=entry.title,
                description=entry.description,
                mime_type=entry.mimeType,
                tags=item["tags"],
                annotations=entry.annotations,
                meta=entry.meta,
                enabled=item["enabled"],
                icons=entry.icons,
                key=item["key"],
            )
        )
    return resources


def load_prompts(data: dict[str, Any]) -> list[Prompt]:
    prompts = []
    for item in data["items"]:
        entry = convert(item["entry"], MCPPrompt)
        prompts.append(
            Prompt(
                name=entry.name,
                title=entry.title,
                description=entry.description,
                arguments=entry.arguments,
                tags=item["tags"],
                meta=entry.meta,
                enabled=item["enabled"],
                icons=entry.icons,
                key=item["key"],
            )
        )
    return prompts


# -- results -----------------------------------------------------------------------------------


def dump_tool_result(result: Any) -> dict[str, Any] | None:
    if not isinstance(result, ToolResult):
        return None  # an input round (2026-07-28) or a hook's own answer: not cached
    stored: dict[str, Any] = msgspec.to_builtins(CachableToolResult.wrap(result))
    return stored


def load_tool_result(data: dict[str, Any]) -> ToolResult:
    return convert(data, CachableToolResult).unwrap()


def dump_contents(contents: Any) -> dict[str, Any] | None:
    if not isinstance(contents, list) or not all(
        isinstance(c, ReadResourceContents) for c in contents
    ):
        return None
    return {"items": [c.to_dict() for c in CachableReadResourceContents.wrap(contents)]}


def load_contents(data: dict[str, Any]) -> list[ReadResourceContents]:
    items = [CachableReadResourceContents.from_dict(item) for item in data["items"]]
    return CachableReadResourceContents.unwrap(items)


def dump_prompt(result: Any) -> dict[str, Any] | None:
    if not isinstance(result, GetPromptResult) or result.resultType == "input_required":
        return None
    stored: dict[str, Any] = msgspec.to_builtins(result)
    return stored


def load_prompt(data: dict[str, Any]) -> GetPromptResult:
    return convert(data, GetPromptResult)


_WIRE_RESULTS: dict[str, type[CacheableResult]] = {
    "tools/list": ListToolsResult,
    "resources/list": ListResourcesResult,
    "prompts/list": ListPromptsResult,
    "resources/read": ReadResourceResult,
}
"""A hook may answer these methods with the wire result itself (a proxy, say), which may
carry the 2026-07-28 caching hints: such results are cached as they are."""


def dump_wire(method: str, result: Any) -> dict[str, Any] | None:
    wire = _WIRE_RESULTS.get(method)
    if wire is None or type(result) is not wire or result.resultType == "input_required":
        return None
    return {"wire": msgspec.to_builtins(result)}


def load_wire(method: str, data: dict[str, Any]) -> CacheableResult:
    """A hook's wire result, as `dump_wire` stored it."""
    return convert(data["wire"], _WIRE_RESULTS[method])
