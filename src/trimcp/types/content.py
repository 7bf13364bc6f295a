"""Content blocks (tool results, prompt messages, sampling) and resource contents.

A content block's `type` is msgspec's tag (what tells the blocks of a `ContentBlock` union
apart on the wire) and also a field, so that `TextContent(type="text", text=...)` works as
with `mcp.types`: the field is never sent (its wire name is one no peer uses, and it is always
at its default), and `__post_init__` refuses a `type` that is not the block's own.

msgspec calls `__post_init__` on decode too (some 60 ns a block), where it is not needed (the
`Literal` annotation refuses another `type` and yields the default object itself), but msgspec
has no hook for construction alone: a struct may not define `__init__` or `__new__`, and a
metaclass `__call__` costs some 450 ns on every block built, the server's hot path."""

from __future__ import annotations

import abc
from typing import Any, Literal

import msgspec

from trimcp.types.base import Annotations, Icon, Payload

__all__ = [
    "AudioContent",
    "BlobResourceContents",
    "ContentBlock",
    "EmbeddedResource",
    "ImageContent",
    "ResourceContents",
    "ResourceLink",
    "TextContent",
    "TextResourceContents",
    "as_content",
    "content_types",
]


class TextResourceContents(Payload, kw_only=True):
    uri: str
    mimeType: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")
    text: str


class BlobResourceContents(Payload, kw_only=True):
    uri: str
    mimeType: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")
    blob: str


class ResourceContents(abc.ABC):  # noqa: B024
    """Either kind of resource contents. A field of this type is decoded by
    `trimcp.types.codec` into `TextResourceContents` or `BlobResourceContents`."""

    @staticmethod
    def from_builtins(obj: Any) -> TextResourceContents | BlobResourceContents:
        if isinstance(obj, TextResourceContents | BlobResourceContents):
            return obj
        if isinstance(obj, dict) and "blob" in obj:
            return msgspec.convert(obj, BlobResourceContents)
        return msgspec.convert(obj, TextResourceContents)


ResourceContents.register(TextResourceContents)
ResourceContents.register(BlobResourceContents)

# The `type` field's wire name: the tag already sends `type`, and the field, always at its
# default, is omitted.
_TYPE_FIELD = "trimcp:type"
_TEXT: Literal["text"] = "text"
_IMAGE: Literal["image"] = "image"
_AUDIO: Literal["audio"] = "audio"
_RESOURCE_LINK: Literal["resource_link"] = "resource_link"
_RESOURCE: Literal["resource"] = "resource"


def _own_type(block: str, given: str, own: str) -> Any:
    """`own` (the very default object, so the field stays omitted) if `given` equals it."""
    if given != own:
        raise ValueError(f"{block}: type must be {own!r}, got {given!r}")
    return own


class TextContent(Payload, kw_only=True, tag=_TEXT, tag_field="type"):
    type: Literal["text"] = msgspec.field(default=_TEXT, name=_TYPE_FIELD)
    text: str
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    def __post_init__(self) -> None:
        if self.type is not _TEXT:
            self.type = _own_type("TextContent", self.type, _TEXT)


class ImageContent(Payload, kw_only=True, tag=_IMAGE, tag_field="type"):
    type: Literal["image"] = msgspec.field(default=_IMAGE, name=_TYPE_FIELD)
    data: str
    mimeType: str
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    def __post_init__(self) -> None:
        if self.type is not _IMAGE:
            self.type = _own_type("ImageContent", self.type, _IMAGE)


class AudioContent(Payload, kw_only=True, tag=_AUDIO, tag_field="type"):
    type: Literal["audio"] = msgspec.field(default=_AUDIO, name=_TYPE_FIELD)
    data: str
    mimeType: str
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    def __post_init__(self) -> None:
        if self.type is not _AUDIO:
            self.type = _own_type("AudioContent", self.type, _AUDIO)


class ResourceLink(Payload, kw_only=True, tag=_RESOURCE_LINK, tag_field="type"):
    name: str
    title: str | None = None
    uri: str
    description: str | None = None
    mimeType: str | None = None
    size: int | None = None
    icons: list[Icon] | None = None
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")
    type: Literal["resource_link"] = msgspec.field(default=_RESOURCE_LINK, name=_TYPE_FIELD)

    def __post_init__(self) -> None:
        if self.type is not _RESOURCE_LINK:
            self.type = _own_type("ResourceLink", self.type, _RESOURCE_LINK)


class EmbeddedResource(Payload, kw_only=True, tag=_RESOURCE, tag_field="type"):
    type: Literal["resource"] = msgspec.field(default=_RESOURCE, name=_TYPE_FIELD)
    resource: ResourceContents
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    def __post_init__(self) -> None:
        if self.type is not _RESOURCE:
            self.type = _own_type("EmbeddedResource", self.type, _RESOURCE)
        if type(self.resource) not in _RESOURCE_CONTENTS:
            from trimcp.types.codec import convert

            self.resource = convert(self.resource, ResourceContents)


ContentBlock = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource


_RESOURCE_CONTENTS = frozenset[type[Any]]((TextResourceContents, BlobResourceContents))
content_types = frozenset[type[Any]](
    (TextContent, ImageContent, AudioContent, ResourceLink, EmbeddedResource)
)
"""The classes of `ContentBlock`, for an exact `type(x) in content_types` test."""


def as_content(value: Any) -> Any:
    """`value` with each content block in it as a trimcp struct: a block (returned as it is),
    a list of blocks, or an `mcp.types` model or wire dict of one (converted). The sampling
    messages (`SamplingMessage`, `CreateMessageResult`) call it when built, so that they
    encode and compare as if built from trimcp's blocks.

    Raises `msgspec.ValidationError` for a value that is no content block."""
    if type(value) in content_types:
        return value
    if isinstance(value, list):
        return [as_content(item) for item in value]
    from trimcp.types.codec import convert

    return convert(value, ContentBlock)  # type: ignore[arg-type]
