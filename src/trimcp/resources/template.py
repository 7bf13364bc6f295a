"""`ResourceTemplate` and `FunctionResourceTemplate`: resources whose URI carries parameters
(`{name}`, `{name*}`, `{+name}`, `{?a,b}`: the subset and the matching policy are
`trimcp.resources.uri_template`'s, whose names FastMCP's `fastmcp.resources.template` also
offers and this module re-exports).

A template's URI is compiled once; `matches(uri)` returns the percent-decoded values as strings
(never a value that would climb out of where a handler joins it) and the function call converts
them to the annotated types: query parameters bind to function parameters with defaults, and a
function taking `**kwargs` receives the URI parameters it does not name.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from trimcp.exceptions import ResourceError, ValidationError
from trimcp.resources.resource import (
    DEFAULT_MIME_TYPE,
    Contents,
    FunctionResource,
    Resource,
    accepts_context,
    check_uri,
    coerce_annotations,
    contents_of,
    is_template_uri,
)
from trimcp.resources.uri_template import (
    UriTemplate,
    build_regex,
    extract_query_params,
    match_uri_template,
)
from trimcp.types import Annotations, Icon
from trimcp.types import ResourceTemplate as MCPResourceTemplate
from trimcp.utilities.callables import ParsedCallable
from trimcp.utilities.components import Component, coerce_icons

if TYPE_CHECKING:
    from trimcp.core.context import Context

__all__ = [
    "FunctionResourceTemplate",
    "ResourceTemplate",
    "UriTemplate",
    "accepts_string",
    "build_regex",
    "decode_json_arguments",
    "extract_query_params",
    "match_uri_template",
    "wants_template",
]


def accepts_string(schema: Any, defs: Mapping[str, Any], depth: int = 0) -> bool:
    """Whether a JSON schema admits a string (so a string argument is passed as is)."""
    if not isinstance(schema, dict) or depth > 32:
        return True
    if "$ref" in schema:
        target = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1])
        return accepts_string(target, defs, depth + 1)
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return any(accepts_string(s, defs, depth + 1) for s in schema[combinator])
    if "const" in schema:
        return isinstance(schema["const"], str)
    if "enum" in schema:
        return any(isinstance(v, str) for v in schema["enum"])
    kind = schema.get("type")
    if kind is None:
        return True
    return "string" in kind if isinstance(kind, list) else kind == "string"


def decode_json_arguments(
    arguments: Mapping[str, Any], schema: Mapping[str, Any]
) -> dict[str, Any]:
    """Arguments that arrived as strings, JSON-decoded where the parameter cannot be a string.

    `"[1, 2]"` for a `list[int]` parameter becomes `[1, 2]`, `"5"` for an `int` becomes `5`;
    a value that is not JSON is left as is for validation to judge.
    """
    properties = schema.get("properties", {})
    defs = schema.get("$defs", {})
    decoded = dict(arguments)
    for name, value in arguments.items():
        if isinstance(value, str) and not accepts_string(properties.get(name), defs):
            try:
                decoded[name] = json.loads(value)
            except ValueError:
                pass
    return decoded


def wants_template(fn: Callable[..., Any], uri: str) -> bool:
    """Whether `fn` registered at `uri` is a template rather than a resource: `uri` has
    `{params}`, or `fn` takes parameters (a `Context` aside). `fn` is inspected only when
    `uri` is fixed (a template's function may take `**kwargs`, which a resource's may not).

    Raises:
        InvalidSignature: `uri` is fixed and `fn` cannot be inspected as a component.
    """
    if is_template_uri(uri):
        return True
    return bool(
        ParsedCallable.from_function(fn, used_as="resource templates").parameters_schema.get(
            "properties"
        )
    )


def _fmt(names: Iterable[str]) -> str:
    return "{" + ", ".join(repr(n) for n in sorted(names)) + "}"


class ResourceTemplate(Component):
    """A family of resources addressed by a URI template. Subclasses implement `read()`.

    Attributes:
        uri_template: The template, e.g. `weather://{city}/current{?units}`.
        parameters: JSON schema of the parameters.
        key: The lookup key (defaults to `uri_template`; mounting a server prefixes it).
    """

    list_kind = "resources"

    def __init__(
        self,
        *,
        uri_template: str,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        annotations: Annotations | dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        icons: Iterable[Icon | dict[str, Any]] | None = None,
        key: str | None = None,
    ) -> None:
        check_uri(uri_template)
        self.uri_template = uri_template
        self.pattern = UriTemplate(uri_template)
        self.name = name or uri_template
        self.title = title
        self.description = description
        self.mime_type = mime_type or DEFAULT_MIME_TYPE
        self.mime_type_explicit = mime_type is not None
        self.parameters: dict[str, Any] = parameters or {"type": "object", "properties": {}}
        self.tags: set[str] = set(tags or ())
        self.annotations = None if annotations is None else coerce_annotations(annotations)
        self.meta = meta
        self.enabled = True if enabled is None else enabled
        self.icons = coerce_icons(icons)
        self._key = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uri_template={self.uri_template!r}, name={self.name!r})"

    def _default_key(self) -> str:
        return self.uri_template

    def _after_copy(self, update: Mapping[str, Any]) -> None:
        if "uri_template" in update:  # a new template recompiles the matcher
            self.pattern = UriTemplate(self.uri_template)

    @staticmethod
    def from_function(
        fn: Callable[..., Any], uri_template: str, **options: Any
    ) -> FunctionResourceTemplate:
        """A template read by calling `fn`: the options of `FunctionResourceTemplate.from_function`."""
        return FunctionResourceTemplate.from_function(fn, uri_template, **options)

    def matches(self, uri: str) -> dict[str, str] | None:
        """The parameters `uri` gives this template (strings), or `None` if it does not match."""
        return self.pattern.match(uri)

    @classmethod
    def from_mcp_template(cls, mcp_template: Any) -> ResourceTemplate:
        """A template from a listed `ResourceTemplate` (trimcp's wire struct or an
        `mcp.types` one): its URI template, name, description and MIME type; reading it is
        left to a subclass (a remote template has no local function)."""

        def field(camel: str, snake: str) -> Any:  # the official SDK 2.x spells them snake_case
            return getattr(mcp_template, camel, getattr(mcp_template, snake, None))

        return cls(
            uri_template=field("uriTemplate", "uri_template"),
            name=mcp_template.name,
            description=mcp_template.description,
            mime_type=field("mimeType", "mime_type"),
            parameters={},
        )

    def to_mcp_template(
        self, *, include_fastmcp_meta: bool | None = None, **overrides: Any
    ) -> MCPResourceTemplate:
        """The `resources/templates/list` entry; `overrides` use the wire names."""
        fields: dict[str, Any] = {
            "uriTemplate": self.uri_template,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "mimeType": self.mime_type,
            "annotations": self.annotations and self.annotations.for_wire(),
            "icons": self.icons,
            "meta": self.get_meta(include_fastmcp_meta=include_fastmcp_meta),
        }
        if "_meta" in overrides:
            overrides["meta"] = overrides.pop("_meta")
        fields.update(overrides)
        return MCPResourceTemplate(**fields)

    async def read(self, arguments: dict[str, Any], context: Context | None = None) -> Any:
        """What the resource for `arguments` holds (`str`, `bytes`, JSON-able value, parts)."""
        raise NotImplementedError("Subclasses must implement read() or override create_resource()")

    async def _read_value(self, arguments: dict[str, Any], context: Context | None) -> Any:
        # FastMCP subclasses spell it `read(self, arguments)`.
        if accepts_context(type(self).read):
            return await self.read(arguments, context=context)
        return await self.read(arguments)

    async def read_contents(
        self, uri: str, params: dict[str, Any], context: Context | None = None
    ) -> list[Contents]:
        """Read the resource `uri` (whose parameters `matches()` gave) as wire contents."""
        value = await self._read_value(params, context)
        return contents_of(
            value, uri=uri, mime_type=self.mime_type, explicit=self.mime_type_explicit
        )

    async def create_resource(
        self, uri: str, params: dict[str, Any], context: Context | None = None
    ) -> Resource:
        """A concrete resource for `uri`, read through this template with `params`."""

        async def read_template() -> Any:
            return await self._read_value(params, context)

        return FunctionResource.from_function(
            read_template,
            uri,
            name=self.name,
            title=self.title,
            description=self.description,
            mime_type=self.mime_type if self.mime_type_explicit else None,
            tags=self.tags,
            annotations=self.annotations,
            meta=self.meta,
            icons=self.icons,
        )


class FunctionResourceTemplate(ResourceTemplate):
    """A template whose resources come from calling a function with the URI's parameters."""

    def __init__(
        self, *, fn: Callable[..., Any], parsed: ParsedCallable | None = None, **kwargs: Any
    ) -> None:
        # Built directly (FastMCP code may: `FunctionResourceTemplate(fn=..., ...)`), the
        # function is inspected here and its schema is the parameters unless given.
        parsed = (
            parsed
            if parsed is not None
            else ParsedCallable.from_function(fn, used_as="resource templates")
        )
        kwargs.setdefault("parameters", parsed.parameters_schema)
        super().__init__(**kwargs)
        self.fn = fn
        self._parsed = parsed

    @classmethod
    def from_function(  # type: ignore[override]  # the base forwards **options here
        cls,
        fn: Callable[..., Any],
        uri_template: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        tags: Iterable[str] | None = None,
        annotations: Annotations | dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        icons: Iterable[Icon | dict[str, Any]] | None = None,
    ) -> FunctionResourceTemplate:
        """A template at `uri_template` whose reads call `fn(**params)`.

        A function that takes `**kwargs` receives there the URI parameters it does not name,
        converted to the `**kwargs` annotation (as FastMCP passes them).

        Raises:
            ValueError: The template is malformed, `fn` takes `*args`, or the parameters do
                not fit `fn`'s: every required parameter of `fn` must be a path parameter,
                query parameters must have defaults, and every URI parameter must be one of
                `fn`'s (or go to its `**kwargs`).
        """
        pattern = UriTemplate(uri_template)
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        kinds = {p.kind for p in signature.parameters.values()} if signature else set()
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            raise ValueError("Functions with *args are not supported as resource templates")
        target = fn
        if inspect.Parameter.VAR_KEYWORD in kinds:
            target = _spread_var_keyword(fn, pattern)
        parsed = ParsedCallable.from_function(target, used_as="resource templates")
        fn_name = name or parsed.name
        if fn_name == "<lambda>":
            raise ValueError("You must provide a name for lambda functions")

        path_params = set(pattern.path_params)
        query_params = set(pattern.query_params)
        if not path_params | query_params:
            raise ValueError(f"URI template must contain at least one parameter: {uri_template!r}")
        schema = parsed.parameters_schema
        func_params = set(schema.get("properties", {}))
        required = set(schema.get("required", ()))
        optional = func_params - required
        if query_params - optional:
            raise ValueError(
                f"Query parameters {_fmt(query_params - optional)} must be optional function "
                f"parameters with default values"
            )
        if not required <= path_params:
            raise ValueError(
                f"Required function arguments {_fmt(required)} must be a subset of the URI path "
                f"parameters {_fmt(path_params)}"
            )
        if not (path_params | query_params) <= func_params:
            raise ValueError(
                f"URI parameters {_fmt(path_params | query_params)} must be a subset of the "
                f"function arguments: {_fmt(func_params)}"
            )
        return cls(
            fn=fn,
            parsed=parsed,
            uri_template=uri_template,
            name=fn_name,
            title=title,
            description=description if description is not None else parsed.description,
            mime_type=mime_type,
            parameters=schema,
            tags=tags,
            annotations=annotations,
            meta=meta,
            enabled=enabled,
            icons=icons,
        )

    async def read(self, arguments: dict[str, Any], context: Context | None = None) -> Any:
        """Call the function with `arguments` converted to its parameter types.

        Raises:
            ResourceError: A parameter does not convert (e.g. `"abc"` for an `int`).
        """
        kwargs = decode_json_arguments(arguments, self.parameters)
        try:
            kwargs = self._parsed.validate(kwargs)
        except ValidationError as exc:
            raise ResourceError(
                f"Invalid parameters for resource template {self.uri_template!r}: {exc}"
            ) from exc
        value = await self._parsed.call(kwargs, context=context)
        if isinstance(value, Resource):
            return await value._read_value(context)
        return value


def _spread_var_keyword(fn: Callable[..., Any], pattern: UriTemplate) -> Callable[..., Any]:
    """`fn` with its `**kwargs` spread into one keyword-only parameter per URI parameter it
    does not name (annotated as `**kwargs` is; a query parameter optional, and left out of
    the call when absent), so that the arguments are validated like the others."""
    try:
        signature = inspect.signature(fn, eval_str=True)
    except NameError:
        signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    (var_keyword,) = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    annotation = (
        Any if var_keyword.annotation is inspect.Parameter.empty else var_keyword.annotation
    )
    named = {p.name for p in params}
    optional = set(pattern.query_params) - named
    spread = [p for p in params if p is not var_keyword]
    for name in (*pattern.path_params, *pattern.query_params):
        if name in named:
            continue
        if name in optional:
            try:
                maybe = annotation | None
            except TypeError:  # an annotation left as text
                maybe = Any
            extra = inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=maybe
            )
        else:
            extra = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        spread.append(extra)

    def present(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in kwargs.items() if not (v is None and k in optional)}

    call = getattr(fn, "__call__", None)  # noqa: B004 - an async callable object's method
    if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call):

        async def spread_async(*args: Any, **kwargs: Any) -> Any:
            return await fn(*args, **present(kwargs))

        wrapper: Callable[..., Any] = spread_async
    else:

        def spread_sync(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **present(kwargs))

        wrapper = spread_sync
    wrapper.__signature__ = signature.replace(parameters=spread)  # type: ignore[attr-defined]
    wrapper.__name__ = getattr(fn, "__name__", type(fn).__name__)
    wrapper.__doc__ = inspect.getdoc(fn)
    return wrapper
