"""MCP payloads as msgspec structs, split by feature. Field names are the wire's camelCase
names (as in `mcp.types`), so client code written against the SDK reads the same.

When the program uses the official SDK, trimcp's payloads also pass for its `mcp.types`
models (`isinstance`, equality both ways, conversion of its models): see
`trimcp.types.interop`, whose watch starts here."""

from __future__ import annotations

from trimcp.types.base import Annotations, Icon, Implementation, Payload
from trimcp.types.content import (
    AudioContent,
    BlobResourceContents,
    ContentBlock,
    EmbeddedResource,
    ImageContent,
    ResourceContents,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from trimcp.types.lifecycle import (
    ClientCapabilities,
    DiscoverResult,
    InitializeParams,
    InitializeResult,
    ServerCapabilities,
)
from trimcp.types.misc import (
    CompleteResult,
    Completion,
    CreateMessageResult,
    ElicitResult,
    EmptyResult,
    ListRootsResult,
    Root,
    SamplingMessage,
)
from trimcp.types.prompts import (
    GetPromptResult,
    ListPromptsResult,
    Prompt,
    PromptArgument,
    PromptMessage,
)
from trimcp.types.resources import (
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
)
from trimcp.types.results import CacheableResult, Result
from trimcp.types.sampling import CreateMessageRequestParams, ModelHint, ModelPreferences
from trimcp.types.tools import CallToolResult, ListToolsResult, Tool, ToolAnnotations

from trimcp.types.interop import from_foreign, register_with_mcp, to_mcp, watch_for_mcp  # isort: skip

watch_for_mcp()

__all__ = [
    "Annotations",
    "AudioContent",
    "BlobResourceContents",
    "CacheableResult",
    "CallToolResult",
    "ClientCapabilities",
    "CompleteResult",
    "Completion",
    "ContentBlock",
    "CreateMessageRequestParams",
    "CreateMessageResult",
    "DiscoverResult",
    "ElicitResult",
    "EmbeddedResource",
    "EmptyResult",
    "GetPromptResult",
    "Icon",
    "ImageContent",
    "Implementation",
    "InitializeParams",
    "InitializeResult",
    "ListPromptsResult",
    "ListResourceTemplatesResult",
    "ListResourcesResult",
    "ListRootsResult",
    "ListToolsResult",
    "ModelHint",
    "ModelPreferences",
    "Payload",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ReadResourceResult",
    "Resource",
    "ResourceContents",
    "ResourceLink",
    "ResourceTemplate",
    "Result",
    "Root",
    "SamplingMessage",
    "ServerCapabilities",
    "TextContent",
    "TextResourceContents",
    "Tool",
    "ToolAnnotations",
    "from_foreign",
    "register_with_mcp",
    "to_mcp",
]
