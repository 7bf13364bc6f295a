"""`Prompt` and `FunctionPrompt`: message templates a client renders with string arguments.

`prompts/get` arguments are `dict[str, str]`: a parameter that cannot be a string (`int`,
`list[int]`, a model...) receives its value as JSON text, decoded before validation. What the
function returns becomes a list of messages: a `str` (one user message), a
`PromptMessage`/`Message(...)`, anything with `role` and `content` (an `mcp.types.PromptMessage`,
a dict), or a list of those; any other value is sent as JSON text in a user message.

`Prompt.render()` returns that list, as FastMCP 2.13's does; `Prompt.render_result()` is what
`prompts/get` answers (a `GetPromptResult` with the prompt's description), for any subclass:
one written for FastMCP (`render(self, arguments)`) or one that takes the request's `context`.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from trimcp.exceptions import MissingArgumentsError, PromptError, ValidationError
from trimcp.resources.resource import accepts_context, to_json_text
from trimcp.resources.template import accepts_string, decode_json_arguments
from trimcp.types import (
    AudioContent,
    ContentBlock,
    EmbeddedResource,
    GetPromptResult,
    Icon,
    ImageContent,
    PromptArgument,
    PromptMessage,
    ResourceLink,
    TextContent,
)
from trimcp.types import Prompt as MCPPrompt
from trimcp.types.codec import convert, is_foreign_model
from trimcp.utilities.callables import ParsedCallable
from trimcp.utilities.components import Component, coerce_icons

if TYPE_CHECKING:
    from trimcp.core.context import Context

__all__ = [
    "FunctionPrompt",
    "Message",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "PromptResult",
    "SyncPromptResult",
]

PromptResult: TypeAlias = str | PromptMessage | Sequence[str | PromptMessage]
"""What a prompt function may return (also: `mcp.types.PromptMessage`, dicts with role/content)."""

SyncPromptResult: TypeAlias = PromptResult
"""FastMCP's name for what a sync prompt function returns (the same as `PromptResult`)."""

_ROLES = ("user", "assistant")
_CONTENT_TYPES = (TextContent, ImageContent, AudioContent, ResourceLink, EmbeddedResource)
_JSON_HINT = "Provide as a JSON string matching the following schema: "


def _content(content: Any) -> ContentBlock:
    if isinstance(content, str):
        return TextContent(text=content)
    if isinstance(content, _CONTENT_TYPES):
        return content
    if isinstance(content, Mapping):
        return convert(dict(content), ContentBlock)  # type: ignore[arg-type]
    if is_foreign_model(content):  # an `mcp.types` content block
        return convert(content, ContentBlock)  # type: ignore[arg-type]
    raise TypeError(f"cannot use {type(content).__name__} as message content")


def Message(content: Any, role: str = "user", **kwargs: Any) -> PromptMessage:
    """A prompt message: `content` is a string or a content block (trimcp, `mcp.types`, dict).

    Example:
        ```python
        @mcp.prompt
        def ask(topic: str) -> list[PromptMessage]:
            return [Message(f"Explain {topic}"), Message("Sure.", role="assistant")]
        ```
    """
    role = str(getattr(role, "value", role))
    if role not in _ROLES:
        raise ValueError(f"Invalid message role {role!r}: expected 'user' or 'assistant'")
    return PromptMessage(role=role, content=_content(content), **kwargs)


def to_message(item: Any) -> PromptMessage:
    """One returned item as a `PromptMessage` (see the module docstring)."""
    if isinstance(item, PromptMessage):
        return item
    if isinstance(item, str):
        return PromptMessage(role="user", content=TextContent(text=item))
    if isinstance(item, Mapping) and "role" in item and "content" in item:
        return Message(item["content"], role=item["role"])
    if hasattr(item, "role") and hasattr(item, "content"):
        return Message(item.content, role=item.role)
    return PromptMessage(role="user", content=TextContent(text=to_json_text(item)))


def to_messages(value: Any) -> list[PromptMessage]:
    """What a prompt function returned, as a list of messages (a `PromptMessage` as is)."""
    items = value if isinstance(value, list | tuple) else [value]
    return [to_message(item) for item in items]


def wire_messages(value: Any) -> list[PromptMessage]:
    """`to_messages(value)` ready to send: a `PromptMessage` built with an `mcp.types` content
    block (FastMCP code builds them so) gets the trimcp block instead."""
    messages = to_messages(value)
    for i, message in enumerate(messages):
        if not isinstance(message.content, _CONTENT_TYPES):
            messages[i] = PromptMessage(role=message.role, content=_content(message.content))
    return messages


def _argument(name: str, schema: Mapping[str, Any], *, required: bool) -> PromptArgument:
    prop = dict(schema.get("properties", {}).get(name, {}))
    description = prop.pop("description", None)
    defs = schema.get("$defs", {})
    if not accepts_string(prop, defs):
        prop.pop("title", None)
        if defs and "$ref" in json.dumps(prop):
            prop["$defs"] = defs
        hint = _JSON_HINT + json.dumps(prop, separators=(",", ":"), sort_keys=True)
        description = f"{description}\n\n{hint}" if description else hint
    return PromptArgument(name=name, description=description, required=required)


class Prompt(Component):
    """A prompt template. Subclasses implement `render()`.

    Attributes:
        name: The name clients ask for.
        arguments: The arguments it takes, as sent in `prompts/list`.
        key: The lookup key (defaults to `name`; mounting a server prefixes it).
    """

    list_kind = "prompts"

    def __init__(
        self,
        *,
        name: str,
        title: str | None = None,
        description: str | None = None,
        arguments: Iterable[PromptArgument] | None = None,
        tags: Iterable[str] | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        icons: Iterable[Icon | dict[str, Any]] | None = None,
        key: str | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.description = description
        self.arguments: list[PromptArgument] = list(arguments or ())
        self.tags: set[str] = set(tags or ())
        self.meta = meta
        self.enabled = True if enabled is None else enabled
        self.icons = coerce_icons(icons)
        self._key = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def _default_key(self) -> str:
        return self.name

    def _after_copy(self, update: Mapping[str, Any]) -> None:
        if "arguments" not in update:
            self.arguments = list(self.arguments)

    @staticmethod
    def from_function(
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        icons: Iterable[Icon | dict[str, Any]] | None = None,
    ) -> FunctionPrompt:
        """A prompt rendered by calling `fn` (see `FunctionPrompt.from_function`)."""
        return FunctionPrompt.from_function(
            fn,
            name=name,
            title=title,
            description=description,
            tags=tags,
            meta=meta,
            enabled=enabled,
            icons=icons,
        )

    def to_mcp_prompt(
        self, *, include_fastmcp_meta: bool | None = None, **overrides: Any
    ) -> MCPPrompt:
        """The `prompts/list` entry; `overrides` use the wire names (`_meta` or `meta`)."""
        fields: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "arguments": list(self.arguments),
            "icons": self.icons,
            "meta": self.get_meta(include_fastmcp_meta=include_fastmcp_meta),
        }
        if "_meta" in overrides:
            overrides["meta"] = overrides.pop("_meta")
        fields.update(overrides)
        return MCPPrompt(**fields)

    def check_required(self, arguments: Mapping[str, Any]) -> None:
        """Raise `MissingArgumentsError` (a `PromptError` and a `ValueError`) naming the
        required arguments absent from `arguments`."""
        missing = sorted(a.name for a in self.arguments if a.required and a.name not in arguments)
        if missing:
            raise MissingArgumentsError(
                f"Missing required arguments for prompt {self.name!r}: {', '.join(missing)}"
            )

    async def render(
        self, arguments: Mapping[str, Any] | None = None, context: Context | None = None
    ) -> list[PromptMessage]:
        """The messages for `arguments` (subclasses may leave `context` out, as FastMCP's do).

        Raises:
            PromptError: An argument is missing or invalid, or the result is not messages.
        """
        raise NotImplementedError("Subclasses must implement render()")

    async def render_result(
        self, arguments: Mapping[str, Any] | None = None, context: Context | None = None
    ) -> GetPromptResult:
        """What `prompts/get` answers: `render()`'s messages and this prompt's description.

        A subclass's `render` may omit `context` and may return any message list
        `to_messages` accepts (or a whole `GetPromptResult`, which is answered as is).

        Raises:
            PromptError: What `render` raises for arguments and results that do not fit.
        """
        if accepts_context(type(self).render):
            value: Any = await self.render(arguments, context=context)
        else:
            value = await self.render(arguments)
        if isinstance(value, GetPromptResult):
            return value
        try:
            messages = wire_messages(value)
        except (TypeError, ValueError) as exc:
            raise PromptError(
                f"Could not convert the result of prompt {self.name!r} to messages: {exc}"
            ) from exc
        return GetPromptResult(messages=messages, description=self.description)


class FunctionPrompt(Prompt):
    """A prompt whose messages come from calling a function (sync or async)."""

    def __init__(
        self, *, fn: Callable[..., Any], parsed: ParsedCallable | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.fn = fn
        # Built directly (FastMCP code may: `FunctionPrompt(name=..., fn=...)`), the function
        # is inspected here.
        if parsed is None:
            parsed = ParsedCallable.from_function(fn, used_as="prompts")
        self._parsed = parsed

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        icons: Iterable[Icon | dict[str, Any]] | None = None,
    ) -> FunctionPrompt:
        """A prompt whose arguments are `fn`'s parameters (required when without default).

        Argument descriptions come from `Annotated[..., Field(description=...)]` or the `Args:`
        section of the docstring. A `Context` parameter is injected and not an argument.

        Raises:
            ValueError: `fn` takes `*args`/`**kwargs`, or is a lambda without `name`.
        """
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            params = ()  # type: ignore[assignment]
        for param in params:
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                raise ValueError("Functions with *args are not supported as prompts")
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                raise ValueError("Functions with **kwargs are not supported as prompts")
        parsed = ParsedCallable.from_function(fn, used_as="prompts")
        fn_name = name or parsed.name
        if fn_name == "<lambda>":
            raise ValueError("You must provide a name for lambda functions")
        schema = parsed.parameters_schema
        required = set(schema.get("required", ()))
        arguments = [
            _argument(arg, schema, required=arg in required) for arg in schema.get("properties", {})
        ]
        return cls(
            fn=fn,
            parsed=parsed,
            name=fn_name,
            title=title,
            description=description if description is not None else parsed.description,
            arguments=arguments,
            tags=tags,
            meta=meta,
            enabled=enabled,
            icons=icons,
        )

    async def render(
        self, arguments: Mapping[str, Any] | None = None, context: Context | None = None
    ) -> list[PromptMessage]:
        """Call the function with the arguments converted to its parameter types: its
        messages.

        Exceptions the function raises propagate unchanged (the server decides what the client
        sees); `PromptError` reports arguments and results that do not fit.
        """
        arguments = dict(arguments or {})
        self.check_required(arguments)
        kwargs = decode_json_arguments(arguments, self._parsed.parameters_schema)
        try:
            kwargs = self._parsed.validate(kwargs)
        except ValidationError as exc:
            raise PromptError(
                f"Error rendering prompt {self.name}: invalid arguments: {exc}"
            ) from exc
        value = await self._parsed.call(kwargs, context=context)
        try:
            return to_messages(value)
        except (TypeError, ValueError) as exc:
            raise PromptError(
                f"Could not convert the result of prompt {self.name!r} to messages: {exc}"
            ) from exc
