"""The base of every MCP payload struct: camelCase names as on the wire (and as in `mcp.types`),
absent fields omitted, `meta` sent as `_meta`."""

from __future__ import annotations

from typing import Any, cast

import msgspec

__all__ = ["Annotations", "Icon", "Implementation", "Meta", "Payload"]

Meta = dict[str, Any]


class Payload(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Base class: absent (None) fields are not sent."""

    def model_dump(self, **_: Any) -> dict[str, Any]:
        """The payload as plain data (the `mcp.types` spelling)."""
        return cast(dict[str, Any], msgspec.to_builtins(self))


class Icon(Payload, kw_only=True):
    src: str
    mimeType: str | None = None
    sizes: list[str] | None = None
    theme: str | None = None


class Implementation(Payload, kw_only=True):
    name: str
    version: str = ""
    title: str | None = None
    description: str | None = None
    websiteUrl: str | None = None
    icons: list[Icon] | None = None


class Annotations(Payload, kw_only=True):
    audience: list[str] | None = None
    priority: float | None = None
    lastModified: str | None = None
