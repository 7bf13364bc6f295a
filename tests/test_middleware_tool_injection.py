"""Tool injection (`trimcp.server.middleware.tool_injection`) on real servers, both eras and
both backends: injected tools are listed first and win over the server's own of the same
name; the prompt and resource tools answer in the protocol's shapes (the SDK's models, every
field, when `mcp.types` is loaded, as FastMCP's do)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Literal

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.exceptions import McpError
from trimcp.protocol.errors import ErrorData
from trimcp.server.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.server.middleware.tool_injection import (
    PromptToolMiddleware,
    ResourceToolMiddleware,
    ToolInjectionMiddleware,
)
from trimcp.tools import Tool

pytestmark = pytest.mark.anyio

WAIT = 10
Era = Literal["legacy", "modern"]


def _server(*middleware: Any) -> FastMCP:
    mcp = FastMCP("injected", middleware=list(middleware))

    @mcp.tool
    def shout(text: str) -> str:
        return text.upper()

    @mcp.prompt
    def hello(name: str) -> str:
        """Say hello."""
        return f"Hello {name}"

    @mcp.resource("data://text", mime_type="text/plain")
    def text() -> str:
        return "some text"

    @mcp.resource("data://blob", mime_type="application/octet-stream")
    def blob() -> bytes:
        return b"\x00\x01"

    return mcp


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_injected_tools_are_listed_first_and_win_over_the_servers(protocol: Era) -> None:
    def shout(text: str) -> str:
        return f"{text}!"

    def whisper(text: str) -> str:
        return text.lower()

    injected = [Tool.from_function(whisper), Tool.from_function(shout)]
    with anyio.fail_after(WAIT):
        async with Client(_server(ToolInjectionMiddleware(injected)), protocol=protocol) as client:
            names = [tool.name for tool in await client.list_tools()]
            assert (await client.call_tool("whisper", {"text": "HEY"})).data == "hey"
            assert (await client.call_tool("shout", {"text": "hey"})).data == "hey!"
    assert names[:2] == ["whisper", "shout"] and names.count("shout") == 2


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_prompt_tools_list_and_render_the_servers_prompts(protocol: Era) -> None:
    import mcp.types  # noqa: F401  # the tools answer with the SDK's models, as FastMCP's

    with anyio.fail_after(WAIT):
        async with Client(_server(PromptToolMiddleware()), protocol=protocol) as client:
            listed = await client.call_tool("list_prompts")
            rendered = await client.call_tool(
                "get_prompt", {"name": "hello", "arguments": {"name": "Ada"}}
            )
    prompts = json.loads(listed.content[0].text)
    assert [p["name"] for p in prompts] == ["hello"]
    assert prompts[0]["description"] == "Say hello." and prompts[0]["title"] is None
    assert prompts[0]["arguments"][0]["name"] == "name"
    assert rendered.structured_content is not None
    assert rendered.structured_content["messages"][0]["content"]["text"] == "Hello Ada"


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_resource_tools_list_and_read_the_servers_resources(protocol: Era) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_server(ResourceToolMiddleware()), protocol=protocol) as client:
            listed = await client.call_tool("list_resources")
            text = await client.call_tool("read_resource", {"uri": "data://text"})
            blob = await client.call_tool("read_resource", {"uri": "data://blob"})
    assert listed.structured_content is not None
    assert {r["uri"] for r in listed.structured_content["result"]} == {
        "data://text",
        "data://blob",
    }
    assert text.structured_content == {
        "result": [{"content": "some text", "mime_type": "text/plain"}]
    }
    assert blob.structured_content is not None
    assert blob.structured_content["result"][0]["mime_type"] == "application/octet-stream"


def test_without_mcp_types_the_tools_answer_in_trimcps_compact_shape() -> None:
    """Without the SDK loaded nothing imports it, and unset fields are left out."""
    code = """
import sys, anyio
from trimcp import Client, FastMCP
from trimcp.server.middleware.tool_injection import PromptToolMiddleware
mcp = FastMCP("p", middleware=[PromptToolMiddleware()])
@mcp.prompt
def hello(name: str) -> str:
    return name
async def main():
    async with Client(mcp) as client:
        print((await client.call_tool("list_prompts")).content[0].text)
anyio.run(main)
assert "mcp.types" not in sys.modules
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    prompts = json.loads(out.stdout)
    assert prompts[0]["name"] == "hello" and "title" not in prompts[0]


class _DenyInternal(Middleware):
    """An access-control middleware: hides what is tagged `internal`, refuses `secret://`
    and the prompt `admin_prompt`."""

    async def on_list_resources(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return [r for r in await call_next(context) if "internal" not in r.tags]

    async def on_list_prompts(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return [p for p in await call_next(context) if "internal" not in p.tags]

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if str(context.message.uri).startswith("secret://"):
            raise McpError(ErrorData(-32002, "forbidden"))
        return await call_next(context)

    async def on_get_prompt(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if context.message.name == "admin_prompt":
            raise McpError(ErrorData(-32002, "forbidden"))
        return await call_next(context)


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_the_injected_tools_cannot_reach_what_the_middleware_refuses_or_hides(
    protocol: Era,
) -> None:
    """The tools read, render and list through the server's middleware (their `Context`
    methods do, as FastMCP's): a secret refused to `resources/read` is refused to the
    `read_resource` tool too, and what the listings hide the listing tools hide."""
    mcp = _server(ResourceToolMiddleware(), PromptToolMiddleware(), _DenyInternal())

    @mcp.resource("secret://db", tags={"internal"})
    def secret() -> str:
        return "DB_PASSWORD=hunter2"

    @mcp.prompt(tags={"internal"})
    def admin_prompt() -> str:
        return "admin-only instructions"

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            with pytest.raises(McpError, match="forbidden"):
                await client.read_resource("secret://db")
            with pytest.raises(McpError, match="forbidden"):
                await client.call_tool("read_resource", {"uri": "secret://db"})
            with pytest.raises(McpError, match="forbidden"):
                await client.call_tool("get_prompt", {"name": "admin_prompt"})
            resources = (await client.call_tool("list_resources")).content[0].text
            prompts = (await client.call_tool("list_prompts")).content[0].text
            text = await client.call_tool("read_resource", {"uri": "data://text"})
    assert "secret://db" not in resources and "data://text" in resources
    assert "admin_prompt" not in prompts and "hello" in prompts
    assert text.structured_content == {
        "result": [{"content": "some text", "mime_type": "text/plain"}]
    }
