"""Tool transformation, FastMCP 2.13's `fastmcp.tools.tool_transform`: a new tool made from an
existing one (its parent), with another name, description, tags, meta, output schema, and
arguments renamed, re-described, given defaults or types, or hidden (`ArgTransform`).

`Tool.from_tool(parent, ...)` (same as `TransformedTool.from_tool`) builds one. Without
`transform_fn`, a call maps the arguments back to the parent's names and runs the parent. With
one, the function is called instead, its arguments validated as a function tool's are
(`parsed_function.TransformFunction`); inside it, `forward(**kwargs)` runs the parent through
the same mapping and `forward_raw(**kwargs)` runs it with its own argument names.

`ToolTransformConfig` / `ArgTransformConfig` (pydantic models, for configuration files and
`FastMCP(tool_transformations=...)`) load on first use, from `trimcp.tools.transform_config`.

An untransformed tool pays nothing for any of this: only `TransformedTool.run` sets the
context variable `forward()` reads.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trimcp.exceptions import InvalidArgumentsError
from trimcp.tools.output_schema import WRAP_KEY, warn_output_schema_false
from trimcp.tools.parsed_function import TransformFunction
from trimcp.tools.tool import (
    NotSet,
    Tool,
    ToolResult,
)
from trimcp.utilities.json_schema import compress_schema

if TYPE_CHECKING:
    from trimcp.tools.transform_config import ArgTransformConfig, ToolTransformConfig
    from trimcp.types import ToolAnnotations
    from trimcp.utilities.types import NotSetT

__all__ = [
    "ArgTransform",
    "ArgTransformConfig",
    "ToolTransformConfig",
    "TransformedTool",
    "apply_transformations_to_tools",
    "forward",
    "forward_raw",
]

_CONFIG_NAMES = frozenset({"ArgTransformConfig", "ToolTransformConfig"})


def __getattr__(name: str) -> Any:
    if name in _CONFIG_NAMES:
        from trimcp.tools import transform_config

        return getattr(transform_config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Call:
    """The transformed tool running in this context, and how the server called it (its
    `context` and `strict` reach the parent through `forward()`)."""

    __slots__ = ("context", "strict", "tool")

    def __init__(self, tool: TransformedTool, context: Any, strict: bool) -> None:
        self.tool = tool
        self.context = context
        self.strict = strict


_current_call: ContextVar[_Call | None] = ContextVar("trimcp_transformed_tool", default=None)


async def forward(**kwargs: Any) -> ToolResult:
    """Run the parent of the transformed tool now running, with `kwargs` named as the
    transformed tool names them (renames mapped back, hidden arguments filled in).

    Raises:
        RuntimeError: Called outside a transformed tool's function.
        InvalidArgumentsError: An argument the transformed tool does not have, or a
            required one missing (a `ValidationError` and a `TypeError`).
    """
    call = _current_call.get()
    if call is None:
        raise RuntimeError("forward() can only be called within a transformed tool")
    tool = call.tool
    result: ToolResult = await tool.forwarding_fn(**kwargs)
    return result


async def forward_raw(**kwargs: Any) -> ToolResult:
    """Run the parent of the transformed tool now running with `kwargs` as they are (the
    parent's own argument names; no mapping, no checks).

    Raises:
        RuntimeError: Called outside a transformed tool's function.
    """
    call = _current_call.get()
    if call is None:
        raise RuntimeError("forward_raw() can only be called within a transformed tool")
    return await call.tool.parent_tool.invoke(kwargs, call.context, strict=call.strict)


@dataclass(kw_only=True)
class ArgTransform:
    """How one of the parent's arguments changes; `...` (NotSet) leaves a field as it is.

    Attributes:
        name: The new name.
        description: The new description (`None` removes it).
        default: A new default (the argument becomes optional).
        default_factory: Makes the value per call; hidden arguments only.
        type: A new type (its JSON schema replaces the argument's).
        hide: Clients do not see the argument; the parent gets `default`, the factory's
            value, or its own default.
        required: `True` makes the argument required (and drops its default).
        examples: The argument's `examples`.
    """

    name: str | NotSetT = NotSet
    description: str | NotSetT | None = NotSet
    default: Any | NotSetT = NotSet
    default_factory: Callable[[], Any] | NotSetT = NotSet
    type: Any | NotSetT = NotSet
    hide: bool = False
    required: Literal[True] | NotSetT = NotSet
    examples: Any | NotSetT = NotSet

    def __post_init__(self) -> None:
        has_default = self.default is not NotSet
        has_factory = self.default_factory is not NotSet
        if has_default and has_factory:
            raise ValueError(
                "Cannot specify both 'default' and 'default_factory' in ArgTransform. "
                "Use either 'default' for a static value or 'default_factory' for a callable."
            )
        if has_factory and not self.hide:
            raise ValueError(
                "default_factory can only be used with hide=True. Visible parameters must use "
                "static 'default' values since JSON schema cannot represent dynamic factories."
            )
        if self.required is True and (has_default or has_factory):
            raise ValueError(
                "Cannot specify 'required=True' with 'default' or 'default_factory'. "
                "Required parameters cannot have defaults."
            )
        if self.hide and self.required is True:
            raise ValueError(
                "Cannot specify both 'hide=True' and 'required=True'. Hidden parameters "
                "cannot be required since clients cannot provide them."
            )
        if self.required not in (True, NotSet):
            raise ValueError("Cannot specify 'required=False'. Set a default value instead.")

    def hidden_value(self) -> Any:
        """The value a hidden argument passes to the parent (NotSet: the parent's default)."""
        if self.default_factory is not NotSet:
            return self.default_factory()
        return self.default


class _Forwarder:
    """`forward()` for one transformed tool: checks the transformed names, maps them back
    to the parent's, adds hidden values, runs the parent."""

    __slots__ = ("hidden", "new_to_old", "parent", "required")

    def __init__(
        self,
        parent: Tool,
        new_to_old: dict[str, str],
        required: frozenset[str],
        hidden: dict[str, ArgTransform],
    ) -> None:
        self.parent = parent
        self.new_to_old = new_to_old
        self.required = required
        self.hidden = hidden

    async def __call__(self, **kwargs: Any) -> ToolResult:
        unknown = kwargs.keys() - self.new_to_old.keys()
        if unknown:
            raise InvalidArgumentsError(
                f"Got unexpected keyword argument(s): {', '.join(sorted(unknown))}"
            )
        missing = self.required - kwargs.keys()
        if missing:
            raise InvalidArgumentsError(
                f"Missing required argument(s): {', '.join(sorted(missing))}"
            )
        arguments = {self.new_to_old[name]: value for name, value in kwargs.items()}
        for old_name, transform in self.hidden.items():
            arguments[old_name] = transform.hidden_value()
        call = _current_call.get()
        if call is None:
            return await self.parent.invoke(arguments)
        return await self.parent.invoke(arguments, call.context, strict=call.strict)


class TransformedTool(Tool):
    """A tool made from another (`parent_tool`) by `from_tool`.

    Attributes:
        parent_tool: The tool transformed.
        fn: What a call runs: the forwarding function, or the `transform_fn` given.
        forwarding_fn: What `forward()` runs (argument mapping, then the parent).
        transform_args: The `ArgTransform`s by parent argument name.
    """

    fn: Callable[..., Any]
    model_field_names = (
        *Tool.model_field_names,
        "fn",
        "forwarding_fn",
        "parent_tool",
        "transform_args",
    )

    def __init__(
        self,
        *,
        fn: Callable[..., Any],
        forwarding_fn: Callable[..., Any],
        parent_tool: Tool,
        transform_args: dict[str, ArgTransform],
        **fields: Any,
    ) -> None:
        super().__init__(**fields)
        self.fn = fn
        self.forwarding_fn = forwarding_fn
        self.parent_tool = parent_tool
        self.transform_args = transform_args
        self._transform_fn: TransformFunction | None = None

    async def run(
        self, arguments: dict[str, Any] | None, context: Any = None, *, strict: bool = False
    ) -> ToolResult:
        """Call `fn` with `arguments` (schema defaults filled in), with `forward()` bound to
        this tool. A `transform_fn`'s own parameters are validated as a function tool's are
        (`strict` refusing coercions); what goes to its `**kwargs` is left to the parent,
        which validates it when forwarded.

        Raises:
            ValidationError: Arguments that do not fit (`InvalidArgumentsError` for unknown
                or missing ones when forwarded).
        """
        arguments = dict(arguments or {})
        for name, prop in self.parameters.get("properties", {}).items():
            if name not in arguments and isinstance(prop, dict) and "default" in prop:
                arguments[name] = prop["default"]
        fn = self.fn
        if not isinstance(fn, _Forwarder):
            reader = self._transform_fn
            if reader is None or reader.fn is not fn:  # `fn` replaced since `from_tool`
                reader = TransformFunction(fn)
                reader.check_against(self.parameters)
                object.__setattr__(self, "_transform_fn", reader)
            arguments = reader.arguments(arguments, context, strict=strict)
        token = _current_call.set(_Call(self, context, strict))
        try:
            if isinstance(fn, _Forwarder) or _is_async(fn):
                result = await fn(**arguments)
            else:  # a sync function: in a worker thread, as sync tools are
                from trimcp.runtime.threads import run_sync

                result = await run_sync(fn, **arguments)
                if inspect.isawaitable(result):
                    result = await result
        finally:
            _current_call.reset(token)
        return self._result_from(result)

    def _result_from(self, result: Any) -> ToolResult:
        schema = self.output_schema
        if isinstance(result, ToolResult):
            if schema is not None and schema.get("type") != "object" and not schema.get(WRAP_KEY):
                return ToolResult(content=result.content)  # a non-object schema: no structure
            return result
        from trimcp.utilities.types import convert_to_content, to_jsonable

        content = convert_to_content(result, self.serializer)
        structured: Any = None
        if schema is not None:
            structured = {"result": result} if schema.get(WRAP_KEY) else result
        if structured is None:
            try:
                structured = to_jsonable(result)
            except Exception:
                structured = None
            if not isinstance(structured, dict):
                structured = None
        return ToolResult(content=content, structured_content=structured)

    @classmethod
    def from_tool(
        cls,
        tool: Tool,
        name: str | None = None,
        title: str | NotSetT | None = NotSet,
        description: str | NotSetT | None = NotSet,
        tags: set[str] | None = None,
        transform_fn: Callable[..., Any] | None = None,
        transform_args: Mapping[str, ArgTransform] | None = None,
        annotations: ToolAnnotations | NotSetT | None = NotSet,
        output_schema: dict[str, Any] | Literal[False] | NotSetT | None = NotSet,
        serializer: Callable[[Any], str] | NotSetT | None = NotSet,
        meta: dict[str, Any] | NotSetT | None = NotSet,
        enabled: bool | None = None,
    ) -> TransformedTool:
        """A tool made from `tool`. Fields left NotSet (or `None` for `name`, `tags`,
        `enabled`) are the parent's.

        Args:
            tool: The parent.
            transform_fn: Runs instead of the parent; may call `forward()` /
                `forward_raw()`. It must take every argument of the transformed schema
                (or `**kwargs`); its own extra parameters join the schema.
            transform_args: `ArgTransform`s by parent argument name; others pass through.
            output_schema: NotSet: `transform_fn`'s (from its return annotation), else the
                parent's; `None` (or the deprecated `False`) for none; a dict replaces it.

        Raises:
            ValueError: An unknown argument in `transform_args`, a hidden required argument
                without a default, two arguments with the same new name, or a
                `transform_fn` missing some argument.
        """
        transform_args = dict(transform_args or {})
        parent_params = tool.parameters.get("properties", {})
        unknown = transform_args.keys() - parent_params.keys()
        if unknown:
            raise ValueError(
                f"Unknown arguments in transform_args: {', '.join(sorted(unknown))}. "
                f"Parent tool `{tool.name}` has: {', '.join(sorted(parent_params))}"
            )
        schema, forwarding_fn = _forwarding_transform(tool, transform_args)

        fn: Callable[..., Any] = forwarding_fn
        final_schema = schema
        fn_output: dict[str, Any] | None = None
        fn_returns_result = False
        reader = None
        if transform_fn is not None:
            reader = TransformFunction(transform_fn)
            fn_schema, fn_output = reader.parsed.parameters_schema, reader.output_schema
            fn_returns_result = reader.return_annotation is ToolResult
            if not reader.takes_kwargs:
                missing = schema.get("properties", {}).keys() - fn_schema.get("properties", {})
                if missing:
                    raise ValueError(
                        "Function missing parameters required after transformation: "
                        f"{', '.join(sorted(missing))}. Function declares: "
                        f"{', '.join(sorted(fn_schema.get('properties', {})))}"
                    )
            final_schema = merge_schemas(fn_schema, schema)
            reader.check_against(final_schema)
            fn = transform_fn

        if output_schema is NotSet:
            if transform_fn is not None and (fn_output is not None or fn_returns_result):
                final_output = fn_output
            else:
                final_output = tool.output_schema
        elif output_schema is False:
            warn_output_schema_false()
            final_output = None
        else:
            final_output = output_schema

        new_names = [  # every argument clients see: renamed onto an untouched one is refused too
            t.name if isinstance(t.name, str) else old
            for old in parent_params
            if not (t := transform_args.get(old) or _UNCHANGED).hide
        ]
        duplicates = sorted({n for n in new_names if new_names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"Multiple arguments would be mapped to the same names: {', '.join(duplicates)}"
            )

        transformed = cls(
            fn=fn,
            forwarding_fn=forwarding_fn,
            parent_tool=tool,
            transform_args=transform_args,
            name=name or tool.name,
            title=tool.title if title is NotSet else title,
            description=tool.description if description is NotSet else description,
            parameters=final_schema,
            output_schema=final_output,
            tags=tags or tool.tags,
            annotations=tool.annotations if annotations is NotSet else annotations,
            serializer=tool.serializer if serializer is NotSet else serializer,
            meta=tool.meta if meta is NotSet else meta,
            enabled=tool.enabled if enabled is None else enabled,
            icons=tool.icons,
        )
        transformed._transform_fn = reader
        return transformed


def _forwarding_transform(
    parent: Tool, transform_args: dict[str, ArgTransform]
) -> tuple[dict[str, Any], _Forwarder]:
    """The transformed input schema and the function that maps calls back to `parent`."""
    parameters = parent.parameters
    parent_required = set(parameters.get("required", ()))
    props: dict[str, Any] = {}
    required: list[str] = []
    new_to_old: dict[str, str] = {}
    hidden: dict[str, ArgTransform] = {}
    for old_name, old_schema in parameters.get("properties", {}).items():
        transform = transform_args.get(old_name) or _UNCHANGED
        if transform.hide:
            has_value = transform.default is not NotSet or transform.default_factory is not NotSet
            if not has_value and old_name in parent_required:
                raise ValueError(
                    f"Hidden parameter '{old_name}' has no default value in parent tool and no "
                    "default or default_factory provided in ArgTransform. Either provide a "
                    "default or default_factory in ArgTransform or don't hide required "
                    "parameters."
                )
            if has_value:
                hidden[old_name] = transform
            continue
        new_name, new_schema, is_required = _transform_argument(
            old_name, old_schema, transform, old_name in parent_required
        )
        props[new_name] = new_schema
        new_to_old[new_name] = old_name
        if is_required:
            required.append(new_name)
    schema: dict[str, Any] = {"type": "object", "properties": props, "required": required}
    defs = parameters.get("$defs")
    if defs:
        schema["$defs"] = copy.deepcopy(defs)
        schema = compress_schema(schema, prune_defs=True)
    return schema, _Forwarder(parent, new_to_old, frozenset(required), hidden)


_UNCHANGED = ArgTransform()


def _transform_argument(
    old_name: str, old_schema: dict[str, Any], transform: ArgTransform, is_required: bool
) -> tuple[str, dict[str, Any], bool]:
    new_name = transform.name if isinstance(transform.name, str) else old_name
    new_schema = dict(old_schema)
    if transform.description is not NotSet:
        if transform.description is None:
            new_schema.pop("description", None)
        else:
            new_schema["description"] = transform.description
    if transform.required is True:
        is_required = True
        new_schema.pop("default", None)
    elif transform.default is not NotSet:
        new_schema["default"] = transform.default
        is_required = False
    if transform.type is not NotSet:
        from trimcp.utilities.types import get_cached_typeadapter

        new_schema.update(get_cached_typeadapter(transform.type).json_schema())
    if transform.examples is not NotSet:
        new_schema["examples"] = transform.examples
    return new_name, new_schema, is_required


def merge_schemas(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`base` (a transform function's input schema) with `override` (the transformed
    arguments) taking precedence, property by property; arguments with a default are
    optional."""
    props = dict(base.get("properties", {}))
    override_props = override.get("properties", {})
    for name, prop in override_props.items():
        props[name] = {**props[name], **prop} if name in props else dict(prop)
    required = list(override.get("required", ()))
    for name in base.get("required", ()):
        if name not in required and (name not in override_props or "default" not in props[name]):
            required.append(name)
    required = [name for name in required if "default" not in props.get(name, {})]
    merged: dict[str, Any] = {"type": "object", "properties": props, "required": required}
    defs = dict(base.get("$defs", {}))
    for name, definition in override.get("$defs", {}).items():
        defs[name] = {**defs[name], **definition} if name in defs else dict(definition)
    if defs:
        merged["$defs"] = defs
        merged = compress_schema(merged, prune_defs=True)
    return merged


def _is_async(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004  # an object with `async def __call__`
    )


def apply_transformations_to_tools(
    tools: Mapping[str, Tool], transformations: Mapping[str, ToolTransformConfig]
) -> dict[str, Tool]:
    """`tools` with each one named in `transformations` replaced by its transformed tool
    (under the transformed name); the others unchanged."""
    result: dict[str, Tool] = {}
    for key, tool in tools.items():
        transformation = transformations.get(key)
        if transformation is None:
            result[key] = tool
        else:
            result[transformation.name or key] = transformation.apply(tool)
    return result
