"""Prompts: arguments from signatures, string arguments converted, results shaped as messages."""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any

import anyio
import mcp.types
import pytest
from pydantic import BaseModel, Field

from trimcp.exceptions import PromptError
from trimcp.prompts import Message, Prompt, PromptMessage
from trimcp.prompts.prompt import FunctionPrompt, PromptArgument, PromptResult
from trimcp.server.context import Context
from trimcp.types import EmbeddedResource, GetPromptResult, ImageContent, TextContent
from trimcp.types import Prompt as MCPPrompt


async def render(prompt: Prompt, arguments: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """What `prompts/get` answers (`render_result`; `render` itself returns the messages)."""
    with anyio.fail_after(5):
        return await prompt.render_result(arguments, **kwargs)


def texts(result: GetPromptResult) -> list[tuple[str, str]]:
    return [(m.role, m.content.text) for m in result.messages]  # type: ignore[union-attr]


class Filter(BaseModel):
    field: str
    value: int


# --- registration -------------------------------------------------------------------------


def test_arguments_come_from_the_signature() -> None:
    def ask(
        topic: Annotated[str, Field(description="What to ask about")],
        ctx: Context,
        tone: str = "neutral",
    ) -> str:
        """Ask about a topic."""
        return topic

    prompt = Prompt.from_function(ask, tags={"x"})
    assert isinstance(prompt, FunctionPrompt)
    assert (prompt.name, prompt.description, prompt.tags) == ("ask", "Ask about a topic.", {"x"})
    assert prompt.arguments == [
        PromptArgument(name="topic", description="What to ask about", required=True),
        PromptArgument(name="tone", description=None, required=False),
    ]


def test_argument_descriptions_from_the_docstring() -> None:
    def review(code: str, language: str = "python") -> str:
        """Review some code.

        Args:
            code: The code to review,
                possibly long.
            language (str): Its language.

        Returns:
            A request.
        """
        return code

    prompt = Prompt.from_function(review)
    described = {a.name: a.description for a in prompt.arguments}
    assert described == {"code": "The code to review, possibly long.", "language": "Its language."}


def test_non_string_arguments_get_a_json_hint() -> None:
    def analyze(name: str, numbers: list[int], meta: dict[str, str], threshold: float) -> str:
        return name

    args = {a.name: a.description for a in Prompt.from_function(analyze).arguments}
    hint = "Provide as a JSON string matching the following schema: "
    assert args["name"] is None
    assert args["numbers"] == hint + '{"items":{"type":"integer"},"type":"array"}'
    assert args["meta"] == hint + '{"additionalProperties":{"type":"string"},"type":"object"}'
    assert args["threshold"] == hint + '{"type":"number"}'


def test_hint_follows_an_existing_description() -> None:
    def fn(n: Annotated[int, Field(description="How many")]) -> str:
        return str(n)

    [arg] = Prompt.from_function(fn).arguments
    assert arg.description is not None
    assert arg.description.startswith("How many\n\nProvide as a JSON string")


def test_options_override_the_function() -> None:
    prompt = Prompt.from_function(
        lambda: "x",
        name="named",
        title="Title",
        description="desc",
        meta={"m": 1},
        enabled=False,
        icons=[{"src": "https://example.com/i.png"}],
    )
    assert (prompt.name, prompt.title, prompt.description) == ("named", "Title", "desc")
    assert (prompt.meta, prompt.enabled) == ({"m": 1}, False)
    assert prompt.icons is not None and prompt.icons[0].src == "https://example.com/i.png"


@pytest.mark.parametrize("kind", ["args", "kwargs", "lambda"])
def test_unsupported_functions_are_rejected(kind: str) -> None:
    def star(*args: str) -> str:
        return ""

    def starstar(**kwargs: str) -> str:
        return ""

    fn = {"args": star, "kwargs": starstar, "lambda": lambda: ""}[kind]
    with pytest.raises(ValueError):
        Prompt.from_function(fn)


def test_key_defaults_to_name_and_is_settable() -> None:
    prompt = Prompt.from_function(lambda: "x", name="p")
    assert prompt.key == "p"
    prompt.key = "child_p"
    assert (prompt.key, prompt.name) == ("child_p", "p")
    copy = prompt.model_copy(key="other", update={"name": "q"})
    assert (copy.key, copy.name, prompt.name) == ("other", "q", "p")


def test_to_mcp_prompt() -> None:
    def greet(name: str) -> str:
        """Greet someone."""
        return name

    prompt = Prompt.from_function(greet, title="Greeter", tags={"g"})
    mcp_prompt = prompt.to_mcp_prompt()
    assert isinstance(mcp_prompt, MCPPrompt)
    assert (mcp_prompt.name, mcp_prompt.title, mcp_prompt.description) == (
        "greet",
        "Greeter",
        "Greet someone.",
    )
    assert mcp_prompt.arguments == [PromptArgument(name="name", required=True)]
    assert mcp_prompt.meta == {"_fastmcp": {"tags": ["g"]}}
    assert prompt.to_mcp_prompt(include_fastmcp_meta=False).meta is None
    assert prompt.to_mcp_prompt(name="renamed").name == "renamed"


# --- rendering: results -------------------------------------------------------------------


@pytest.mark.anyio
async def test_string_result_is_one_user_message() -> None:
    def greet(name: str) -> str:
        """Greeting."""
        return f"Hello {name}"

    result = await render(Prompt.from_function(greet), {"name": "Ada"})
    assert isinstance(result, GetPromptResult)
    assert result.description == "Greeting."
    assert result.messages == [PromptMessage(role="user", content=TextContent(text="Hello Ada"))]


@pytest.mark.anyio
async def test_mixed_list_of_messages() -> None:
    image = ImageContent(data="aGk=", mimeType="image/png")

    async def chat() -> PromptResult:
        return [
            "plain",
            Message("from assistant", role="assistant"),
            PromptMessage(role="user", content=TextContent(text="struct")),
            mcp.types.PromptMessage(
                role="assistant", content=mcp.types.TextContent(type="text", text="sdk")
            ),
            {"role": "user", "content": {"type": "text", "text": "dict"}},
            {"role": "assistant", "content": "dict str"},
            Message(image),
        ]

    result = await render(Prompt.from_function(chat))
    assert texts(GetPromptResult(messages=result.messages[:-1])) == [
        ("user", "plain"),
        ("assistant", "from assistant"),
        ("user", "struct"),
        ("assistant", "sdk"),
        ("user", "dict"),
        ("assistant", "dict str"),
    ]
    assert result.messages[-1] == PromptMessage(role="user", content=image)


@pytest.mark.anyio
async def test_tuple_and_sdk_content_blocks() -> None:
    def fn() -> tuple[Any, ...]:
        sdk_resource = mcp.types.EmbeddedResource(
            type="resource",
            resource=mcp.types.TextResourceContents(
                uri="data://x", text="t", mimeType="text/plain"
            ),
        )
        return (Message(sdk_resource), "second")

    result = await render(Prompt.from_function(fn))
    first, second = result.messages
    assert isinstance(first.content, EmbeddedResource)
    assert first.content.resource.text == "t"  # type: ignore[union-attr]
    assert second.content == TextContent(text="second")


@pytest.mark.anyio
async def test_other_values_become_json_text() -> None:
    result = await render(Prompt.from_function(lambda: {"a": 1}, name="j"))
    [message] = result.messages
    assert message.role == "user"
    assert json.loads(message.content.text) == {"a": 1}  # type: ignore[union-attr]


def test_message_helper_rejects_unknown_roles() -> None:
    assert Message("x").role == "user"
    with pytest.raises(ValueError, match="role"):
        Message("x", role="system")


@pytest.mark.anyio
async def test_unconvertible_result_is_a_prompt_error() -> None:
    def bad() -> Any:
        return [{"role": "system", "content": "no such role"}]

    with pytest.raises(PromptError, match="bad"):
        await render(Prompt.from_function(bad))

    def bad_content() -> Any:
        return {"role": "user", "content": object()}

    with pytest.raises(PromptError, match="convert"):
        await render(Prompt.from_function(bad_content))


@pytest.mark.anyio
async def test_exceptions_of_the_function_propagate() -> None:
    def boom() -> str:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await render(Prompt.from_function(boom))


# --- rendering: arguments -----------------------------------------------------------------


@pytest.mark.anyio
async def test_missing_required_arguments_are_named() -> None:
    def fn(a: str, b: str, c: str = "") -> str:
        return a + b + c

    with pytest.raises(PromptError, match=r"Missing required arguments.*: a, b"):
        await render(Prompt.from_function(fn), {"c": "x"})


@pytest.mark.anyio
async def test_json_string_arguments_are_converted() -> None:
    seen: dict[str, Any] = {}

    def fn(
        numbers: list[int],
        count: int,
        ratio: float,
        flag: bool,
        meta: dict[str, str],
        where: Filter,
        text: str,
        maybe: str | None = None,
    ) -> str:
        seen.update(
            numbers=numbers, count=count, ratio=ratio, flag=flag, meta=meta, where=where, text=text
        )
        seen["maybe"] = maybe
        return "ok"

    await render(
        Prompt.from_function(fn),
        {
            "numbers": "[1, 2, 3]",
            "count": "5",
            "ratio": "0.5",
            "flag": "true",
            "meta": '{"k": "v"}',
            "where": '{"field": "age", "value": 3}',
            "text": "[not json for a str]",
            "maybe": "null",
        },
    )
    assert seen == {
        "numbers": [1, 2, 3],
        "count": 5,
        "ratio": 0.5,
        "flag": True,
        "meta": {"k": "v"},
        "where": Filter(field="age", value=3),
        "text": "[not json for a str]",
        "maybe": "null",
    }


@pytest.mark.anyio
async def test_already_typed_arguments_are_accepted() -> None:
    def fn(numbers: list[int]) -> str:
        return str(sum(numbers))

    result = await render(Prompt.from_function(fn), {"numbers": [1, 2]})
    assert texts(result) == [("user", "3")]


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["abc", "[1, 2]", '{"a": 1}'])
async def test_invalid_arguments_are_a_prompt_error(value: str) -> None:
    def fn(count: int) -> str:
        return str(count)

    with pytest.raises(PromptError, match="fn"):
        await render(Prompt.from_function(fn), {"count": value})


@pytest.mark.anyio
async def test_context_is_injected_and_not_an_argument() -> None:
    seen: list[Any] = []

    async def fn(topic: str, context: Context) -> str:
        seen.append(context)
        return topic

    prompt = Prompt.from_function(fn)
    assert [a.name for a in prompt.arguments] == ["topic"]
    context = Context(fastmcp=None)  # type: ignore[arg-type]
    await render(prompt, {"topic": "t"}, context=context)
    assert seen == [context]


@pytest.mark.anyio
async def test_sync_prompt_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()
    result = await render(Prompt.from_function(lambda: str(threading.get_ident()), name="w"))
    assert texts(result) != [("user", str(loop_thread))]


@pytest.mark.anyio
async def test_subclass_renders_its_own_result() -> None:
    class Fixed(Prompt):
        async def render(
            self, arguments: Any = None, context: Context | None = None
        ) -> GetPromptResult:
            self.check_required(arguments or {})
            return GetPromptResult(messages=[Message("fixed")], description=self.description)

    prompt = Fixed(name="fixed", arguments=[PromptArgument(name="x", required=True)])
    with pytest.raises(PromptError, match="x"):
        await render(prompt, {})
    assert texts(await render(prompt, {"x": "1"})) == [("user", "fixed")]
