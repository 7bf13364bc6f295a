"""Resources and resource templates."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Annotations, Icon, Payload
from trimcp.types.content import ResourceContents
from trimcp.types.results import CacheableResult, PaginatedResult

__all__ = [
    "ListResourceTemplatesResult",
    "ListResourcesResult",
    "ReadResourceParams",
    "ReadResourceResult",
    "Resource",
    "ResourceTemplate",
    "SubscribeParams",
]


class Resource(Payload, kw_only=True):
    uri: str
    name: str
    title: str | None = None
    description: str | None = None
    mimeType: str | None = None
    size: int | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class ResourceTemplate(Payload, kw_only=True):
    uriTemplate: str
    name: str
    title: str | None = None
    description: str | None = None
    mimeType: str | None = None
    annotations: Annotations | None = None
    icons: list[Icon] | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class ListResourcesResult(PaginatedResult, kw_only=True):
    resources: list[Resource]


class ListResourceTemplatesResult(PaginatedResult, kw_only=True):
    resourceTemplates: list[ResourceTemplate]


class ReadResourceParams(Payload, kw_only=True):
    uri: str
    inputResponses: dict[str, Any] | None = None
    requestState: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class ReadResourceResult(CacheableResult, kw_only=True):
    contents: list[ResourceContents]


class SubscribeParams(Payload, kw_only=True):
    uri: str
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")
