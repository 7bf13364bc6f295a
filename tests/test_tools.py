"""`Tool`/`FunctionTool`/`ToolResult`: definitions, output schemas, structured content and
the conversion of return values into content blocks (FastMCP 2.13 semantics)."""

from __future__ import annotations

import dataclasses
import threading
from typing import Annotated, Any, Optional

import anyio
import msgspec
import pydantic
import pytest
from pydantic import Field
from typing_extensions import TypedDict

from trimcp.exceptions import InvalidSignature, ValidationError
from trimcp.server.context import Context
from trimcp.tools import FunctionTool, Tool
from trimcp.tools.tool import ToolResult, output_schema_for
from trimcp.types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    Icon,
    ImageContent,
    ResourceLink,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)
from trimcp.types import Tool as MCPTool
from trimcp.utilities.types import Audio, File, Image, convert_to_content, default_serializer

CTX = Context(fastmcp=None)  # type: ignore[arg-type]
WRAP = "x-fastmcp-wrap-result"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Movie(TypedDict):
    title: str
    year: int


class User(pydantic.BaseModel):
    name: str
    age: int = 0


class Node(pydantic.BaseModel):
    value: int
    children: list[Node] = []


class Struct(msgspec.Struct):
    a: int


class TextContentModel(pydantic.BaseModel):
    """Shaped like `mcp.types.TextContent` (renamed below to be recognised by name)."""

    type: str = "text"
    text: str
    meta: dict[str, Any] | None = Field(default=None, alias="_meta")


TextContentModel.__name__ = "TextContent"


async def run(tool: Tool, arguments: dict[str, Any] | None = None, **kw: Any) -> ToolResult:
    with anyio.fail_after(5):
        return await tool.run(arguments or {}, **kw)


# --- definitions -----------------------------------------------------------------------


def test_from_function_collects_the_definition() -> None:
    def greet(name: Annotated[str, Field(description="who")], excited: bool = False) -> str:
        """Greet someone."""
        return name

    tool = Tool.from_function(
        greet,
        title="Greeter",
        tags={"a", "b"},
        annotations={"readOnlyHint": True},
        meta={"k": 1},
        icons=[{"src": "https://x/icon.png"}],
    )
    assert isinstance(tool, FunctionTool)
    assert (tool.name, tool.key, tool.title, tool.description) == (
        "greet",
        "greet",
        "Greeter",
        "Greet someone.",
    )
    assert tool.fn is greet and tool.enabled and tool.tags == {"a", "b"}
    assert tool.annotations == ToolAnnotations(readOnlyHint=True)
    assert tool.icons == [Icon(src="https://x/icon.png")]
    assert tool.parameters == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "who"},
            "excited": {"type": "boolean", "default": False},
        },
        "required": ["name"],
    }
    mcp = tool.to_mcp_tool()
    assert mcp == MCPTool(
        name="greet",
        title="Greeter",
        description="Greet someone.",
        inputSchema=tool.parameters,
        outputSchema={
            "type": "object",
            "properties": {"result": {"type": "string"}},
            "required": ["result"],
            WRAP: True,
        },
        annotations=ToolAnnotations(readOnlyHint=True),
        icons=[Icon(src="https://x/icon.png")],
        meta={"k": 1, "_fastmcp": {"tags": ["a", "b"]}},
    )
    assert tool.to_mcp_tool() is mcp  # cached
    assert tool.to_mcp_tool(include_fastmcp_meta=False).meta == {"k": 1}


def test_overrides_and_title_from_annotations() -> None:
    def f() -> None: ...

    tool = Tool.from_function(
        f, name="renamed", description="d", annotations=ToolAnnotations(title="From ann")
    )
    assert tool.to_mcp_tool().title == "From ann"
    mcp = tool.to_mcp_tool(name="other", _meta={"x": 1})
    assert (mcp.name, mcp.meta, mcp.description) == ("other", {"x": 1}, "d")
    with pytest.raises(TypeError, match="bogus"):
        tool.to_mcp_tool(bogus=1)


def test_pydantic_annotations_are_accepted() -> None:
    mcp_types = pytest.importorskip("mcp.types")

    def f() -> None: ...

    tool = Tool.from_function(f, annotations=mcp_types.ToolAnnotations(destructiveHint=False))
    assert tool.annotations == ToolAnnotations(destructiveHint=False)


def test_lambda_needs_a_name() -> None:
    with pytest.raises(InvalidSignature, match="lambda"):
        Tool.from_function(lambda: 1)
    assert Tool.from_function(lambda: 1, name="one").name == "one"


def test_bad_signatures_are_rejected() -> None:
    def f(*args: int) -> None: ...

    with pytest.raises(InvalidSignature):
        Tool.from_function(f)


def test_model_copy_renames_and_invalidates_the_cache() -> None:
    def f(a: int) -> int:
        return a

    tool = Tool.from_function(f, tags={"t"})
    before = tool.to_mcp_tool()
    copy = tool.model_copy(update={"name": "prefix_f"}, key="prefix_f")
    assert (copy.name, copy.key, tool.name, tool.key) == ("prefix_f", "prefix_f", "f", "f")
    assert copy.to_mcp_tool().name == "prefix_f"
    assert tool.to_mcp_tool() is before
    copy.tags.add("u")
    assert tool.tags == {"t"}
    tool.key = "mounted_f"
    assert (tool.key, tool.name) == ("mounted_f", "f")
    tool.description = "changed"
    assert tool.to_mcp_tool().description == "changed"
    tool.disable()
    assert not tool.enabled
    assert tool.copy(title="T").title == "T"


@pytest.mark.anyio
async def test_copied_tool_still_runs() -> None:
    def f(a: int) -> int:
        return a + 1

    copy = Tool.from_function(f).model_copy(update={"name": "g"}, deep=True)
    assert (await run(copy, {"a": 1})).structured_content == {"result": 2}


def test_exclude_args_hides_parameters() -> None:
    def f(a: int, secret: str = "x") -> None: ...

    assert list(Tool.from_function(f, exclude_args=["secret"]).parameters["properties"]) == ["a"]


# --- output schemas --------------------------------------------------------------------


def wrapped(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"result": schema}, "required": ["result"], WRAP: True}


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (int, wrapped({"type": "integer"})),
        (str, wrapped({"type": "string"})),
        (list[int], wrapped({"type": "array", "items": {"type": "integer"}})),
        (Optional[int], wrapped({"anyOf": [{"type": "integer"}, {"type": "null"}]})),  # noqa: UP045
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (
            Point,
            {
                "type": "object",
                "properties": {"x": {"type": "integer"}, "y": {"type": "integer", "default": 0}},
                "required": ["x"],
            },
        ),
        (
            Movie,
            {
                "type": "object",
                "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["title", "year"],
            },
        ),
        (
            User,
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "age": {"type": "integer", "default": 0},
                },
                "required": ["name"],
            },
        ),
    ],
)
def test_output_schema_from_return_annotation(annotation: Any, expected: dict[str, Any]) -> None:
    assert output_schema_for(annotation) == expected


def test_self_referencing_model_is_an_object_schema() -> None:
    schema = output_schema_for(Node)
    assert schema is not None and schema["$ref"] == "#/$defs/Node" and WRAP not in schema
    listed = output_schema_for(list[Node])
    assert listed is not None and listed[WRAP] and "Node" in listed["$defs"]


@pytest.mark.parametrize(
    "annotation",
    [
        None,
        Any,
        Image,
        Audio,
        File,
        ToolResult,
        TextContent,
        ImageContent,
        EmbeddedResource,
        list[TextContent | ImageContent],
        Image | None,
        TextContentModel,
        "Unresolvable",
    ],
)
def test_no_output_schema_for(annotation: Any) -> None:
    assert output_schema_for(annotation) is None


def test_no_annotation_and_none_return_give_no_output_schema() -> None:
    def bare():  # type: ignore[no-untyped-def]
        return 1

    def none() -> None: ...

    assert Tool.from_function(bare).output_schema is None
    assert Tool.from_function(none).output_schema is None


def test_explicit_output_schema_overrides_or_disables() -> None:
    def f() -> int:
        return 1

    custom = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert Tool.from_function(f, output_schema=custom).output_schema == custom
    assert Tool.from_function(f, output_schema=None).output_schema is None
    with pytest.raises(InvalidSignature, match="object"):
        Tool.from_function(f, output_schema={"type": "integer"})


# --- running: structured content -------------------------------------------------------


@pytest.mark.anyio
async def test_scalar_result_is_wrapped() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    result = await run(Tool.from_function(add), {"a": 1, "b": "2"})
    assert result.content == [TextContent(text="3")]
    assert result.structured_content == {"result": 3}
    assert result.to_mcp_result() == CallToolResult(
        content=[TextContent(text="3")], structuredContent={"result": 3}
    )


@pytest.mark.anyio
async def test_object_results_are_structured_unwrapped() -> None:
    def point() -> Point:
        return Point(1, 2)

    def user() -> User:
        return User(name="a")

    def movie() -> Movie:
        return {"title": "t", "year": 1}

    assert (await run(Tool.from_function(point))).structured_content == {"x": 1, "y": 2}
    result = await run(Tool.from_function(user))
    assert result.structured_content == {"name": "a", "age": 0}
    assert result.content == [TextContent(text='{"name":"a","age":0}')]
    assert (await run(Tool.from_function(movie))).structured_content == {"title": "t", "year": 1}


@pytest.mark.anyio
async def test_optional_result_none_is_wrapped_with_no_content() -> None:
    def maybe() -> int | None:
        return None

    result = await run(Tool.from_function(maybe))
    assert (result.content, result.structured_content) == ([], {"result": None})


@pytest.mark.anyio
async def test_without_schema_only_object_results_are_structured() -> None:
    def as_dict():  # type: ignore[no-untyped-def]
        return {"k": [1, 2]}

    def as_model():  # type: ignore[no-untyped-def]
        return User(name="n")

    def as_struct():  # type: ignore[no-untyped-def]
        return Struct(a=1)

    def as_int():  # type: ignore[no-untyped-def]
        return 5

    def as_list():  # type: ignore[no-untyped-def]
        return [1, 2]

    assert (await run(Tool.from_function(as_dict))).structured_content == {"k": [1, 2]}
    assert (await run(Tool.from_function(as_model))).structured_content == {"name": "n", "age": 0}
    struct_result = await run(Tool.from_function(as_struct))
    assert struct_result.structured_content == {"a": 1}
    assert struct_result.content == [TextContent(text='{"a":1}')]
    scalar = await run(Tool.from_function(as_int))
    assert (scalar.content, scalar.structured_content) == ([TextContent(text="5")], None)
    listed = await run(Tool.from_function(as_list))
    assert (listed.content, listed.structured_content) == ([TextContent(text="[1,2]")], None)


@pytest.mark.anyio
async def test_output_schema_none_still_structures_dicts_like_fastmcp() -> None:
    def f() -> dict[str, int]:
        return {"a": 1}

    result = await run(Tool.from_function(f, output_schema=None))
    assert result.structured_content == {"a": 1}


@pytest.mark.anyio
async def test_returned_tool_result_passes_through() -> None:
    given = ToolResult(content="hi", structured_content={"x": 1}, meta={"m": True})

    def f() -> ToolResult:
        return given

    tool = Tool.from_function(f)
    assert tool.output_schema is None
    result = await run(tool)
    assert result is given
    assert result.to_mcp_result() == CallToolResult(
        content=[TextContent(text="hi")], structuredContent={"x": 1}, meta={"m": True}
    )


def test_tool_result_construction_rules() -> None:
    with pytest.raises(ValueError, match="Either"):
        ToolResult()
    only_structured = ToolResult(structured_content={"a": 1})
    assert only_structured.content == [TextContent(text='{"a":1}')]
    with pytest.raises(ValueError, match="dict"):
        ToolResult(content="x", structured_content=[1])
    assert ToolResult(content=[TextContent(text="a")]) == ToolResult(content="a")


# --- running: content conversion -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("text", [TextContent(text="text")]),
        (42, [TextContent(text="42")]),
        ({"a": 1}, [TextContent(text='{"a":1}')]),
        ([1, "two"], [TextContent(text='[1,"two"]')]),
        ((1, 2), [TextContent(text="[1,2]")]),
        (Point(1), [TextContent(text='{"x":1,"y":0}')]),
        (b"raw", [TextContent(text='"raw"')]),
        (b"\xff\x00", [TextContent(text='"/wA="')]),
        (TextContent(text="t"), [TextContent(text="t")]),
        (ResourceLink(uri="file:///a", name="a"), [ResourceLink(uri="file:///a", name="a")]),
        (
            [TextContent(text="a"), TextContent(text="b")],
            [TextContent(text="a"), TextContent(text="b")],
        ),
        (
            [TextContent(text="a"), "b", {"c": 1}],
            [TextContent(text="a"), TextContent(text="b"), TextContent(text='{"c":1}')],
        ),
        (TextContentModel(text="from sdk"), [TextContent(text="from sdk")]),
        ([TextContentModel(text="x"), 1], [TextContent(text="x"), TextContent(text="1")]),
    ],
)
def test_convert_to_content(value: Any, expected: list[Any]) -> None:
    assert convert_to_content(value) == expected


def test_media_helpers_become_content() -> None:
    image, audio, file = Image(data=b"i"), Audio(data=b"a"), File(data=b"f", format="txt")
    assert convert_to_content(image) == [ImageContent(data="aQ==", mimeType="image/png")]
    assert convert_to_content(audio) == [AudioContent(data="YQ==", mimeType="audio/wav")]
    [embedded] = convert_to_content(file)
    assert isinstance(embedded, EmbeddedResource)
    assert embedded.resource == TextResourceContents(
        uri="file:///resource.plain", text="f", mimeType="text/plain"
    )
    mixed = convert_to_content([image, "caption"])
    assert mixed == [ImageContent(data="aQ==", mimeType="image/png"), TextContent(text="caption")]
    [blob] = convert_to_content(File(data=b"\x00", format="zip"))
    assert isinstance(blob, EmbeddedResource) and isinstance(blob.resource, BlobResourceContents)


def test_sdk_content_models_are_converted() -> None:
    mcp_types = pytest.importorskip("mcp.types")
    blocks = convert_to_content(
        [
            mcp_types.TextContent(type="text", text="a", _meta={"m": 1}),
            mcp_types.ImageContent(type="image", data="aQ==", mimeType="image/png"),
            mcp_types.EmbeddedResource(
                type="resource",
                resource=mcp_types.BlobResourceContents(uri="file:///b", blob="AA=="),
            ),
        ]
    )
    assert blocks == [
        TextContent(text="a", meta={"m": 1}),
        ImageContent(data="aQ==", mimeType="image/png"),
        EmbeddedResource(resource=BlobResourceContents(uri="file:///b", blob="AA==")),
    ]


def test_user_model_with_a_type_field_is_not_content() -> None:
    class Event(pydantic.BaseModel):
        type: str = "text"
        text: str = "x"

    assert convert_to_content(Event()) == [TextContent(text='{"type":"text","text":"x"}')]


@pytest.mark.anyio
async def test_content_results_have_no_structured_content() -> None:
    def picture():  # type: ignore[no-untyped-def]
        return Image(data=b"png")

    def blocks():  # type: ignore[no-untyped-def]
        return [TextContent(text="a"), {"b": 1}]

    for fn in (picture, blocks):
        result = await run(Tool.from_function(fn))
        assert result.structured_content is None and result.content


@pytest.mark.anyio
async def test_custom_serializer_and_its_fallback() -> None:
    def f() -> dict[str, int]:
        return {"a": 1}

    def shout(value: Any) -> str:
        return f"<<{value}>>"

    def broken(value: Any) -> str:
        raise RuntimeError

    result = await run(Tool.from_function(f, serializer=shout))
    assert result.content == [TextContent(text="<<{'a': 1}>>")]
    assert result.structured_content == {"a": 1}
    assert (await run(Tool.from_function(f, serializer=broken))).content == [
        TextContent(text='{"a":1}')
    ]


def test_default_serializer_is_compact_and_never_fails() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    assert default_serializer({"a": [1, None]}) == '{"a":[1,null]}'
    assert default_serializer(Opaque()) == '"opaque"'
    assert default_serializer(Struct(a=1)) == '{"a":1}'


# --- running: arguments, context, threads, errors --------------------------------------


@pytest.mark.anyio
async def test_bad_arguments_raise_validation_error_naming_them() -> None:
    def f(x: int, y: str) -> None: ...

    with pytest.raises(ValidationError) as info:
        await run(Tool.from_function(f), {"x": "abc"})
    assert "'x': Input should be a valid integer" in str(info.value)
    assert "'y': Missing required argument" in str(info.value)


@pytest.mark.anyio
async def test_strict_mode_refuses_coercion() -> None:
    def f(x: int) -> int:
        return x

    tool = Tool.from_function(f)
    assert (await run(tool, {"x": "5"})).structured_content == {"result": 5}
    with pytest.raises(ValidationError, match="'x'"):
        await run(tool, {"x": "5"}, strict=True)


@pytest.mark.anyio
async def test_context_is_hidden_and_injected_in_any_position() -> None:
    def first(ctx: Context, a: int) -> bool:
        return ctx is CTX

    async def last(a: int, *, c: Annotated[Context | None, "ctx"] = None) -> bool:
        return c is CTX

    for fn in (first, last):
        tool = Tool.from_function(fn)
        assert list(tool.parameters["properties"]) == ["a"]
        result = await run(tool, {"a": 1}, context=CTX)
        assert result.structured_content == {"result": True}


@pytest.mark.anyio
async def test_sync_tool_runs_in_a_worker_thread_async_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    def sync_where() -> int:
        return threading.get_ident()

    async def async_where() -> int:
        return threading.get_ident()

    sync_result = await run(Tool.from_function(sync_where))
    async_result = await run(Tool.from_function(async_where))
    assert sync_result.structured_content != {"result": loop_thread}
    assert async_result.structured_content == {"result": loop_thread}


@pytest.mark.anyio
async def test_user_exceptions_propagate_unchanged() -> None:
    class Oops(Exception):
        pass

    async def f() -> None:
        raise Oops("bad")

    with pytest.raises(Oops, match="bad"):
        await run(Tool.from_function(f))


@pytest.mark.anyio
async def test_none_arguments_mean_no_arguments() -> None:
    def f(a: int = 1) -> int:
        return a

    with anyio.fail_after(5):
        result = await Tool.from_function(f).run(None)  # type: ignore[arg-type]
    assert result.structured_content == {"result": 1}


@pytest.mark.anyio
async def test_base_tool_run_is_abstract() -> None:
    tool = Tool(name="t", parameters={"type": "object", "properties": {}})
    with pytest.raises(NotImplementedError):
        await run(tool)


def test_listing_under_the_same_key_reuses_the_cached_definition() -> None:
    def f() -> None: ...

    tool = Tool.from_function(f)
    assert tool.to_mcp_tool(name=tool.key) is tool.to_mcp_tool()
    renamed = tool.to_mcp_tool(name="mounted_f")
    assert renamed.name == "mounted_f" and renamed.inputSchema == tool.parameters
    assert tool.to_mcp_tool().name == "f"
    assert tool.to_mcp_tool(annotations={"idempotentHint": True}).annotations == ToolAnnotations(
        idempotentHint=True
    )
