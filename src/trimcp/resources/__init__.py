"""Resources and resource templates: fixed-URI readables and URI-parameterised families,
and the `ResourceManager` (`trimcp.resources.resource_manager`). The names load on first use
(`trimcp._lazy`), so that `FastMCP` imports its `ResourceManager` without the components."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports

if TYPE_CHECKING:
    from trimcp.resources.resource import (
        FunctionResource,
        ReadResourceContents,
        Resource,
        ResourceContent,
        is_template_uri,
    )
    from trimcp.resources.resource_manager import ResourceManager
    from trimcp.resources.template import FunctionResourceTemplate, ResourceTemplate
    from trimcp.resources.types import (
        BinaryResource,
        DirectoryResource,
        FileResource,
        HttpResource,
        TextResource,
    )

__all__ = [
    "BinaryResource",
    "DirectoryResource",
    "FileResource",
    "FunctionResource",
    "FunctionResourceTemplate",
    "HttpResource",
    "ReadResourceContents",
    "Resource",
    "ResourceContent",
    "ResourceManager",
    "ResourceTemplate",
    "TextResource",
    "is_template_uri",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "trimcp.resources.resource": (
            "FunctionResource",
            "ReadResourceContents",
            "Resource",
            "ResourceContent",
            "is_template_uri",
        ),
        "trimcp.resources.resource_manager": ("ResourceManager",),
        "trimcp.resources.template": ("FunctionResourceTemplate", "ResourceTemplate"),
        "trimcp.resources.types": (
            "BinaryResource",
            "DirectoryResource",
            "FileResource",
            "HttpResource",
            "TextResource",
        ),
    },
)
