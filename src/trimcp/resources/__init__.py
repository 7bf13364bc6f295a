"""Resources and resource templates: fixed-URI readables and URI-parameterised families."""

from __future__ import annotations

from trimcp.resources.resource import FunctionResource, Resource, ResourceContent, is_template_uri
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
    "ResourceTemplate",
    "TextResource",
    "is_template_uri",
]
