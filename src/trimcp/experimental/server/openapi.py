"""FastMCP's `fastmcp.experimental.server.openapi` path: its newer OpenAPI parser's server.

Not implemented yet, as `trimcp.server.openapi` (whose route-mapping vocabulary this module
shares): `FastMCPOpenAPI` and the components raise `NotImplementedError` when made.
"""

from __future__ import annotations

from typing import Any

from trimcp.server.openapi import (
    DEFAULT_ROUTE_MAPPINGS,
    ComponentFn,
    MCPType,
    OpenAPIResource,
    OpenAPIResourceTemplate,
    OpenAPITool,
    RouteMap,
    RouteMapFn,
)
from trimcp.server.options import refuse_openapi
from trimcp.server.server import FastMCP

__all__ = [
    "DEFAULT_ROUTE_MAPPINGS",
    "ComponentFn",
    "FastMCPOpenAPI",
    "MCPType",
    "OpenAPIResource",
    "OpenAPIResourceTemplate",
    "OpenAPITool",
    "RouteMap",
    "RouteMapFn",
]


class FastMCPOpenAPI(FastMCP):
    """The experimental parser's OpenAPI server: not implemented, refused when made."""

    def __init__(self, openapi_spec: dict[str, Any], client: Any, *args: Any, **kwargs: Any):
        refuse_openapi("experimental FastMCPOpenAPI")
