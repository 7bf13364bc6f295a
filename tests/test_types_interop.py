"""trimcp's payloads beside the official SDK's `mcp.types` (issue 16 §2): content constructors
take `type=`; once `mcp.types` is imported, payloads are `isinstance` of their namesakes, compare
equal to them both ways, serialize through pydantic as them; `mcp.types` models convert into
trimcp types wherever trimcp converts values; `model_dump` takes pydantic's options.

The SDK is an optional extra: the tests that need it skip without it. Import order matters to
the registration, so the tests of it run in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import anyio
import msgspec
import pytest

from trimcp.types import (
    Annotations,
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    CreateMessageRequestParams,
    CreateMessageResult,
    EmbeddedResource,
    GetPromptResult,
    Icon,
    ImageContent,
    ModelHint,
    ModelPreferences,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceResult,
    Resource,
    ResourceLink,
    ResourceTemplate,
    SamplingMessage,
    TextContent,
    TextResourceContents,
    Tool,
    from_foreign,
    register_with_mcp,
    to_mcp,
)
from trimcp.types.codec import convert, decode, foreign_builtins

mcp_types = pytest.importorskip("mcp.types")


def mcp_model(kind: str, /, **wire: Any) -> Any:
    """An `mcp.types` model from wire names (the SDK 1.x and 2.x spell attributes apart)."""
    return getattr(mcp_types, kind).model_validate(wire)


# One instance of each type users touch, with its wire form.
SAMPLES: list[tuple[Any, dict[str, Any]]] = [
    (TextContent(text="a"), {"type": "text", "text": "a"}),
    (
        ImageContent(data="aGk=", mimeType="image/png", annotations=Annotations(priority=0.5)),
        {
            "type": "image",
            "data": "aGk=",
            "mimeType": "image/png",
            "annotations": {"priority": 0.5},
        },
    ),
    (
        AudioContent(data="aGk=", mimeType="audio/wav", meta={"k": 1}),
        {"type": "audio", "data": "aGk=", "mimeType": "audio/wav", "_meta": {"k": 1}},
    ),
    (
        ResourceLink(uri="file:///a.txt", name="a", icons=[Icon(src="https://x/i.png")]),
        {
            "type": "resource_link",
            "uri": "file:///a.txt",
            "name": "a",
            "icons": [{"src": "https://x/i.png"}],
        },
    ),
    (
        EmbeddedResource(resource=BlobResourceContents(uri="file:///b", blob="aGk=")),
        {"type": "resource", "resource": {"uri": "file:///b", "blob": "aGk="}},
    ),
    (
        TextResourceContents(uri="file:///t", text="x", mimeType="text/plain"),
        {"uri": "file:///t", "text": "x", "mimeType": "text/plain"},
    ),
    (Icon(src="https://x/i.png", sizes=["48x48"]), {"src": "https://x/i.png", "sizes": ["48x48"]}),
    (Annotations(audience=["user"]), {"audience": ["user"]}),
    (
        Tool(name="t", inputSchema={"type": "object"}, description="d"),
        {"name": "t", "inputSchema": {"type": "object"}, "description": "d"},
    ),
    (Resource(uri="file:///r", name="r"), {"uri": "file:///r", "name": "r"}),
    (
        ResourceTemplate(uriTemplate="file:///{x}", name="rt"),
        {"uriTemplate": "file:///{x}", "name": "rt"},
    ),
    (
        Prompt(name="p", arguments=[PromptArgument(name="x", required=True)]),
        {"name": "p", "arguments": [{"name": "x", "required": True}]},
    ),
    (PromptArgument(name="x"), {"name": "x"}),
    (
        PromptMessage(role="user", content=TextContent(text="q")),
        {"role": "user", "content": {"type": "text", "text": "q"}},
    ),
    (
        SamplingMessage(role="assistant", content=TextContent(text="r")),
        {"role": "assistant", "content": {"type": "text", "text": "r"}},
    ),
    (ModelHint(name="claude"), {"name": "claude"}),
    (
        ModelPreferences(hints=[ModelHint(name="claude")], speedPriority=0.2),
        {"hints": [{"name": "claude"}], "speedPriority": 0.2},
    ),
    (
        CreateMessageRequestParams(
            messages=[SamplingMessage(role="user", content=TextContent(text="hi"))],
            maxTokens=10,
        ),
        {
            "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
            "maxTokens": 10,
        },
    ),
    (
        CreateMessageResult(role="assistant", content=TextContent(text="x"), model="m"),
        {"role": "assistant", "content": {"type": "text", "text": "x"}, "model": "m"},
    ),
    (
        CallToolResult(content=[TextContent(text="a")], structuredContent={"a": 1}),
        {"content": [{"type": "text", "text": "a"}], "structuredContent": {"a": 1}},
    ),
    (
        GetPromptResult(messages=[PromptMessage(role="user", content=TextContent(text="q"))]),
        {"messages": [{"role": "user", "content": {"type": "text", "text": "q"}}]},
    ),
    (
        ReadResourceResult(contents=[TextResourceContents(uri="file:///t", text="x")]),
        {"contents": [{"uri": "file:///t", "text": "x"}]},
    ),
]
IDS = [type(payload).__name__ for payload, _ in SAMPLES]


# -- type= on the content constructors ---------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "kind", "fields"),
    [
        (TextContent, "text", {"text": "a"}),
        (ImageContent, "image", {"data": "aGk=", "mimeType": "image/png"}),
        (AudioContent, "audio", {"data": "aGk=", "mimeType": "audio/wav"}),
        (ResourceLink, "resource_link", {"uri": "file:///a", "name": "a"}),
        (
            EmbeddedResource,
            "resource",
            {"resource": TextResourceContents(uri="file:///a", text="x")},
        ),
    ],
)
def test_content_constructors_take_their_type_and_refuse_another(
    cls: Any, kind: str, fields: dict[str, Any]
) -> None:
    given = cls(type=kind, **fields)
    assert given == cls(**fields)
    assert given.type == kind
    # the type goes on the wire once, as the tag, however the value was made
    built = "".join(kind)  # an equal string that is not the interned literal
    wire = msgspec.json.decode(msgspec.json.encode(cls(type=built, **fields)))
    assert wire["type"] == kind
    assert len([key for key in wire if "type" in key]) == 1
    assert decode(msgspec.json.encode(given), cls) == given
    with pytest.raises(ValueError, match=f"{cls.__name__}: type must be '{kind}'"):
        cls(type="video", **fields)


def test_a_peer_cannot_set_the_type_field_apart_from_the_tag() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(b'{"type": "text", "trimcp:type": "image", "text": "a"}', TextContent)


def test_repr_reads_as_the_sdk_models_do() -> None:
    assert repr(TextContent(type="text", text="x")) == repr(
        mcp_types.TextContent(type="text", text="x")
    )


# -- isinstance, equality, pydantic --------------------------------------------------------


@pytest.mark.parametrize(("payload", "wire"), SAMPLES, ids=IDS)
def test_payloads_are_instances_of_their_mcp_namesakes(payload: Any, wire: dict[str, Any]) -> None:
    assert register_with_mcp() is True
    assert isinstance(payload, getattr(mcp_types, type(payload).__name__))
    assert type(payload).__module__.startswith("trimcp.types")  # the type itself is trimcp's
    assert not isinstance(payload, mcp_types.TextContent) or type(payload) is TextContent


def test_class_checks_stay_honest() -> None:
    import pydantic

    assert isinstance(TextContent(text="a"), pydantic.BaseModel)
    assert not issubclass(TextContent, pydantic.BaseModel)
    assert not isinstance(TextContent(text="a"), mcp_types.ImageContent)
    assert isinstance(TextResourceContents(uri="file:///a", text="x"), mcp_types.ResourceContents)


@pytest.mark.parametrize(("payload", "wire"), SAMPLES, ids=IDS)
def test_payloads_equal_their_mcp_models_both_ways(payload: Any, wire: dict[str, Any]) -> None:
    model = mcp_model(type(payload).__name__, **wire)
    assert payload == model
    assert model == payload
    assert [payload] == [model]
    assert [model] == [payload]
    assert not payload != model
    assert not model != payload


def test_different_values_or_kinds_are_unequal() -> None:
    text = TextContent(text="a")
    assert text != mcp_model("TextContent", type="text", text="b")
    assert mcp_model("TextContent", type="text", text="b") != text
    assert text != mcp_model("ImageContent", type="image", data="a", mimeType="image/png")
    assert [text] != [mcp_model("TextContent", type="text", text="b")]
    assert text != {"type": "text", "text": "a"}


def test_payload_equality_is_msgspecs_own() -> None:
    # No Python `__eq__` on the hot path (a list compare, `x in list`): msgspec compares
    # structs of one type; pydantic answers for `mcp.types` models, both ways.
    for cls in (TextContent, ImageContent, Icon, CallToolResult, PromptMessage):
        assert cls.__eq__ is msgspec.Struct.__eq__
    assert [TextContent(text="a")] == [TextContent(text="a")]
    assert TextContent(text="a") != ImageContent(data="a", mimeType="i/p")
    assert TextContent(text="a") != {"type": "text", "text": "a"}
    model = mcp_model("TextContent", type="text", text="a")
    assert TextContent(text="a") == model and model == TextContent(text="a")


def test_a_payload_holding_a_non_json_value_is_unequal_not_an_error() -> None:
    odd = TextContent(text="a", meta={"k": object()})  # no `mcp.types` model can hold it
    model = mcp_model("TextContent", type="text", text="a")
    assert odd != model
    assert model != odd
    assert (odd == model) is False
    assert odd not in [model]
    assert model not in [odd]
    assert odd in [model, odd]


@pytest.mark.parametrize(("payload", "wire"), SAMPLES, ids=IDS)
def test_mcp_models_convert_into_trimcp_types(payload: Any, wire: dict[str, Any]) -> None:
    model = mcp_model(type(payload).__name__, **wire)
    converted = from_foreign(model, type(payload))
    assert type(converted) is type(payload)
    assert converted == model
    # the wire form, plus any default the SDK fills in (2.x: a result's `resultType`)
    assert msgspec.to_builtins(converted).items() >= wire.items()
    assert type(payload).model_validate(model) == model
    assert to_mcp(payload) == model


def test_convert_accepts_mcp_models_anywhere_inside() -> None:
    text = mcp_model("TextContent", type="text", text="q")
    message = convert({"role": "user", "content": text}, PromptMessage)
    assert message == PromptMessage(role="user", content=TextContent(text="q"))
    icons = convert([mcp_model("Icon", src="https://x/i.png")], list[Icon])
    assert icons == [Icon(src="https://x/i.png")]
    result = convert(
        {"content": [text, {"type": "text", "text": "w"}], "isError": False}, CallToolResult
    )
    assert result.content == [TextContent(text="q"), TextContent(text="w")]
    with pytest.raises(msgspec.ValidationError, match="content"):
        convert({"content": [3]}, CallToolResult)


def test_convert_passes_a_value_of_the_type_and_reports_a_models_own_mismatch() -> None:
    icon = Icon(src="https://x/i.png")
    assert convert(icon, Icon) is icon
    image = mcp_model("ImageContent", type="image", data="aGk=", mimeType="image/png")
    with pytest.raises(msgspec.ValidationError, match=r"image.*\$\.type"):  # not "Expected object"
        convert(image, TextContent)


def test_every_user_edge_takes_mcp_models_through_convert() -> None:
    from trimcp.prompts.prompt import Message
    from trimcp.resources import Resource as ResourceComponent
    from trimcp.tools import Tool as ToolComponent
    from trimcp.utilities.components import coerce_icons
    from trimcp.utilities.types import convert_to_content

    icon = mcp_model("Icon", src="https://x/i.png", sizes=["48x48"])
    expected_icon = Icon(src="https://x/i.png", sizes=["48x48"])
    assert coerce_icons([icon, {"src": "https://y"}]) == [expected_icon, Icon(src="https://y")]
    tool = ToolComponent(
        name="t",
        parameters={"type": "object"},
        icons=[icon],
        annotations=mcp_model("ToolAnnotations", readOnlyHint=True),
    )
    assert tool.icons == [expected_icon] and type(tool.icons[0]) is Icon
    assert tool.annotations is not None and tool.annotations.readOnlyHint is True
    resource = ResourceComponent.from_function(
        lambda: "x",
        uri="data://x",
        name="x",
        annotations=mcp_model("Annotations", priority=0.5),
    )
    assert type(resource.annotations) is Annotations and resource.annotations.priority == 0.5
    text = mcp_model("TextContent", type="text", text="q", _meta={"k": 1})
    message = Message(text)
    assert type(message.content) is TextContent and message.content.meta == {"k": 1}
    blocks = convert_to_content([text, "w"])
    assert blocks == [TextContent(text="q", meta={"k": 1}), TextContent(text="w")]
    assert type(blocks[0]) is TextContent


def test_encoders_with_the_hook_send_mcp_models_held_by_payloads() -> None:
    held = CallToolResult(content=[mcp_model("TextContent", type="text", text="a")])
    with pytest.raises(TypeError):
        msgspec.json.encode(held)
    encoder = msgspec.json.Encoder(enc_hook=foreign_builtins)
    assert encoder.encode(held) == b'{"content":[{"type":"text","text":"a"}]}'
    preferences = ModelPreferences(hints=[mcp_model("ModelHint", name="x")])
    assert msgspec.to_builtins(preferences, enc_hook=foreign_builtins) == {"hints": [{"name": "x"}]}
    with pytest.raises(TypeError):
        msgspec.to_builtins(object(), enc_hook=foreign_builtins)
    assert held.model_dump(mode="json", exclude_none=True) == {
        "content": [{"type": "text", "text": "a"}],
        "isError": False,
    }


def test_messages_built_around_mcp_blocks_hold_trimcp_blocks() -> None:
    block = mcp_model("ImageContent", type="image", data="aGk=", mimeType="image/png")
    sampled = SamplingMessage(role="user", content=block)
    assert type(sampled.content) is ImageContent
    assert msgspec.json.encode(sampled) == (
        b'{"role":"user","content":{"type":"image","data":"aGk=","mimeType":"image/png"}}'
    )
    several = SamplingMessage(role="user", content=[block, {"type": "text", "text": "t"}])
    assert several.content == [
        ImageContent(data="aGk=", mimeType="image/png"),
        TextContent(text="t"),
    ]
    embedded = EmbeddedResource(
        resource=mcp_model("TextResourceContents", uri="file:///a", text="x")
    )
    assert type(embedded.resource) is TextResourceContents
    with pytest.raises(msgspec.ValidationError):
        SamplingMessage(role="user", content=3)  # type: ignore[arg-type]


def test_pydantic_serializes_payloads_as_their_models() -> None:
    import pydantic_core

    message = SamplingMessage(role="user", content=TextContent(text="hi"))
    model = mcp_model("SamplingMessage", role="user", content={"type": "text", "text": "hi"})
    assert pydantic_core.to_json(message) == pydantic_core.to_json(model)
    # a payload placed inside an `mcp.types` model (pydantic takes it as an instance)
    outer = mcp_types.CallToolResult(content=[TextContent(text="a")])
    dumped = msgspec.json.decode(outer.model_dump_json(by_alias=True, exclude_none=True))
    assert dumped["content"] == [{"type": "text", "text": "a"}]


# -- model_dump and friends ----------------------------------------------------------------


def test_model_dump_json_mode_takes_pydantics_options() -> None:
    link = ResourceLink(uri="file:///a", name="a", meta={"k": 1})
    assert link.model_dump(mode="json", by_alias=True, exclude_none=True) == {
        "name": "a",
        "uri": "file:///a",
        "_meta": {"k": 1},
        "type": "resource_link",
    }
    full = link.model_dump(mode="json")
    assert full["meta"] == {"k": 1} and full["title"] is None and full["type"] == "resource_link"
    assert link.model_dump(mode="json", include={"name", "uri"}) == {
        "name": "a",
        "uri": "file:///a",
    }
    assert "meta" not in link.model_dump(mode="json", exclude={"meta"})
    result = CallToolResult(content=[TextContent(text="a")])
    assert result.model_dump(mode="json", exclude_none=True) == {
        "content": [{"type": "text", "text": "a"}],
        "isError": False,
    }
    assert result.model_dump(mode="json", exclude_unset=True) == {
        "content": [{"type": "text", "text": "a"}]
    }
    assert msgspec.json.decode(result.model_dump_json(exclude_none=True)) == {
        "content": [{"type": "text", "text": "a"}],
        "isError": False,
    }
    assert "\n" in result.model_dump_json(indent=2)


def test_model_dump_python_mode_is_the_sdk_models_once_registered() -> None:
    link = ResourceLink(uri="file:///a", name="a")
    model = mcp_model("ResourceLink", type="resource_link", uri="file:///a", name="a")
    for options in ({}, {"exclude_none": True}, {"exclude_none": True, "exclude": {"title"}}):
        assert link.model_dump(**options) == model.model_dump(**options)
    # by alias: the wire's names and plain JSON values, whatever the SDK version
    assert link.model_dump(by_alias=True, exclude_none=True) == {
        "name": "a",
        "uri": "file:///a",
        "type": "resource_link",
    }


def test_frozen_payloads_stay_hashable() -> None:
    from trimcp.types import Payload

    class Frozen(Payload, frozen=True):
        a: int = 1

    assert hash(Frozen()) == hash(Frozen())
    assert Frozen() == Frozen()
    with pytest.raises(TypeError, match="unhashable"):
        hash(TextContent(text="a"))


def test_model_validate_copy_and_json() -> None:
    text = TextContent(text="a")
    assert TextContent.model_validate(text) is text
    assert TextContent.model_validate({"type": "text", "text": "a"}) == text
    assert TextContent.model_validate_json('{"type": "text", "text": "a"}') == text
    with pytest.raises(msgspec.ValidationError):
        TextContent.model_validate({"type": "image", "text": "a"})
    copied = text.model_copy(update={"text": "b"})
    assert copied == TextContent(text="b") and text.text == "a"
    assert text.model_copy(deep=True) == text


# -- the registration --------------------------------------------------------------------


def run_fresh(code: str) -> str:
    """Run `code` in a fresh interpreter (import order is the point), return its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_importing_trimcp_types_does_not_import_mcp() -> None:
    out = run_fresh(
        """
        import sys
        before = "importlib.abc" in sys.modules  # a site hook may have loaded it
        import trimcp.types
        print("mcp" in sys.modules, trimcp.types.register_with_mcp())
        print(before or "importlib.abc" not in sys.modules)  # the watch is duck-typed
        """
    )
    assert out.split() == ["False", "False", "True"]


def test_mcp_imported_after_trimcp_registers_on_import_and_the_watch_ends() -> None:
    out = run_fresh(
        """
        import sys, warnings
        warnings.simplefilter("error")
        import trimcp.types as t
        watching = [type(f).__name__ for f in sys.meta_path if "Mcp" in type(f).__name__]
        import mcp.types as m
        left = [type(f).__name__ for f in sys.meta_path if "Mcp" in type(f).__name__]
        print(bool(watching), left, isinstance(t.TextContent(text="a"), m.TextContent))
        print(type(m.__loader__).__name__, type(m.__spec__.loader).__name__)
        print(t.register_with_mcp())
        """
    )
    first, loader, again = out.splitlines()
    assert first == "True [] True"
    assert "RegisterAfterLoad" not in loader  # the module got its own loader back
    assert again == "True"


def test_mcp_imported_before_trimcp_registers_at_import() -> None:
    out = run_fresh(
        """
        import sys
        import mcp.types as m
        import trimcp.types as t
        print(isinstance(t.ImageContent(data="a", mimeType="image/png"), m.ImageContent))
        print(any("Mcp" in type(f).__name__ for f in sys.meta_path))
        """
    )
    assert out.split() == ["True", "False"]


def test_the_sdk_2_models_package_alone_registers() -> None:
    pytest.importorskip("mcp_types")  # the SDK 2.x keeps its models there
    out = run_fresh(
        """
        import trimcp.types as t
        import mcp_types
        print(isinstance(t.TextContent(text="a"), mcp_types.TextContent))
        """
    )
    assert out.split() == ["True"]


def test_model_dump_without_mcp_follows_pydantics_defaults() -> None:
    out = run_fresh(
        """
        import sys
        from trimcp.types import CallToolResult, TextContent
        result = CallToolResult(content=[TextContent(text="a", meta={"k": 1})])
        print(result.model_dump(exclude_none=True))
        print(result.model_dump(by_alias=True, exclude_none=True))
        print("mcp" in sys.modules)
        """
    )
    plain, aliased, imported = out.splitlines()
    assert plain == (
        "{'content': [{'type': 'text', 'text': 'a', 'meta': {'k': 1}}], 'isError': False}"
    )
    assert aliased == (
        "{'content': [{'type': 'text', 'text': 'a', '_meta': {'k': 1}}], 'isError': False}"
    )
    assert imported == "False"


# -- end to end ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_client_results_pass_for_mcp_types() -> None:
    from trimcp import Client, FastMCP

    server = FastMCP("interop")

    @server.tool
    def picture() -> Any:
        return mcp_model("ImageContent", type="image", data="aGk=", mimeType="image/png")

    with anyio.fail_after(10):
        async with Client(server) as client:
            result = await client.call_tool("picture", {})
    [block] = result.content
    assert isinstance(block, mcp_types.ImageContent)
    assert block == mcp_model("ImageContent", type="image", data="aGk=", mimeType="image/png")
    assert result.content == [
        mcp_model("ImageContent", type="image", data="aGk=", mimeType="image/png")
    ]
