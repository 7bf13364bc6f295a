"""The server facade and core as FastMCP 2.13 programs use them (issue 16): what decorators
return, generated names, the OpenAPI refusals, FastMCP's resource-prefix functions, deprecated
methods, log data, `ctx.read_resource`, state shared by middleware and tools, list-changed
notifications in both eras, `ctx.request_context`, tool transformations and
`include_fastmcp_meta` through the server, the settings object."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import pytest

import trimcp
from trimcp import Client, Context, FastMCP
from trimcp.exceptions import ClientError, McpError
from trimcp.resources import ReadResourceContents
from trimcp.server.middleware import Middleware
from trimcp.server.server import add_resource_prefix, has_resource_prefix, remove_resource_prefix

from .wire import serving

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


# -- a request's context ---------------------------------------------------------------------


async def test_a_context_is_current_inside_its_async_with() -> None:
    from trimcp.server.dependencies import get_context

    mcp = FastMCP("t")
    async with Context(mcp) as outer:
        outer.set_state("k", 1)
        assert get_context() is outer
        async with Context(mcp) as inner:
            assert get_context() is inner and inner.get_state("k") == 1
            inner.set_state("k", 2)
        assert get_context() is outer and outer.get_state("k") == 1
    with pytest.raises(RuntimeError):
        get_context()


def _server_of_the_context() -> FastMCP:
    @asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict[str, str]]:
        yield {"db": "connected"}

    mcp = FastMCP("ctx", lifespan=lifespan)

    @mcp.resource("data://text")
    def text() -> str:
        return "hello"

    @mcp.tool
    async def logs(ctx: Context) -> str:
        await ctx.info("plain")
        await ctx.warning("with extra", extra={"n": 1})
        return "logged"

    @mcp.tool
    async def reads(ctx: Context) -> list[Any]:
        contents = await ctx.read_resource("data://text")
        assert all(isinstance(c, ReadResourceContents) for c in contents)
        return [[c.content, c.mime_type] for c in contents]

    @mcp.tool
    def request_facts(ctx: Context) -> dict[str, Any]:
        request = ctx.request_context
        assert request is not None
        return {
            "id": str(request.request_id),
            "user": getattr(request.meta, "user_id", None),
            "db": request.lifespan_context["db"],
        }

    @mcp.tool
    async def changes(ctx: Context) -> str:
        await ctx.send_tool_list_changed()
        await ctx.send_resource_list_changed()
        await ctx.send_prompt_list_changed()
        return "sent"

    return mcp


@pytest.mark.parametrize("protocol", ERAS)
async def test_log_data_is_fastmcps_msg_and_extra(protocol: str) -> None:
    logs: list[tuple[str, Any]] = []

    async def on_log(message: Any) -> None:
        logs.append((message.level, message.data))

    mcp = _server_of_the_context()
    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol, log_handler=on_log) as client:
            assert (await client.call_tool("logs")).data == "logged"
    assert logs == [
        ("info", {"msg": "plain"}),
        ("warning", {"msg": "with extra", "extra": {"n": 1}}),
    ]


@pytest.mark.parametrize("protocol", ERAS)
async def test_read_resource_in_a_tool_gives_read_resource_contents(protocol: str) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_server_of_the_context(), protocol=protocol) as client:
            assert (await client.call_tool("reads")).data == [["hello", "text/plain"]]


@pytest.mark.parametrize("protocol", ERAS)
async def test_request_context_has_fastmcps_fields(protocol: str) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_server_of_the_context(), protocol=protocol) as client:
            facts = (await client.call_tool("request_facts", meta={"user_id": "ada"})).data
    assert facts["user"] == "ada" and facts["db"] == "connected" and facts["id"]


@pytest.mark.parametrize("protocol", ERAS)
async def test_state_set_by_middleware_is_the_tools_and_back(protocol: str) -> None:
    after: list[Any] = []

    class Stateful(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            context.fastmcp_context.set_state("user", "ada")
            result = await call_next(context)
            after.append(context.fastmcp_context.get_state("answer"))
            return result

    mcp = FastMCP("t", middleware=[Stateful()])

    @mcp.tool
    def whoami(ctx: Context) -> str:
        ctx.set_state("answer", 42)
        return ctx.get_state("user")

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            assert (await client.call_tool("whoami")).data == "ada"
    assert after == [42]


_LIST_CHANGED = [
    "notifications/tools/list_changed",
    "notifications/resources/list_changed",
    "notifications/prompts/list_changed",
]


async def _list_changes_seen(client_of: Any) -> list[str]:
    seen: list[str] = []
    all_seen = anyio.Event()

    async def on_message(message: Any) -> None:
        method = getattr(message, "method", None)
        if method in _LIST_CHANGED:
            seen.append(method)
            if len(seen) == len(_LIST_CHANGED):
                all_seen.set()

    with anyio.fail_after(WAIT):
        async with client_of(on_message) as client:
            assert (await client.call_tool("changes")).data == "sent"
            await all_seen.wait()
    return seen


@pytest.mark.parametrize("protocol", ERAS)
async def test_list_changed_from_a_tool_reaches_the_message_handler(protocol: str) -> None:
    mcp = _server_of_the_context()

    def client_of(handler: Any) -> Client:
        return Client(mcp, protocol=protocol, message_handler=handler)

    assert await _list_changes_seen(client_of) == _LIST_CHANGED


@pytest.mark.parametrize("protocol", ERAS)
async def test_list_changed_from_a_tool_reaches_an_http_client(protocol: str) -> None:
    mcp = _server_of_the_context()
    async with serving(mcp, wait=WAIT) as (address, _):
        url = f"http://127.0.0.1:{address.port}/mcp"

        def client_of(handler: Any) -> Client:
            return Client(url, protocol=protocol, message_handler=handler)

        assert sorted(await _list_changes_seen(client_of)) == sorted(_LIST_CHANGED)


async def test_an_unknown_resource_is_fastmcps_unknown_resource() -> None:
    with anyio.fail_after(WAIT):
        async with Client(FastMCP("t")) as client:
            with pytest.raises(McpError, match="Unknown resource: 'data://none'"):
                await client.read_resource("data://none")


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


# -- middleware sees FastMCP's objects -------------------------------------------------------


def _tagged_server(*middleware: Middleware) -> FastMCP:
    mcp = FastMCP("mw", middleware=list(middleware))
    child = FastMCP("child")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool(tags={"private"})
    def secret() -> str:
        return "s"

    @child.tool(tags={"private"})
    def hidden() -> str:
        return "h"

    @child.tool
    def shown() -> str:
        return "v"

    @mcp.resource("data://public")
    def public() -> str:
        return "p"

    @mcp.resource("data://private", tags={"private"})
    def private() -> str:
        return "x"

    @mcp.resource("data://{k}", tags={"private"})
    def template(k: str) -> str:
        return k

    @mcp.prompt(tags={"private"})
    def confidential() -> str:
        return "c"

    mcp.mount(child, "ch")
    return mcp


class _HidePrivate(Middleware):
    """Filters every listing by tag, as FastMCP's documentation shows."""

    async def on_list_tools(self, context: Any, call_next: Any) -> Any:
        return [t for t in await call_next(context) if "private" not in t.tags]

    async def on_list_resources(self, context: Any, call_next: Any) -> Any:
        return [r for r in await call_next(context) if "private" not in r.tags]

    async def on_list_resource_templates(self, context: Any, call_next: Any) -> Any:
        return [t for t in await call_next(context) if "private" not in t.tags]

    async def on_list_prompts(self, context: Any, call_next: Any) -> Any:
        return [p for p in await call_next(context) if "private" not in p.tags]


@pytest.mark.parametrize("protocol", ERAS)
async def test_list_hooks_see_and_return_components(protocol: str) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_tagged_server(_HidePrivate()), protocol=protocol) as client:
            assert {t.name for t in await client.list_tools()} == {"add", "ch_shown"}
            assert [str(r.uri) for r in await client.list_resources()] == ["data://public"]
            assert await client.list_resource_templates() == []
            assert await client.list_prompts() == []


@pytest.mark.parametrize("protocol", ERAS)
async def test_call_tool_hooks_see_and_change_the_tool_result(protocol: str) -> None:
    from trimcp.tools.tool import ToolResult

    seen: list[Any] = []

    class Adjust(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            if context.message.name == "add":
                context.message.arguments["a"] += 100
            result = await call_next(context)
            seen.append(type(result))
            if context.message.name == "add":
                result.structured_content["result"] += 5
            return result

    with anyio.fail_after(WAIT):
        async with Client(_tagged_server(Adjust()), protocol=protocol) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 108
            assert (await client.call_tool("ch_shown")).data == "v"
    assert seen == [ToolResult, ToolResult]


@pytest.mark.parametrize("protocol", ERAS)
async def test_a_tool_error_passes_through_call_tool_hooks(protocol: str) -> None:
    from trimcp.exceptions import ToolError

    caught: list[str] = []

    class Watch(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            try:
                return await call_next(context)
            except ToolError as exc:
                caught.append(str(exc))
                raise

    mcp = FastMCP("t", middleware=[Watch()])

    @mcp.tool
    def fail() -> str:
        raise ToolError("no luck")

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            with pytest.raises(ToolError, match="no luck"):
                await client.call_tool("fail")
    assert caught == ["no luck"]


@pytest.mark.parametrize("protocol", ERAS)
async def test_a_component_change_is_announced_once_per_request(protocol: str) -> None:
    mcp = FastMCP("t")

    @mcp.tool
    def toggle(ctx: Context) -> str:
        for _ in range(3):  # what enable()/disable() of several tools report
            ctx.notify_list_changed("tools")
        return "toggled"

    seen: list[str] = []
    arrived = anyio.Event()

    async def on_message(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            seen.append(message.method)
            arrived.set()

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol, message_handler=on_message) as client:
            assert (await client.call_tool("toggle")).data == "toggled"
            await arrived.wait()
            await client.ping()  # anything sent after the answer has arrived by now
    assert seen == ["notifications/tools/list_changed"]


async def test_deprecated_context_get_http_request_gives_the_request() -> None:
    mcp = FastMCP("t")

    @mcp.tool
    def path(ctx: Context) -> str:
        with pytest.warns(DeprecationWarning, match=r"Context.get_http_request\(\) is deprecated"):
            try:
                return str(ctx.get_http_request().url.path)
            except RuntimeError as exc:
                return str(exc)

    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            assert (await client.call_tool("path")).data == "No active HTTP request found."
    async with serving(mcp, wait=WAIT) as (address, _):
        async with Client(f"http://127.0.0.1:{address.port}/mcp") as client:
            assert (await client.call_tool("path")).data == "/mcp"


@pytest.mark.parametrize("protocol", ERAS)
async def test_read_resource_hooks_see_read_resource_contents(protocol: str) -> None:
    seen: list[Any] = []

    class Shout(Middleware):
        async def on_read_resource(self, context: Any, call_next: Any) -> Any:
            contents = await call_next(context)
            seen.extend((type(c), c.mime_type) for c in contents)
            return [ReadResourceContents(c.content.upper(), c.mime_type) for c in contents]

    mcp = FastMCP("t", middleware=[Shout()])

    @mcp.resource("data://{name}")
    def greeting(name: str) -> str:
        return f"hello {name}"

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            (content,) = await client.read_resource("data://ada")
            assert (content.text, str(content.uri)) == ("HELLO ADA", "data://ada")
    assert seen == [(ReadResourceContents, "text/plain")]


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


async def test_ctx_session_is_one_object_per_client_session() -> None:
    mcp = FastMCP("t")

    @mcp.tool
    def session_key(ctx: Context) -> int:
        return id(ctx.session)

    with anyio.fail_after(WAIT):
        async with (
            Client(mcp, protocol="legacy") as first,
            Client(mcp, protocol="legacy") as second,
        ):
            a1 = (await first.call_tool("session_key")).data
            a2 = (await first.call_tool("session_key")).data
            b = (await second.call_tool("session_key")).data
    assert a1 == a2 != b
    with pytest.raises(RuntimeError, match="session is not available"):
        _ = Context(mcp).session


async def test_on_initialize_hooks_see_the_handshake_and_may_refuse_it() -> None:
    from trimcp.server.middleware import InitializeRequest

    seen: list[Any] = []

    class Greet(Middleware):
        async def on_initialize(self, context: Any, call_next: Any) -> Any:
            assert isinstance(context.message, InitializeRequest)
            seen.append((context.method, context.message.params.clientInfo.name))
            context.fastmcp_context.set_state("client", context.message.params.clientInfo.name)
            return await call_next(context)

    class Refuse(Middleware):
        async def on_initialize(self, context: Any, call_next: Any) -> Any:
            raise McpError(-32600, "not you")

    with anyio.fail_after(WAIT):
        async with Client(FastMCP("t", middleware=[Greet()]), protocol="legacy", name="ada"):
            pass
        with pytest.raises(ClientError, match="not you"):
            async with Client(FastMCP("t", middleware=[Refuse()]), protocol="legacy"):
                pass
    assert seen == [("initialize", "ada")]


def test_a_middleware_context_is_stamped_with_an_aware_datetime() -> None:
    import datetime

    from trimcp.server.middleware import MiddlewareContext

    stamp = MiddlewareContext(message=None).timestamp
    assert isinstance(stamp, datetime.datetime) and stamp.tzinfo is not None


@pytest.mark.parametrize("over", ["memory", "http"])
async def test_a_session_close_callback_runs_when_the_client_session_ends(over: str) -> None:
    ended = anyio.Event()
    mcp = FastMCP("t")

    @mcp.tool
    def bind(ctx: Context) -> str:
        ctx.session.at_close(ended.set)
        return "bound"

    async def use(target: Any) -> None:
        async with Client(target, protocol="legacy") as client:
            assert (await client.call_tool("bind")).data == "bound"
            assert not ended.is_set()

    with anyio.fail_after(WAIT):
        if over == "memory":
            await use(mcp)
        else:
            async with serving(mcp, wait=WAIT) as (address, _):
                await use(f"http://127.0.0.1:{address.port}/mcp")
                await ended.wait()
        await ended.wait()


def test_elicitation_accepts_unions_one_primitive_expresses() -> None:
    from trimcp.server.elicitation import get_elicitation_schema

    @dataclasses.dataclass
    class Data:
        number: int | float
        either: Literal["x"] | Literal["y"]

    properties = get_elicitation_schema(Data)["properties"]
    assert properties["number"] == {"type": "number"}
    assert properties["either"] == {"type": "string", "enum": ["x", "y"]}

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
