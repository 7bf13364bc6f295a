"""Proxies as FastMCP 2.13 code builds them: `FastMCPProxy(client_factory=...)` (sync or
async, called per operation), the deprecated `client=`, `proxy.client_factory`, mirrored
components (`enable`/`disable` refused, `copy()` gives a local one), listings' `_meta`, and
`ProxyClient`'s relays when the proxy calls the factory itself."""

from __future__ import annotations

import warnings
from typing import Any

import anyio
import pytest

from tests.wire import serving
from trimcp import Client, Context, FastMCP
from trimcp.client.transports import FastMCPTransport
from trimcp.exceptions import NotFoundError
from trimcp.server.proxy import (
    ClientTemplate,
    FastMCPProxy,
    LiveListing,
    ProxyClient,
    ProxyPrompt,
    ProxyResource,
    ProxyTool,
    StatefulProxyClient,
    default_proxy_roots_handler,
)
from trimcp.utilities.components import MirroredComponent

pytestmark = pytest.mark.anyio


def backend() -> FastMCP:
    server = FastMCP("backend")

    @server.tool(tags={"greet"})
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @server.tool
    async def steps(ctx: Context) -> int:
        for i in range(3):
            await ctx.report_progress(i + 1, 3, f"step {i + 1}")
        return 3

    @server.tool
    async def shout(text: str, ctx: Context) -> None:
        await ctx.info(text, logger_name="backend")

    @server.resource("resource://wave", tags={"wave"})
    def wave() -> str:
        return "wave"

    @server.prompt(tags={"welcome"})
    def welcome(name: str) -> str:
        return f"Welcome, {name}!"

    return server


# -- construction ------------------------------------------------------------------------------


def test_proxy_needs_exactly_one_of_client_and_client_factory() -> None:
    server = backend()
    with pytest.raises(ValueError, match="Must specify 'client_factory'"):
        FastMCPProxy()
    with pytest.raises(ValueError, match="Cannot specify both 'client' and 'client_factory'"):
        FastMCPProxy(Client(server), client_factory=lambda: Client(server))


async def test_client_keyword_is_deprecated_and_still_proxies() -> None:
    client = ProxyClient(backend())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        proxy = FastMCPProxy(client=client)
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "client_factory" in str(caught[0].message)
    made = proxy.client_factory()
    assert made is not client and type(made) is ProxyClient and not made.is_connected()
    with anyio.fail_after(10):
        async with Client(proxy) as front:
            assert (await front.call_tool("greet", {"name": "A"})).data == "Hello, A!"


async def test_as_proxy_client_factory_makes_like_clients() -> None:
    proxy = FastMCP.as_proxy("http://example.com/mcp/")
    assert isinstance(proxy, FastMCPProxy)
    assert isinstance(proxy.client_factory, ClientTemplate)
    made = proxy.client_factory()
    assert isinstance(made, ProxyClient)
    assert made.transport.url == "http://example.com/mcp/"  # type: ignore[attr-defined]
    assert proxy.client_factory() is not made


@pytest.mark.parametrize("is_async", [False, True])
async def test_client_factory_is_called_per_operation(is_async: bool) -> None:
    server = backend()
    made: list[Client] = []

    def make() -> Client:
        client = Client(FastMCPTransport(server))
        made.append(client)
        return client

    async def make_async() -> Client:
        return make()

    proxy = FastMCPProxy(client_factory=make_async if is_async else make)
    assert proxy.client_factory is (make_async if is_async else make)
    with anyio.fail_after(10):
        async with Client(proxy) as front:
            listed = len(made)  # the lifespan lists the backend through the factory
            assert (await front.call_tool("greet", {"name": "A"})).data == "Hello, A!"
            assert (await front.call_tool("greet", {"name": "B"})).data == "Hello, B!"
    assert len(made) >= listed + 2  # (and the client's own tools/list, listed live)
    assert not any(client.is_connected() for client in made)


async def test_a_factory_proxy_lists_the_backend_on_each_list_request() -> None:
    server = backend()
    proxy = FastMCPProxy(client_factory=lambda: Client(server))
    assert isinstance(proxy.middleware[0], LiveListing)
    with anyio.fail_after(10):
        async with Client(proxy) as front:
            assert "late" not in [t.name for t in await front.list_tools()]

            @server.tool
            def late() -> str:
                return "late"

            @server.prompt
            def late_prompt() -> str:
                return "late"

            assert "late" in [t.name for t in await front.list_tools()]
            assert "late_prompt" in [p.name for p in await front.list_prompts()]
            assert (await front.call_tool("late", {})).data == "late"


async def test_a_connected_client_from_the_factory_is_used_as_is() -> None:
    with anyio.fail_after(10):
        async with Client(backend()) as shared:
            proxy = FastMCPProxy(client_factory=lambda: shared)
            async with Client(proxy) as front:
                assert (await front.call_tool("greet", {"name": "A"})).data == "Hello, A!"
            assert shared.is_connected()


async def test_a_factory_returning_something_else_fails_loudly() -> None:
    proxy = FastMCPProxy(client_factory=lambda: "not a client")  # type: ignore[arg-type,return-value]
    with pytest.raises(NotFoundError, match="not a Client") as caught:
        with anyio.fail_after(10):
            await proxy.get_tools()
    assert isinstance(caught.value.__cause__, TypeError)


def stateful_backend(closed: list[anyio.Event]) -> FastMCP:
    server = FastMCP("stateful")
    values: dict[int, int] = {}

    @server.tool
    def put(value: int, ctx: Context) -> None:
        if id(ctx.session) not in values:
            ended = anyio.Event()
            closed.append(ended)
            ctx.session.at_close(ended.set)
        values[id(ctx.session)] = value

    @server.tool
    def get(ctx: Context) -> int | None:
        return values.get(id(ctx.session))

    return server


async def test_stateful_proxy_client_binds_a_backend_session_per_client_session() -> None:
    closed: list[anyio.Event] = []
    stateful = StatefulProxyClient(stateful_backend(closed))
    proxy = FastMCPProxy(client_factory=stateful.new_stateful)
    with anyio.fail_after(10):
        async with Client(proxy) as a, Client(proxy) as b:
            await a.call_tool("put", {"value": 1})
            await b.call_tool("put", {"value": 2})
            assert (await a.call_tool("get", {})).data == 1
            assert (await b.call_tool("get", {})).data == 2
        assert len(closed) == 2
        for ended in closed:  # the proxy's client sessions ended: so did the backend's
            await ended.wait()
        async with Client(proxy) as c:  # a new client session: a new backend session
            assert (await c.call_tool("get", {})).data is None


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_stateful_proxy_client_over_stateless_http_binds_nothing(protocol: str) -> None:
    closed: list[anyio.Event] = []
    stateful = StatefulProxyClient(stateful_backend(closed))
    proxy = FastMCPProxy(client_factory=stateful.new_stateful)
    async with serving(proxy, stateless_http=True) as (address, _http):
        url = f"http://127.0.0.1:{address.port}/mcp"
        async with Client(url, protocol=protocol) as a:  # type: ignore[arg-type]
            await a.call_tool("put", {"value": 1})
            assert (await a.call_tool("get", {})).data is None  # each request its own


async def test_stateful_proxy_client_over_an_http_session_binds_to_it() -> None:
    closed: list[anyio.Event] = []
    stateful = StatefulProxyClient(stateful_backend(closed))
    proxy = FastMCPProxy(client_factory=stateful.new_stateful)
    async with serving(proxy) as (address, _http):
        url = f"http://127.0.0.1:{address.port}/mcp"
        with anyio.fail_after(10):
            async with Client(url, protocol="legacy") as a, Client(url, protocol="legacy") as b:
                await a.call_tool("put", {"value": 1})
                await b.call_tool("put", {"value": 2})
                assert (await a.call_tool("get", {})).data == 1  # a backend session each
                assert (await b.call_tool("get", {})).data == 2


async def test_stateful_proxy_client_outside_a_session_and_clear() -> None:
    closed: list[anyio.Event] = []
    stateful = StatefulProxyClient(stateful_backend(closed))
    unbound = stateful.new_stateful()  # no request: a client for one operation
    assert isinstance(unbound, StatefulProxyClient) and not unbound.bound
    proxy = FastMCPProxy(client_factory=stateful.new_stateful)
    with anyio.fail_after(10):
        async with Client(proxy) as a:
            await a.call_tool("put", {"value": 1})
            await stateful.clear()  # lets go of the backend session now
            await closed[0].wait()
            assert (await a.call_tool("get", {})).data is None  # a new one since


# -- relays through a factory's ProxyClient ----------------------------------------------------


async def test_factory_proxy_client_relays_progress_and_logs() -> None:
    server = backend()
    proxy = FastMCPProxy(client_factory=lambda: ProxyClient(server))
    progress: list[tuple[float, float | None, str | None]] = []
    logs: list[Any] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def on_log(message: Any) -> None:
        logs.append(message)

    with anyio.fail_after(10):
        async with Client(proxy, progress_handler=on_progress, log_handler=on_log) as front:
            assert (await front.call_tool("steps", {})).data == 3
            await front.call_tool("shout", {"text": "hi"})
    assert progress == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert [m.logger for m in logs] == ["backend"]
    data = logs[0].data
    assert (data.get("msg") if isinstance(data, dict) else data) == "hi"


# -- mirrored components -----------------------------------------------------------------------


async def test_listed_components_keep_the_backends_meta() -> None:
    proxy = FastMCP.as_proxy(backend())
    with anyio.fail_after(10):
        tools = await proxy.get_tools()
        resources = await proxy.get_resources()
        prompts = await proxy.get_prompts()
    assert tools["greet"].meta == {"_fastmcp": {"tags": ["greet"]}}
    assert tools["greet"].tags == {"greet"}
    assert resources["resource://wave"].meta == {"_fastmcp": {"tags": ["wave"]}}
    assert prompts["welcome"].meta == {"_fastmcp": {"tags": ["welcome"]}}


async def test_mirrored_components_refuse_enable_and_disable() -> None:
    proxy = FastMCP.as_proxy(backend())
    with anyio.fail_after(10):
        components = [
            (await proxy.get_tools())["greet"],
            (await proxy.get_resources())["resource://wave"],
            (await proxy.get_prompts())["welcome"],
        ]
    for component in components:
        assert isinstance(component, MirroredComponent) and component.mirrored
        for change in (component.enable, component.disable):
            with pytest.raises(RuntimeError, match=r"mirrored component .*copy\(\)"):
                change()


async def test_a_local_copy_shadows_the_mirrored_tool() -> None:
    proxy = FastMCP.as_proxy(backend())
    with anyio.fail_after(10):
        mirrored = (await proxy.get_tools())["greet"]
        local = mirrored.copy()
        assert isinstance(local, ProxyTool) and not local.mirrored
        local.disable()
        assert not local.enabled
        local.enable()
        proxy.add_tool(local)
        async with Client(proxy) as front:
            assert (await front.call_tool("greet", {"name": "A"})).data == "Hello, A!"
            local.disable()
            assert "greet" not in [t.name for t in await front.list_tools()]
            with pytest.raises(Exception, match="Unknown tool"):
                await front.call_tool("greet", {"name": "A"})
        assert (await proxy.get_tools()).get("greet") is None
        assert proxy.tool_manager.registry.get_any("greet") is local  # not re-mirrored


async def test_get_tool_and_get_prompt_give_the_listed_schema() -> None:
    proxy = FastMCP.as_proxy(backend())
    with anyio.fail_after(10):
        tool = await proxy.get_tool("greet")  # nothing cached yet: the backend is listed
        assert tool.parameters["properties"] == {"name": {"type": "string"}}
        prompt = await proxy.get_prompt("welcome")
        assert [a.name for a in prompt.arguments or []] == ["name"]
        with pytest.raises(NotFoundError, match="Unknown tool"):
            await proxy.get_tool("nope")
        result = await proxy.call_tool("greet", {"name": "A"})
        assert result.structured_content == {"result": "Hello, A!"}


async def test_a_hidden_local_template_is_not_forwarded() -> None:
    server = backend()

    @server.resource("data://user/{user_id}")
    def user(user_id: str) -> str:
        return f"backend {user_id}"

    proxy = FastMCP.as_proxy(server)

    @proxy.resource("data://user/{user_id}", enabled=False)
    def local_user(user_id: str) -> str:
        return f"local {user_id}"

    with anyio.fail_after(10):
        async with Client(proxy) as front:
            with pytest.raises(Exception, match=r"Unknown resource|not found"):
                await front.read_resource("data://user/1")
            assert (await front.read_resource("resource://wave"))[0].text == "wave"


async def test_fastmcps_default_handlers_relay_from_a_plain_client() -> None:
    server = FastMCP("backend")

    @server.tool
    async def ask(ctx: Context) -> list[str]:
        roots = [str(r.uri) for r in await ctx.list_roots()]
        answer = await ctx.sample("question?")
        return [*roots, getattr(answer, "text", "")]

    def factory() -> Client:
        return Client(
            server,
            roots=default_proxy_roots_handler,
            sampling_handler=ProxyClient.default_sampling_handler,
        )

    proxy = FastMCPProxy(client_factory=factory)
    with anyio.fail_after(10):
        async with Client(
            proxy, roots=["file:///x"], sampling_handler=lambda *args: "yes"
        ) as front:
            assert (await front.call_tool("ask", {})).data == ["file:///x", "yes"]


async def test_fastmcps_component_factories_take_a_client() -> None:
    client = Client(backend())
    with anyio.fail_after(10):
        async with client:
            listed_tool = next(t for t in await client.list_tools() if t.name == "greet")
            listed_resource = (await client.list_resources())[0]
            listed_prompt = (await client.list_prompts())[0]
        tool = ProxyTool.from_mcp_tool(client, listed_tool)
        resource = ProxyResource.from_mcp_resource(client, listed_resource)
        prompt = ProxyPrompt.from_mcp_prompt(client, listed_prompt)
        assert tool.mirrored and tool.tags == {"greet"}
        local = FastMCP("local", tools=[tool.copy()])
        local.add_resource(resource.copy())
        local.add_prompt(prompt.copy())
        async with Client(local) as front:  # `client` connects for each operation
            assert (await front.call_tool("greet", {"name": "A"})).data == "Hello, A!"
            assert (await front.read_resource("resource://wave"))[0].text == "wave"
            rendered = await front.get_prompt("welcome", {"name": "B"})
            assert rendered.messages[0].content.text == "Welcome, B!"  # type: ignore[union-attr]
        assert not client.is_connected()


async def test_a_chain_of_proxies_relays_to_the_right_client() -> None:
    server = FastMCP("backend")

    @server.tool
    async def roots_and_log(tag: str, ctx: Context) -> list[str]:
        await ctx.info(tag, logger_name=tag)
        return [str(r.uri) for r in await ctx.list_roots()]

    inner = FastMCP.as_proxy(server)  # a pool, its sessions held by inner's lifespan
    outer = FastMCPProxy(client_factory=lambda: ProxyClient(inner))  # per operation
    seen: dict[str, list[str | None]] = {"a": [], "b": []}

    def collector(name: str) -> Any:
        async def on_log(message: Any) -> None:
            seen[name].append(message.logger)

        return on_log

    with anyio.fail_after(20):
        async with (
            # Holds inner's lifespan, which the per-operation connections then share (a
            # lifespan shared by overlapping connections is torn down by its first one).
            Client(inner),
            Client(outer, roots=["file:///a"], log_handler=collector("a")) as a,
            Client(outer, roots=["file:///b"], log_handler=collector("b")) as b,
        ):
            results: dict[str, Any] = {}

            async def call(name: str, client: Client) -> None:
                results[name] = (await client.call_tool("roots_and_log", {"tag": name})).data

            for _ in range(2):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(call, "a", a)
                    tg.start_soon(call, "b", b)
                assert results == {"a": ["file:///a"], "b": ["file:///b"]}
    # (in 2026-07-28 a tool asking for input runs again per round: its log repeats)
    assert set(seen["a"]) == {"a"} and set(seen["b"]) == {"b"}


async def test_operations_in_flight_keep_their_sessions_when_the_lifespan_ends() -> None:
    server = FastMCP("backend")
    started, release = anyio.Event(), anyio.Event()

    @server.tool
    async def wait() -> str:
        started.set()
        await release.wait()
        return "done"

    proxy = FastMCP.as_proxy(server)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            async with proxy.lifespan_context():
                result: list[Any] = []

                async def call() -> None:
                    result.append(await proxy.call_tool("wait", {}))

                async def release_once_the_end_waits() -> None:
                    await anyio.wait_all_tasks_blocked()  # the lifespan's end is waiting
                    release.set()

                tg.start_soon(call)
                await started.wait()
                tg.start_soon(release_once_the_end_waits)
            assert result and result[0].structured_content == {"result": "done"}


async def test_each_list_request_lists_the_backend() -> None:
    from trimcp.server.middleware import Middleware

    listings: list[str] = []

    class CountListings(Middleware):
        async def on_list_tools(self, context: Any, call_next: Any) -> Any:
            listings.append("tools")
            return await call_next(context)

    server = backend()
    server.add_middleware(CountListings())
    with anyio.fail_after(10):
        async with Client(FastMCP.as_proxy(server)) as front:
            before = len(listings)

            @server.tool
            def late() -> str:
                return "late"

            assert "late" in [t.name for t in await front.list_tools()]  # no waiting
            await front.list_tools()
            assert len(listings) >= before + 2  # (and what the change notification lists)


async def test_the_proxys_own_tool_transformations_apply_to_backend_tools() -> None:
    from trimcp.tools.tool_transform import ArgTransformConfig, ToolTransformConfig

    server = backend()
    renamed = ToolTransformConfig(name="hello", arguments={"name": ArgTransformConfig(name="who")})
    proxy = FastMCP.as_proxy(server, tool_transformations={"greet": renamed})
    with anyio.fail_after(10):
        async with Client(proxy) as front:
            names = [t.name for t in await front.list_tools()]
            assert "hello" in names and "greet" not in names
            assert (await front.call_tool("hello", {"who": "A"})).data == "Hello, A!"

            @server.tool
            def late() -> str:  # the backend's list changes: the transformed tool stays
                return "late"

            names = [t.name for t in await front.list_tools()]
            assert {"hello", "late"} <= set(names) and "greet" not in names

            proxy.add_tool_transformation("late", ToolTransformConfig(name="later"))
            names = [t.name for t in await front.list_tools()]
            assert "later" in names and "late" not in names
            assert (await front.call_tool("later", {})).data == "late"
