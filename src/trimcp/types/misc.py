"""Small payloads: completion, logging, progress, cancellation, pagination, sampling, elicitation,
roots."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Payload
from trimcp.types.content import ContentBlock, as_content, content_types
from trimcp.types.results import Result

__all__ = [
    "CancelledParams",
    "CompleteParams",
    "CompleteResult",
    "Completion",
    "CreateMessageResult",
    "ElicitResult",
    "EmptyResult",
    "ListRootsResult",
    "LoggingMessageParams",
    "PaginatedParams",
    "ProgressParams",
    "Root",
    "SamplingMessage",
    "SetLevelParams",
]


class EmptyResult(Result, kw_only=True):
    pass


class PaginatedParams(Payload, kw_only=True):
    cursor: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class CompletionRef(Payload, kw_only=True):
    type: str
    name: str | None = None
    uri: str | None = None


class CompletionArgument(Payload, kw_only=True):
    name: str
    value: str


class CompleteParams(Payload, kw_only=True):
    ref: CompletionRef
    argument: CompletionArgument
    context: dict[str, Any] | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class Completion(Payload, kw_only=True):
    values: list[str]
    total: int | None = None
    hasMore: bool | None = None


class CompleteResult(Result, kw_only=True):
    completion: Completion


class SetLevelParams(Payload, kw_only=True):
    level: str
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class LoggingMessageParams(Payload, kw_only=True):
    level: str
    data: Any
    logger: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class ProgressParams(Payload, kw_only=True):
    progressToken: str | int
    progress: float
    total: float | None = None
    message: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class CancelledParams(Payload, kw_only=True):
    requestId: str | int | None = None
    reason: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class SamplingMessage(Payload, kw_only=True):
    role: str
    content: ContentBlock | list[ContentBlock]

    def __post_init__(self) -> None:
        if type(self.content) not in content_types:  # mcp.types blocks, dicts, lists
            self.content = as_content(self.content)


class CreateMessageResult(Result, kw_only=True):
    role: str
    content: ContentBlock | list[ContentBlock]
    model: str
    stopReason: str | None = None

    def __post_init__(self) -> None:
        if type(self.content) not in content_types:  # mcp.types blocks, dicts, lists
            self.content = as_content(self.content)


class ElicitResult(Result, kw_only=True):
    action: str
    content: dict[str, Any] | None = None


class Root(Payload, kw_only=True):
    uri: str
    name: str | None = None


class ListRootsResult(Result, kw_only=True):
    roots: list[Root]
