"""Server composition: import_server, mount, prefixes, precedence, tag filtering, context."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio
import pytest

import trimcp.settings as settings_module
from trimcp import Client, Context, FastMCP
from trimcp.exceptions import McpError, NotFoundError, ToolError
from trimcp.server.composition import add_resource_prefix, remove_resource_prefix
from trimcp.settings import Settings

pytestmark = pytest.mark.anyio


def weather_server() -> FastMCP:
    weather_mcp = FastMCP(name="WeatherService")

    @weather_mcp.tool
    def get_forecast(city: str) -> dict:
        """Get weather forecast."""
        return {"city": city, "forecast": "Sunny"}

    @weather_mcp.resource("data://cities/supported")
    def list_supported_cities() -> list[str]:
        """List cities with weather support."""
        return ["London", "Paris", "Tokyo"]

    @weather_mcp.resource("data://city/{name}")
    def city(name: str) -> str:
        return f"city {name}"

    @weather_mcp.prompt
    def ask(city: str) -> str:
        return f"Weather in {city}?"

    return weather_mcp


# -- the documentation's examples ------------------------------------------------------------


async def test_docs_import_example_prefixes_tool_and_resource() -> None:
    weather_mcp = weather_server()
    main_mcp = FastMCP(name="MainApp")
    await main_mcp.import_server(weather_mcp, prefix="weather")
    assert "weather_get_forecast" in await main_mcp.get_tools()
    assert "data://weather/cities/supported" in await main_mcp.get_resources()
    resources = await main_mcp.get_resources()
    assert resources["data://weather/cities/supported"].name == "weather_list_supported_cities"
    with anyio.fail_after(10):
        async with Client(main_mcp) as client:
            result = await client.call_tool("weather_get_forecast", {"city": "Paris"})
            assert result.data == {"city": "Paris", "forecast": "Sunny"}
            contents = await client.read_resource("data://weather/city/Rome")
            assert contents[0].text == "city Rome"
            assert contents[0].uri == "data://weather/city/Rome"
            prompt = await client.get_prompt("weather_ask", {"city": "Oslo"})
            assert "Oslo" in prompt.messages[0].content.text


async def test_docs_import_without_prefix_keeps_names() -> None:
    main_mcp = FastMCP(name="MainApp")
    await main_mcp.import_server(weather_server())
    assert "get_forecast" in await main_mcp.get_tools()
    assert "data://cities/supported" in await main_mcp.get_resources()


async def test_docs_mount_example_live_link() -> None:
    dynamic_mcp = FastMCP(name="DynamicService")

    @dynamic_mcp.tool
    def initial_tool():
        """Initial tool demonstration."""
        return "Initial Tool Exists"

    main_mcp = FastMCP(name="MainAppLive")
    main_mcp.mount(dynamic_mcp, prefix="dynamic")

    @dynamic_mcp.tool
    def added_later():
        """Tool added after mounting."""
        return "Tool Added Dynamically!"

    tools = await main_mcp.get_tools()
    assert list(tools) == ["dynamic_initial_tool", "dynamic_added_later"]
    assert tools["dynamic_added_later"].key == "dynamic_added_later"
    with anyio.fail_after(10):
        async with Client(main_mcp) as client:
            result = await client.call_tool("dynamic_added_later")
            assert result.content[0].text == "Tool Added Dynamically!"


async def test_docs_tag_filtering_example() -> None:
    api_server = FastMCP(name="APIServer")

    @api_server.tool(tags={"production"})
    def prod_endpoint() -> str:
        """Production-ready endpoint."""
        return "Production data"

    @api_server.tool(tags={"development"})
    def dev_endpoint() -> str:
        """Development-only endpoint."""
        return "Debug data"

    prod_app = FastMCP(name="ProductionApp", include_tags={"production"})
    prod_app.mount(api_server, prefix="api")
    with anyio.fail_after(10):
        async with Client(prod_app) as client:
            tools = await client.list_tools()
            assert [t.name for t in tools] == ["api_prod_endpoint"]
            with pytest.raises((McpError, ToolError)):
                await client.call_tool("api_dev_endpoint")
            assert (await client.call_tool("api_prod_endpoint")).data == "Production data"


# -- import vs mount -------------------------------------------------------------------------


async def test_import_is_a_snapshot() -> None:
    sub = weather_server()
    main = FastMCP("main")
    await main.import_server(sub, prefix="w")

    @sub.tool
    def later() -> str:
        return "x"

    sub.remove_tool("get_forecast")
    tools = await main.get_tools()
    assert "w_later" not in tools and "w_get_forecast" in tools


async def test_import_does_not_run_the_sub_lifespan() -> None:
    ran = []

    @asynccontextmanager
    async def lifespan(server):
        ran.append(True)
        yield {}

    sub = FastMCP("sub", lifespan=lifespan)

    @sub.tool
    def t() -> int:
        return 1

    main = FastMCP("main")
    await main.import_server(sub, prefix="s")
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert (await client.call_tool("s_t")).data == 1
    assert ran == []


async def test_later_import_wins() -> None:
    a, b = FastMCP("a"), FastMCP("b")
    a.tool(lambda: "a", name="same")
    b.tool(lambda: "b", name="same")
    main = FastMCP("main")
    await main.import_server(a, prefix="p")
    await main.import_server(b, prefix="p")
    assert (await main.call_tool("p_same")).structured_content == {"result": "b"} or (
        (await main.call_tool("p_same")).content[0].text == "b"
    )


async def test_mount_removal_in_child_is_reflected() -> None:
    sub = weather_server()
    main = FastMCP("main")
    main.mount(sub, "w")
    sub.remove_tool("get_forecast")
    assert "w_get_forecast" not in await main.get_tools()
    with anyio.fail_after(10):
        async with Client(main) as client:
            with pytest.raises(McpError):
                await client.call_tool_mcp("w_get_forecast", {"city": "x"})


# -- conflicts and precedence ----------------------------------------------------------------


def _server(name: str, value: str) -> FastMCP:
    server = FastMCP(name)
    server.tool(lambda: value, name="same")
    return server


async def test_most_recent_mount_wins_and_local_wins_over_mounted() -> None:
    main = FastMCP("main")
    main.mount(_server("a", "first"))
    main.mount(_server("b", "second"))
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert (await client.call_tool("same")).content[0].text == "second"
            assert [t.name for t in await client.list_tools()] == ["same"]
            main.tool(lambda: "local", name="same")
            assert (await client.call_tool("same")).content[0].text == "local"
            assert [t.name for t in await client.list_tools()] == ["same"]


async def test_hidden_in_latest_mount_falls_back_to_earlier_mount() -> None:
    main = FastMCP("main")
    main.mount(_server("a", "first"))
    b = _server("b", "second")
    main.mount(b)
    b.disable(names={"same"})
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert (await client.call_tool("same")).content[0].text == "first"
            assert [t.name for t in await client.list_tools()] == ["same"]


async def test_mount_accepts_namespace_and_old_argument_order() -> None:
    main = FastMCP("main")
    main.mount(_server("a", "a"), namespace="n")
    main.mount("old", _server("b", "b"))
    assert set(await main.get_tools()) == {"n_same", "old_same"}


async def test_a_server_cannot_be_mounted_into_itself() -> None:
    a, b = FastMCP("a"), FastMCP("b")
    a.mount(b, "b")
    with pytest.raises(ValueError):
        b.mount(a, "a")


# -- nesting ---------------------------------------------------------------------------------


async def test_nested_mounts_compose_prefixes() -> None:
    leaf = weather_server()
    middle = FastMCP("middle")
    middle.mount(leaf, prefix="leaf")
    top = FastMCP("top")
    top.mount(middle, prefix="mid")
    assert "mid_leaf_get_forecast" in await top.get_tools()
    assert "data://mid/leaf/cities/supported" in await top.get_resources()
    assert "data://mid/leaf/city/{name}" in await top.get_resource_templates()
    assert "mid_leaf_ask" in await top.get_prompts()
    with anyio.fail_after(10):
        async with Client(top) as client:
            result = await client.call_tool("mid_leaf_get_forecast", {"city": "Oslo"})
            assert result.data["city"] == "Oslo"
            contents = await client.read_resource("data://mid/leaf/city/Oslo")
            assert contents[0].text == "city Oslo"
            names = [r.name for r in await client.list_resources()]
            assert names == ["mid_leaf_list_supported_cities"]
            prompt = await client.get_prompt("mid_leaf_ask", {"city": "Bern"})
            assert "Bern" in prompt.messages[0].content.text


# -- resource prefix formats -----------------------------------------------------------------


def test_prefix_helpers() -> None:
    assert add_resource_prefix("resource://a/b", "p", "path") == "resource://p/a/b"
    assert add_resource_prefix("resource://a/b", "p", "protocol") == "p+resource://a/b"
    assert remove_resource_prefix("resource://p/a/b", "p", "path") == "resource://a/b"
    assert remove_resource_prefix("p+resource://a", "p", "protocol") == "resource://a"
    assert remove_resource_prefix("resource://q/a", "p", "path") is None
    assert remove_resource_prefix("resource://a", None, "path") == "resource://a"


async def _read_via(main: FastMCP, uri: str) -> str:
    with anyio.fail_after(10):
        async with Client(main) as client:
            return (await client.read_resource(uri))[0].text


async def test_per_server_protocol_format_is_the_parents() -> None:
    main = FastMCP("main", resource_prefix_format="protocol")
    sub = weather_server()
    sub.resource_prefix_format = "path"  # the child's own format does not matter
    main.mount(sub, prefix="w")
    assert set(await main.get_resources()) == {"w+data://cities/supported"}
    assert set(await main.get_resource_templates()) == {"w+data://city/{name}"}
    assert await _read_via(main, "w+data://city/x") == "city x"


async def test_global_format_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module.settings, "resource_prefix_format", "protocol")
    main = FastMCP("main")
    await main.import_server(weather_server(), prefix="w")
    assert set(await main.get_resources()) == {"w+data://cities/supported"}
    assert await _read_via(main, "w+data://city/y") == "city y"


@pytest.mark.parametrize(
    "variable", ["TRIMCP_RESOURCE_PREFIX_FORMAT", "FASTMCP_RESOURCE_PREFIX_FORMAT"]
)
async def test_format_from_environment(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.delenv("TRIMCP_RESOURCE_PREFIX_FORMAT", raising=False)
    monkeypatch.setenv(variable, "protocol")
    monkeypatch.setattr(settings_module, "settings", Settings())  # settings read at start-up
    main = FastMCP("main")
    main.mount(weather_server(), prefix="w")
    assert set(await main.get_resources()) == {"w+data://cities/supported"}


async def test_default_format_is_path() -> None:
    main = FastMCP("main")
    main.mount(weather_server(), prefix="w")
    assert set(await main.get_resources()) == {"data://w/cities/supported"}


# -- tag filtering ---------------------------------------------------------------------------


def _tagged() -> FastMCP:
    sub = FastMCP("sub", exclude_tags={"internal"})
    sub.tool(lambda: "a", name="a", tags={"public", "beta"})
    sub.tool(lambda: "b", name="b", tags={"public"})
    sub.tool(lambda: "c", name="c", tags={"internal", "public"})
    sub.tool(lambda: "d", name="d", tags={"other"})
    return sub


@pytest.mark.parametrize("how", ["mount", "import"])
async def test_child_filters_then_parent_filters(how: str) -> None:
    main = FastMCP("main", include_tags={"public"}, exclude_tags={"beta"})
    if how == "mount":
        main.mount(_tagged(), "s")
    else:
        await main.import_server(_tagged(), "s")
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert [t.name for t in await client.list_tools()] == ["s_b"]
            for hidden in ("s_a", "s_c", "s_d"):
                with pytest.raises(McpError):
                    await client.call_tool_mcp(hidden, {})
            assert (await client.call_tool("s_b")).content[0].text == "b"


async def test_parent_disable_by_prefixed_name_and_child_disable_live() -> None:
    sub = _tagged()
    main = FastMCP("main")
    main.mount(sub, "s")
    assert set(await main.get_tools()) == {"s_a", "s_b", "s_d"}
    main.disable(names={"s_a"})
    sub.disable(tags={"other"})
    (await sub.get_tool("b")).disable()  # a component flag, not a registry change
    assert set(await main.get_tools()) == set()
    with pytest.raises(NotFoundError):
        await main.call_tool("s_b")


# -- context across mounts -------------------------------------------------------------------


async def test_mounted_tool_logs_and_progress_reach_the_parents_client() -> None:
    sub = FastMCP("sub")

    @sub.tool
    async def work(ctx: Context) -> str:
        await ctx.info("hello from sub")
        await ctx.report_progress(1, 2)
        await ctx.report_progress(2, 2)
        return type(ctx.fastmcp).__name__ + ":" + ctx.fastmcp.name

    main = FastMCP("main")
    main.mount(sub, prefix="sub")
    logs: list[str] = []
    progress: list[float] = []

    async def on_log(message) -> None:
        logs.append(message.data["msg"])

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    with anyio.fail_after(10):
        async with Client(main, log_handler=on_log) as client:
            result = await client.call_tool("sub_work", progress_handler=on_progress)
    assert result.content[0].text == "FastMCP:main"
    assert logs == ["hello from sub"]
    assert progress == [1, 2]


async def test_proxy_mount_when_child_has_a_lifespan() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server):
        events.append("start")
        yield {"db": "connected"}
        events.append("stop")

    sub = FastMCP("sub", lifespan=lifespan)

    @sub.tool
    def db(ctx: Context) -> str:
        return ctx.lifespan_context["db"]

    main = FastMCP("main")
    main.mount(sub, prefix="s")  # a custom lifespan: proxy mounting
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert events == ["start"]
            assert (await client.call_tool("s_db")).content[0].text == "connected"
    assert events == ["start", "stop"]


async def test_direct_mount_forced_does_not_run_lifespan() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(server):
        events.append("start")
        yield {}

    sub = FastMCP("sub", lifespan=lifespan)
    sub.tool(lambda: "x", name="t")
    main = FastMCP("main")
    main.mount(sub, prefix="s", as_proxy=False)
    with anyio.fail_after(10):
        async with Client(main) as client:
            assert (await client.call_tool("s_t")).content[0].text == "x"
    assert events == []


async def test_mounted_custom_routes_are_exposed_to_the_http_app() -> None:
    sub = FastMCP("sub")

    @sub.custom_route("/health", methods=["GET"])
    async def health(request):  # pragma: no cover - served by the HTTP tests
        return None

    main = FastMCP("main")
    main.mount(sub, "s")
    proxied = FastMCP("p")
    proxied.mount(sub, "x", as_proxy=True)
    from trimcp.http.app import custom_routes

    assert [r.path for r in custom_routes(main)] == ["/health"]
    assert [r.path for r in custom_routes(proxied)] == ["/health"]


async def test_completions_reach_the_mounted_server_that_owns_the_prompt() -> None:
    sub = FastMCP("sub")

    @sub.prompt
    def review(language: str) -> str:
        return f"review {language}"

    @sub.resource("files://{path}")
    def file(path: str) -> str:
        return path

    seen: list[tuple[str, str | None]] = []

    @sub.completion()
    async def complete_sub(ref, argument, context):
        seen.append((ref.type, ref.name or ref.uri))
        return ["python", "pascal"]

    main = FastMCP("main")
    main.mount(sub, prefix="dev")
    async with Client(main) as client:
        completion = await client.complete(
            {"type": "ref/prompt", "name": "dev_review"}, {"name": "language", "value": "p"}
        )
        assert completion.values == ["python", "pascal"]
        await client.complete(
            {"type": "ref/resource", "uri": "files://dev/{path}"}, {"name": "path", "value": ""}
        )
    assert seen == [("ref/prompt", "review"), ("ref/resource", "files://{path}")]


async def test_completions_pass_over_a_later_mount_that_lacks_the_prompt() -> None:
    """Completion finds the prompt's server as `prompts/get` does: two mounts share a
    prefix, the later one has no such prompt, the earlier one owns it and answers."""
    owner = FastMCP("owner")

    @owner.prompt
    def review(language: str) -> str:
        return f"review {language}"

    @owner.completion()
    async def complete_owner(ref, argument, context):
        return ["owner"]

    other = FastMCP("other")

    @other.completion()
    async def complete_other(ref, argument, context):
        return ["other"]

    main = FastMCP("main")
    main.mount(owner, prefix="dev")
    main.mount(other, prefix="dev")
    async with Client(main) as client:
        assert (await client.get_prompt("dev_review", {"language": "go"})).messages
        completion = await client.complete(
            {"type": "ref/prompt", "name": "dev_review"}, {"name": "language", "value": "p"}
        )
        assert completion.values == ["owner"]
