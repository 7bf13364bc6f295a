"""Resources as FastMCP 2.13 code uses them (issue 16): `match_uri_template` and its helpers,
the MIME type of JSON values, `HttpResource`, `DirectoryResource`'s listing, FastMCP's
not-implemented wording, and `ReadResourceContents`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from tests.wire import serving_with_hypercorn
from trimcp import Client, FastMCP
from trimcp.exceptions import ResourceError
from trimcp.resources import (
    DirectoryResource,
    HttpResource,
    ReadResourceContents,
    Resource,
    ResourceContent,
    ResourceManager,
    ResourceTemplate,
    TextResource,
)
from trimcp.resources.template import build_regex, extract_query_params, match_uri_template
from trimcp.tools import Tool
from trimcp.types import TextResourceContents

# --- match_uri_template, build_regex, extract_query_params -----------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("test://foo/123", {"x": "foo", "y": "123"}),
        ("test://foo/bar/baz", None),
        ("test://two words/foo", {"x": "two words", "y": "foo"}),
        (f"test://a{quote('/', safe='')}b/c", {"x": "a/b", "y": "c"}),
        ("prefix+test://foo/123", None),
        ("other://foo/123", None),
    ],
)
def test_match_uri_template_matches_path_parameters(uri: str, expected: Any) -> None:
    assert match_uri_template(uri, "test://{x}/{y}") == expected


def test_match_uri_template_wildcards_and_query() -> None:
    assert match_uri_template("f://a/x/y/b", "f://a/{p*}/b") == {"p": "x/y"}
    assert match_uri_template("f://a/x/y/z", "f://a/{p*}/b") is None
    assert match_uri_template("s://cats?limit=3&other=1", "s://{q}{?limit,exact}") == {
        "q": "cats",
        "limit": "3",
    }
    assert match_uri_template(uri="r://test_foo", uri_template="r://test_{x}") == {"x": "foo"}
    assert match_uri_template("r://test_", "r://test_{x}") is None


def test_server_matching_still_refuses_what_match_uri_template_accepts() -> None:
    """The plain function decodes `%2F` into the value; a server's template refuses a simple
    `{name}` that would hand its function a path (the traversal rule)."""
    template = ResourceTemplate(uri_template="file://{name}", name="t")
    uri = "file://..%2F..%2Fetc%2Fpasswd"
    assert match_uri_template(uri, "file://{name}") == {"name": "../../etc/passwd"}
    assert template.matches(uri) is None


def test_build_regex_and_extract_query_params() -> None:
    pattern = build_regex("test://{x}/{rest*}{?q}")
    assert isinstance(pattern, re.Pattern)
    found = pattern.match("test://a/b/c")
    assert found is not None and found.groupdict() == {"x": "a", "rest": "b/c"}
    assert pattern.match("test://a") is None
    assert extract_query_params("s://{q}{?limit,exact}") == {"limit", "exact"}
    assert extract_query_params("s://{q}") == set()


def test_template_without_parameters_is_refused_with_fastmcp_wording() -> None:
    with pytest.raises(ValueError, match="URI template must contain at least one parameter"):
        ResourceTemplate.from_function(lambda: "x", "test://no-params", name="t")


# --- FastMCP's wording for read() not implemented ---------------------------------------------


@pytest.mark.anyio
async def test_base_classes_say_subclasses_must_implement_read() -> None:
    class Bare(Resource):
        pass

    class BareTemplate(ResourceTemplate):
        pass

    with pytest.raises(NotImplementedError, match=r"Subclasses must implement read\(\)"):
        await Bare(uri="data://bare").read()
    with pytest.raises(NotImplementedError, match="or override create_resource"):
        await BareTemplate(uri_template="data://{x}", name="t").read({"x": "1"})


# --- MIME types of JSON values -----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("value", [{"a": 1}, [1, "two"]])
async def test_json_values_are_text_plain_unless_the_resource_names_a_type(value: Any) -> None:
    """FastMCP 2.13 sends what a function returns under the resource's MIME type, `text/plain`
    by default, whatever the value."""
    plain = Resource.from_function(lambda: value, "data://plain", name="plain")
    named = Resource.from_function(lambda: value, "data://named", name="n", mime_type="app/x")
    with anyio.fail_after(5):
        [p] = await plain.read_contents()
        [n] = await named.read_contents()
    assert (json.loads(p.text), p.mimeType) == (value, "text/plain")
    assert (json.loads(n.text), n.mimeType) == (value, "app/x")


@pytest.mark.anyio
async def test_a_resource_content_holding_json_still_says_application_json() -> None:
    resource = Resource.from_function(
        lambda: [ResourceContent({"k": "v"}), ResourceContent("t")], "data://p", name="p"
    )
    with anyio.fail_after(5):
        data, text = await resource.read_contents()
    assert (json.loads(data.text), data.mimeType) == ({"k": "v"}, "application/json")
    assert text.mimeType == "text/plain"


@pytest.mark.anyio
async def test_json_values_reach_a_client_as_text_plain() -> None:
    mcp = FastMCP("m")

    @mcp.resource("data://config")
    def config() -> dict[str, int]:
        return {"a": 1}

    @mcp.resource("items://{id}")
    def item(id: int) -> list[int]:
        return [id, id]

    with anyio.fail_after(10):
        async with Client(mcp) as client:
            [fixed] = await client.read_resource("data://config")
            [templated] = await client.read_resource("items://3")
    assert (json.loads(fixed.text), fixed.mimeType) == ({"a": 1}, "text/plain")
    assert (json.loads(templated.text), templated.mimeType) == ([3, 3], "text/plain")


# --- DirectoryResource ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_directory_resource_lists_files_as_fastmcp_does(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("c")
    flat = DirectoryResource(uri="dir://flat", path=tmp_path)
    deep = DirectoryResource(uri="dir://deep", path=tmp_path, recursive=True, pattern="*.md")
    with anyio.fail_after(5):
        assert await flat.list_files() == [tmp_path / "a.txt", tmp_path / "b.txt"]
        listing = json.loads(await flat.read())
        [contents] = await deep.read_contents()
    assert listing == {"files": ["a.txt", "b.txt"]}
    assert json.loads(contents.text) == {"files": [str(Path("sub") / "c.md")]}
    assert contents.mimeType == "application/json"


@pytest.mark.anyio
async def test_directory_resource_errors(tmp_path: Path) -> None:
    missing = DirectoryResource(uri="dir://m", path=tmp_path / "missing")
    (tmp_path / "f").write_text("x")
    not_dir = DirectoryResource(uri="dir://f", path=tmp_path / "f")
    with anyio.fail_after(5):
        with pytest.raises(FileNotFoundError):
            await missing.list_files()
        with pytest.raises(NotADirectoryError):
            await not_dir.list_files()
        with pytest.raises(ResourceError, match="Error reading directory"):
            await missing.read()


# --- HttpResource --------------------------------------------------------------------------------


def http_app() -> Starlette:
    async def data(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def text(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    async def gone(request: Request) -> PlainTextResponse:
        return PlainTextResponse("gone", status_code=404)

    return Starlette(routes=[Route("/data", data), Route("/text", text), Route("/gone", gone)])


@pytest.mark.anyio
async def test_http_resource_fetches_its_url_on_each_read() -> None:
    async with serving_with_hypercorn(http_app()) as (base, _client):
        data = HttpResource(uri="api://data", url=f"{base}/data")
        text = HttpResource(uri="api://text", url=f"{base}/text", mime_type="text/plain")
        gone = HttpResource(uri="api://gone", url=f"{base}/gone")
        assert (data.url, data.mime_type) == (f"{base}/data", "application/json")
        assert json.loads(await data.read()) == {"ok": True}
        [contents] = await text.read_contents()
        assert (contents.text, contents.mimeType) == ("hello", "text/plain")
        with pytest.raises(ResourceError, match="404"):
            await gone.read()


# --- ReadResourceContents ------------------------------------------------------------------------


def test_read_resource_contents_has_fastmcp_fields() -> None:
    item = ReadResourceContents(content="x", mime_type="text/plain")
    assert (item.content, item.mime_type, item.meta) == ("x", "text/plain", None)
    assert item == ReadResourceContents("x", "text/plain")


@pytest.mark.anyio
async def test_manager_reads_as_read_resource_contents() -> None:
    manager = ResourceManager()
    manager.add_resource(TextResource(uri="data://t", text="hello", mime_type="text/markdown"))
    manager.add_resource(Resource.from_function(lambda: b"\x00\x01", "data://b", name="b"))
    manager.add_template(
        ResourceTemplate.from_function(lambda id: {"id": id}, "i://{id}", name="i")
    )
    with anyio.fail_after(5):
        [text] = await manager.read_resource_contents("data://t")
        [blob] = await manager.read_resource_contents("data://b")
        [templated] = await manager.read_resource_contents("i://7")
    assert text == ReadResourceContents("hello", "text/markdown")
    assert blob == ReadResourceContents(b"\x00\x01", "text/plain")
    assert (json.loads(templated.content), templated.mime_type) == ({"id": "7"}, "text/plain")


def test_read_contents_of_wire_text_keeps_meta() -> None:
    from trimcp.resources.resource import to_read_contents

    wire = TextResourceContents(uri="d://x", text="t", mimeType="text/plain", meta={"k": 1})
    assert to_read_contents([wire]) == [ReadResourceContents("t", "text/plain", {"k": 1})]


# --- components by value ------------------------------------------------------------------------


def test_templates_of_the_same_function_and_uri_are_equal() -> None:
    def item(id: str) -> str:
        return id

    first = ResourceTemplate.from_function(item, "items://{id}")
    assert first == ResourceTemplate.from_function(item, "items://{id}")
    assert first != ResourceTemplate.from_function(item, "things://{id}")
    assert first.model_copy(update={"uri_template": "things://{id}"}).matches("things://1") == {
        "id": "1"
    }


def test_listing_entries_carry_fastmcp_tags_meta() -> None:
    resource = TextResource(uri="data://t", text="x", tags={"b", "a"}, meta={"k": 1})
    entry = resource.to_mcp_resource()
    assert entry.meta == {"k": 1, "_fastmcp": {"tags": ["a", "b"]}}
    assert resource.to_mcp_resource(include_fastmcp_meta=False).meta == {"k": 1}


@pytest.mark.anyio
async def test_a_function_template_built_directly_inspects_its_function() -> None:
    from trimcp.resources.template import FunctionResourceTemplate

    def item(id: int) -> str:
        return f"item {id + 1}"

    template = FunctionResourceTemplate(fn=item, uri_template="items://{id}", name="item")
    assert template.parameters["properties"]["id"]["type"] == "integer"
    with anyio.fail_after(5):
        [contents] = await template.read_contents("items://1", {"id": "1"})
    assert contents.text == "item 2"


def test_template_from_a_listed_template() -> None:
    import mcp.types

    from trimcp.types import ResourceTemplate as WireTemplate

    for listed in (
        WireTemplate(uriTemplate="w://{x}", name="w", description="d", mimeType="text/csv"),
        mcp.types.ResourceTemplate(
            uriTemplate="w://{x}", name="w", description="d", mimeType="text/csv"
        ),
    ):
        template = ResourceTemplate.from_mcp_template(listed)
        assert type(template) is ResourceTemplate
        assert (template.uri_template, template.name, template.description) == ("w://{x}", "w", "d")
        assert (template.mime_type, template.matches("w://1")) == ("text/csv", {"x": "1"})


@pytest.mark.anyio
async def test_visible_listings_and_find_own() -> None:
    """`visible_*` is what clients see (mounts included); `find_own` answers for the
    manager's own components, hidden ones included."""
    child = FastMCP("child")
    child.add_resource(TextResource(uri="data://c", text="c"))
    parent = FastMCP("parent")
    parent.mount(child, prefix="kid")
    manager = parent.resource_manager
    manager.add_resource(TextResource(uri="data://h", text="h", enabled=False))
    manager.add_template(ResourceTemplate.from_function(lambda x: x, "t://{x}", name="t"))
    assert set(await manager.visible_resources()) == {"data://kid/c"}
    assert set(await manager.visible_templates()) == {"t://{x}"}
    found = manager.find_own("data://h")
    assert found is not None and found[0].uri == "data://h"
    assert manager.find("data://h") is None
    assert manager.find_own("data://kid/c") is None  # a mount's, not its own
    templated = manager.find_own("t://7")
    assert templated is not None and templated[1] == {"x": "7"}


# --- templates whose function takes **kwargs -----------------------------------------------------


@pytest.mark.anyio
async def test_a_template_function_may_take_the_uri_parameters_as_kwargs() -> None:
    def total(**kwargs: int) -> int:
        return sum(kwargs.values())

    mcp = FastMCP("m")
    mcp.add_template(ResourceTemplate.from_function(total, "test://{x}/{y}/{z}"))
    with anyio.fail_after(10):
        async with Client(mcp) as client:
            [contents] = await client.read_resource("test://1/2/3")
    assert contents.text == "6"


@pytest.mark.anyio
async def test_kwargs_take_what_the_function_does_not_name_query_ones_only_when_given() -> None:
    seen: list[dict[str, Any]] = []

    async def item(x: str, **kwargs: int) -> str:
        seen.append({"x": x, **kwargs})
        return "ok"

    template = ResourceTemplate.from_function(item, "items://{x}/{y}{?z}")
    assert set(template.parameters["properties"]) == {"x", "y", "z"}
    with anyio.fail_after(5):
        await template.read_contents("items://a/2", template.matches("items://a/2") or {})
        uri = "items://a/2?z=3"
        await template.read_contents(uri, template.matches(uri) or {})
        with pytest.raises(ResourceError, match="Invalid parameters"):
            await template.read({"x": "a", "y": "two"})
    assert seen == [{"x": "a", "y": 2}, {"x": "a", "y": 2, "z": 3}]


def test_wants_template_inspects_the_function_only_for_a_fixed_uri() -> None:
    from trimcp.exceptions import InvalidSignature
    from trimcp.resources.template import wants_template

    def spread(**kwargs: str) -> str:
        return ""

    def takes(x: str) -> str:
        return x

    assert wants_template(spread, "t://{x}")
    assert wants_template(takes, "data://fixed")
    assert not wants_template(lambda: "x", "data://fixed")
    with pytest.raises(InvalidSignature):
        wants_template(spread, "data://fixed")


# --- enable()/disable() during a request -------------------------------------------------------


@pytest.mark.anyio
async def test_enabling_or_disabling_in_a_request_tells_the_client_once_per_kind() -> None:
    from trimcp.prompts import Prompt

    mcp = FastMCP("n")
    resource = mcp.add_resource(TextResource(uri="data://t", text="t"))
    template = mcp.add_template(ResourceTemplate.from_function(lambda x: x, "t://{x}", name="t"))
    prompt = mcp.add_prompt(Prompt.from_function(lambda: "p", name="p"))
    other = mcp.add_tool(Tool.from_function(lambda: "o", name="other"))

    @mcp.tool
    def toggle() -> str:
        resource.disable()
        template.disable()
        resource.enable()
        prompt.disable()
        other.disable()
        other.enable()
        return "ok"

    seen: list[str] = []
    done = anyio.Event()

    async def on_message(message: Any) -> None:
        text = repr(message)
        for kind in ("resources", "prompts", "tools"):
            if f"{kind}/list_changed" in text or f"{kind.capitalize()[:-1]}ListChanged" in text:
                seen.append(kind)
        if {"prompts", "resources", "tools"} <= set(seen):
            done.set()

    with anyio.fail_after(10):
        async with Client(mcp, protocol="legacy", message_handler=on_message) as client:
            await client.call_tool("toggle", {})
            await done.wait()
            await client.ping()  # anything sent after the tool's answer has arrived
    assert sorted(seen) == ["prompts", "resources", "tools"]
    assert (resource.enabled, template.enabled, prompt.enabled) == (True, False, False)


def test_enabling_outside_a_request_changes_only_the_flag() -> None:
    resource = TextResource(uri="data://t", text="t", enabled=False)
    resource.enable()
    template = ResourceTemplate(uri_template="t://{x}", name="t")
    template.disable()
    assert (resource.enabled, template.enabled) == (True, False)
