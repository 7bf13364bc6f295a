"""Prompts as FastMCP 2.13 code uses them (issue 16): subclasses written for FastMCP
(`render(self, arguments)` returning a list of messages) answer `prompts/get` through
`render_result`, FastMCP's wording for bad arguments and for `render` not implemented."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from trimcp.exceptions import PromptError
from trimcp.prompts import Message, Prompt, PromptManager, PromptMessage
from trimcp.prompts.prompt import PromptArgument
from trimcp.server.context import Context
from trimcp.types import GetPromptResult, TextContent

pytestmark = pytest.mark.anyio


class Echo(Prompt):
    """A prompt written as FastMCP's subclasses are: no `context`, a list of messages."""

    async def render(self, arguments: dict[str, Any] | None = None) -> list[PromptMessage]:  # type: ignore[override]
        text = (arguments or {}).get("text", "")
        return [Message(f"echo {text}"), Message("done", role="assistant")]


class WithContext(Prompt):
    async def render(  # type: ignore[override]
        self, arguments: dict[str, Any] | None = None, context: Context | None = None
    ) -> list[Any]:
        return [f"context given: {context is not None}"]


async def test_render_result_of_a_fastmcp_style_subclass() -> None:
    prompt = Echo(name="echo", description="Echoes.", arguments=[PromptArgument(name="text")])
    with anyio.fail_after(5):
        result = await prompt.render_result({"text": "hi"})
    assert result == GetPromptResult(
        messages=[
            PromptMessage(role="user", content=TextContent(text="echo hi")),
            PromptMessage(role="assistant", content=TextContent(text="done")),
        ],
        description="Echoes.",
    )


async def test_render_result_passes_the_context_to_a_render_that_takes_it() -> None:
    context = Context(fastmcp=None)  # type: ignore[arg-type]
    with anyio.fail_after(5):
        result = await WithContext(name="c").render_result({}, context)
    assert [m.content for m in result.messages] == [TextContent(text="context given: True")]


async def test_render_result_of_a_function_prompt_carries_its_description() -> None:
    def greet(name: str) -> str:
        """Greets."""
        return f"Hello {name}"

    with anyio.fail_after(5):
        result = await Prompt.from_function(greet).render_result({"name": "Ada"})
    assert result.description == "Greets."
    assert result.messages == [PromptMessage(role="user", content=TextContent(text="Hello Ada"))]


async def test_manager_renders_a_fastmcp_style_subclass() -> None:
    manager = PromptManager()
    manager.add_prompt(Echo(name="echo"))
    with anyio.fail_after(5):
        result = await manager.render_prompt("echo", {"text": "x"})
    assert isinstance(result, GetPromptResult)
    assert result.messages[0].content == TextContent(text="echo x")


async def test_a_subclass_result_that_is_not_messages_is_a_prompt_error() -> None:
    class Bad(Prompt):
        async def render(self, arguments: Any = None) -> Any:  # type: ignore[override]
            return [{"role": "system", "content": "x"}]

    with anyio.fail_after(5), pytest.raises(PromptError, match="bad"):
        await Bad(name="bad").render_result()


async def test_base_prompt_says_subclasses_must_implement_render() -> None:
    with anyio.fail_after(5), pytest.raises(NotImplementedError, match="Subclasses must"):
        await Prompt(name="bare").render()


async def test_bad_arguments_use_fastmcp_wording() -> None:
    def typed_prompt(numbers: list[int]) -> str:
        return str(sum(numbers))

    prompt = Prompt.from_function(typed_prompt)
    with (
        anyio.fail_after(5),
        pytest.raises(PromptError, match="Error rendering prompt typed_prompt"),
    ):
        await prompt.render({"numbers": "not valid json"})


async def test_a_message_built_with_sdk_content_reaches_the_client() -> None:
    """FastMCP code builds `PromptMessage(content=mcp.types.EmbeddedResource(...))`."""
    import mcp.types

    from trimcp import Client, FastMCP
    from trimcp.types import EmbeddedResource

    server = FastMCP("p")

    @server.prompt
    def with_file() -> PromptMessage:
        resource = mcp.types.TextResourceContents(
            uri="file://file.txt", text="File contents", mimeType="text/plain"
        )
        return PromptMessage(
            role="user", content=mcp.types.EmbeddedResource(type="resource", resource=resource)
        )

    with anyio.fail_after(10):
        async with Client(server) as client:
            result = await client.get_prompt("with_file")
    content = result.messages[0].content
    assert isinstance(content, EmbeddedResource)
    assert (content.resource.text, content.resource.mimeType) == ("File contents", "text/plain")  # type: ignore[union-attr]


async def test_a_function_prompt_built_directly_inspects_its_function() -> None:
    from trimcp.prompts.prompt import FunctionPrompt, SyncPromptResult

    def double(n: int) -> SyncPromptResult:
        return str(n * 2)

    prompt = FunctionPrompt(name="double", fn=double, arguments=[PromptArgument(name="n")])
    with anyio.fail_after(5):
        result = await prompt.render_result({"n": "21"})
    assert result.messages[0].content == TextContent(text="42")


def _parent_of_kid() -> Any:
    """A server with a disabled prompt `h`, mounting one with a prompt `c` under `kid`."""
    from trimcp import FastMCP

    child = FastMCP("child")
    child.add_prompt(Prompt.from_function(lambda: "c", name="c"))
    parent = FastMCP("parent")
    parent.mount(child, prefix="kid")
    parent.add_prompt(Prompt.from_function(lambda: "h", name="h", enabled=False))
    return parent


async def test_visible_prompts_are_what_clients_see() -> None:
    parent = _parent_of_kid()
    with anyio.fail_after(5):
        assert set(await parent.prompt_manager.visible_prompts()) == {"kid_c"}


async def test_visible_prompt_is_the_prompt_clients_get() -> None:
    from trimcp.exceptions import NotFoundError

    parent = _parent_of_kid()
    with anyio.fail_after(5):
        assert (await parent.prompt_manager.visible_prompt("kid_c")).key == "kid_c"
        with pytest.raises(NotFoundError, match="Unknown prompt: h"):
            await parent.prompt_manager.visible_prompt("h")


async def test_render_returns_the_messages_as_fastmcp_does() -> None:
    def greet(name: str) -> list[str]:
        return [f"Hello {name}", "Bye"]

    with anyio.fail_after(5):
        messages = await Prompt.from_function(greet).render({"name": "Ada"})
    assert messages == [
        PromptMessage(role="user", content=TextContent(text="Hello Ada")),
        PromptMessage(role="user", content=TextContent(text="Bye")),
    ]


async def test_missing_arguments_are_a_prompt_error_and_a_value_error() -> None:
    from trimcp.exceptions import MissingArgumentsError

    def greet(name: str, age: int = 30) -> str:
        return name

    prompt = Prompt.from_function(greet)
    with anyio.fail_after(5), pytest.raises(ValueError, match="Missing required arguments"):
        await prompt.render({"age": "40"})
    with anyio.fail_after(5), pytest.raises(PromptError) as caught:
        await prompt.render_result({})
    assert isinstance(caught.value, MissingArgumentsError)
