"""`Context.sample`'s work: the `sampling/createMessage` request it builds, who answers it
(the client, or the server's `sampling_handler` when the client cannot, or always, as
FastMCP's `sampling_handler_behavior` says) and the content it returns.

Split from `core.context` so that `Context` keeps the per-request handle and the methods
users call; nothing here runs unless a tool samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from trimcp.exceptions import McpError
from trimcp.protocol.errors import INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY, ErrorData

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.core.request import ServerRequest

__all__ = ["request_sample", "sampling_params"]


async def request_sample(
    ctx: Context,
    request: ServerRequest,
    params: dict[str, Any],
    *,
    tools: bool,
    include_context: str | None,
) -> Any:
    """Answer `ctx.sample()` for `request` (`params`: `sampling_params`'s; `tools`: whether
    it offers tools): the server's `sampling_handler` when the client has no sampling (or
    always, per the behaviour), else the client, which must support what is asked of it."""
    sampling_caps = request.envelope.client_capabilities.get("sampling")
    server = ctx.fastmcp
    fallback = getattr(server, "sampling_handler", None)
    behavior = getattr(server, "sampling_handler_behavior", "fallback")
    if fallback is not None and (behavior == "always" or sampling_caps is None):
        result = await _call_maybe_async(fallback, params["messages"], params, ctx)
        return _sampling_content(result)
    if sampling_caps is not None:
        if tools and sampling_caps.get("tools") is None:
            raise McpError(
                ErrorData(
                    MISSING_REQUIRED_CLIENT_CAPABILITY,
                    "The client does not support tool use in sampling",
                    {"requiredCapabilities": {"sampling": {"tools": {}}}},
                )
            )
        if include_context in ("thisServer", "allServers") and sampling_caps.get("context") is None:
            params.pop("includeContext", None)  # SHOULD NOT be sent without sampling.context
    result = await ctx.ask_client("sampling/createMessage", params, "sampling")
    try:
        if not isinstance(result, dict) or not isinstance(result.get("content"), dict | list):
            raise msgspec.ValidationError("Expected `content`, an object or an array")
        return _sampling_content(result)
    except msgspec.ValidationError as exc:  # the client's data, not a server fault
        raise McpError(
            INVALID_PARAMS, f"The client's sampling/createMessage result is malformed: {exc}"
        ) from None


def _text_message(text: str, role: str = "user") -> dict[str, Any]:
    return {"role": role, "content": {"type": "text", "text": text}}


def _builtins(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(by_alias=True, exclude_none=True, mode="json")
    return value


def sampling_params(
    messages: str | list[Any],
    system_prompt: str | None,
    include_context: str | None,
    temperature: float | None,
    max_tokens: int | None,
    model_preferences: Any,
    tools: list[Any] | None,
) -> dict[str, Any]:
    """The `sampling/createMessage` params of `ctx.sample()`'s arguments."""
    if isinstance(messages, str):
        wire = [_text_message(messages)]
    else:
        wire = [_text_message(m) if isinstance(m, str) else _builtins(m) for m in messages]
    params: dict[str, Any] = {"messages": wire, "maxTokens": max_tokens or 512}
    if system_prompt is not None:
        params["systemPrompt"] = system_prompt
    if include_context is not None:
        params["includeContext"] = include_context
    if temperature is not None:
        params["temperature"] = temperature
    if model_preferences is not None:
        if isinstance(model_preferences, str):
            model_preferences = {"hints": [{"name": model_preferences}]}
        elif isinstance(model_preferences, list):
            model_preferences = {"hints": [{"name": name} for name in model_preferences]}
        params["modelPreferences"] = _builtins(model_preferences)
    if tools:
        params["tools"] = [_tool_definition(t) for t in tools]
    return params


def _tool_definition(tool: Any) -> Any:
    if callable(tool) and not hasattr(tool, "to_mcp_tool"):
        from trimcp.tools import Tool

        tool = Tool.from_function(tool)
    if hasattr(tool, "to_mcp_tool"):
        tool = tool.to_mcp_tool()
    return _builtins(tool)


def _sampling_content(result: Any) -> Any:
    """The content of a sampling answer, as a content struct (`.text` for text)."""
    from trimcp.types.codec import convert
    from trimcp.types.content import ContentBlock, TextContent

    block: Any = ContentBlock  # a union, which msgspec converts to but mypy's type[T] can't name

    if isinstance(result, str):
        return TextContent(text=result)
    result = _builtins(result)
    content = result.get("content") if isinstance(result, dict) and "content" in result else result
    if isinstance(content, list):
        return [convert(item, block) for item in content]
    if isinstance(content, dict):
        return convert(content, block)
    return content


async def _call_maybe_async(fn: Any, *args: Any) -> Any:
    import inspect

    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
