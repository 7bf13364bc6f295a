"""`OpenAISamplingHandler`: answer sampling requests with OpenAI's chat completions API.

The `openai` package is an optional extra, imported when a handler is made (never when this
module is imported); without it, making one raises `ImportError` saying what to install.

```python
from openai import AsyncOpenAI
from trimcp import FastMCP
from trimcp.experimental.sampling.handlers.openai import OpenAISamplingHandler

mcp = FastMCP(sampling_handler=OpenAISamplingHandler("gpt-4o-mini", client=AsyncOpenAI()))
```

Text messages only (an image or audio message raises `ValueError`). The model is the first
of the request's model hints that OpenAI knows as a chat model, else `default_model`. A
synchronous `OpenAI` client is called on a worker thread, so the event loop never blocks.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Sequence
from typing import Any

import anyio.to_thread

from trimcp.experimental.sampling.handlers.base import BaseLLMSamplingHandler
from trimcp.types.codec import convert
from trimcp.types.content import TextContent
from trimcp.types.misc import CreateMessageResult, SamplingMessage
from trimcp.types.sampling import CreateMessageRequestParams

__all__ = ["OpenAISamplingHandler"]

_MISSING = (
    "OpenAISamplingHandler needs the `openai` package: install it (`pip install openai`, "
    "or trimcp's `openai` extra)"
)


def _import_openai() -> Any:
    try:
        import openai
        from openai.types.shared.chat_model import ChatModel
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return openai, ChatModel


class OpenAISamplingHandler(BaseLLMSamplingHandler):
    """Sample with OpenAI's chat completions.

    Args:
        default_model: The model used when no model hint names a known chat model.
        client: An `openai.AsyncOpenAI` or `openai.OpenAI` client (default: a new `OpenAI()`,
            configured from the environment, `OPENAI_API_KEY` and the rest).

    Raises:
        ImportError: the `openai` package is not installed.
    """

    def __init__(self, default_model: str, client: Any = None) -> None:
        openai, chat_model = _import_openai()
        from typing import get_args

        self.client: Any = client if client is not None else openai.OpenAI()
        self.default_model = default_model
        create = getattr(
            getattr(getattr(self.client, "chat", None), "completions", None), "create", None
        )
        self.asynchronous = isinstance(self.client, openai.AsyncOpenAI) or (
            create is not None and inspect.iscoroutinefunction(inspect.unwrap(create))
        )
        """Whether the client's calls are awaited (else they run on a worker thread)."""
        self.known_models: frozenset[str] = frozenset(get_args(chat_model))
        """The model names OpenAI's package lists as chat models (hints are matched to it)."""

    async def __call__(
        self,
        messages: list[SamplingMessage],
        params: CreateMessageRequestParams,
        context: Any = None,
    ) -> CreateMessageResult:
        # typed params as the client hands them; plain data or `mcp.types` models are read too
        if not isinstance(params, CreateMessageRequestParams):
            params = convert(params, CreateMessageRequestParams)
        messages = [
            m if isinstance(m, SamplingMessage) else convert(m, SamplingMessage) for m in messages
        ]
        request: dict[str, Any] = {
            "model": self.select_model(params.modelPreferences),
            "messages": self.to_openai_messages(params.systemPrompt, messages),
            "max_tokens": params.maxTokens,
        }
        if params.temperature is not None:
            request["temperature"] = params.temperature
        if params.stopSequences:
            request["stop"] = params.stopSequences
        create = self.client.chat.completions.create
        if self.asynchronous:
            completion = await create(**request)
        else:
            completion = await anyio.to_thread.run_sync(lambda: create(**request))
        return self.to_result(completion)

    def select_model(self, preferences: Any) -> str:
        """The first hinted model OpenAI knows as a chat model, else `default_model`.
        `preferences` is a `ModelPreferences` (trimcp's or `mcp.types`'), a model name, or a
        list of names."""
        for name in _hinted_models(preferences):
            if name in self.known_models:
                return name
        return self.default_model

    @staticmethod
    def to_openai_messages(
        system_prompt: str | None, messages: str | Sequence[str | SamplingMessage]
    ) -> list[dict[str, str]]:
        """The chat messages for a system prompt and sampling messages (text only).

        Raises:
            ValueError: a message whose content is not text.
        """
        out: list[dict[str, str]] = []
        if system_prompt:
            out.append({"role": "system", "content": system_prompt})
        for message in [messages] if isinstance(messages, str) else messages:
            if isinstance(message, str):
                out.append({"role": "user", "content": message})
                continue
            content = message.content
            if getattr(content, "type", None) != "text":
                raise ValueError("Only text content is supported")
            role = "user" if message.role == "user" else "assistant"
            out.append({"role": role, "content": content.text})  # type: ignore[union-attr]
        return out

    @staticmethod
    def to_result(completion: Any) -> CreateMessageResult:
        """A `CreateMessageResult` from a chat completion's first choice.

        Raises:
            ValueError: the completion has no choice, or its message no text.
        """
        if not completion.choices:
            raise ValueError("No response for completion")
        text = completion.choices[0].message.content
        if not text:
            raise ValueError("No content in response from completion")
        return CreateMessageResult(
            role="assistant", content=TextContent(text=text), model=completion.model
        )


def _hinted_models(preferences: Any) -> Iterator[str]:
    if preferences is None:
        return
    if isinstance(preferences, str):
        yield preferences
    elif isinstance(preferences, list):
        yield from (name for name in preferences if isinstance(name, str))
    else:
        for hint in getattr(preferences, "hints", None) or ():
            name = getattr(hint, "name", None)
            if name:
                yield name
