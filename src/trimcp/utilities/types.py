"""Helper types users return from components (`Image`, `Audio`, `File`), the `NotSet`
sentinel, the small type-inspection helpers of `fastmcp.utilities.types` (`replace_type`,
`find_kwarg_by_type`, `get_cached_typeadapter`, ...), and how a returned value becomes
content blocks (`convert_to_content`).

The media helpers produce `trimcp.types` content structs with base64 payloads; the file is
read when the content is built, not when the helper is constructed.

`convert_to_content` follows FastMCP 2.13: `None` -> no blocks; `str` -> one `TextContent`;
`Image`/`Audio`/`File` -> their content; `trimcp.types` content structs pass through and
`mcp.types` content models are converted into them; a list or tuple holding any
content-like item -> one block per item; anything else (`bytes` and lists without content
included) -> one `TextContent` of compact JSON (`pydantic_core.to_json`, or `serializer`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import inspect
import mimetypes
import os
import types
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from types import EllipsisType, UnionType
from typing import (
    Annotated,
    Any,
    Literal,
    TypeAlias,
    Union,
    cast,
    get_args,
    get_origin,
    get_type_hints,
)

import msgspec
import pydantic
import pydantic_core
from pydantic import TypeAdapter

from trimcp.types import (
    Annotations,
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
from trimcp.types.codec import convert

__all__ = [
    "CONTENT_STRUCTS",
    "Audio",
    "FastMCPBaseModel",
    "File",
    "Image",
    "NotSet",
    "NotSetT",
    "Serializer",
    "convert_to_content",
    "default_serializer",
    "find_kwarg_by_type",
    "get_cached_typeadapter",
    "get_fn_name",
    "is_class_member_of_type",
    "is_content_like",
    "is_foreign_content",
    "is_object_like",
    "issubclass_safe",
    "replace_type",
    "to_jsonable",
]

NotSet = ...
"""Sentinel for "argument not given" where `None` is a meaningful value (as in FastMCP)."""
NotSetT: TypeAlias = EllipsisType
Serializer: TypeAlias = Callable[[Any], str]
"""Turns a returned value into the text of a `TextContent`."""

_AUDIO_SUFFIXES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
}


class FastMCPBaseModel(pydantic.BaseModel):
    """A pydantic model that refuses unknown fields (FastMCP's base for its own models)."""

    model_config = pydantic.ConfigDict(extra="forbid")


def get_fn_name(fn: Callable[..., Any]) -> str:
    """The name of function `fn`."""
    return fn.__name__


def _described(annotation: Any) -> Any:
    """`Annotated[T, "text"]` as `Annotated[T, Field(description="text")]`; others as given."""
    if get_origin(annotation) is Annotated:
        args = get_args(annotation)
        if len(args) == 2 and isinstance(args[1], str):
            return Annotated[args[0], pydantic.Field(description=args[1])]
    return annotation


def _with_described_parameters(fn: Any) -> Any:
    """`fn`, or a copy of it whose `Annotated[T, "text"]` annotations become field
    descriptions (FastMCP's shorthand), so pydantic puts the text in the schema."""
    function = fn.__func__ if inspect.ismethod(fn) else fn
    raw = getattr(function, "__annotations__", None)
    if not raw:
        return fn
    try:
        hints = get_type_hints(function, include_extras=True)
    except Exception:
        hints = dict(raw)
    described = {name: _described(annotation) for name, annotation in hints.items()}
    if described == raw:
        return fn
    copy = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copy.__dict__.update(function.__dict__)
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__module__ = function.__module__
    copy.__qualname__ = function.__qualname__
    copy.__annotations__ = described
    return types.MethodType(copy, fn.__self__) if inspect.ismethod(fn) else copy


@lru_cache(maxsize=5000)
def _cached_typeadapter(tp: Any) -> TypeAdapter[Any]:
    if inspect.isfunction(tp) or inspect.ismethod(tp):
        tp = _with_described_parameters(tp)
    return TypeAdapter(tp)


def get_cached_typeadapter(tp: Any) -> TypeAdapter[Any]:
    """A `TypeAdapter` for `tp`, built once per type (they are expensive to build).

    For a function, `Annotated[T, "text"]` parameters get `"text"` as their description.
    """
    try:
        return _cached_typeadapter(tp)
    except TypeError:  # unhashable annotation metadata
        if inspect.isfunction(tp) or inspect.ismethod(tp):
            tp = _with_described_parameters(tp)
        return TypeAdapter(tp)


def replace_type(type_: Any, type_map: Mapping[Any, Any]) -> Any:
    """`type_` with every type in `type_map` replaced by its value, at any depth.

    The whole type is looked up before its arguments: `replace_type(list[int], {int: str})`
    is `list[str]`, `replace_type(list[int], {list[int]: bool, int: str})` is `bool`.
    Unions (`int | None` and `Union[...]`), `Annotated` and generic aliases are rebuilt.
    """
    try:
        if type_ in type_map:
            return type_map[type_]
    except TypeError:  # unhashable: a `Callable`'s argument list, `Literal` values
        pass
    if isinstance(type_, list):  # `Callable[[A, B], R]` keeps its arguments as a list
        return [replace_type(item, type_map) for item in type_]
    origin = get_origin(type_)
    if origin is None:
        return type_
    args = get_args(type_)
    if origin is Annotated:
        return Annotated[(replace_type(args[0], type_map), *args[1:])]
    if origin is Literal:
        return type_
    new_args = tuple(replace_type(arg, type_map) for arg in args)
    if origin is UnionType or origin is Union:
        return Union[new_args]  # noqa: UP007 (a runtime union of computed members)
    return origin[new_args]


def issubclass_safe(cls: Any, base: type) -> bool:
    """`issubclass` that answers `False` for non-classes and follows generic origins."""
    try:
        origin = get_origin(cls)
        if origin is not None:
            return issubclass_safe(origin, base)
        return isinstance(cls, type) and issubclass(cls, base)
    except TypeError:
        return False


def is_class_member_of_type(cls: Any, base: type) -> bool:
    """Whether annotation `cls` is `base` (or a subclass), also inside unions and `Annotated`.

    `Context | None`, `Optional[Context]` and `Annotated[Context, ...]` are members of
    `Context`; `list[Context]` is not.
    """
    origin = get_origin(cls)
    if origin is UnionType or origin is Union:
        return any(is_class_member_of_type(arg, base) for arg in get_args(cls))
    if origin is Annotated:
        return is_class_member_of_type(get_args(cls)[0], base)
    if origin is not None:
        return False
    return issubclass_safe(cls, base)


def find_kwarg_by_type(fn: Callable[..., Any], kwarg_type: type) -> str | None:
    """The name of `fn`'s first parameter annotated with `kwarg_type` (see
    `is_class_member_of_type`), or `None`."""
    target = fn.__func__ if inspect.ismethod(fn) else fn
    try:
        hints = get_type_hints(target, include_extras=True)
    except Exception:
        hints = getattr(target, "__annotations__", {}) or {}
    for name, param in inspect.signature(fn).parameters.items():
        if is_class_member_of_type(hints.get(name, param.annotation), kwarg_type):
            return name
    return None


def _expand(path: str | Path | None) -> Path | None:
    return Path(os.path.expandvars(str(path))).expanduser() if path else None


class _Media:
    """Shared construction of `Image`, `Audio` and `File`: exactly one of `path` or `data`."""

    _kind = "media"  # names what is missing in the error when neither is left

    def __init__(
        self,
        path: str | Path | None = None,
        data: bytes | None = None,
        format: str | None = None,
        annotations: Annotations | None = None,
    ) -> None:
        if path is None and data is None:
            raise ValueError("Either path or data must be provided")
        if path is not None and data is not None:
            raise ValueError("Only one of path or data can be provided")
        self.path = _expand(path)
        self.data = data
        self._format = format
        self._mime_type = self._get_mime_type()
        self.annotations = annotations

    def _get_mime_type(self) -> str:
        raise NotImplementedError

    @property
    def mime_type(self) -> str:
        return self._mime_type

    def _raw(self) -> bytes:
        if self.path is not None:
            return self.path.read_bytes()
        if self.data is None:  # both reset after construction
            raise ValueError(f"No {self._kind} data available")
        return self.data

    def _b64(self) -> str:
        return base64.b64encode(self._raw()).decode("ascii")


class Image(_Media):
    """An image a tool returns: becomes `ImageContent`.

    The MIME type is `image/<format>` when `format` is given, else guessed from the path's
    suffix, else `image/png` for raw data.
    """

    _kind = "image"

    def _get_mime_type(self) -> str:
        if self._format:
            return f"image/{self._format.lower()}"
        if self.path is not None:
            return mimetypes.guess_type(self.path, strict=False)[0] or "application/octet-stream"
        return "image/png"

    def to_image_content(
        self, mime_type: str | None = None, annotations: Annotations | None = None
    ) -> ImageContent:
        return ImageContent(
            data=self._b64(),
            mimeType=mime_type or self._mime_type,
            annotations=annotations or self.annotations,
        )

    def to_data_uri(self, mime_type: str | None = None) -> str:
        return f"data:{mime_type or self._mime_type};base64,{self._b64()}"


class Audio(_Media):
    """Audio a tool returns: becomes `AudioContent` (`audio/wav` for raw data by default)."""

    _kind = "audio"

    def _get_mime_type(self) -> str:
        if self._format:
            return f"audio/{self._format.lower()}"
        if self.path is not None:
            return _AUDIO_SUFFIXES.get(self.path.suffix.lower(), "application/octet-stream")
        return "audio/wav"

    def to_audio_content(
        self, mime_type: str | None = None, annotations: Annotations | None = None
    ) -> AudioContent:
        return AudioContent(
            data=self._b64(),
            mimeType=mime_type or self._mime_type,
            annotations=annotations or self.annotations,
        )


class File(_Media):
    """A file a tool returns: becomes an `EmbeddedResource` (text for `text/*`, else a blob)."""

    _kind = "resource"

    def __init__(
        self,
        path: str | Path | None = None,
        data: bytes | None = None,
        format: str | None = None,
        name: str | None = None,
        annotations: Annotations | None = None,
    ) -> None:
        super().__init__(path=path, data=data, format=format, annotations=annotations)
        self._name = name

    def _get_mime_type(self) -> str:
        if self._format:
            fmt = self._format.lower()
            return "text/plain" if fmt in {"plain", "txt", "text"} else f"application/{fmt}"
        if self.path is not None:
            return mimetypes.guess_type(self.path)[0] or "application/octet-stream"
        return "application/octet-stream"

    def to_resource_content(
        self, mime_type: str | None = None, annotations: Annotations | None = None
    ) -> EmbeddedResource:
        raw = self._raw()
        if self.path is not None:
            uri = self.path.resolve().as_uri()
        else:
            uri = f"file:///{self._name or 'resource'}.{self._mime_type.split('/')[1]}"
        mime = mime_type or self._mime_type
        resource: TextResourceContents | BlobResourceContents
        if mime.startswith("text/"):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            resource = TextResourceContents(uri=uri, text=text, mimeType=mime)
        else:
            resource = BlobResourceContents(
                uri=uri, blob=base64.b64encode(raw).decode("ascii"), mimeType=mime
            )
        # `ResourceContents` is an ABC both kinds are registered with, which mypy cannot see
        return EmbeddedResource(
            resource=cast("ResourceContents", resource),
            annotations=annotations or self.annotations,
        )


CONTENT_STRUCTS = (TextContent, ImageContent, AudioContent, ResourceLink, EmbeddedResource)
_MEDIA = (Image, Audio, File)
# `mcp.types` content models, recognised without importing the SDK
_FOREIGN_CONTENT = {
    "TextContent": "text",
    "ImageContent": "image",
    "AudioContent": "audio",
    "ResourceLink": "resource_link",
    "EmbeddedResource": "resource",
}


def _json_fallback(value: Any) -> Any:
    return str(value)


def _refuse(value: Any) -> Any:
    raise pydantic_core.PydanticSerializationError(f"Unable to serialize {type(value).__name__}")


# What `msgspec.to_builtins` leaves as it is, for pydantic to write as it always has.
_PYDANTIC_WRITES = (
    bytes,
    bytearray,
    memoryview,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
)


def _without_structs(value: Any, fallback: Callable[[Any], Any], bytes_mode: str) -> Any:
    """`value` with every msgspec struct in it (trimcp's payloads) as msgspec writes it, and
    the objects msgspec does not know (pydantic models, `Path`, ...) as pydantic writes them.

    pydantic never meets a struct: once `mcp.types` is imported it would take a payload for
    its `mcp.types` twin and write the unset fields as nulls, so the same tool's output would
    depend on what else the program imported."""

    def pydantic_writes(obj: Any) -> Any:
        return pydantic_core.to_jsonable_python(
            obj,
            fallback=fallback,
            bytes_mode=bytes_mode,  # type: ignore[arg-type]
        )

    try:
        return msgspec.to_builtins(value, builtin_types=_PYDANTIC_WRITES, enc_hook=pydantic_writes)
    except RecursionError:  # a cycle: pydantic reports it as it always has
        return value


def _bytes_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def default_serializer(data: Any) -> str:
    """Compact JSON, as FastMCP's; bytes that are not UTF-8 become base64 strings
    (standard alphabet at the top level, pydantic's URL-safe one when nested)."""
    if isinstance(data, bytes):
        data = _bytes_text(data)
    try:
        plain = _without_structs(data, _json_fallback, "utf8")
        return pydantic_core.to_json(plain, fallback=_json_fallback).decode()
    except (pydantic_core.PydanticSerializationError, UnicodeDecodeError):
        plain = _without_structs(data, _json_fallback, "base64")
        return pydantic_core.to_json(plain, fallback=_json_fallback, bytes_mode="base64").decode()


def to_jsonable(value: Any) -> Any:
    """`value` as JSON-able builtins (bytes that are not UTF-8 as base64 strings)."""
    if isinstance(value, bytes):
        return _bytes_text(value)
    try:
        plain = _without_structs(value, _refuse, "utf8")
        return pydantic_core.to_jsonable_python(plain, fallback=_refuse)
    except UnicodeDecodeError:
        plain = _without_structs(value, _refuse, "base64")
        return pydantic_core.to_jsonable_python(plain, fallback=_refuse, bytes_mode="base64")


def is_object_like(value: Any) -> bool:
    """Whether `value` may serialize to a JSON object (cheap pre-check for `to_jsonable`)."""
    return isinstance(value, (dict, pydantic.BaseModel, msgspec.Struct)) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    )


def is_foreign_content(item: Any) -> bool:
    """Whether `item` is an `mcp.types` content model (recognised without importing it)."""
    if not isinstance(item, pydantic.BaseModel):
        return False
    kind = _FOREIGN_CONTENT.get(type(item).__name__)
    return kind is not None and getattr(item, "type", None) == kind


def is_content_like(item: Any) -> bool:
    """Content structs, `Image`/`Audio`/`File` and `mcp.types` content models."""
    return isinstance(item, CONTENT_STRUCTS) or isinstance(item, _MEDIA) or is_foreign_content(item)


def _serialize(value: Any, serializer: Serializer | None) -> str:
    if serializer is not None:
        try:
            return serializer(value)
        except Exception:
            pass  # FastMCP falls back to the default serializer too
    return default_serializer(value)


def _to_block(item: Any, serializer: Serializer | None) -> ContentBlock:
    if isinstance(item, CONTENT_STRUCTS):
        return item
    if isinstance(item, str):
        return TextContent(text=item)
    if isinstance(item, Image):
        return item.to_image_content()
    if isinstance(item, Audio):
        return item.to_audio_content()
    if isinstance(item, File):
        return item.to_resource_content()
    if is_foreign_content(item):
        return convert(item, ContentBlock)  # type: ignore[arg-type]
    return TextContent(text=_serialize(item, serializer))


def convert_to_content(result: Any, serializer: Serializer | None = None) -> list[ContentBlock]:
    """Content blocks for a value a tool returned (see the module docstring)."""
    if result is None:
        return []
    if not isinstance(result, (list, tuple)):
        return [_to_block(result, serializer)]
    if all(isinstance(item, CONTENT_STRUCTS) for item in result):
        return list(result)
    if any(is_content_like(item) for item in result):
        return [_to_block(item, serializer) for item in result]
    return [TextContent(text=_serialize(result, serializer))]
