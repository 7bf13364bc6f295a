"""`ParsedCallable`, `compress_schema`/`dereference_refs` and the helpers of
`trimcp.utilities.types`: schemas, validation, context injection, worker threads."""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import threading
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import anyio
import pydantic
import pytest
from pydantic import Field
from typing_extensions import TypedDict

from trimcp.exceptions import InvalidSignature, ValidationError
from trimcp.server.context import Context
from trimcp.types import BlobResourceContents, TextResourceContents
from trimcp.utilities.callables import ParsedCallable, parse_docstring_params
from trimcp.utilities.json_schema import compress_schema, dereference_refs
from trimcp.utilities.types import (
    Audio,
    File,
    Image,
    NotSet,
    find_kwarg_by_type,
    get_cached_typeadapter,
    is_class_member_of_type,
    issubclass_safe,
)

CTX = Context(fastmcp=None)  # type: ignore[arg-type]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


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


def schema_of(fn: Any, **options: Any) -> dict[str, Any]:
    return ParsedCallable.from_function(fn, **options).parameters_schema


# --- schemas ---------------------------------------------------------------------------


def test_schema_has_types_required_and_defaults_without_titles() -> None:
    def add(a: int, b: float = 1.5, c: str | None = None) -> float:
        return a + b

    assert schema_of(add) == {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "number", "default": 1.5},
            "c": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        },
        "required": ["a"],
    }


def test_unannotated_parameter_accepts_anything() -> None:
    def f(x, y=3):  # type: ignore[no-untyped-def]
        return x

    # pydantic's title stays where nothing else describes the value, as FastMCP keeps it
    assert schema_of(f) == {
        "type": "object",
        "properties": {"x": {"title": "X"}, "y": {"default": 3, "title": "Y"}},
        "required": ["x"],
    }


def test_no_parameters_gives_empty_object_schema() -> None:
    def f() -> None: ...

    assert schema_of(f) == {"type": "object", "properties": {}}


def test_annotated_field_and_string_descriptions() -> None:
    def f(
        a: Annotated[int, Field(description="first", ge=0)],
        b: Annotated[str, "second"] = "x",
        c: int = Field(default=2, description="third"),
    ) -> None: ...

    props = schema_of(f)["properties"]
    assert props["a"] == {"type": "integer", "description": "first", "minimum": 0}
    assert props["b"] == {"type": "string", "description": "second", "default": "x"}
    assert props["c"] == {"type": "integer", "description": "third", "default": 2}


def test_google_docstring_describes_parameters() -> None:
    def f(a: int, b: str = "", c: int = 0) -> None:
        """Do a thing.

        Args:
            a (int): The a value,
                continued here.
            b: The b value.
            c: Ignored because `Field` wins.

        Returns:
            Nothing.
        """

    parsed = ParsedCallable.from_function(f)
    props = parsed.parameters_schema["properties"]
    assert props["a"]["description"] == "The a value, continued here."
    assert props["b"]["description"] == "The b value."
    assert parsed.description is not None and parsed.description.startswith("Do a thing.")


def test_numpy_and_sphinx_docstrings_are_parsed() -> None:
    numpy = """Summary.

    Parameters
    ----------
    a : int
        The a value.
    b : str, optional
        The b
        value.

    Returns
    -------
    int
        Something.
    """
    assert parse_docstring_params(numpy) == {"a": "The a value.", "b": "The b value."}
    sphinx = ":param int a: The a.\n:param b: The b.\n:returns: x"
    assert parse_docstring_params(sphinx) == {"a": "The a.", "b": "The b."}


def test_field_description_wins_over_docstring() -> None:
    def f(a: Annotated[int, Field(description="from field")]) -> None:
        """Args:
        a: from docstring
        """

    assert schema_of(f)["properties"]["a"]["description"] == "from field"


def test_literal_enum_and_structured_parameters() -> None:
    def f(
        mode: Literal["fast", "slow"],
        color: Color,
        point: Point,
        movie: Movie,
        user: User,
        maybe: Optional[int] = None,  # noqa: UP045 - the spelling under test
    ) -> None: ...

    schema = schema_of(f)
    props = schema["properties"]
    assert props["mode"] == {"enum": ["fast", "slow"], "type": "string"}
    assert props["color"] == {"$ref": "#/$defs/Color"}
    assert schema["$defs"]["Color"] == {"enum": ["red", "blue"], "type": "string"}
    assert schema["$defs"]["Point"]["required"] == ["x"]
    assert schema["$defs"]["Movie"]["properties"] == {
        "title": {"type": "string"},
        "year": {"type": "integer"},
    }
    assert schema["$defs"]["User"]["properties"]["age"] == {"type": "integer", "default": 0}
    assert props["maybe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert "title" not in schema["$defs"]["User"]
    assert schema["required"] == ["mode", "color", "point", "movie", "user"]


def test_enum_default_is_serialized() -> None:
    def f(color: Color = Color.RED) -> None: ...

    assert schema_of(f)["properties"]["color"] == {"$ref": "#/$defs/Color", "default": "red"}


def test_dereference_inlines_defs_but_keeps_recursive_ones() -> None:
    def f(user: User, point: Point = Point(1), node: Node | None = None) -> None: ...

    schema = schema_of(f, dereference=True)
    assert schema["properties"]["user"]["properties"]["name"] == {"type": "string"}
    assert schema["properties"]["point"]["default"] == {"x": 1, "y": 0}
    assert schema["properties"]["point"]["type"] == "object"
    assert set(schema["$defs"]) == {"Node"}  # recursive: stays a reference
    assert schema["properties"]["node"]["anyOf"][0] == {"$ref": "#/$defs/Node"}


def test_parameter_named_title_survives_title_pruning() -> None:
    def f(title: str, json: int = 0, model_config: int = 0) -> None: ...

    parsed = ParsedCallable.from_function(f)
    assert set(parsed.parameters_schema["properties"]) == {"title", "json", "model_config"}
    assert parsed.validate({"title": "t", "json": 1, "model_config": 2}) == {
        "title": "t",
        "json": 1,
        "model_config": 2,
    }


# --- signature checks ------------------------------------------------------------------


def test_var_args_and_kwargs_are_rejected() -> None:
    def star(*args: int) -> None: ...

    def double_star(**kwargs: int) -> None: ...

    with pytest.raises(InvalidSignature, match=r"\*args are not supported$"):
        ParsedCallable.from_function(star)
    with pytest.raises(InvalidSignature, match=r"\*\*kwargs are not supported$"):
        ParsedCallable.from_function(double_star)


def test_the_variadics_message_names_what_the_function_was_for() -> None:
    from trimcp.prompts import FunctionPrompt
    from trimcp.resources import FunctionResource
    from trimcp.tools import Tool

    def star(*args: int) -> str:
        return ""

    def double_star(**kwargs: int) -> str:
        return ""

    with pytest.raises(InvalidSignature, match=r"Functions with \*args are not supported as tools"):
        Tool.from_function(star)
    with pytest.raises(InvalidSignature, match=r"\*\*kwargs are not supported as tools"):
        Tool.from_function(double_star)
    with pytest.raises(InvalidSignature, match=r"\*args are not supported as prompts"):
        FunctionPrompt(name="p", fn=star)
    with pytest.raises(InvalidSignature, match=r"\*\*kwargs are not supported as resources"):
        FunctionResource.from_function(double_star, "data://r")


def test_excluded_args_are_hidden_and_need_defaults() -> None:
    def f(a: int, secret: str = "s") -> str:
        return secret

    parsed = ParsedCallable.from_function(f, exclude_args=["secret"])
    assert list(parsed.parameters_schema["properties"]) == ["a"]
    with pytest.raises(ValidationError, match="'secret'"):
        parsed.validate({"a": 1, "secret": "client-chosen"})

    def g(a: int, secret: str) -> None: ...

    with pytest.raises(InvalidSignature, match="default"):
        ParsedCallable.from_function(g, exclude_args=["secret"])
    with pytest.raises(InvalidSignature, match="nope"):
        ParsedCallable.from_function(f, exclude_args=["nope"])


def test_unsupported_parameter_type_is_invalid_signature() -> None:
    class Opaque:
        pass

    def f(x: Opaque) -> None: ...

    with pytest.raises(InvalidSignature, match="f"):
        ParsedCallable.from_function(f)


def test_two_context_parameters_are_rejected() -> None:
    def f(a: Context, b: Context) -> None: ...

    with pytest.raises(InvalidSignature, match="Context"):
        ParsedCallable.from_function(f)


def test_names_descriptions_and_async_detection() -> None:
    class Adder:
        """Adds things."""

        def __call__(self, a: int) -> int:
            return a

    class AsyncAdder:
        async def __call__(self, a: int) -> int:
            return a

    class Holder:
        def method(self, a: int) -> int:
            """A method."""
            return a

        @staticmethod
        def static(a: int) -> int:
            return a

    async def coro(a: int) -> int:
        return a

    cases = {
        "Adder": (Adder(), False, "Adds things."),
        "AsyncAdder": (AsyncAdder(), True, None),
        "method": (Holder().method, False, "A method."),
        "static": (Holder.__dict__["static"], False, None),
        "coro": (functools.partial(coro, 1), True, None),
        "<lambda>": (lambda a: a, False, None),
    }
    for name, (fn, is_async, doc) in cases.items():
        parsed = ParsedCallable.from_function(fn)
        assert (parsed.name, parsed.is_async, parsed.description) == (name, is_async, doc)
        assert parsed.fn is fn
    assert ParsedCallable.from_function(Holder().method).parameters_schema["required"] == ["a"]
    assert ParsedCallable.from_function(functools.partial(coro, 1)).parameters_schema == {
        "type": "object",
        "properties": {},
    }


# --- context ---------------------------------------------------------------------------


def ctx_first(ctx: Context, a: int) -> Any:
    return ctx, a


def ctx_optional(a: int, context: Context | None = None) -> Any:
    return context, a


def ctx_typing_optional(a: int, c: Optional[Context] = None) -> Any:  # noqa: UP045
    return c, a


def ctx_annotated(a: int, my_ctx: Annotated[Context, "the context"] = None) -> Any:  # type: ignore[assignment]
    return my_ctx, a


def ctx_keyword_only(a: int, *, request_context: Context) -> Any:
    return request_context, a


@pytest.mark.parametrize(
    ("fn", "kwarg"),
    [
        (ctx_first, "ctx"),
        (ctx_optional, "context"),
        (ctx_typing_optional, "c"),
        (ctx_annotated, "my_ctx"),
        (ctx_keyword_only, "request_context"),
    ],
)
def test_context_parameter_is_found_and_hidden(fn: Any, kwarg: str) -> None:
    parsed = ParsedCallable.from_function(fn)
    assert parsed.context_kwarg == kwarg
    assert parsed.parameters_schema["properties"] == {"a": {"type": "integer"}}
    assert parsed.parameters_schema["required"] == ["a"]
    with pytest.raises(ValidationError, match=kwarg):
        parsed.validate({"a": 1, kwarg: "forged"})


@pytest.mark.anyio
@pytest.mark.parametrize(
    "fn", [ctx_first, ctx_optional, ctx_typing_optional, ctx_annotated, ctx_keyword_only]
)
async def test_context_is_injected(fn: Any) -> None:
    parsed = ParsedCallable.from_function(fn)
    with anyio.fail_after(5):
        assert await parsed.call({"a": "7"}, CTX) == (CTX, 7)


@pytest.mark.anyio
async def test_optional_context_keeps_its_default_without_a_request() -> None:
    parsed = ParsedCallable.from_function(ctx_optional)
    with anyio.fail_after(5):
        assert await parsed.call({"a": 1}) == (None, 1)


def test_context_not_resolvable_at_module_level_is_still_found() -> None:
    namespace: dict[str, Any] = {}
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from trimcp.server.context import Context\n"
        "def f(a: int, ctx: Context) -> int:\n"
        "    return a\n"
    )
    exec(source, namespace)
    parsed = ParsedCallable.from_function(namespace["f"])
    assert parsed.context_kwarg == "ctx"
    assert list(parsed.parameters_schema["properties"]) == ["a"]


# --- validation ------------------------------------------------------------------------


def test_validation_is_lax_by_default_and_strict_on_request() -> None:
    def f(x: int, flag: bool = False) -> None: ...

    parsed = ParsedCallable.from_function(f)
    assert parsed.validate({"x": "5", "flag": "true"}) == {"x": 5, "flag": True}
    with pytest.raises(ValidationError, match="'x'"):
        parsed.validate({"x": "5"}, strict=True)
    assert parsed.validate({"x": 5}, strict=True) == {"x": 5, "flag": False}


def test_validation_error_names_each_argument_and_why() -> None:
    def f(x: int, y: str, z: list[int] | None = None) -> None: ...

    parsed = ParsedCallable.from_function(f)
    with pytest.raises(ValidationError) as info:
        parsed.validate({"x": "abc", "z": [1, "b"], "extra": 1})
    message = str(info.value)
    assert message.startswith("Invalid arguments: ")
    assert "'x': Input should be a valid integer" in message
    assert "(got 'abc')" in message
    assert "'y': Missing required argument" in message
    assert "'z.list[int].1'" in message or "'z" in message
    assert "'extra': Extra inputs are not permitted" in message


def test_validation_rejects_non_object_arguments() -> None:
    parsed = ParsedCallable.from_function(ctx_first)
    with pytest.raises(ValidationError, match="Invalid arguments"):
        parsed.validate([1, 2])  # type: ignore[arg-type]


def test_validation_builds_structured_arguments() -> None:
    def f(point: Point, user: User, color: Color, movie: Movie) -> None: ...

    kwargs = ParsedCallable.from_function(f).validate(
        {
            "point": {"x": 1},
            "user": {"name": "a"},
            "color": "blue",
            "movie": {"title": "t", "year": "1999"},
        }
    )
    assert kwargs == {
        "point": Point(1, 0),
        "user": User(name="a"),
        "color": Color.BLUE,
        "movie": {"title": "t", "year": 1999},
    }


# --- calling ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_sync_function_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()

    def where(a: int) -> int:
        return threading.get_ident()

    parsed = ParsedCallable.from_function(where)
    with anyio.fail_after(5):
        assert await parsed.call({"a": 1}) != loop_thread


@pytest.mark.anyio
async def test_async_function_runs_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    async def where() -> int:
        await anyio.lowlevel.checkpoint()
        return threading.get_ident()

    with anyio.fail_after(5):
        assert await ParsedCallable.from_function(where).call({}) == loop_thread


@pytest.mark.anyio
async def test_sync_function_returning_an_awaitable_is_awaited() -> None:
    async def inner(a: int) -> int:
        return a * 2

    def outer(a: int) -> Any:
        return inner(a)

    with anyio.fail_after(5):
        assert await ParsedCallable.from_function(outer).call({"a": 2}) == 4


@pytest.mark.anyio
async def test_sync_function_parameters_may_share_the_worker_runners_names() -> None:
    """Arguments travel to the worker as keywords: `fn`, `args`, `kwargs` are the user's."""

    def named(fn: str, args: int, kwargs: bool) -> str:
        return f"{fn}/{args}/{kwargs}"

    parsed = ParsedCallable.from_function(named)
    with anyio.fail_after(5):
        assert await parsed.call({"fn": "f", "args": 2, "kwargs": True}) == "f/2/True"


@pytest.mark.anyio
async def test_partial_bound_method_callable_object_and_positional_only() -> None:
    class Scale:
        def __init__(self, k: int) -> None:
            self.k = k

        def apply(self, a: int) -> int:
            return a * self.k

        async def __call__(self, a: int) -> int:
            return a + self.k

    def pos(a: int, /, b: int = 1, *, c: int = 0) -> tuple[int, int, int]:
        return a, b, c

    def three(a: int, b: int, c: int) -> int:
        return a * 100 + b * 10 + c

    with anyio.fail_after(5):
        assert await ParsedCallable.from_function(Scale(3).apply).call({"a": 2}) == 6
        assert await ParsedCallable.from_function(Scale(3)).call({"a": 2}) == 5
        assert await ParsedCallable.from_function(pos).call({"a": 1, "c": 3}) == (1, 1, 3)
        partial = functools.partial(three, 1, c=3)
        assert await ParsedCallable.from_function(partial).call({"b": 2}) == 123


@pytest.mark.anyio
async def test_function_exceptions_propagate_unchanged() -> None:
    class Boom(Exception):
        pass

    def fail() -> None:
        raise Boom("x")

    with anyio.fail_after(5), pytest.raises(Boom):
        await ParsedCallable.from_function(fail).call({})


@pytest.mark.anyio
async def test_bad_arguments_never_reach_the_function() -> None:
    called = []

    def f(a: int) -> None:
        called.append(a)

    with anyio.fail_after(5), pytest.raises(ValidationError):
        await ParsedCallable.from_function(f).call({"a": "x"})
    assert called == []


# --- json_schema -----------------------------------------------------------------------


def test_compress_schema_prunes_params_titles_defs_and_additional_properties() -> None:
    schema = {
        "title": "Args",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "ctx": {"$ref": "#/$defs/Ctx"},
            "p": {"$ref": "#/$defs/P"},
        },
        "required": ["ctx", "title"],
        "$defs": {
            "Ctx": {"title": "Ctx", "type": "object"},
            "P": {"title": "P", "properties": {"q": {"$ref": "#/$defs/Q"}}},
            "Q": {"title": "Q", "type": "integer"},
        },
    }
    original = repr(schema)
    out = compress_schema(schema, prune_params=["ctx"], prune_titles=True)
    assert repr(schema) == original  # the input is not modified
    assert out == {
        "type": "object",
        "properties": {"title": {"type": "string"}, "p": {"$ref": "#/$defs/P"}},
        "required": ["title"],
        "$defs": {
            "P": {"properties": {"q": {"$ref": "#/$defs/Q"}}},
            "Q": {"type": "integer"},
        },
    }
    assert "required" not in compress_schema(schema, prune_params=["ctx", "title"])


def test_dereference_merges_siblings_of_ref() -> None:
    schema = {
        "properties": {"a": {"$ref": "#/$defs/A", "description": "outer"}},
        "$defs": {"A": {"type": "integer", "description": "inner"}},
    }
    assert dereference_refs(schema) == {
        "properties": {"a": {"type": "integer", "description": "outer"}}
    }


# --- utilities.types -------------------------------------------------------------------


def test_type_helpers() -> None:
    assert NotSet is ...
    assert is_class_member_of_type(Context | None, Context)
    assert is_class_member_of_type(Annotated[Optional[Context], "x"], Context)  # noqa: UP045
    assert not is_class_member_of_type(list[Context], Context)
    assert not is_class_member_of_type(int, Context)
    assert issubclass_safe(list[int], list)
    assert not issubclass_safe("Context", Context)  # type: ignore[arg-type]
    assert find_kwarg_by_type(ctx_optional, Context) == "context"
    assert find_kwarg_by_type(Point, Context) is None
    assert get_cached_typeadapter(list[int]) is get_cached_typeadapter(list[int])
    assert get_cached_typeadapter(int).validate_python("3") == 3


def test_image_from_data_and_path(tmp_path: Path) -> None:
    content = Image(data=b"\x89PNG").to_image_content()
    assert (content.mimeType, base64.b64decode(content.data)) == ("image/png", b"\x89PNG")
    assert Image(data=b"x", format="JPEG").to_image_content().mimeType == "image/jpeg"
    path = tmp_path / "pic.gif"
    path.write_bytes(b"GIF89a")
    content = Image(path=path).to_image_content()
    assert (content.mimeType, base64.b64decode(content.data)) == ("image/gif", b"GIF89a")
    assert Image(data=b"ab").to_data_uri() == "data:image/png;base64,YWI="
    with pytest.raises(ValueError, match="Either"):
        Image()
    with pytest.raises(ValueError, match="Only one"):
        Image(path=path, data=b"x")


def test_audio_mime_types(tmp_path: Path) -> None:
    assert Audio(data=b"x").to_audio_content().mimeType == "audio/wav"
    assert Audio(data=b"x", format="ogg").to_audio_content().mimeType == "audio/ogg"
    path = tmp_path / "song.mp3"
    path.write_bytes(b"ID3")
    content = Audio(path=path).to_audio_content()
    assert (content.mimeType, base64.b64decode(content.data)) == ("audio/mpeg", b"ID3")


def test_file_becomes_text_or_blob_resource(tmp_path: Path) -> None:
    text = File(data=b"hello", format="txt", name="greeting").to_resource_content()
    assert isinstance(text.resource, TextResourceContents)
    assert (text.resource.text, text.resource.uri) == ("hello", "file:///greeting.plain")
    blob = File(data=b"\x00\x01", format="pdf").to_resource_content()
    assert isinstance(blob.resource, BlobResourceContents)
    assert blob.resource.mimeType == "application/pdf"
    assert base64.b64decode(blob.resource.blob) == b"\x00\x01"
    path = tmp_path / "notes.txt"
    path.write_text("n")
    from_path = File(path=path).to_resource_content()
    assert from_path.resource.uri == path.resolve().as_uri()
    assert from_path.resource.mimeType == "text/plain"
