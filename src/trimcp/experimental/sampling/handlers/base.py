"""`BaseLLMSamplingHandler`: the shape of a sampling handler backed by an LLM provider."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable
from typing import Any

from trimcp.types.misc import CreateMessageResult, SamplingMessage
from trimcp.types.sampling import CreateMessageRequestParams

__all__ = ["BaseLLMSamplingHandler"]


class BaseLLMSamplingHandler(ABC):
    """A sampling handler: `FastMCP(sampling_handler=...)` (the server's fallback when its
    client cannot sample) or `Client(sampling_handler=...)` calls it with the messages, the
    request's params and a request context, and sends back what it returns."""

    @abstractmethod
    def __call__(
        self,
        messages: list[SamplingMessage],
        params: CreateMessageRequestParams,
        context: Any,
    ) -> str | CreateMessageResult | Awaitable[str | CreateMessageResult]: ...
