"""FastMCP 2.13's `fastmcp.utilities.inspect` on trimcp (issue 16): a server described from
its public API, as clients are offered it, in the FastMCP and MCP formats."""

from __future__ import annotations

import importlib.metadata
import json

import anyio
import pytest

from trimcp import FastMCP, __version__
from trimcp.protocol.versions import SUPPORTED_VERSIONS
from trimcp.types import Icon
from trimcp.utilities.inspect import (
    FastMCPInfo,
    InspectFormat,
    format_fastmcp_info,
    format_info,
    format_mcp_info,
    inspect_fastmcp,
)

pytestmark = pytest.mark.anyio


def _server() -> FastMCP:
    server = FastMCP(
        "Demo",
        instructions="Be kind.",
        version="1.2.3",
        website_url="https://example.com",
        icons=[Icon(src="https://example.com/s.png", mimeType="image/png")],
        exclude_tags={"secret"},
    )

    @server.tool(tags={"math", "b"}, icons=[Icon(src="https://example.com/t.png")])
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool(tags={"secret"})
    def hidden() -> str:
        return "no"

    @server.resource("data://config", mime_type="application/json")
    def config() -> str:
        return "{}"

    @server.resource("data://items/{item_id}")
    def item(item_id: str) -> str:
        return item_id

    @server.prompt
    def ask(topic: str) -> str:
        return topic

    child = FastMCP("Child")

    @child.tool
    def ping() -> str:
        return "pong"

    server.mount(child, prefix="child")
    return server


async def test_inspect_describes_what_clients_are_offered() -> None:
    server = _server()
    server.disable(names={"ask"})
    with anyio.fail_after(10):
        info = await inspect_fastmcp(server)
    assert isinstance(info, FastMCPInfo)
    assert (info.name, info.instructions, info.version) == ("Demo", "Be kind.", "1.2.3")
    assert info.website_url == "https://example.com"
    assert info.icons == [{"src": "https://example.com/s.png", "mimeType": "image/png"}]
    assert (info.fastmcp_version, info.server_generation) == (__version__, 2)
    assert info.mcp_version == importlib.metadata.version("mcp")  # mcp is a test extra
    assert {"tools", "resources", "prompts", "logging"} <= info.capabilities.keys()
    # the tag filter hides `hidden`; the mounted tool has its prefixed key; `ask` is disabled
    assert sorted(tool.key for tool in info.tools) == ["add", "child_ping"]
    add = next(tool for tool in info.tools if tool.key == "add")
    assert add.tags == ["b", "math"]
    assert add.enabled is True
    assert add.description == "Add two numbers."
    assert add.input_schema["required"] == ["a", "b"]
    assert add.output_schema is not None
    assert add.icons == [{"src": "https://example.com/t.png"}]
    assert [(r.uri, r.mime_type) for r in info.resources] == [("data://config", "application/json")]
    assert [t.uri_template for t in info.templates] == ["data://items/{item_id}"]
    assert info.templates[0].parameters is not None
    assert info.prompts == []


async def test_fastmcp_format_has_server_environment_and_components() -> None:
    with anyio.fail_after(10):
        info = await inspect_fastmcp(_server())
    data = json.loads(format_fastmcp_info(info))
    assert list(data) == ["server", "environment", "tools", "prompts", "resources", "templates"]
    assert data["server"]["generation"] == 2
    assert data["server"]["website_url"] == "https://example.com"
    assert data["environment"]["fastmcp"] == __version__
    add = next(tool for tool in data["tools"] if tool["key"] == "add")
    assert add["tags"] == ["b", "math"] and add["enabled"] is True
    assert data["prompts"][0]["arguments"] == [{"name": "topic", "required": True}]


async def test_mcp_format_is_the_wire_listing() -> None:
    with anyio.fail_after(10):
        data = json.loads(await format_mcp_info(_server()))
    assert data["serverInfo"] == {
        "name": "Demo",
        "version": "1.2.3",
        "websiteUrl": "https://example.com",
        "icons": [{"src": "https://example.com/s.png", "mimeType": "image/png"}],
    }
    assert data["environment"]["fastmcp"] == __version__
    assert sorted(tool["name"] for tool in data["tools"]) == ["add", "child_ping"]
    add = next(tool for tool in data["tools"] if tool["name"] == "add")
    assert "inputSchema" in add and "tags" not in add
    assert add["_meta"]["_fastmcp"]["tags"] == ["b", "math"]
    assert [r["uri"] for r in data["resources"]] == ["data://config"]
    assert [t["uriTemplate"] for t in data["resourceTemplates"]] == ["data://items/{item_id}"]
    assert [p["name"] for p in data["prompts"]] == ["ask"]


async def test_mcp_version_without_mcp_is_the_newest_protocol_revision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with anyio.fail_after(10):
        info = await inspect_fastmcp(FastMCP("bare"))
    assert info.mcp_version == SUPPORTED_VERSIONS[-1]
    assert (info.tools, info.resources, info.templates, info.prompts) == ([], [], [], [])


async def test_format_info_picks_the_format_and_refuses_others() -> None:
    server = _server()
    with anyio.fail_after(10):
        assert "server" in json.loads(await format_info(server, "fastmcp"))
        assert "serverInfo" in json.loads(await format_info(server, InspectFormat.MCP))
        info = await inspect_fastmcp(server)
        info.name = "given"
        reused = json.loads(await format_info(server, InspectFormat.FASTMCP, info))
        assert reused["server"]["name"] == "given"
        with pytest.raises(ValueError, match="not a valid InspectFormat"):
            await format_info(server, "yaml")  # type: ignore[arg-type]
