"""Content blocks (tool results, prompt messages, sampling) and resource contents."""

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
]


class TextResourceContents(Payload, kw_only=True):
    uri: str
    text: str
    mimeType: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class BlobResourceContents(Payload, kw_only=True):
    uri: str
    blob: str
    mimeType: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class ResourceContents(abc.ABC):  # noqa: B024
    """Either kind of resource contents. A field of this type is decoded by
    `trimcp.types.codec` into `TextResourceContents` or `BlobResourceContents`."""

    @staticmethod
    def from_builtins(obj: Any) -> TextResourceContents | BlobResourceContents:
        if isinstance(obj, dict) and "blob" in obj:
            return msgspec.convert(obj, BlobResourceContents)
        return msgspec.convert(obj, TextResourceContents)


ResourceContents.register(TextResourceContents)
ResourceContents.register(BlobResourceContents)


class TextContent(Payload, kw_only=True, tag="text", tag_field="type"):
    text: str
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    @property
    def type(self) -> Literal["text"]:
        return "text"


class ImageContent(Payload, kw_only=True, tag="image", tag_field="type"):
    data: str
    mimeType: str
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    @property
    def type(self) -> Literal["image"]:
        return "image"


class AudioContent(Payload, kw_only=True, tag="audio", tag_field="type"):
    data: str
    mimeType: str
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    @property
    def type(self) -> Literal["audio"]:
        return "audio"


class ResourceLink(Payload, kw_only=True, tag="resource_link", tag_field="type"):
    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mimeType: str | None = None
    size: int | None = None
    icons: list[Icon] | None = None
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    @property
    def type(self) -> Literal["resource_link"]:
        return "resource_link"


class EmbeddedResource(Payload, kw_only=True, tag="resource", tag_field="type"):
    resource: ResourceContents
    annotations: Annotations | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")

    @property
    def type(self) -> Literal["resource"]:
        return "resource"


ContentBlock = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource
