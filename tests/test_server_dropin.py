"""The server facade as FastMCP 2.13 programs use it (issue 16): what decorators return,
generated names, the OpenAPI and low-level refusals, FastMCP's resource-prefix functions,
deprecated methods and settings, tool transformations, `include_fastmcp_meta`, tags, mounted
proxies, FastMCP's public names at their module paths. The request context is
`test_server_dropin_context`, middleware `test_server_dropin_middleware`."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Literal

import anyio
import pytest

import trimcp
from trimcp import Client, Context, FastMCP
from trimcp.server.server import add_resource_prefix, has_resource_prefix, remove_resource_prefix

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
WAIT = 10


# -- the facade ------------------------------------------------------------------------------


def test_a_server_without_a_name_gets_a_generated_one() -> None:
    first, second = FastMCP(), FastMCP()
    assert first.name.startswith("FastMCP-") and first.name != second.name
    assert FastMCP.generate_name("api").startswith("FastMCP-api-")


def test_decorators_return_resources_and_templates() -> None:
    from trimcp.resources import Resource, ResourceTemplate

    mcp = FastMCP("t")

    @mcp.resource("data://fixed")
    def fixed() -> str:
        return "x"

    @mcp.resource("data://{key}")
    def keyed(key: str) -> str:
        return key

    assert isinstance(fixed, Resource) and str(fixed.uri) == "data://fixed"
    assert isinstance(keyed, ResourceTemplate) and keyed.uri_template == "data://{key}"


def test_decorator_misuse_is_refused_with_fastmcp_messages() -> None:
    mcp = FastMCP("t")
    with pytest.raises(TypeError, match="Cannot specify both a name as first argument"):
        mcp.tool("positional", name="keyword")
    with pytest.raises(TypeError, match="The @resource decorator was used incorrectly"):
        mcp.resource(lambda: "x")  # type: ignore[arg-type]
    for decorator in (mcp.tool, mcp.prompt, mcp.resource("data://c")):
        with pytest.raises(ValueError, match="To decorate a classmethod"):
            decorator(classmethod(lambda cls: "x"))


def test_openapi_servers_are_refused_when_made() -> None:
    from trimcp.experimental.server.openapi import FastMCPOpenAPI as NewFastMCPOpenAPI
    from trimcp.server.openapi import FastMCPOpenAPI, MCPType, OpenAPITool, RouteMap, RouteType

    spec = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"}, "paths": {}}
    for make in (
        lambda: FastMCP.from_openapi(spec, client=None),
        lambda: FastMCP.from_fastapi(object()),
        lambda: FastMCPOpenAPI(spec, client=None),
        lambda: NewFastMCPOpenAPI(spec, client=None),
        lambda: OpenAPITool(),
    ):
        with pytest.raises(NotImplementedError, match="OpenAPI"):
            make()
    # the route-map vocabulary itself is data, and works
    assert RouteMap(route_type=RouteType.IGNORE).mcp_type is MCPType.EXCLUDE
    with pytest.raises(ValueError, match="mcp_type"):
        RouteMap()


@pytest.mark.parametrize(
    ("uri", "prefix", "added", "removed_back"),
    [
        ("resource://path/to/x", "pre", "resource://pre/path/to/x", "resource://path/to/x"),
        ("resource:///abs", "pre", "resource://pre//abs", "resource:///abs"),
        ("resource://x", "", "resource://x", "resource://x"),
    ],
)
def test_resource_prefix_functions_follow_fastmcp(
    uri: str, prefix: str, added: str, removed_back: str
) -> None:
    assert add_resource_prefix(uri, prefix) == added
    assert remove_resource_prefix(added, prefix) == removed_back
    assert has_resource_prefix(added, prefix) is bool(prefix)
    assert add_resource_prefix(uri, prefix, "protocol") == (f"{prefix}+{uri}" if prefix else uri)


def test_resource_prefix_functions_leave_other_uris_and_refuse_bad_ones() -> None:
    assert remove_resource_prefix("resource://other/x", "pre") == "resource://other/x"
    assert not has_resource_prefix("resource://x/pre/y", "pre")
    for function in (add_resource_prefix, remove_resource_prefix, has_resource_prefix):
        with pytest.raises(ValueError, match="Invalid URI format"):
            function("not-a-uri", "pre")


def test_deprecated_methods_warn_unless_the_setting_is_off(monkeypatch: Any) -> None:
    mcp = FastMCP("t")

    def x() -> str:
        return "x"

    with pytest.warns(DeprecationWarning, match="add_resource_fn"):
        mcp.add_resource_fn(x, "data://x")
    with pytest.warns(DeprecationWarning, match="streamable_http_app"):
        app = mcp.streamable_http_app()
    assert hasattr(app, "lifespan")
    monkeypatch.setattr(trimcp.settings, "deprecation_warnings", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mcp.sse_app()


async def test_run_async_runs_the_servers_own_stdio_method() -> None:
    seen: list[dict[str, Any]] = []

    class Recording(FastMCP):
        async def run_stdio_async(self, *args: Any, **options: Any) -> None:  # type: ignore[override]
            seen.append(options)

    await Recording("t").run_async(log_level="WARNING", show_banner=False)
    assert seen == [{"show_banner": False, "log_level": "WARNING"}]


def test_trimcp_settings_reads_and_writes_the_options_before_and_after_a_server(
    monkeypatch: Any,
) -> None:
    from trimcp.settings import Settings, settings

    before = trimcp.settings.log_level
    FastMCP("t")
    assert trimcp.settings.log_level == before
    monkeypatch.setattr(trimcp.settings, "mask_error_details", True)
    assert settings.mask_error_details is True and FastMCP("u").mask_error_details is True
    environment = Settings({"FASTMCP_LOG_LEVEL": "debug", "FASTMCP_DEPRECATION_WARNINGS": "0"})
    assert (environment.log_level, environment.deprecation_warnings) == ("DEBUG", False)


# -- options FastMCP's constructor takes -----------------------------------------------------


async def test_tool_transformations_apply_to_the_servers_tools() -> None:
    from trimcp.tools.tool_transform import ToolTransformConfig

    mcp = FastMCP("t", tool_transformations={"add": ToolTransformConfig(name="plus")})

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    def sub(a: int, b: int) -> int:
        return a - b

    mcp.add_tool_transformation("sub", ToolTransformConfig(name="minus"))
    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            assert {tool.name for tool in await client.list_tools()} == {"plus", "minus"}
            assert (await client.call_tool("plus", {"a": 2, "b": 3})).data == 5
            mcp.remove_tool_transformation("sub")
            assert {tool.name for tool in await client.list_tools()} == {"plus", "sub"}


@pytest.mark.parametrize("protocol", ERAS)
async def test_include_fastmcp_meta_false_lists_no_fastmcp_meta(protocol: str) -> None:
    def tagged(mcp: FastMCP) -> FastMCP:
        def one() -> int:
            return 1

        def text() -> str:
            return "r"

        def keyed(k: str) -> str:
            return k

        mcp.tool(one, tags={"t"})
        mcp.resource("data://r", tags={"t"})(text)
        mcp.resource("data://{k}", tags={"t"})(keyed)
        mcp.prompt(text, tags={"t"})
        return mcp

    async def metas(mcp: FastMCP) -> list[Any]:
        async with Client(mcp, protocol=protocol) as client:
            return [
                item.meta
                for items in (
                    await client.list_tools(),
                    await client.list_resources(),
                    await client.list_resource_templates(),
                    await client.list_prompts(),
                )
                for item in items
            ]

    with anyio.fail_after(WAIT):
        assert await metas(tagged(FastMCP("off", include_fastmcp_meta=False))) == [None] * 4
        assert all(m == {"_fastmcp": {"tags": ["t"]}} for m in await metas(tagged(FastMCP("on"))))


# -- FastMCP's public names at its module paths ----------------------------------------------


def test_fastmcps_public_names_are_at_their_paths() -> None:
    from trimcp.server import server as server_module
    from trimcp.server.context import LogData, get_context, set_context

    assert server_module.URI_PATTERN.match("resource://x") is not None
    assert server_module.LifespanCallable is not None and server_module.Transport is not None
    assert LogData(msg="m").extra is None
    mcp = FastMCP("t")
    with set_context(Context(mcp)) as ctx:
        assert get_context() is ctx


async def test_default_lifespan_yields_an_empty_dict() -> None:
    from trimcp.server.server import default_lifespan

    async with default_lifespan(FastMCP("t")) as value:
        assert value == {}


def test_validate_elicitation_json_schema_follows_fastmcps_rules() -> None:
    from trimcp.server.elicitation import (
        ScalarElicitationType,
        get_elicitation_schema,
        validate_elicitation_json_schema,
    )

    @dataclasses.dataclass
    class Booking:
        date: str
        guests: int

    validate_elicitation_json_schema(get_elicitation_schema(Booking))
    assert ScalarElicitationType(value=3).value == 3
    validate_elicitation_json_schema(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "age": {"type": ["integer", "null"]},
                "kind": {"enum": ["a", "b"]},
                "pick": {"anyOf": [{"const": "x"}, {"type": "string"}]},
            },
        }
    )
    with pytest.raises(TypeError, match="must be an object schema"):
        validate_elicitation_json_schema({"type": "string"})
    for bad in ({"type": "object"}, {"type": "array", "items": {"type": "string"}}):
        with pytest.raises(TypeError, match=f"has type '{bad['type']}' which is not a primitive"):
            validate_elicitation_json_schema({"type": "object", "properties": {"f": bad}})
    with pytest.raises(TypeError, match="could not be validated"):
        validate_elicitation_json_schema(
            {"type": "object", "properties": {"f": {"$ref": "#/$defs/Nested"}}, "$defs": {}}
        )


def test_the_sdk_low_level_server_classes_are_refused() -> None:
    from trimcp.server.low_level import LowLevelServer, MiddlewareServerSession

    for cls in (LowLevelServer, MiddlewareServerSession):
        with pytest.raises(NotImplementedError, match="low-level server"):
            cls(FastMCP("t"))


async def test_create_base_app_makes_the_request_current_in_its_routes() -> None:
    import httpx2
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from trimcp.server.dependencies import get_http_request
    from trimcp.server.http import StreamableHTTPASGIApp, create_base_app

    async def where(request: Any) -> PlainTextResponse:
        return PlainTextResponse(get_http_request().url.path)

    class Manager:
        async def handle_request(self, scope: Any, receive: Any, send: Any) -> None:
            await PlainTextResponse("managed")(scope, receive, send)

    app = create_base_app(
        [Route("/here", where), Route("/mcp", StreamableHTTPASGIApp(Manager()))], []
    )
    transport = httpx2.ASGITransport(app=app)
    with anyio.fail_after(WAIT):
        async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/here")).text == "/here"
            assert (await client.get("/mcp")).text == "managed"


def test_elicitation_accepts_unions_one_primitive_expresses() -> None:
    from trimcp.server.elicitation import get_elicitation_schema

    @dataclasses.dataclass
    class Data:
        number: int | float
        either: Literal["x"] | Literal["y"]

    properties = get_elicitation_schema(Data)["properties"]
    assert properties["number"] == {"type": "number", "title": "Number"}  # pydantic's titles
    assert properties["either"] == {"type": "string", "title": "Either", "enum": ["x", "y"]}

    @dataclasses.dataclass
    class Mixed:
        value: int | str

    with pytest.raises(TypeError, match="union"):
        get_elicitation_schema(Mixed)


def test_fastmcp_2x_settings_spellings_still_work_with_their_warnings(caplog: Any) -> None:
    from trimcp.settings import Settings
    from trimcp.utilities.tests import caplog_for_fastmcp

    with caplog_for_fastmcp(caplog):
        old = Settings({"FASTMCP_SERVER_HOST": "10.0.0.1"})
        assert old.settings is old
    assert old.host == "10.0.0.1" and old.source("host") == "FASTMCP_SERVER_HOST"
    messages = [record.getMessage() for record in caplog.records]
    assert any("`FASTMCP_SERVER_` environment variables is deprecated" in m for m in messages)
    assert any("fastmcp.settings.settings is deprecated" in m for m in messages)


def test_constructor_transport_settings_warn_and_still_apply() -> None:
    with pytest.warns(DeprecationWarning, match="Providing `port` when creating a server"):
        mcp = FastMCP("t", port=9001)
    assert mcp.transport_settings == {"port": 9001}
    with pytest.warns(DeprecationWarning, match=r"Accessing `\.settings`"):
        view = mcp.settings
    assert view.port == 9001 and view.host == trimcp.settings.host
    with pytest.warns(DeprecationWarning, match="'dependencies' parameter is deprecated"):
        FastMCP("d", dependencies=["httpx"])


@pytest.mark.parametrize("protocol", ERAS)
async def test_include_and_exclude_tags_can_be_changed_on_a_server(protocol: str) -> None:
    mcp = FastMCP("t", include_tags={"public"})

    @mcp.tool(tags={"public"})
    def shown() -> str:
        return "s"

    @mcp.tool(tags={"math"})
    def add(a: int, b: int) -> int:
        return a + b

    assert mcp.include_tags == {"public"}
    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            assert {t.name for t in await client.list_tools()} == {"shown"}
            mcp.include_tags = None
            mcp.exclude_tags = {"math"}
            assert {t.name for t in await client.list_tools()} == {"shown"}
            mcp.exclude_tags = None
            assert {t.name for t in await client.list_tools()} == {"shown", "add"}


async def test_getters_list_mounted_proxies_and_mount_takes_fastmcps_separators() -> None:
    backend = FastMCP("backend")

    @backend.tool
    def get_data(query: str) -> str:
        return f"data for {query}"

    main = FastMCP("main")
    with pytest.warns(DeprecationWarning, match="separator"):
        main.mount(FastMCP.as_proxy(backend), "proxy", tool_separator="-")
    with anyio.fail_after(WAIT):
        assert "proxy_get_data" in await main.get_tools()
        assert (await main.get_tool("proxy_get_data")).key == "proxy_get_data"
        async with Client(main) as client:
            assert (await client.call_tool("proxy_get_data", {"query": "q"})).data == "data for q"
