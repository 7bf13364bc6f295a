"""`Resource` and `FunctionResource`: a readable thing at a fixed URI, and the turning of what a
read produced into the `contents` of a `resources/read` result.

A read may produce `str` (text contents), `bytes` (base64 blob contents), any JSON-able value
(dict, list, pydantic model, dataclass, msgspec struct: JSON text under the resource's MIME type,
`text/plain` unless named, as FastMCP 2.13 sends it), a `ResourceContent` (a JSON-able content
of its own says `application/json` unless it names a type), or a list of `ResourceContent`
(several contents for one URI).

`ReadResourceContents` is one content as `Context.read_resource()` returns it (FastMCP's shape:
`.content`, `.mime_type`).
"""

from __future__ import annotations

import base64
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from trimcp.types import Annotations, BlobResourceContents, Icon, TextResourceContents
from trimcp.types import Resource as MCPResource
from trimcp.types.codec import convert, foreign_builtins
from trimcp.utilities.callables import ParsedCallable
from trimcp.utilities.components import Component, coerce_icons

if TYPE_CHECKING:
    from trimcp.core.context import Context

__all__ = [
    "Contents",
    "FunctionResource",
    "ReadResourceContents",
    "Resource",
    "ResourceContent",
    "accepts_context",
    "as_parts",
    "check_uri",
    "coerce_annotations",
    "coerce_payload",
    "contents_of",
    "is_template_uri",
    "to_json_text",
    "to_read_contents",
]

T = TypeVar("T")
Contents = TextResourceContents | BlobResourceContents
DEFAULT_MIME_TYPE = "text/plain"
JSON_MIME_TYPE = "application/json"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def is_template_uri(uri: str) -> bool:
    """Whether `uri` is a URI template (has a `{...}` expression) rather than a fixed URI."""
    return "{" in uri and "}" in uri


def check_uri(uri: str) -> str:
    """`uri` itself, or `ValueError` when it has no scheme (`data://x`, `file:///a`, `urn:x`)."""
    if not isinstance(uri, str) or not _SCHEME.match(uri):
        raise ValueError(f"Invalid resource URI {uri!r}: a URI needs a scheme, as in 'data://name'")
    return uri


def coerce_annotations(value: Any) -> Annotations:
    """User-supplied annotations (a dict, the struct, an `mcp.types.Annotations`), their
    extra keys kept."""
    if isinstance(value, Annotations):
        return value
    if not isinstance(value, Mapping):
        value = foreign_builtins(value, exclude_none=True)
    return Annotations.from_mapping(value)


def coerce_payload(value: Any, typ: type[T]) -> T:
    """A user-supplied `Annotations`/`Icon`: the trimcp struct, a dict, or an `mcp.types`
    model (`trimcp.types.codec.convert`)."""
    return convert(value, typ)


def _enc_hook(obj: Any) -> Any:
    try:  # a pydantic model as `pydantic_core.to_json` writes it (FastMCP's encoder)
        return foreign_builtins(obj, exclude_none=False)
    except TypeError:
        return str(obj)


_json_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def to_json_text(value: Any) -> str:
    """`value` as compact JSON text; what JSON cannot express is sent as its `str()`."""
    return _json_encoder.encode(value).decode()


class ResourceContent:
    """One part of what a resource read produced, with its own MIME type and `_meta`.

    `content` may be `str`, `bytes`, or any JSON-able value (sent as JSON text).

    Example:
        ```python
        @mcp.resource("data://report")
        def report() -> list[ResourceContent]:
            return [ResourceContent("# Title", mime_type="text/markdown"),
                    ResourceContent(b"\\x89PNG...", mime_type="image/png")]
        ```
    """

    __slots__ = ("content", "is_json", "meta", "mime_type")

    def __init__(
        self, content: Any, mime_type: str | None = None, meta: dict[str, Any] | None = None
    ) -> None:
        self.is_json = not isinstance(content, str | bytes)
        self.content: str | bytes = to_json_text(content) if self.is_json else content
        self.mime_type = mime_type
        self.meta = meta

    def __repr__(self) -> str:
        return f"ResourceContent({self.content!r}, mime_type={self.mime_type!r})"

    def to_contents(self, uri: str, *, mime_type: str, explicit: bool) -> Contents:
        """The wire contents; `mime_type` is the resource's (`explicit` if the user named it)."""
        mime = self.mime_type or (JSON_MIME_TYPE if self.is_json and not explicit else mime_type)
        if isinstance(self.content, bytes):
            blob = base64.b64encode(self.content).decode()
            return BlobResourceContents(uri=uri, blob=blob, mimeType=mime, meta=self.meta)
        return TextResourceContents(uri=uri, text=self.content, mimeType=mime, meta=self.meta)


def as_parts(value: Any) -> list[ResourceContent | Contents]:
    """What a read produced, as the parts of a `resources/read` result (a bare JSON-able
    value as its JSON text, sent under the resource's MIME type)."""
    if isinstance(value, ResourceContent | TextResourceContents | BlobResourceContents):
        return [value]
    if (
        isinstance(value, list | tuple)
        and value
        and all(
            isinstance(v, ResourceContent | TextResourceContents | BlobResourceContents)
            for v in value
        )
    ):
        return list(value)
    return [ResourceContent(value if isinstance(value, str | bytes) else to_json_text(value))]


def contents_of(value: Any, *, uri: str, mime_type: str, explicit: bool) -> list[Contents]:
    """`value` (what a read produced) as wire contents reported under `uri`.

    Args:
        mime_type: The MIME type of the resource (or template) that produced `value`.
        explicit: Whether the user named `mime_type`; if not, a `ResourceContent` holding a
            JSON-able value says `application/json`.
    """
    contents: list[Contents] = []
    for part in as_parts(value):
        if isinstance(part, ResourceContent):
            part = part.to_contents(uri, mime_type=mime_type, explicit=explicit)
        contents.append(part)
    return contents


@dataclass(slots=True)
class ReadResourceContents:
    """One content of a resource read, as `Context.read_resource()` returns it (FastMCP's
    shape: `mcp.server.lowlevel.helper_types.ReadResourceContents`).

    Attributes:
        content: The text, or the bytes of a blob (decoded from base64).
        mime_type: Its MIME type.
        meta: Its `_meta`, if any.
    """

    content: str | bytes
    mime_type: str | None = None
    meta: dict[str, Any] | None = None


def to_read_contents(contents: Iterable[Contents]) -> list[ReadResourceContents]:
    """Wire contents (what `resources/read` answers) as `ReadResourceContents`."""
    out: list[ReadResourceContents] = []
    for item in contents:
        if isinstance(item, BlobResourceContents):
            data: str | bytes = base64.b64decode(item.blob)
        else:
            data = item.text
        out.append(ReadResourceContents(data, item.mimeType, item.meta))
    return out


class Resource(Component):
    """A resource at a fixed URI. Subclasses implement `read()`.

    Attributes:
        uri: The resource's URI.
        name: Its name (defaults to the URI).
        mime_type: MIME type of what `read()` returns (`text/plain` unless given).
        key: The lookup key of the server that holds it (defaults to the URI; mounting a server
            prefixes it).
    """

    list_kind = "resources"

    def __init__(
        self,
        *,
        uri: str,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        tags: Iterable[str] | None = None,
        annotations: Annotations | dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        icons: Iterable[Icon | dict[str, Any]] | None = None,
        key: str | None = None,
    ) -> None:
        self.uri = check_uri(str(uri))
        self.name = name or self.uri
        self.title = title
        self.description = description
        self.mime_type = mime_type or DEFAULT_MIME_TYPE
        self.mime_type_explicit = mime_type is not None
        self.tags: set[str] = set(tags or ())
        self.annotations = None if annotations is None else coerce_annotations(annotations)
        self.meta = meta
        self.enabled = True if enabled is None else enabled
        self.icons = coerce_icons(icons)
        self._key = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(uri={self.uri!r}, name={self.name!r})"

    def _default_key(self) -> str:
        return self.uri

    @staticmethod
    def from_function(fn: Callable[..., Any], uri: str, **options: Any) -> FunctionResource:
        """A resource read by calling `fn`: the options of `FunctionResource.from_function`."""
        return FunctionResource.from_function(fn, uri, **options)

    def to_mcp_resource(
        self, *, include_fastmcp_meta: bool | None = None, **overrides: Any
    ) -> MCPResource:
        """The `resources/list` entry; `overrides` use the wire names (`mimeType`, `_meta`)."""
        fields: dict[str, Any] = {
            "uri": self.uri,
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
        return MCPResource(**fields)

    async def read(self, context: Context | None = None) -> Any:
        """What the resource holds: `str`, `bytes`, or parts (see the module docstring)."""
        raise NotImplementedError("Subclasses must implement read()")

    async def read_contents(
        self, uri: str | None = None, context: Context | None = None
    ) -> list[Contents]:
        """Read the resource and shape the result as `resources/read` contents.

        Args:
            uri: The URI to report in the contents (defaults to the resource's own).
            context: The request's `Context`, for resources that take one.
        """
        value = await self._read_value(context)
        return self.contents_of(value, uri=uri or self.uri)

    async def _read_value(self, context: Context | None) -> Any:
        # `read(self)` without `context` is how FastMCP subclasses spell it.
        if accepts_context(type(self).read):
            return await self.read(context=context)
        return await self.read()

    def contents_of(self, value: Any, *, uri: str) -> list[Contents]:
        """`value` (what a read produced) as wire contents reported under `uri`."""
        return contents_of(
            value, uri=uri, mime_type=self.mime_type, explicit=self.mime_type_explicit
        )


_context_cache: dict[Any, bool] = {}


def accepts_context(read: Callable[..., Any]) -> bool:
    """Whether a `read` method takes `context` (FastMCP's spell it without)."""
    accepts = _context_cache.get(read)
    if accepts is None:
        params = inspect.signature(read).parameters
        accepts = "context" in params or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
        )
        _context_cache[read] = accepts
    return accepts


class FunctionResource(Resource):
    """A resource whose contents come from calling a function (sync or async).

    The function takes no arguments except an optional `Context` parameter.
    """

    def __init__(
        self, *, fn: Callable[..., Any], parsed: ParsedCallable | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.fn = fn
        if parsed is None:
            parsed = ParsedCallable.from_function(fn, used_as="resources")
        self._parsed = parsed

    @classmethod
    def from_function(  # type: ignore[override]  # the base forwards **options here
        cls,
        fn: Callable[..., Any],
        uri: str,
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
    ) -> FunctionResource:
        """A resource at `uri` read by calling `fn`.

        Raises:
            ValueError: `uri` has no scheme, is a template, or `fn` is a lambda without `name`.
        """
        uri = str(uri)  # pydantic's `AnyUrl` too, as FastMCP takes it
        if is_template_uri(uri):
            raise ValueError(
                f"{uri!r} is a URI template: register it with ResourceTemplate.from_function"
            )
        parsed = ParsedCallable.from_function(fn, used_as="resources")
        fn_name = name or parsed.name
        if fn_name == "<lambda>":
            raise ValueError("You must provide a name for lambda functions")
        if parsed.parameters_schema.get("required"):
            raise ValueError(
                f"Resource function {fn_name!r} takes arguments "
                f"{parsed.parameters_schema['required']}: only a template URI can supply them"
            )
        return cls(
            fn=fn,
            parsed=parsed,
            uri=uri,
            name=fn_name,
            title=title,
            description=description if description is not None else parsed.description,
            mime_type=mime_type,
            tags=tags,
            annotations=annotations,
            meta=meta,
            enabled=enabled,
            icons=icons,
        )

    async def read(self, context: Context | None = None) -> Any:
        """Call the function: `str`, `bytes`, JSON text for other values, or a list of parts."""
        value = await self._call(context)
        if isinstance(value, str | bytes):
            return value
        parts = as_parts(value)
        if len(parts) == 1 and isinstance(parts[0], ResourceContent):
            return parts[0].content
        return parts

    async def read_contents(
        self, uri: str | None = None, context: Context | None = None
    ) -> list[Contents]:
        return self.contents_of(await self._call(context), uri=uri or self.uri)

    async def _call(self, context: Context | None) -> Any:
        value = await self._parsed.call({}, context=context)
        if isinstance(value, Resource):
            return await value._read_value(context)
        return value
