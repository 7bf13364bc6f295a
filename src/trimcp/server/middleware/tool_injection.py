"""FastMCP's tool-injection middleware (`fastmcp.server.middleware.tool_injection`): tools a
server serves without registering them.

- `ToolInjectionMiddleware(tools)`: `tools` are listed first and called by name (before the
  server's own of the same name).
- `PromptToolMiddleware`: `list_prompts` and `get_prompt` as tools, for clients that only
  speak tools.
- `ResourceToolMiddleware`: `list_resources` and `read_resource` as tools.

The listing and prompt tools answer in the protocol's shapes. When the program uses the
official SDK's types (`mcp.types` is imported, as in FastMCP code), they answer with those
models, so their JSON is FastMCP's to the byte: every field, the unset ones as `null`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from trimcp.core.context import Context
from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.resources.resource import ReadResourceContents
from trimcp.tools.tool import Tool, ToolResult
from trimcp.types.base import Payload
from trimcp.types.interop import to_mcp

__all__ = [
    "PromptToolMiddleware",
    "ResourceToolMiddleware",
    "ToolInjectionMiddleware",
    "get_prompt",
    "get_prompt_tool",
    "list_prompts",
    "list_prompts_tool",
    "list_resources",
    "list_resources_tool",
    "read_resource",
    "read_resource_tool",
]


class ToolInjectionMiddleware(Middleware):
    """Serves `tools` as if the server had them: listed before its own, called first."""

    def __init__(self, tools: Sequence[Tool]):
        self._injected: Sequence[Tool] = tools
        self._injected_by_name: dict[str, Tool] = {tool.name: tool for tool in tools}

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Sequence[Tool]]
    ) -> Sequence[Tool]:
        return [*self._injected, *await call_next(context)]

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, ToolResult]
    ) -> ToolResult:
        tool = self._injected_by_name.get(context.message.name)
        if tool is None:
            return await call_next(context)
        return await tool.invoke(context.message.arguments or {}, context.fastmcp_context)


def _in_sdk_shape(payload: Any) -> Any:
    """`payload` as the SDK's model when `mcp.types` is loaded (FastMCP's tools answer with
    those), else as it is."""
    if not isinstance(payload, Payload):
        return payload
    try:
        return to_mcp(payload)
    except LookupError:  # `mcp.types` not imported, or no model of that name
        return payload


async def list_prompts(context: Context) -> list[Any]:
    """List the prompts available on the server."""
    return [_in_sdk_shape(prompt) for prompt in await context.list_prompts()]


async def get_prompt(
    context: Context,
    name: Annotated[str, "The name of the prompt to render."],
    arguments: Annotated[dict[str, Any] | None, "The arguments to pass to the prompt."] = None,
) -> Any:
    """Render a prompt available on the server."""
    return _in_sdk_shape(await context.get_prompt(name=name, arguments=arguments))


async def list_resources(context: Context) -> list[Any]:
    """List the resources available on the server."""
    return [_in_sdk_shape(resource) for resource in await context.list_resources()]


async def read_resource(
    context: Context, uri: Annotated[str, "The URI of the resource to read."]
) -> list[Any]:
    """Read a resource available on the server."""
    return [_plain_contents(item) for item in await context.read_resource(uri)]


def _plain_contents(item: ReadResourceContents) -> dict[str, Any]:
    """One content as FastMCP's tool answers it (the SDK's `ReadResourceContents` has no
    `meta`): `content` and `mime_type`, plus `meta` only when the content has one."""
    plain: dict[str, Any] = {"content": item.content, "mime_type": item.mime_type}
    if item.meta is not None:
        plain["meta"] = item.meta
    return plain


list_prompts_tool = Tool.from_function(list_prompts)
get_prompt_tool = Tool.from_function(get_prompt)
list_resources_tool = Tool.from_function(list_resources)
read_resource_tool = Tool.from_function(read_resource)


class PromptToolMiddleware(ToolInjectionMiddleware):
    """Injects `list_prompts` and `get_prompt` as tools."""

    def __init__(self) -> None:
        super().__init__(tools=[list_prompts_tool, get_prompt_tool])


class ResourceToolMiddleware(ToolInjectionMiddleware):
    """Injects `list_resources` and `read_resource` as tools."""

    def __init__(self) -> None:
        super().__init__(tools=[list_resources_tool, read_resource_tool])
