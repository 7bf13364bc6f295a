"""Resources and resource templates: registration checks, URI matching, reads as wire contents."""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import pytest
from pydantic import BaseModel, Field

from trimcp.exceptions import ResourceError
from trimcp.resources import (
    BinaryResource,
    DirectoryResource,
    FileResource,
    FunctionResource,
    Resource,
    ResourceContent,
    ResourceTemplate,
    TextResource,
    is_template_uri,
)
from trimcp.server.context import Context
from trimcp.types import Annotations, BlobResourceContents, Icon, TextResourceContents
from trimcp.types import Resource as MCPResource
from trimcp.types import ResourceTemplate as MCPResourceTemplate


def make_context() -> Context:
    return Context(fastmcp=None)  # type: ignore[arg-type]


async def read(resource: Resource, **kwargs: Any) -> list[Any]:
    with anyio.fail_after(5):
        return await resource.read_contents(**kwargs)


async def read_template(template: ResourceTemplate, uri: str, **kwargs: Any) -> list[Any]:
    params = template.matches(uri)
    assert params is not None, f"{uri} does not match {template.uri_template}"
    with anyio.fail_after(5):
        return await template.read_contents(uri, params, **kwargs)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Point(BaseModel):
    x: int
    y: int


@dataclasses.dataclass
class Pair:
    left: str
    right: str


# --- registration -------------------------------------------------------------------------


def test_from_function_takes_name_and_description_from_the_function() -> None:
    def greeting() -> str:
        """Say hello."""
        return "hello"

    resource = Resource.from_function(greeting, "data://greeting", tags={"a"})
    assert isinstance(resource, FunctionResource)
    assert resource.uri == "data://greeting"
    assert resource.name == "greeting"
    assert resource.description == "Say hello."
    assert resource.mime_type == "text/plain"
    assert resource.tags == {"a"}
    assert resource.enabled is True
    assert resource.title is None


def test_explicit_options_override_the_function() -> None:
    resource = Resource.from_function(
        lambda: "x",
        "data://x",
        name="custom",
        title="Custom",
        description="described",
        mime_type="text/markdown",
        annotations={"audience": ["user"], "priority": 0.5},
        icons=[{"src": "https://example.com/i.png"}],
        meta={"k": 1},
        enabled=False,
    )
    assert (resource.name, resource.title, resource.description) == (
        "custom",
        "Custom",
        "described",
    )
    assert resource.mime_type == "text/markdown"
    assert resource.annotations == Annotations(audience=["user"], priority=0.5)
    assert resource.icons == [Icon(src="https://example.com/i.png")]
    assert resource.meta == {"k": 1}
    assert resource.enabled is False


def test_lambda_without_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="lambda"):
        Resource.from_function(lambda: "x", "data://x")


def test_uri_without_scheme_is_rejected() -> None:
    with pytest.raises(ValueError, match="scheme"):
        Resource.from_function(lambda: "x", "not-a-uri", name="x")


def test_template_uri_is_not_a_plain_resource() -> None:
    def thing(id: str) -> str:
        return id

    with pytest.raises(ValueError, match="template"):
        Resource.from_function(thing, "data://{id}")


def test_resource_function_with_required_arguments_is_rejected() -> None:
    def needs(x: int) -> str:
        return str(x)

    with pytest.raises(ValueError, match="template"):
        Resource.from_function(needs, "data://needs")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("data://x", False), ("data://{id}", True), ("data://x{?q}", True), ("file:///a", False)],
)
def test_is_template_uri(uri: str, expected: bool) -> None:
    assert is_template_uri(uri) is expected


def test_key_defaults_to_uri_and_is_settable() -> None:
    resource = TextResource(uri="data://k", text="t")
    assert resource.key == "data://k"
    resource.key = "data://prefix/k"
    assert resource.key == "data://prefix/k"
    assert resource.uri == "data://k"
    copied = resource.model_copy(key="data://other", update={"name": "renamed"})
    assert (copied.key, copied.name) == ("data://other", "renamed")
    assert (resource.key, resource.name) == ("data://prefix/k", "data://k")


def test_enable_and_disable() -> None:
    resource = TextResource(uri="data://t", text="t")
    resource.disable()
    assert resource.enabled is False
    resource.enable()
    assert resource.enabled is True


def test_to_mcp_resource_carries_fields_and_fastmcp_tags() -> None:
    def doc() -> str:
        """Docs."""
        return ""

    resource = Resource.from_function(
        doc, "data://doc", title="Doc", tags={"b", "a"}, meta={"x": 1}
    )
    mcp = resource.to_mcp_resource()
    assert isinstance(mcp, MCPResource)
    assert (mcp.uri, mcp.name, mcp.title, mcp.description) == ("data://doc", "doc", "Doc", "Docs.")
    assert mcp.mimeType == "text/plain"
    assert mcp.meta == {"x": 1, "_fastmcp": {"tags": ["a", "b"]}}
    assert resource.meta == {"x": 1}
    assert resource.to_mcp_resource(include_fastmcp_meta=False).meta == {"x": 1}
    overridden = resource.to_mcp_resource(name="other", _meta={"y": 2})
    assert (overridden.name, overridden.meta) == ("other", {"y": 2})


# --- reading ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_string_result_is_text_contents() -> None:
    resource = Resource.from_function(lambda: "hello", "data://s", name="s")
    assert await read(resource) == [
        TextResourceContents(uri="data://s", text="hello", mimeType="text/plain")
    ]


@pytest.mark.anyio
async def test_bytes_result_is_base64_blob() -> None:
    resource = Resource.from_function(
        lambda: b"\x00\xff", "data://b", name="b", mime_type="application/octet-stream"
    )
    [contents] = await read(resource)
    assert isinstance(contents, BlobResourceContents)
    assert base64.b64decode(contents.blob) == b"\x00\xff"
    assert contents.mimeType == "application/octet-stream"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}),
        ([1, "two"], [1, "two"]),
        (Point(x=1, y=2), {"x": 1, "y": 2}),
        (Pair("l", "r"), {"left": "l", "right": "r"}),
        ({"id": uuid.UUID(int=1)}, {"id": str(uuid.UUID(int=1))}),
    ],
)
async def test_structured_result_is_json_text(value: Any, expected: Any) -> None:
    resource = Resource.from_function(lambda: value, "data://j", name="j")
    [contents] = await read(resource)
    assert isinstance(contents, TextResourceContents)
    assert json.loads(contents.text) == expected
    assert contents.mimeType == "text/plain"  # the resource's MIME type, as FastMCP 2.13 sends it


class Aliased(BaseModel):
    missing: int | None = None
    value: int = Field(1, alias="Value")


@pytest.mark.anyio
async def test_pydantic_models_are_written_as_pydantic_core_writes_them() -> None:
    pydantic_core = pytest.importorskip("pydantic_core")
    mcp_types = pytest.importorskip("mcp.types")
    block = mcp_types.TextContent(type="text", text="a", _meta={"k": 1})
    value = {"block": block, "model": Aliased(), "odd": {1, 2}}
    resource = Resource.from_function(lambda: value, "data://m", name="m")
    with anyio.fail_after(5):
        text = await resource.read()
    assert isinstance(text, str)
    written = json.loads(text)
    assert written["block"]["_meta"] == {"k": 1}  # by alias, not `meta`
    assert written["model"] == {"missing": None, "Value": 1}  # nulls kept, as FastMCP's
    assert written == json.loads(pydantic_core.to_json(value, fallback=str))


@pytest.mark.anyio
async def test_explicit_mime_type_wins_over_json() -> None:
    resource = Resource.from_function(
        lambda: {"a": 1}, "data://j", name="j", mime_type="application/vnd.custom+json"
    )
    [contents] = await read(resource)
    assert contents.mimeType == "application/vnd.custom+json"


@pytest.mark.anyio
async def test_read_returns_json_text_for_structured_values() -> None:
    resource = Resource.from_function(lambda: {"a": 1}, "data://j", name="j")
    with anyio.fail_after(5):
        assert json.loads(await resource.read()) == {"a": 1}


@pytest.mark.anyio
async def test_list_of_parts_is_several_contents() -> None:
    def parts() -> list[ResourceContent]:
        return [
            ResourceContent("# Title", mime_type="text/markdown"),
            ResourceContent(b"PNG", mime_type="image/png", meta={"n": 2}),
            ResourceContent({"k": "v"}),
        ]

    resource = Resource.from_function(parts, "data://parts")
    text, blob, data = await read(resource)
    assert text == TextResourceContents(
        uri="data://parts", text="# Title", mimeType="text/markdown"
    )
    assert isinstance(blob, BlobResourceContents)
    assert (base64.b64decode(blob.blob), blob.mimeType, blob.meta) == (
        b"PNG",
        "image/png",
        {"n": 2},
    )
    assert (json.loads(data.text), data.mimeType) == ({"k": "v"}, "application/json")


@pytest.mark.anyio
async def test_read_contents_reports_the_given_uri() -> None:
    resource = Resource.from_function(lambda: "x", "data://a", name="a")
    [contents] = await read(resource, uri="data://prefixed/a")
    assert contents.uri == "data://prefixed/a"


@pytest.mark.anyio
async def test_sync_function_runs_in_a_worker_thread() -> None:
    loop_thread = threading.get_ident()

    def where() -> str:
        return str(threading.get_ident())

    [contents] = await read(Resource.from_function(where, "data://where"))
    assert contents.text != str(loop_thread)


@pytest.mark.anyio
async def test_async_function_runs_on_the_loop() -> None:
    loop_thread = threading.get_ident()

    async def where() -> str:
        await anyio.lowlevel.checkpoint()
        return str(threading.get_ident())

    [contents] = await read(Resource.from_function(where, "data://where"))
    assert contents.text == str(loop_thread)


@pytest.mark.anyio
async def test_context_is_injected() -> None:
    seen: list[Context] = []

    async def with_ctx(ctx: Context) -> str:
        seen.append(ctx)
        return "ok"

    resource = Resource.from_function(with_ctx, "data://ctx")
    context = make_context()
    await read(resource, context=context)
    assert seen == [context]


@pytest.mark.anyio
async def test_function_returning_a_resource_reads_it() -> None:
    resource = Resource.from_function(
        lambda: TextResource(uri="data://inner", text="inner"), "data://outer", name="outer"
    )
    [contents] = await read(resource)
    assert (contents.uri, contents.text) == ("data://outer", "inner")


@pytest.mark.anyio
async def test_errors_of_the_function_propagate() -> None:
    def broken() -> str:
        raise ResourceError("gone")

    with pytest.raises(ResourceError, match="gone"):
        await read(Resource.from_function(broken, "data://broken"))


@pytest.mark.anyio
async def test_subclass_with_fastmcp_style_read() -> None:
    class Custom(Resource):
        async def read(self) -> str:  # type: ignore[override]
            return "custom"

    [contents] = await read(Custom(uri="data://custom", name="custom"))
    assert contents.text == "custom"


# --- concrete resources -------------------------------------------------------------------


@pytest.mark.anyio
async def test_text_and_binary_resources() -> None:
    text = TextResource(uri="data://t", text="hi")
    binary = BinaryResource(uri="data://b", data=b"\x01", mime_type="application/octet-stream")
    assert text.name == "data://t"
    assert (await read(text))[0].text == "hi"
    assert base64.b64decode((await read(binary))[0].blob) == b"\x01"


@pytest.mark.anyio
async def test_file_resource_reads_text_and_binary(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("file text")
    text = FileResource(uri="file:///f.txt", path=path)
    assert text.is_binary is False
    assert (await read(text))[0].text == "file text"
    binary = FileResource(uri="file:///f.bin", path=path, mime_type="application/octet-stream")
    assert binary.is_binary is True
    assert base64.b64decode((await read(binary))[0].blob) == b"file text"


@pytest.mark.anyio
async def test_missing_file_is_a_resource_error(tmp_path: Path) -> None:
    resource = FileResource(uri="file:///missing", path=tmp_path / "missing")
    with pytest.raises(ResourceError, match="missing"):
        await read(resource)


def test_file_resource_needs_an_absolute_path() -> None:
    with pytest.raises(ValueError, match="absolute"):
        FileResource(uri="file:///x", path="relative/x")


@pytest.mark.anyio
async def test_directory_resource_lists_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("b")
    flat = DirectoryResource(uri="dir://flat", path=tmp_path)
    deep = DirectoryResource(uri="dir://deep", path=tmp_path, recursive=True, pattern="*.md")
    [listing] = await read(flat)
    assert (json.loads(listing.text), listing.mimeType) == (
        {"files": ["a.txt"]},
        "application/json",
    )
    assert json.loads((await read(deep))[0].text) == {"files": [str(Path("sub") / "b.md")]}


# --- templates: matching ------------------------------------------------------------------


def make_template(uri_template: str) -> ResourceTemplate:
    """A bare template: matching needs no function."""
    return ResourceTemplate(uri_template=uri_template, name="t")


@pytest.mark.parametrize(
    ("uri_template", "uri", "expected"),
    [
        ("users://{id}/profile", "users://42/profile", {"id": "42"}),
        ("users://{id}/profile", "users://4/2/profile", None),
        ("users://{id}/profile", "users://42/other", None),
        ("files://{path*}", "files://a/b/c.txt", {"path": "a/b/c.txt"}),
        ("files://{+path}", "files://a/b", {"path": "a/b"}),
        ("files://{root}/{path*}", "files://r/x/y", {"root": "r", "path": "x/y"}),
        ("users://{name}", "users://John%20Doe", {"name": "John Doe"}),
        ("users://{name}", "users://a%2Fb", None),  # a simple value never holds a "/"
        ("search://{q}{?limit,offset}", "search://x", {"q": "x"}),
        ("search://{q}{?limit,offset}", "search://x?limit=5", {"q": "x", "limit": "5"}),
        (
            "search://{q}{?limit,offset}",
            "search://x?offset=2&limit=5&other=1",
            {"q": "x", "limit": "5", "offset": "2"},
        ),
        ("search://{q}{?tag}", "search://x?tag=a%20b&tag=c", {"q": "x", "tag": "a b"}),
        ("weird://a.b/{id}", "weird://aXb/1", None),
    ],
)
def test_matches(uri_template: str, uri: str, expected: dict[str, str] | None) -> None:
    assert make_template(uri_template).matches(uri) == expected


@pytest.mark.parametrize(
    "uri_template", ["data://{a,b}", "data://{a", "data://a}/{b}", "data://{a-b}", "data://{a}/{a}"]
)
def test_malformed_template_is_rejected(uri_template: str) -> None:
    with pytest.raises(ValueError):
        make_template(uri_template)


# --- templates: registration checks -------------------------------------------------------


def test_required_parameter_missing_from_uri_is_rejected() -> None:
    def fn(a: str, b: str) -> str:
        return a + b

    with pytest.raises(ValueError, match="must be a subset of the URI path parameters"):
        ResourceTemplate.from_function(fn, "data://{a}")


def test_query_parameter_without_default_is_rejected() -> None:
    def fn(a: str, q: str) -> str:
        return a + q

    with pytest.raises(ValueError, match="must be optional"):
        ResourceTemplate.from_function(fn, "data://{a}{?q}")


def test_uri_parameter_unknown_to_function_is_rejected() -> None:
    def fn(a: str) -> str:
        return a

    with pytest.raises(ValueError, match="must be a subset of the function arguments"):
        ResourceTemplate.from_function(fn, "data://{a}/{b}")


def test_kwargs_function_takes_the_uri_parameters_it_does_not_name() -> None:
    def fn(a: str, **rest: str) -> str:
        return a

    template = ResourceTemplate.from_function(fn, "data://{a}/{b}")  # FastMCP accepts it
    assert set(template.parameters["properties"]) == {"a", "b"}


def test_function_with_params_but_template_without_is_rejected() -> None:
    def fn(a: str) -> str:
        return a

    with pytest.raises(ValueError, match="at least one parameter"):
        ResourceTemplate.from_function(fn, "data://static")
    with pytest.raises(ValueError):
        ResourceTemplate.from_function(fn, "data://{}")


def test_star_args_and_lambda_are_rejected() -> None:
    def fn(*args: str) -> str:
        return ""

    with pytest.raises(ValueError, match=r"\*args"):
        ResourceTemplate.from_function(fn, "data://{a}")
    with pytest.raises(ValueError, match="lambda"):
        ResourceTemplate.from_function(lambda a: a, "data://{a}")


def test_template_metadata_and_mcp_listing() -> None:
    async def weather(city: str, ctx: Context, units: str = "metric") -> dict[str, str]:
        """Current weather."""
        return {"city": city}

    template = ResourceTemplate.from_function(
        weather, "weather://{city}/now{?units}", tags={"w"}, title="Weather"
    )
    assert template.name == "weather"
    assert template.description == "Current weather."
    assert template.key == "weather://{city}/now{?units}"
    assert set(template.parameters["properties"]) == {"city", "units"}
    template.key = "prefix+weather://{city}/now{?units}"
    assert template.key.startswith("prefix+")
    mcp = template.to_mcp_template()
    assert isinstance(mcp, MCPResourceTemplate)
    assert (mcp.uriTemplate, mcp.name, mcp.title) == (
        "weather://{city}/now{?units}",
        "weather",
        "Weather",
    )
    assert (mcp.mimeType, mcp.meta) == ("text/plain", {"_fastmcp": {"tags": ["w"]}})


# --- templates: reading -------------------------------------------------------------------


@pytest.mark.anyio
async def test_template_converts_parameters_to_annotated_types() -> None:
    seen: dict[str, Any] = {}

    def fn(
        i: int, f: float, b: bool, u: uuid.UUID, c: Color, lv: Level, lit: Literal[1, 2], s: str
    ) -> str:
        seen.update(i=i, f=f, b=b, u=u, c=c, lv=lv, lit=lit, s=s)
        return "ok"

    template = ResourceTemplate.from_function(fn, "t://{i}/{f}/{b}/{u}/{c}/{lv}/{lit}/{s}")
    some_uuid = uuid.uuid4()
    await read_template(template, f"t://7/2.5/true/{some_uuid}/blue/2/1/007")
    assert seen == {
        "i": 7,
        "f": 2.5,
        "b": True,
        "u": some_uuid,
        "c": Color.BLUE,
        "lv": Level.HIGH,
        "lit": 1,
        "s": "007",
    }


@pytest.mark.anyio
async def test_query_parameters_default_when_absent() -> None:
    def search(q: str, limit: int = 10, exact: bool = False) -> dict[str, Any]:
        return {"q": q, "limit": limit, "exact": exact}

    template = ResourceTemplate.from_function(search, "search://{q}{?limit,exact}")
    [absent] = await read_template(template, "search://cats")
    [given] = await read_template(template, "search://cats?limit=3&exact=1")
    assert json.loads(absent.text) == {"q": "cats", "limit": 10, "exact": False}
    assert json.loads(given.text) == {"q": "cats", "limit": 3, "exact": True}
    assert (absent.uri, absent.mimeType) == ("search://cats", "text/plain")


@pytest.mark.anyio
async def test_wildcard_parameter_keeps_slashes() -> None:
    def show(path: str) -> str:
        return path

    template = ResourceTemplate.from_function(show, "files://{path*}")
    [contents] = await read_template(template, "files://docs/a%20b/readme.md")
    assert contents.text == "docs/a b/readme.md"


@pytest.mark.anyio
async def test_unconvertible_parameter_is_a_resource_error() -> None:
    def fn(n: int) -> str:
        return str(n)

    template = ResourceTemplate.from_function(fn, "n://{n}")
    with pytest.raises(ResourceError, match="n://"):
        await read_template(template, "n://abc")


@pytest.mark.anyio
async def test_template_context_is_injected_and_hidden() -> None:
    seen: list[Any] = []

    def fn(ctx: Context, id: str) -> str:
        seen.append((ctx, id))
        return id

    template = ResourceTemplate.from_function(fn, "items://{id}")
    assert "ctx" not in template.parameters["properties"]
    context = make_context()
    await read_template(template, "items://9", context=context)
    assert seen == [(context, "9")]


@pytest.mark.anyio
async def test_template_with_annotated_field_parameter() -> None:
    def fn(id: Annotated[int, Field(ge=1)]) -> str:
        return str(id)

    template = ResourceTemplate.from_function(fn, "items://{id}")
    assert (await read_template(template, "items://3"))[0].text == "3"
    with pytest.raises(ResourceError):
        await read_template(template, "items://0")


@pytest.mark.anyio
async def test_create_resource_gives_a_readable_resource() -> None:
    async def item(id: int) -> dict[str, int]:
        return {"id": id}

    template = ResourceTemplate.from_function(item, "items://{id}", tags={"t"})
    with anyio.fail_after(5):
        resource = await template.create_resource("items://5", {"id": "5"})
    assert isinstance(resource, FunctionResource)
    assert (resource.uri, resource.name, resource.tags) == ("items://5", "item", {"t"})
    [contents] = await read(resource)
    assert (json.loads(contents.text), contents.mimeType) == ({"id": 5}, "text/plain")


@pytest.mark.anyio
async def test_template_subclass_with_fastmcp_style_read() -> None:
    class Echo(ResourceTemplate):
        async def read(self, arguments: dict[str, Any]) -> str:  # type: ignore[override]
            return arguments["word"]

    template = Echo(uri_template="echo://{word}", name="echo")
    [contents] = await read_template(template, "echo://hi")
    assert contents.text == "hi"
