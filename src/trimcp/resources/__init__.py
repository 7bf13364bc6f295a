"""Resources and resource templates: fixed-URI readables and URI-parameterised families,
and the `ResourceManager` (`trimcp.resources.resource_manager`).

The names load on first use, so that `FastMCP`, whose `ResourceManager` lives here, can be
imported without the component machinery (`import trimcp` stays cheap)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trimcp.resources.resource import (
        FunctionResource,
        Resource,
        ResourceContent,
        is_template_uri,
    )
    from trimcp.resources.resource_manager import ResourceManager
    from trimcp.resources.template import FunctionResourceTemplate, ResourceTemplate
    from trimcp.resources.types import BinaryResource, DirectoryResource, FileResource, TextResource

__all__ = [
    "BinaryResource",
    "DirectoryResource",
    "FileResource",
    "FunctionResource",
    "FunctionResourceTemplate",
    "Resource",
    "ResourceContent",
    "ResourceManager",
    "ResourceTemplate",
    "TextResource",
    "is_template_uri",
]

_LAZY = {
    "BinaryResource": "trimcp.resources.types",
    "DirectoryResource": "trimcp.resources.types",
    "FileResource": "trimcp.resources.types",
    "FunctionResource": "trimcp.resources.resource",
    "FunctionResourceTemplate": "trimcp.resources.template",
    "Resource": "trimcp.resources.resource",
    "ResourceContent": "trimcp.resources.resource",
    "ResourceManager": "trimcp.resources.resource_manager",
    "ResourceTemplate": "trimcp.resources.template",
    "TextResource": "trimcp.resources.types",
    "is_template_uri": "trimcp.resources.resource",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trimcp.resources' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
