"""Prompts."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Icon, Payload
from trimcp.types.content import ContentBlock
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
    """One message of a prompt. Unlike the sampling messages it does not convert an
    `mcp.types` block given as `content` (prompts are rendered on the request path, and
    `trimcp.prompts` converts what prompt functions return); `as_content` does."""

    role: str
    content: ContentBlock


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
