"""FastMCP's resource-URI prefix functions (`fastmcp.server.server.add_resource_prefix`, ...),
as FastMCP 2.13 defines them: an empty prefix leaves a URI alone, a URI that does not carry
the prefix comes back unchanged from `remove_resource_prefix`, a URI that is not
`protocol://path` raises `ValueError` (in the "path" format), and the format defaults to the
`resource_prefix_format` setting. Mounting itself uses `trimcp.resources.resource_manager`'s.
"""

from __future__ import annotations

import re
from typing import Literal

from trimcp.resources import resource_manager

__all__ = ["URI_PATTERN", "add_resource_prefix", "has_resource_prefix", "remove_resource_prefix"]

URI_PATTERN = re.compile(r"^([^:]+://)(.*?)$")
"""A URI split into its `protocol://` and its path (FastMCP's name)."""


def _checked(uri: str) -> str:
    if URI_PATTERN.match(uri) is None:
        raise ValueError(f"Invalid URI format: {uri}. Expected protocol://path format.")
    return uri


def add_resource_prefix(
    uri: str, prefix: str, prefix_format: Literal["protocol", "path"] | None = None
) -> str:
    """`resource://path` as `resource://prefix/path` ("path") or `prefix+resource://path`."""
    if not prefix:
        return uri
    fmt = resource_manager.resolve_prefix_format(prefix_format)
    return resource_manager.add_resource_prefix(uri, prefix, fmt)


def remove_resource_prefix(
    uri: str, prefix: str, prefix_format: Literal["protocol", "path"] | None = None
) -> str:
    """`uri` without `prefix`; unchanged when it does not carry it."""
    if not prefix:
        return uri
    fmt = resource_manager.resolve_prefix_format(prefix_format)
    if fmt == "path":
        _checked(uri)
    stripped = resource_manager.remove_resource_prefix(uri, prefix, fmt)
    return uri if stripped is None else stripped


def has_resource_prefix(
    uri: str, prefix: str, prefix_format: Literal["protocol", "path"] | None = None
) -> bool:
    """Whether `uri` carries `prefix` (never, for an empty prefix)."""
    if not prefix:
        return False
    fmt = resource_manager.resolve_prefix_format(prefix_format)
    if fmt == "path":
        _checked(uri)
    return resource_manager.remove_resource_prefix(uri, prefix, fmt) is not None
