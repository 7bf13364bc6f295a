"""Sampling on the client side (FastMCP's `fastmcp.client.sampling`).

A `sampling_handler(messages, params, context)` answers the server's
`sampling/createMessage`: `messages` is a list of `SamplingMessage` (`.role`, `.content`, a
`TextContent`/`ImageContent`/`AudioContent`), `params` a `SamplingParams`
(`CreateMessageRequestParams`: `.systemPrompt`, `.maxTokens`, `.temperature`,
`.modelPreferences` with its `.hints` as `ModelHint` objects, ...), `context` a
`RequestContext` (`.request_id`, `.method`, `.meta`). It returns the text, or a
`CreateMessageResult`-like value; it may be sync or async. An exception becomes the error
the server receives.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import msgspec

from trimcp.client.context import RequestContext
from trimcp.types.base import Payload
from trimcp.types.misc import CreateMessageResult, SamplingMessage

__all__ = [
    "ClientSamplingHandler",
    "CreateMessageRequestParams",
    "CreateMessageResult",
    "ModelHint",
    "ModelPreferences",
    "RequestContext",
    "SamplingHandler",
    "SamplingMessage",
    "SamplingParams",
]


class ModelHint(Payload, kw_only=True):
    """A model name (or part of one) the server suggests."""

    name: str | None = None


class ModelPreferences(Payload, kw_only=True):
    """The server's preferences for choosing a model: hints, then priorities from 0 to 1."""

    hints: list[ModelHint] | None = None
    costPriority: float | None = None
    speedPriority: float | None = None
    intelligencePriority: float | None = None


class CreateMessageRequestParams(Payload, kw_only=True):
    """The params of `sampling/createMessage`, typed as in `mcp.types`."""

    messages: list[SamplingMessage]
    maxTokens: int | None = None
    systemPrompt: str | None = None
    temperature: float | None = None
    stopSequences: list[str] | None = None
    modelPreferences: ModelPreferences | None = None
    includeContext: str | None = None
    metadata: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    toolChoice: dict[str, Any] | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


SamplingParams: TypeAlias = CreateMessageRequestParams

ClientSamplingHandler: TypeAlias = Callable[
    [list[SamplingMessage], SamplingParams, RequestContext],
    "str | CreateMessageResult | Awaitable[str | CreateMessageResult]",
]
"""`(messages, params, context) -> text or CreateMessageResult` (sync or async)."""

SamplingHandler: TypeAlias = ClientSamplingHandler
"""What `Client(sampling_handler=...)` takes (and `FastMCP(sampling_handler=...)`, the
server's fallback, takes the same signature)."""
