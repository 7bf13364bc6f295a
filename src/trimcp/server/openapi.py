"""FastMCP's `fastmcp.server.openapi` path: a server built from an OpenAPI document.

trimcp does not build servers from OpenAPI documents yet (a later issue). The route-mapping
vocabulary is here as FastMCP 2.13 spells it (`MCPType`, `RouteMap`, `DEFAULT_ROUTE_MAPPINGS`,
...), so a program that imports it loads; everything that would turn HTTP routes into
components (`FastMCPOpenAPI`, `OpenAPITool`, `OpenAPIResource`, `OpenAPIResourceTemplate`,
`FastMCP.from_openapi`, `FastMCP.from_fastapi`) raises `NotImplementedError` when made, rather
than serving a server without the routes the user asked for.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from trimcp.resources.resource import Resource
from trimcp.resources.template import ResourceTemplate
from trimcp.server.options import refuse_openapi
from trimcp.server.server import FastMCP
from trimcp.tools.tool import Tool

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
    "RouteType",
]


class MCPType(enum.Enum):
    """The kind of component an HTTP route becomes (FastMCP's names)."""

    TOOL = "TOOL"
    RESOURCE = "RESOURCE"
    RESOURCE_TEMPLATE = "RESOURCE_TEMPLATE"
    EXCLUDE = "EXCLUDE"


class RouteType(enum.Enum):
    """FastMCP's older name of `MCPType` (with `IGNORE` for `EXCLUDE`)."""

    TOOL = "TOOL"
    RESOURCE = "RESOURCE"
    RESOURCE_TEMPLATE = "RESOURCE_TEMPLATE"
    IGNORE = "IGNORE"


HttpMethod = Literal["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]


@dataclass(kw_only=True)
class RouteMap:
    """Which routes (methods, path pattern, tags: all must match) become which `mcp_type`,
    with `mcp_tags` added to the component. `route_type` is FastMCP's older spelling."""

    methods: list[HttpMethod] | Literal["*"] = "*"
    pattern: re.Pattern[str] | str = r".*"
    route_type: RouteType | MCPType | None = None
    tags: set[str] = field(default_factory=set)
    mcp_type: MCPType | None = None
    mcp_tags: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.mcp_type is None and self.route_type is not None:
            if isinstance(self.route_type, RouteType):
                name = "EXCLUDE" if self.route_type is RouteType.IGNORE else self.route_type.name
                self.mcp_type = MCPType[name]
            else:
                self.mcp_type = self.route_type
        elif self.mcp_type is None:
            raise ValueError("`mcp_type` must be provided")
        if self.route_type is None:
            self.route_type = self.mcp_type


DEFAULT_ROUTE_MAPPINGS = [RouteMap(mcp_type=MCPType.TOOL)]
"""Every route becomes a tool unless a route map says otherwise."""

RouteMapFn = Callable[[Any, MCPType], "MCPType | None"]
ComponentFn = Callable[[Any, Any], None]


class OpenAPITool(Tool):
    """A tool calling one HTTP route: not implemented, refused when made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        refuse_openapi("OpenAPITool")


class OpenAPIResource(Resource):
    """A resource reading one HTTP route: not implemented, refused when made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        refuse_openapi("OpenAPIResource")


class OpenAPIResourceTemplate(ResourceTemplate):
    """A resource template over one HTTP route: not implemented, refused when made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        refuse_openapi("OpenAPIResourceTemplate")


class FastMCPOpenAPI(FastMCP):
    """A server whose components are an OpenAPI document's routes: not implemented, refused
    when made (`NotImplementedError`)."""

    def __init__(self, openapi_spec: dict[str, Any], client: Any, *args: Any, **kwargs: Any):
        refuse_openapi("FastMCPOpenAPI")
