"""Tools: definitions, calls and their results."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Icon, Payload
from trimcp.types.content import ContentBlock
from trimcp.types.results import PaginatedResult, Result

__all__ = ["CallToolParams", "CallToolResult", "ListToolsResult", "Tool", "ToolAnnotations"]


class ToolAnnotations(Payload, kw_only=True):
    title: str | None = None
    readOnlyHint: bool | None = None
    destructiveHint: bool | None = None
    idempotentHint: bool | None = None
    openWorldHint: bool | None = None


class Tool(Payload, kw_only=True):
    name: str
    inputSchema: dict[str, Any]
    title: str | None = None
    description: str | None = None
    outputSchema: dict[str, Any] | None = None
    annotations: ToolAnnotations | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class ListToolsResult(PaginatedResult, kw_only=True):
    tools: list[Tool]


class CallToolParams(Payload, kw_only=True):
    name: str
    arguments: dict[str, Any] | None = None
    inputResponses: dict[str, Any] | None = None
    requestState: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class CallToolResult(Result, kw_only=True):
    content: list[ContentBlock]
    structuredContent: Any = None
    isError: bool = False
