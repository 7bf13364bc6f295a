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
from typing import TypeAlias

from trimcp.client.context import RequestContext
from trimcp.types.misc import CreateMessageResult, SamplingMessage
from trimcp.types.sampling import CreateMessageRequestParams, ModelHint, ModelPreferences

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


SamplingParams: TypeAlias = CreateMessageRequestParams

ClientSamplingHandler: TypeAlias = Callable[
    [list[SamplingMessage], SamplingParams, RequestContext],
    "str | CreateMessageResult | Awaitable[str | CreateMessageResult]",
]
"""`(messages, params, context) -> text or CreateMessageResult` (sync or async)."""

SamplingHandler: TypeAlias = ClientSamplingHandler
"""What `Client(sampling_handler=...)` takes (and `FastMCP(sampling_handler=...)`, the
server's fallback, takes the same signature)."""
