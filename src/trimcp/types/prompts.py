"""Prompts."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Icon, Payload
from trimcp.types.content import ContentBlock, as_content, content_types
from trimcp.types.results import PaginatedResult, Result

__all__ = [
    "GetPromptParams",
    "GetPromptResult",
    "ListPromptsResult",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
]


class PromptArgument(Payload, kw_only=True):
    name: str
    title: str | None = None
    description: str | None = None
    required: bool | None = None


class Prompt(Payload, kw_only=True):
    name: str
    title: str | None = None
    description: str | None = None
    arguments: list[PromptArgument] | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class PromptMessage(Payload, kw_only=True):
    role: str
    content: ContentBlock

    def __post_init__(self) -> None:
        if type(self.content) not in content_types:  # an mcp.types block, a dict
            self.content = as_content(self.content)


class ListPromptsResult(PaginatedResult, kw_only=True):
    prompts: list[Prompt]


class GetPromptParams(Payload, kw_only=True):
    name: str
    arguments: dict[str, str] | None = None
    inputResponses: dict[str, Any] | None = None
    requestState: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class GetPromptResult(Result, kw_only=True):
    messages: list[PromptMessage]
    description: str | None = None
