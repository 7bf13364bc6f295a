"""Interop with the official SDK's `mcp.types` (pydantic models), for code written against it.

`mcp` is not a dependency of trimcp, and importing it is slow: nothing here imports it. When
the user's program has imported it, trimcp's payloads stand in for its models:

- `isinstance(payload, mcp.types.TextContent)` holds: `register_with_mcp()` records each
  trimcp type's namesake as its `__twin__`, which a payload's `__class__` reports (see
  `Payload`); the type itself stays what it is (`type(payload)`). It runs when `trimcp.types` is imported; if `mcp.types` is imported later, a
  finder on `sys.meta_path` (`watch_for_mcp`) runs it as soon as that import completes, then
  takes itself off. Code that hands payloads to users may call it too: once registration is
  done it is one global read, before that one dict lookup.
- Equality both ways: `payload == mcp_model` and `mcp_model == payload` compare by value, in
  lists too: pydantic's own comparison, with the payload as its equal model (so fields the SDK
  fills with defaults compare equal to the payload's unset ones; a payload no model can hold
  is equal to none).
- `from_foreign(obj, cls)` converts an `mcp.types` model (or a dict, or a struct) into a trimcp
  type; `trimcp.types.codec.convert` does the same for values holding models anywhere inside,
  so every conversion site that goes through it accepts `mcp.types` objects.
- `to_mcp(payload)` builds the `mcp.types` model equal to a payload.

Once registered, `isinstance(payload, pydantic.BaseModel)` holds too (not `issubclass` of the
trimcp type); `Payload` carries the few attributes pydantic then reads, each answered by the
equal `mcp.types` model, so that pydantic compares and serializes payloads as its own."""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from trimcp.types.base import Annotations, Icon, Implementation, Payload
from trimcp.types.codec import convert
from trimcp.types.content import (
    AudioContent,
    BlobResourceContents,
    EmbeddedResource,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
)
from trimcp.types.lifecycle import (
    ClientCapabilities,
    InitializeParams,
    InitializeResult,
    ServerCapabilities,
)
from trimcp.types.misc import (
    CancelledParams,
    CompleteParams,
    CompleteResult,
    Completion,
    CompletionArgument,
    CreateMessageResult,
    ElicitResult,
    EmptyResult,
    ListRootsResult,
    LoggingMessageParams,
    PaginatedParams,
    ProgressParams,
    Root,
    SamplingMessage,
    SetLevelParams,
)
from trimcp.types.prompts import (
    GetPromptParams,
    GetPromptResult,
    ListPromptsResult,
    Prompt,
    PromptArgument,
    PromptMessage,
)
from trimcp.types.resources import (
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    SubscribeParams,
)
from trimcp.types.results import PaginatedResult, Result
from trimcp.types.sampling import CreateMessageRequestParams, ModelHint, ModelPreferences
from trimcp.types.tools import (
    CallToolParams,
    CallToolResult,
    ListToolsResult,
    Tool,
    ToolAnnotations,
)

if TYPE_CHECKING:
    import importlib.abc

__all__ = [
    "MCP_NAMES",
    "from_foreign",
    "register_with_mcp",
    "to_mcp",
    "watch_for_mcp",
]

T = TypeVar("T")

MCP_NAMES: dict[type[Payload], str] = {
    cls: cls.__name__
    for cls in (
        TextContent,
        ImageContent,
        AudioContent,
        EmbeddedResource,
        ResourceLink,
        TextResourceContents,
        BlobResourceContents,
        Icon,
        Annotations,
        Implementation,
        Tool,
        ToolAnnotations,
        Resource,
        ResourceTemplate,
        Prompt,
        PromptArgument,
        PromptMessage,
        SamplingMessage,
        ModelHint,
        ModelPreferences,
        CreateMessageRequestParams,
        CreateMessageResult,
        CallToolResult,
        GetPromptResult,
        ReadResourceResult,
        ListToolsResult,
        ListResourcesResult,
        ListResourceTemplatesResult,
        ListPromptsResult,
        ListRootsResult,
        Root,
        Completion,
        CompleteResult,
        CompletionArgument,
        ElicitResult,
        EmptyResult,
        InitializeResult,
        ServerCapabilities,
        ClientCapabilities,
        PaginatedResult,
        Result,
    )
} | {
    InitializeParams: "InitializeRequestParams",
    CallToolParams: "CallToolRequestParams",
    GetPromptParams: "GetPromptRequestParams",
    ReadResourceParams: "ReadResourceRequestParams",
    SubscribeParams: "SubscribeRequestParams",
    CompleteParams: "CompleteRequestParams",
    SetLevelParams: "SetLevelRequestParams",
    PaginatedParams: "PaginatedRequestParams",
    LoggingMessageParams: "LoggingMessageNotificationParams",
    ProgressParams: "ProgressNotificationParams",
    CancelledParams: "CancelledNotificationParams",
}
"""Each trimcp type and the name of its `mcp.types` counterpart."""

# `mcp.types` in the SDK 1.x; 2.x keeps the models in the `mcp_types` package and re-exports
# them from `mcp.types`.
_MCP_MODULES = ("mcp.types", "mcp_types")
_registered = False


def register_with_mcp() -> bool:
    """Make trimcp's payloads count as `mcp.types` models, if the program has imported
    `mcp.types`; a no-op otherwise and once done. Returns whether it is done."""
    global _registered
    if _registered:
        return True
    for name in _MCP_MODULES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "TextContent"):  # not absent, not half done
            break
    else:
        return False
    for ours, name in MCP_NAMES.items():
        theirs = getattr(module, name, None)
        if not isinstance(theirs, type) or not hasattr(theirs, "model_validate"):
            continue
        ours.__twin__ = theirs
        # pydantic < 2.12 looks for this attribute before its `isinstance` goes on.
        decorators = getattr(theirs, "__pydantic_decorators__", None)
        if decorators is not None:
            setattr(ours, "__pydantic_decorators__", decorators)  # noqa: B010
    _registered = True
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _McpTypesWatcher)]
    return True


# The finder and loader below are duck-typed: `importlib.abc` imports `importlib.resources`,
# `pathlib` and `tempfile`, some 20 ms that `import trimcp.types` does not need.


class _RegisterAfterLoad:
    """Wraps the loader of `mcp.types`: loads it, gives it its own loader back, registers."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        try:
            self.loader.exec_module(module)
        finally:
            module.__loader__ = self.loader
            if module.__spec__ is not None:
                module.__spec__.loader = self.loader
        register_with_mcp()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class _McpTypesWatcher:
    """Finds nothing itself: for `mcp.types`, it wraps what the other finders find."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _MCP_MODULES:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: importlib.machinery.ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = cast("importlib.abc.Loader", _RegisterAfterLoad(spec.loader))
                return spec
        return None


def watch_for_mcp() -> None:
    """Register as soon as `mcp.types` is imported (at once if it already is)."""
    if register_with_mcp():
        return
    if not any(isinstance(f, _McpTypesWatcher) for f in sys.meta_path):
        sys.meta_path.insert(0, _McpTypesWatcher())


def from_foreign(obj: Any, cls: type[T]) -> T:
    """`obj` as the trimcp type `cls`: an `mcp.types` model (any pydantic model with the
    same wire shape), a dict in wire names, or already a `cls` (`codec.convert`).

    Raises `msgspec.ValidationError` when it does not fit."""
    return convert(obj, cls)


def to_mcp(payload: Payload) -> Any:
    """The `mcp.types` model equal to `payload`.

    Raises `LookupError` if `mcp.types` is not imported or has no such type."""
    register_with_mcp()
    twin = type(payload).__twin__
    if twin is type(payload):
        raise LookupError(f"no `mcp.types` model for {type(payload).__name__} (is mcp imported?)")
    return twin.model_validate(payload.model_dump(mode="json", by_alias=True, exclude_none=True))
