"""Describing a server without serving it: FastMCP's `fastmcp.utilities.inspect`.

`inspect_fastmcp(server)` gathers a `FastMCPInfo` (the server's identity, the trimcp and MCP
versions, and a `ToolInfo`/`ResourceInfo`/`TemplateInfo`/`PromptInfo` per listed component);
`format_fastmcp_info` writes it as JSON; `format_mcp_info` writes what a client lists, in
MCP's wire shapes; `format_info` picks one by `InspectFormat`.

The server is read only through its public API (`get_tools()`, `get_resources()`, ... and
its `name`, `version`, `instructions`, `website_url`, `icons`), so what is described is what
clients are offered: disabled components and those the server's tag filters hide are left
out, and mounted servers' components appear under their prefixed keys. A FastMCP 1.x server
(`mcp.server.fastmcp.FastMCP`, from the official SDK, when installed) is read through its own
`list_tools()`, `list_resources()`, ... methods.

`mcp_version` is the installed `mcp` package's version, as FastMCP reports it; without `mcp`
(trimcp does not need it), the newest MCP protocol revision trimcp speaks.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import msgspec

from trimcp.protocol.versions import SUPPORTED_VERSIONS

__all__ = [
    "FastMCPInfo",
    "InspectFormat",
    "PromptInfo",
    "ResourceInfo",
    "TemplateInfo",
    "ToolInfo",
    "format_fastmcp_info",
    "format_info",
    "format_mcp_info",
    "inspect_fastmcp",
    "inspect_fastmcp_v1",
    "inspect_fastmcp_v2",
]


@dataclass
class ToolInfo:
    """A listed tool."""

    key: str
    name: str
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    tags: list[str] | None = None
    enabled: bool | None = None
    title: str | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None


@dataclass
class PromptInfo:
    """A listed prompt."""

    key: str
    name: str
    description: str | None
    arguments: list[dict[str, Any]] | None = None
    tags: list[str] | None = None
    enabled: bool | None = None
    title: str | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None


@dataclass
class ResourceInfo:
    """A listed resource."""

    key: str
    uri: str
    name: str | None
    description: str | None
    mime_type: str | None = None
    annotations: dict[str, Any] | None = None
    tags: list[str] | None = None
    enabled: bool | None = None
    title: str | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None


@dataclass
class TemplateInfo:
    """A listed resource template."""

    key: str
    uri_template: str
    name: str | None
    description: str | None
    mime_type: str | None = None
    parameters: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    tags: list[str] | None = None
    enabled: bool | None = None
    title: str | None = None
    icons: list[dict[str, Any]] | None = None
    meta: dict[str, Any] | None = None


@dataclass
class FastMCPInfo:
    """What `inspect_fastmcp` found."""

    name: str
    instructions: str | None
    version: str | None
    """The server's own version."""
    website_url: str | None
    icons: list[dict[str, Any]] | None
    fastmcp_version: str
    """The version of trimcp that wrote this description."""
    mcp_version: str
    server_generation: int
    """1 for a FastMCP 1.x server (the official SDK's), 2 for a trimcp/FastMCP 2 one."""
    tools: list[ToolInfo]
    prompts: list[PromptInfo]
    resources: list[ResourceInfo]
    templates: list[TemplateInfo]
    capabilities: dict[str, Any]


class InspectFormat(StrEnum):
    """The output formats of `format_info`."""

    FASTMCP = "fastmcp"
    MCP = "mcp"


def _trimcp_version() -> str:
    from trimcp import __version__

    return __version__


def _mcp_version() -> str:
    try:
        return importlib.metadata.version("mcp")
    except importlib.metadata.PackageNotFoundError:
        return SUPPORTED_VERSIONS[-1]  # the table is in protocol order


def _plain(value: Any) -> Any:
    """A trimcp struct or an `mcp.types` model (or a list of them) as JSON-able data."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


def _tags(tags: set[str]) -> list[str] | None:
    return sorted(tags) if tags else None


def _icons(icons: Any) -> list[dict[str, Any]] | None:
    return _plain(icons) if icons else None


def _described(component: Any) -> dict[str, Any]:
    """The fields every info type takes alike from a trimcp component."""
    return {
        "tags": _tags(component.tags),
        "enabled": component.enabled,
        "title": component.title,
        "icons": _icons(component.icons),
        "meta": component.meta,
    }


def _server_info(
    mcp: Any,
    *,
    version: str | None,
    generation: int,
    capabilities: dict[str, Any],
    tools: list[ToolInfo],
    prompts: list[PromptInfo],
    resources: list[ResourceInfo],
    templates: list[TemplateInfo],
) -> FastMCPInfo:
    """A `FastMCPInfo`: the server's identity read from `mcp`, the versions, and what was found."""
    return FastMCPInfo(
        name=mcp.name,
        instructions=mcp.instructions,
        version=version,
        website_url=getattr(mcp, "website_url", None),
        icons=_icons(getattr(mcp, "icons", None)),
        fastmcp_version=_trimcp_version(),
        mcp_version=_mcp_version(),
        server_generation=generation,
        tools=tools,
        prompts=prompts,
        resources=resources,
        templates=templates,
        capabilities=capabilities,
    )


def _capabilities(server: Any) -> dict[str, Any]:
    """What the server declares in `initialize` (as `trimcp.core.answers` builds it)."""
    capabilities: dict[str, Any] = {
        "tools": {"listChanged": True},
        "resources": {"subscribe": True, "listChanged": True},
        "prompts": {"listChanged": True},
        "logging": {},
    }
    if getattr(server, "completion_handler", None) is not None:
        capabilities["completions"] = {}
    return capabilities


def _is_fastmcp1(server: Any) -> bool:
    sdk = sys.modules.get("mcp.server.fastmcp")
    return sdk is not None and isinstance(server, sdk.FastMCP)


async def inspect_fastmcp_v2(mcp: Any) -> FastMCPInfo:
    """Describe a trimcp (FastMCP 2) server: its listed components, by key."""
    tools = [
        ToolInfo(
            key=key,
            name=tool.name or key,
            description=tool.description,
            input_schema=tool.parameters or {},
            output_schema=tool.output_schema,
            annotations=_plain(tool.annotations),
            **_described(tool),
        )
        for key, tool in (await mcp.get_tools()).items()
    ]
    prompts = [
        PromptInfo(
            key=key,
            name=prompt.name or key,
            description=prompt.description,
            arguments=_plain(list(prompt.arguments)) or None,
            **_described(prompt),
        )
        for key, prompt in (await mcp.get_prompts()).items()
    ]
    resources = [
        ResourceInfo(
            key=key,
            uri=key,
            name=resource.name,
            description=resource.description,
            mime_type=resource.mime_type,
            annotations=_plain(resource.annotations),
            **_described(resource),
        )
        for key, resource in (await mcp.get_resources()).items()
    ]
    templates = [
        TemplateInfo(
            key=key,
            uri_template=key,
            name=template.name,
            description=template.description,
            mime_type=template.mime_type,
            parameters=template.parameters,
            annotations=_plain(template.annotations),
            **_described(template),
        )
        for key, template in (await mcp.get_resource_templates()).items()
    ]
    return _server_info(
        mcp,
        version=getattr(mcp, "version", None),
        generation=2,
        capabilities=_capabilities(mcp),
        tools=tools,
        prompts=prompts,
        resources=resources,
        templates=templates,
    )


async def inspect_fastmcp_v1(mcp: Any) -> FastMCPInfo:
    """Describe a FastMCP 1.x server (the official SDK's `mcp.server.fastmcp.FastMCP`)
    from its own listings; it has no tags, keys or enabled flags."""
    tools = [
        ToolInfo(
            key=tool.name,
            name=tool.name,
            description=tool.description,
            input_schema=tool.inputSchema or {},
            icons=_icons(getattr(tool, "icons", None)),
        )
        for tool in await mcp.list_tools()
    ]
    prompts = [
        PromptInfo(
            key=prompt.name,
            name=prompt.name,
            description=prompt.description,
            arguments=_plain(prompt.arguments) or None,
            icons=_icons(getattr(prompt, "icons", None)),
        )
        for prompt in await mcp.list_prompts()
    ]
    resources = [
        ResourceInfo(
            key=str(resource.uri),
            uri=str(resource.uri),
            name=resource.name,
            description=resource.description,
            mime_type=resource.mimeType,
            icons=_icons(getattr(resource, "icons", None)),
        )
        for resource in await mcp.list_resources()
    ]
    templates = [
        TemplateInfo(
            key=str(template.uriTemplate),
            uri_template=str(template.uriTemplate),
            name=template.name,
            description=template.description,
            mime_type=template.mimeType,
            icons=_icons(getattr(template, "icons", None)),
        )
        for template in await mcp.list_resource_templates()
    ]
    return _server_info(
        mcp,
        version=None,  # the SDK's FastMCP has no version of its own
        generation=1,
        capabilities={
            "tools": {"listChanged": True},
            "resources": {"subscribe": False, "listChanged": False},
            "prompts": {"listChanged": False},
            "logging": {},
        },
        tools=tools,
        prompts=prompts,
        resources=resources,
        templates=templates,
    )


async def inspect_fastmcp(mcp: Any) -> FastMCPInfo:
    """Describe `mcp`, a trimcp `FastMCP` or a FastMCP 1.x server."""
    if _is_fastmcp1(mcp):
        return await inspect_fastmcp_v1(mcp)
    return await inspect_fastmcp_v2(mcp)


_json = msgspec.json.Encoder()


def _dump(data: Any) -> bytes:
    return msgspec.json.format(_json.encode(data), indent=2)


def format_fastmcp_info(info: FastMCPInfo) -> bytes:
    """`info` as JSON: `server`, `environment`, then the components with their tags, keys
    and enabled flags (snake_case names)."""
    return _dump(
        {
            "server": {
                "name": info.name,
                "instructions": info.instructions,
                "version": info.version,
                "website_url": info.website_url,
                "icons": info.icons,
                "generation": info.server_generation,
                "capabilities": info.capabilities,
            },
            "environment": {"fastmcp": info.fastmcp_version, "mcp": info.mcp_version},
            "tools": [dataclasses.asdict(tool) for tool in info.tools],
            "prompts": [dataclasses.asdict(prompt) for prompt in info.prompts],
            "resources": [dataclasses.asdict(resource) for resource in info.resources],
            "templates": [dataclasses.asdict(template) for template in info.templates],
        }
    )


async def _wire_listings(mcp: Any) -> dict[str, list[Any]]:
    if _is_fastmcp1(mcp):
        return {
            "tools": _plain(await mcp.list_tools()),
            "prompts": _plain(await mcp.list_prompts()),
            "resources": _plain(await mcp.list_resources()),
            "resourceTemplates": _plain(await mcp.list_resource_templates()),
        }
    tools = await mcp.get_tools()
    prompts = await mcp.get_prompts()
    resources = await mcp.get_resources()
    templates = await mcp.get_resource_templates()
    return {
        "tools": _plain([tool.to_mcp_tool(name=key) for key, tool in tools.items()]),
        "prompts": _plain([prompt.to_mcp_prompt(name=key) for key, prompt in prompts.items()]),
        "resources": _plain([res.to_mcp_resource(uri=key) for key, res in resources.items()]),
        "resourceTemplates": _plain(
            [tmpl.to_mcp_template(uriTemplate=key) for key, tmpl in templates.items()]
        ),
    }


async def format_mcp_info(mcp: Any) -> bytes:
    """What a client lists from `mcp`, as JSON in MCP's wire shapes (camelCase), with the
    `serverInfo` of `initialize` and an `environment` block (trimcp's and MCP's versions)."""
    server_info: dict[str, Any] = {"name": mcp.name}
    version = None if _is_fastmcp1(mcp) else getattr(mcp, "version", None)
    if version is not None:
        server_info["version"] = version
    website_url = getattr(mcp, "website_url", None)
    if website_url is not None:
        server_info["websiteUrl"] = website_url
    icons = _icons(getattr(mcp, "icons", None))
    if icons:
        server_info["icons"] = icons
    listings = await _wire_listings(mcp)
    return _dump(
        {
            "environment": {"fastmcp": _trimcp_version(), "mcp": _mcp_version()},
            "serverInfo": server_info,
            "capabilities": {},  # as FastMCP: the listings, not the handshake
            **listings,
        }
    )


async def format_info(
    mcp: Any,
    format: InspectFormat | Literal["fastmcp", "mcp"],
    info: FastMCPInfo | None = None,
) -> bytes:
    """`mcp` described in `format` (`ValueError` for another); `info`, if already gathered,
    is used for the `fastmcp` format."""
    chosen = InspectFormat(format)
    if chosen is InspectFormat.MCP:
        return await format_mcp_info(mcp)
    return format_fastmcp_info(info if info is not None else await inspect_fastmcp(mcp))
