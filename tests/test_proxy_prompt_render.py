"""A proxied prompt: `render()` gives the backend's messages (FastMCP's `ProxyPrompt.render`),
and `prompts/get` through the proxy answers the backend's whole result (its description and
`_meta`, not the proxy's copy of the listing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.prompts import Prompt
from trimcp.server.proxy import ProxyPrompt
from trimcp.types import GetPromptResult, PromptMessage, TextContent

pytestmark = pytest.mark.anyio


class Rendered(Prompt):
    """A backend prompt whose answer says more than its listing."""

    async def render(
        self, arguments: Mapping[str, Any] | None = None, context: Any = None
    ) -> list[PromptMessage]:
        return (await self.render_result(arguments, context)).messages

    async def render_result(
        self, arguments: Mapping[str, Any] | None = None, context: Any = None
    ) -> GetPromptResult:
        name = (arguments or {}).get("name", "?")
        message = PromptMessage(role="user", content=TextContent(type="text", text=f"Hi {name}"))
        return GetPromptResult(
            messages=[message], description=f"rendered for {name}", meta={"turn": 7}
        )


def backend() -> FastMCP:
    server = FastMCP("backend")
    server.add_prompt(Rendered(name="hi", description="as listed"))
    return server


async def test_render_gives_the_backends_messages() -> None:
    proxy = FastMCP.as_proxy(backend())
    with anyio.fail_after(10):
        prompt = await proxy.get_prompt("hi")
        assert isinstance(prompt, ProxyPrompt)
        messages = await prompt.render({"name": "Ann"})
        result = await prompt.render_result({"name": "Ann"})
    assert isinstance(messages, list)
    assert [(m.role, m.content.text) for m in messages] == [("user", "Hi Ann")]  # type: ignore[union-attr]
    assert result.description == "rendered for Ann"
    assert result.meta == {"turn": 7}


async def test_prompts_get_through_a_proxy_keeps_the_backends_result() -> None:
    proxy = FastMCP.as_proxy(backend())
    with anyio.fail_after(10):
        async with Client(proxy) as client:
            result = await client.get_prompt("hi", {"name": "Bo"})
    assert result.messages[0].content.text == "Hi Bo"  # type: ignore[union-attr]
    assert result.description == "rendered for Bo"  # the backend's answer, not the listing's
    assert result.meta == {"turn": 7}
