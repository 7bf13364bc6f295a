"""Tools: `Tool` (what a server lists and calls), `FunctionTool` (a tool made from a Python
function) and `ToolResult` (content blocks plus structured content).

A function's return value becomes a result the way FastMCP 2.13 does it:

- content: see `trimcp.utilities.types.convert_to_content`.
- structured content: with an output schema, the JSON-able value (as `{"result": value}`
  when the schema is marked `x-fastmcp-wrap-result`); without one, only for values that
  serialize to a JSON object (dicts, pydantic models, dataclasses) and are not content.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

import msgspec

from trimcp.exceptions import InvalidSignature
from trimcp.tools.output_schema import (
    WRAP_KEY,
    is_object_schema,
    output_schema_for,
    warn_output_schema_false,
)
from trimcp.types import CallToolResult, ContentBlock, Icon, TextContent, ToolAnnotations
from trimcp.types import Tool as MCPTool
from trimcp.types.codec import convert
from trimcp.utilities import plain_values
from trimcp.utilities.callables import ParsedCallable
from trimcp.utilities.components import Component, coerce_icons

if TYPE_CHECKING:
    from trimcp.tools.parsed_function import ParsedFunction
    from trimcp.tools.tool_transform import ArgTransform, TransformedTool
    from trimcp.utilities.types import NotSetT, default_serializer

# `trimcp.utilities.types` (and pydantic with it) is imported on first need only: tools
# with simple signatures returning plain values never need it (see `_plain_result`).

__all__ = [
    "FunctionTool",
    "ParsedFunction",
    "Tool",
    "ToolResult",
    "ToolResultSerializerType",
    "default_serializer",
    "output_schema_for",
    "warn_output_schema_false",
]

ToolResultSerializerType: TypeAlias = Callable[[Any], str]
NotSet = ...  # `trimcp.utilities.types.NotSet`


def __getattr__(name: str) -> Any:
    if name == "default_serializer":
        from trimcp.utilities.types import default_serializer

        return default_serializer
    if name == "ParsedFunction":
        from trimcp.tools.parsed_function import ParsedFunction

        return ParsedFunction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ToolResult:
    """What a tool produced: `content` blocks, optional `structured_content` (a JSON
    object) and optional `meta`. A tool function may return one to control all three."""

    __slots__ = ("content", "meta", "structured_content")

    def __init__(
        self,
        content: list[ContentBlock] | Any | None = None,
        structured_content: dict[str, Any] | Any | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        if content is None and structured_content is None:
            raise ValueError("Either content or structured_content must be provided")
        from trimcp.utilities.types import convert_to_content, to_jsonable

        if content is None:
            content = structured_content
        self.content: list[ContentBlock] = convert_to_content(content)
        if structured_content is not None:
            structured_content = to_jsonable(structured_content)
            if not isinstance(structured_content, dict):
                raise ValueError(
                    "structured_content must be a dict or None. Got "
                    f"{type(structured_content).__name__}: {structured_content!r}"
                )
        self.structured_content: dict[str, Any] | None = structured_content
        self.meta = meta

    @classmethod
    def from_final(
        cls, content: list[ContentBlock], structured_content: dict[str, Any] | None
    ) -> ToolResult:
        """A result from blocks and structured content already in final form."""
        self = object.__new__(cls)
        self.content = content
        self.structured_content = structured_content
        self.meta = None
        return self

    def __repr__(self) -> str:
        return (
            f"ToolResult(content={self.content!r}, "
            f"structured_content={self.structured_content!r}, meta={self.meta!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ToolResult):
            return NotImplemented
        return (self.content, self.structured_content, self.meta) == (
            other.content,
            other.structured_content,
            other.meta,
        )

    def to_mcp_result(self) -> CallToolResult:
        return CallToolResult(
            content=self.content, structuredContent=self.structured_content, meta=self.meta
        )


def _as_annotations(value: Any) -> ToolAnnotations | None:
    return None if value is None else convert(value, ToolAnnotations)


class Tool(Component):
    """A tool as the server knows it: its MCP definition plus how to run it.

    Attributes are plain and mutable (`tool.name = ...`, `tool.enabled = False`); the
    cached MCP definition is dropped whenever one changes.
    """

    list_kind = "tools"

    fn: Callable[..., Any] | None = None

    def __init__(
        self,
        *,
        name: str,
        parameters: dict[str, Any],
        title: str | None = None,
        description: str | None = None,
        tags: set[str] | None = None,
        annotations: ToolAnnotations | dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        serializer: ToolResultSerializerType | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool = True,
        icons: list[Icon] | None = None,
    ) -> None:
        self.name = name
        self.parameters = parameters
        self.title = title
        self.description = description
        self.tags: set[str] = set(tags or ())
        self.annotations = _as_annotations(annotations)
        self.output_schema = output_schema
        self.serializer = serializer
        self.meta = meta
        self.enabled = enabled
        self.icons = coerce_icons(icons)
        self._key: str | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_mcp_tool", None)
        object.__setattr__(self, "_header_params", None)

    def header_params(self) -> dict[tuple[str, ...], str]:
        """The parameters marked `x-mcp-header` in the input schema, `{path: header name}`
        (made once; again after a field changes). Raises `ValueError` for a mark clients
        would reject."""
        found: dict[tuple[str, ...], str] | None = self.__dict__.get("_header_params")
        if found is None:
            found = {}
            if "x-mcp-header" in str(self.parameters):
                from trimcp.protocol.param_headers import header_params

                found = header_params(self.parameters)
            object.__setattr__(self, "_header_params", found)
        return found

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def _default_key(self) -> str:
        """The name the tool is registered under (a prefixed name after mounting)."""
        return self.name

    @staticmethod
    def from_function(fn: Callable[..., Any], **options: Any) -> FunctionTool:
        """Same as `FunctionTool.from_function`."""
        return FunctionTool.from_function(fn, **options)

    @classmethod
    def from_tool(
        cls,
        tool: Tool,
        *,
        name: str | None = None,
        title: str | NotSetT | None = NotSet,
        description: str | NotSetT | None = NotSet,
        tags: set[str] | None = None,
        annotations: ToolAnnotations | NotSetT | None = NotSet,
        output_schema: dict[str, Any] | Literal[False] | NotSetT | None = NotSet,
        serializer: ToolResultSerializerType | NotSetT | None = NotSet,
        meta: dict[str, Any] | NotSetT | None = NotSet,
        transform_args: dict[str, ArgTransform] | None = None,
        enabled: bool | None = None,
        transform_fn: Callable[..., Any] | None = None,
    ) -> TransformedTool:
        """A new tool made from `tool`: see `trimcp.tools.tool_transform`."""
        from trimcp.tools.tool_transform import TransformedTool

        return TransformedTool.from_tool(
            tool,
            name=name,
            title=title,
            description=description,
            tags=tags,
            transform_fn=transform_fn,
            transform_args=transform_args,
            annotations=annotations,
            output_schema=output_schema,
            serializer=serializer,
            meta=meta,
            enabled=enabled,
        )

    def _copy_update(self, name: str, value: Any) -> Any:
        if name == "annotations":
            return _as_annotations(value)
        if name == "icons":
            return coerce_icons(value)
        return value

    def copy(self, **update: Any) -> Tool:
        return self.model_copy(update=update)

    model_field_names: ClassVar[tuple[str, ...]] = (
        "name",
        "title",
        "description",
        "icons",
        "tags",
        "meta",
        "enabled",
        "parameters",
        "output_schema",
        "annotations",
        "serializer",
    )
    """The fields `model_dump` gives (FastMCP's pydantic fields)."""

    def model_dump(
        self,
        *,
        mode: Literal["python", "json"] = "python",
        include: Iterable[str] | None = None,
        exclude: Iterable[str] | None = None,
        exclude_none: bool = False,
    ) -> dict[str, Any]:
        """The tool's fields as a dict, as FastMCP's pydantic `model_dump` gives them."""
        from trimcp.tools.dump import dump_fields

        return dump_fields(
            self,
            self.model_field_names,
            mode=mode,
            include=include,
            exclude=exclude,
            exclude_none=exclude_none,
        )

    def get_meta(self, *, include_fastmcp_meta: bool | None = True) -> dict[str, Any] | None:
        """`meta`, plus FastMCP's `_fastmcp: {"tags": [...]}` when the tool has tags."""
        meta = dict(self.meta or {})
        if include_fastmcp_meta is not False and self.tags:
            meta["_fastmcp"] = {"tags": sorted(self.tags)}
        return meta or None

    def to_mcp_tool(self, *, include_fastmcp_meta: bool = True, **overrides: Any) -> MCPTool:
        """The `tools/list` entry. The definition is built once and cached; `overrides`
        (`name=`, `_meta=`, ...) are applied to a copy, or not at all when they change
        nothing (`to_mcp_tool(name=tool.key)` for an unprefixed tool is the cached one)."""
        base = self.__dict__.get("_mcp_tool") if include_fastmcp_meta else None
        if base is None:
            base = MCPTool(
                name=self.name,
                title=self.title or (self.annotations.title if self.annotations else None),
                description=self.description,
                inputSchema=self.parameters,
                outputSchema=self.output_schema,
                annotations=self.annotations,
                icons=self.icons,
                meta=self.get_meta(include_fastmcp_meta=include_fastmcp_meta),
            )
            if include_fastmcp_meta:
                object.__setattr__(self, "_mcp_tool", base)
        if not overrides:
            return base
        if "_meta" in overrides:
            overrides["meta"] = overrides.pop("_meta")
        unknown = overrides.keys() - set(MCPTool.__struct_fields__)
        if unknown:
            raise TypeError(f"unknown Tool fields: {', '.join(sorted(unknown))}")
        if "annotations" in overrides:
            overrides["annotations"] = _as_annotations(overrides["annotations"])
        if "icons" in overrides:
            overrides["icons"] = coerce_icons(overrides["icons"])
        changed = {k: v for k, v in overrides.items() if getattr(base, k) != v}
        return msgspec.structs.replace(base, **changed) if changed else base

    async def run(
        self, arguments: dict[str, Any], context: Any = None, *, strict: bool = False
    ) -> ToolResult:
        """Run the tool. Bad arguments raise `trimcp.exceptions.ValidationError`."""
        raise NotImplementedError("Tool subclasses implement run()")

    async def invoke(
        self, arguments: dict[str, Any], context: Any = None, *, strict: bool = False
    ) -> ToolResult:
        """Run the tool the way the server does (handlers, managers): subclasses written
        FastMCP-style, with `async def run(self, arguments)`, are called that way; whatever
        `run` returns becomes a `ToolResult`."""
        cls = type(self)
        takes_context = _RUN_TAKES_CONTEXT.get(cls)
        if takes_context is None:
            params = inspect.signature(cls.run).parameters
            takes_context = len(params) > 2 or any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
            )
            _RUN_TAKES_CONTEXT[cls] = takes_context
        if takes_context:
            result = await self.run(arguments, context, strict=strict)
        else:
            result = await self.run(arguments)
        return result if isinstance(result, ToolResult) else ToolResult(content=result)


_RUN_TAKES_CONTEXT: dict[type, bool] = {}


class FunctionTool(Tool):
    """A tool that calls a Python function (sync ones in a worker thread, unless made with
    `run_in_thread=False`)."""

    fn: Callable[..., Any]
    model_field_names = (*Tool.model_field_names, "fn")

    def __init__(self, *, fn: Callable[..., Any], parsed: ParsedCallable, **fields: Any) -> None:
        super().__init__(**fields)
        self.fn = fn
        self._parsed = parsed

    @property
    def run_in_thread(self) -> bool:
        """Whether a sync function runs in a worker thread (FastMCP 4's `run_in_thread`;
        True unless the tool was made with `run_in_thread=False`). Settable, on a copy too
        (`tool.copy(run_in_thread=False)`); not part of `model_dump` (FastMCP 2.13's shape)."""
        return self._parsed.in_thread

    @run_in_thread.setter
    def run_in_thread(self, value: bool) -> None:
        self._parsed = self._parsed.with_in_thread(bool(value))

    @classmethod
    def from_function(  # type: ignore[override]  # `Tool.from_function` forwards **options here
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        tags: set[str] | None = None,
        annotations: ToolAnnotations | dict[str, Any] | None = None,
        exclude_args: list[str] | None = None,
        output_schema: dict[str, Any] | NotSetT | Literal[False] | None = NotSet,
        serializer: ToolResultSerializerType | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        icons: list[Icon] | None = None,
        run_in_thread: bool | None = None,
    ) -> FunctionTool:
        """Build a tool from `fn`: input schema from its parameters, output schema from its
        return annotation (`output_schema=None` disables it; a dict replaces it).
        `run_in_thread=False` (FastMCP 4's option) runs a sync `fn` inline on the event
        loop's thread instead of a worker thread; async functions always run on the loop.

        Raises:
            InvalidSignature: a lambda without `name`, a signature `ParsedCallable`
                rejects, or an explicit `output_schema` that is not an object schema.
        """
        if not callable(fn):
            raise TypeError(f"{fn!r} is not a callable object")
        parsed = ParsedCallable.from_function(
            fn,
            exclude_args=exclude_args or (),
            used_as="tools",
            in_thread=True if run_in_thread is None else bool(run_in_thread),
        )
        if name is None and parsed.name == "<lambda>":
            raise InvalidSignature("You must provide a name for lambda functions")
        if output_schema is NotSet:
            final_schema = output_schema_for(parsed.return_annotation)
        elif output_schema is None or output_schema is False:
            if output_schema is False:
                warn_output_schema_false()
            final_schema = None
        else:
            if not isinstance(output_schema, dict) or not is_object_schema(output_schema):
                raise InvalidSignature(
                    f"Output schemas must represent object types; got {output_schema!r}"
                )
            final_schema = output_schema
        return cls(
            fn=fn,
            parsed=parsed,
            name=name or parsed.name,
            title=title,
            description=description or parsed.description,
            tags=tags,
            annotations=annotations,
            parameters=parsed.parameters_schema,
            output_schema=final_schema,
            serializer=serializer,
            meta=meta,
            enabled=True if enabled is None else enabled,
            icons=icons,
        )

    async def run(
        self, arguments: dict[str, Any] | None, context: Any = None, *, strict: bool = False
    ) -> ToolResult:
        result = await self._parsed.call(arguments, context, strict=strict)
        return self.result_from(result)

    async def invoke(
        self, arguments: dict[str, Any], context: Any = None, *, strict: bool = False
    ) -> ToolResult:
        if type(self).run is not FunctionTool.run:  # a subclass runs its own way
            return await super().invoke(arguments, context, strict=strict)
        # `run` inline: the server's hot path pays one coroutine, not two
        return self.result_from(await self._parsed.call(arguments, context, strict=strict))

    def result_from(self, result: Any) -> ToolResult:
        """The `ToolResult` for a value the function returned."""
        if isinstance(result, ToolResult):
            return result
        plain = _plain_result(result, self.serializer, self.output_schema)
        if plain is not None:
            return plain
        from trimcp.utilities.types import (
            convert_to_content,
            is_content_like,
            is_object_like,
            to_jsonable,
        )

        content = convert_to_content(result, self.serializer)
        if self.output_schema is None:
            if is_content_like(result) or (
                isinstance(result, (list, tuple)) and any(is_content_like(i) for i in result)
            ):
                return ToolResult(content=content)
            if is_object_like(result):
                try:
                    structured = to_jsonable(result)
                except Exception:
                    structured = None
                if isinstance(structured, dict):
                    return ToolResult(content=content, structured_content=structured)
            return ToolResult(content=content)
        if self.output_schema.get(WRAP_KEY):
            return ToolResult(content=content, structured_content={"result": to_jsonable(result)})
        return ToolResult(content=content, structured_content=result)


def _plain_result(
    result: Any, serializer: ToolResultSerializerType | None, output_schema: dict[str, Any] | None
) -> ToolResult | None:
    """`result_from` for values made only of JSON builtins (`plain_values.is_plain`), the
    same result without `trimcp.utilities.types`; `None` for any other value."""
    kind = type(result)
    if (kind is str or kind is int) and serializer is None:  # the usual results, first
        if output_schema is None:
            if kind is str:
                return ToolResult.from_final([TextContent(text=result)], None)
        elif output_schema.get(WRAP_KEY) and (kind is str or plain_values.is_plain_int(result)):
            text = result if kind is str else str(result)  # an int's JSON is its str()
            return ToolResult.from_final([TextContent(text=text)], {"result": result})
    scalar = kind is int or kind is str or kind is bool or kind is float or result is None
    if kind is not str and not plain_values.is_plain(result):
        return None
    wrap = output_schema is not None and output_schema.get(WRAP_KEY)
    if output_schema is not None and not wrap and kind is not dict:
        return None  # the general path raises "structured_content must be a dict"
    content: list[ContentBlock]
    if result is None or ((kind is list or kind is tuple) and not result):
        content = []
    elif kind is str:
        content = [TextContent(text=result)]
    else:
        text = None
        if serializer is not None:
            try:
                text = serializer(result)
            except Exception:
                pass  # FastMCP falls back to the default serializer too
        if text is None:
            text = msgspec.json.encode(result).decode()
        content = [TextContent(text=text)]
    if output_schema is None:
        structured = plain_values.plain_builtins(result) if kind is dict else None
    elif wrap:
        structured = {"result": result if scalar else plain_values.plain_builtins(result)}
    else:
        structured = plain_values.plain_builtins(result)
    return ToolResult.from_final(content, structured)
