"""`ctx.read_resource`, `ctx.get_prompt`, `ctx.list_resources` and `ctx.list_prompts` run
inside the server's middleware chain, as FastMCP 2.13's do (its `_read_resource_mcp` and
kin): the hooks see the nested call (`context.method` "resources/read", ..., a fresh
`Context` as `fastmcp_context`), may refuse it or hide what it lists, and a cache or a rate
limit counts it; without middleware the results are what they were. Both backends, both
eras, in memory and over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import anyio
import anyio.abc
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.exceptions import McpError, NotFoundError, ToolError
from trimcp.protocol.errors import ErrorData
from trimcp.server.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.server.middleware.caching import ResponseCachingMiddleware
from trimcp.server.middleware.rate_limiting import RateLimitingMiddleware
from trimcp.types import ReadResourceResult, TextResourceContents

pytestmark = pytest.mark.anyio

WAIT = 10
Era = Literal["legacy", "modern"]
ERAS = pytest.mark.parametrize("protocol", ["legacy", "modern"])
FORBIDDEN = -32002
NESTED = {"resources/read", "prompts/get", "resources/list", "prompts/list"}


@dataclass
class Seen:
    """One hook call: the hook, the method, the message's key, and the context it got."""

    hook: str
    method: str | None
    key: Any
    fastmcp_context: Any


class Recorder(Middleware):
    """Records every hook a nested call passes (and passes it on)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []

    def _note(self, hook: str, context: MiddlewareContext[Any]) -> None:
        message = context.message
        key = getattr(message, "uri", None) or getattr(message, "name", None)
        self.seen.append(Seen(hook, context.method, key, context.fastmcp_context))

    async def on_message(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]):
        self._note("on_message", context)
        return await call_next(context)

    async def on_request(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]):
        self._note("on_request", context)
        return await call_next(context)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ):
        self._note("on_read_resource", context)
        return await call_next(context)

    async def on_get_prompt(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]):
        self._note("on_get_prompt", context)
        return await call_next(context)

    async def on_list_resources(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ):
        self._note("on_list_resources", context)
        return await call_next(context)

    async def on_list_prompts(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]):
        self._note("on_list_prompts", context)
        return await call_next(context)

    def nested(self) -> list[tuple[str, str | None, Any]]:
        """The hooks seen for the methods a `Context` asks for (the clients of these tests
        never do)."""
        return [(s.hook, s.method, s.key) for s in self.seen if s.method in NESTED]


class DenyInternal(Middleware):
    """Hides what is tagged `internal`, refuses `secret://` and the prompt `admin`."""

    async def on_list_resources(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ):
        return [r for r in await call_next(context) if "internal" not in r.tags]

    async def on_list_prompts(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]):
        return [p for p in await call_next(context) if "internal" not in p.tags]

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ):
        if str(context.message.uri).startswith("secret://"):
            raise McpError(ErrorData(FORBIDDEN, "forbidden"))
        return await call_next(context)

    async def on_get_prompt(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]):
        if context.message.name == "admin":
            raise McpError(ErrorData(FORBIDDEN, "forbidden"))
        return await call_next(context)


def _server(*middleware: Any) -> FastMCP:
    """A server whose tool `use` asks its `Context` for everything and reports what it got
    (a refusal as `refused: <message>`)."""
    mcp = FastMCP("nested", middleware=list(middleware))

    @mcp.resource("data://text", mime_type="text/plain")
    def text() -> str:
        return "some text"

    @mcp.resource("data://blob", mime_type="application/octet-stream")
    def blob() -> bytes:
        return b"\x00\x01"

    @mcp.resource("secret://db", tags={"internal"})
    def secret() -> str:
        return "DB_PASSWORD=hunter2"

    @mcp.resource("data://{name}/greeting")
    def greeting(name: str) -> str:
        return f"hi {name}"

    @mcp.prompt
    def hello(name: str) -> str:
        return f"Hello {name}"

    @mcp.prompt(tags={"internal"})
    def admin() -> str:
        return "admin-only instructions"

    @mcp.tool
    async def use(ctx: Context, action: str, target: str = "") -> dict[str, Any]:
        return {"got": await got(ctx, action, target)}

    async def got(ctx: Context, action: str, target: str) -> Any:
        try:
            if action == "read":
                return [
                    {"content": repr(c.content), "mime_type": c.mime_type}
                    for c in await ctx.read_resource(target)
                ]
            if action == "prompt":
                result = await ctx.get_prompt(
                    target, {"name": "Ada"} if target.endswith("hello") else None
                )
                return [m.content.text for m in result.messages]
            if action == "resources":
                return sorted(str(r.uri) for r in await ctx.list_resources())
            if action == "prompts":
                return sorted(p.name for p in await ctx.list_prompts())
        except McpError as exc:
            return f"refused: {exc.error.message}"
        raise AssertionError(action)

    return mcp


CALLS = [
    ("read", "data://text"),
    ("read", "data://blob"),
    ("read", "data://ada/greeting"),
    ("prompt", "hello"),
    ("resources", ""),
    ("prompts", ""),
]


async def _use(client: Client, action: str, target: str = "") -> Any:
    return (await client.call_tool("use", {"action": action, "target": target})).data["got"]


@ERAS
async def test_a_logging_middleware_sees_each_nested_call_and_results_are_unchanged(
    protocol: Era,
) -> None:
    recorder = Recorder()
    with anyio.fail_after(WAIT):
        async with Client(_server(), protocol=protocol) as client:
            plain = [await _use(client, *call) for call in CALLS]
        async with Client(_server(recorder), protocol=protocol) as client:
            routed = [await _use(client, *call) for call in CALLS]
    assert routed == plain
    assert plain[0] == [{"content": "'some text'", "mime_type": "text/plain"}]
    assert plain[1] == [{"content": "b'\\x00\\x01'", "mime_type": "application/octet-stream"}]
    assert plain[2][0]["content"] == "'hi ada'"
    assert plain[3] == ["Hello Ada"]
    assert "secret://db" in plain[4] and plain[5] == ["admin", "hello"]
    expected = []
    for method, hook, key in [
        ("resources/read", "on_read_resource", "data://text"),
        ("resources/read", "on_read_resource", "data://blob"),
        ("resources/read", "on_read_resource", "data://ada/greeting"),
        ("prompts/get", "on_get_prompt", "hello"),
        ("resources/list", "on_list_resources", None),
        ("prompts/list", "on_list_prompts", None),
    ]:
        expected += [("on_message", method, key), ("on_request", method, key), (hook, method, key)]
    assert recorder.nested() == expected


@ERAS
async def test_a_middleware_refuses_and_hides_what_a_tool_asks_its_context_for(
    protocol: Era,
) -> None:
    with anyio.fail_after(WAIT):
        async with Client(_server(DenyInternal()), protocol=protocol) as client:
            with pytest.raises(McpError, match="forbidden"):
                await client.read_resource("secret://db")
            assert await _use(client, "read", "secret://db") == "refused: forbidden"
            assert await _use(client, "prompt", "admin") == "refused: forbidden"
            assert "secret://db" not in await _use(client, "resources")
            assert await _use(client, "prompts") == ["hello"]
            assert await _use(client, "read", "data://text") == [
                {"content": "'some text'", "mime_type": "text/plain"}
            ]


@ERAS
async def test_hooks_get_a_fresh_context_of_the_same_request_with_a_copy_of_its_state(
    protocol: Era,
) -> None:
    seen: dict[str, Any] = {}

    class Stateful(Middleware):
        async def on_read_resource(
            self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
        ):
            ctx = context.fastmcp_context
            seen["hook"] = (ctx.get_state("from_tool"), ctx.request_id, ctx.session_id)
            ctx.set_state("from_hook", "hook")
            return await call_next(context)

    mcp = FastMCP("state", middleware=[Stateful()])

    @mcp.resource("data://state")
    def state(ctx: Context) -> str:
        seen["resource_ctx"] = ctx
        return f"{ctx.get_state('from_tool')}+{ctx.get_state('from_hook')}"

    @mcp.tool
    async def use(ctx: Context) -> str:
        ctx.set_state("from_tool", "tool")
        seen["tool"] = (ctx, ctx.request_id, ctx.session_id)
        [content] = await ctx.read_resource("data://state")
        return f"{content.content} / after: {ctx.get_state('from_hook')}"

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            assert (await client.call_tool("use")).data == "tool+hook / after: None"
    tool_ctx, request_id, session_id = seen["tool"]
    assert seen["hook"] == ("tool", request_id, session_id)
    assert seen["resource_ctx"] is not tool_ctx  # a fresh one, as FastMCP's


@ERAS
async def test_a_hook_may_read_a_resource_from_inside_its_own_read_without_deadlock(
    protocol: Era,
) -> None:
    class Composing(Middleware):
        async def on_read_resource(
            self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
        ):
            uri = str(context.message.uri)
            if not uri.startswith("data://level/"):
                return await call_next(context)
            level = int(uri.rsplit("/", 1)[1])
            own = await call_next(context)
            if level == 0:
                return own
            inner = await context.fastmcp_context.read_resource(f"data://level/{level - 1}")
            return [*own, *inner]

    mcp = FastMCP("recursive", middleware=[Composing(), RateLimitingMiddleware(1000)])

    @mcp.resource("data://level/{n}")
    def level(n: int) -> str:
        return f"level {n}"

    @mcp.tool
    async def use(ctx: Context) -> list[str]:
        return [str(c.content) for c in await ctx.read_resource("data://level/3")]

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            expected = ["level 3", "level 2", "level 1", "level 0"]
            assert (await client.call_tool("use")).data == expected
            read = await client.read_resource("data://level/2")
            assert [c.text for c in read] == ["level 2", "level 1", "level 0"]


@ERAS
async def test_a_cached_read_is_served_to_a_tool_and_a_rate_limit_counts_nested_calls(
    protocol: Era,
) -> None:
    reads = []
    mcp = FastMCP("cached", middleware=[ResponseCachingMiddleware()])

    @mcp.resource("data://counted")
    def counted() -> str:
        reads.append(1)
        return f"read {len(reads)}"

    @mcp.tool
    async def use(ctx: Context) -> str:
        return str((await ctx.read_resource("data://counted"))[0].content)

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            assert [c.text for c in await client.read_resource("data://counted")] == ["read 1"]
            assert (await client.call_tool("use")).data == "read 1"
            assert (await client.call_tool("use")).data == "read 1"
    assert len(reads) == 1

    # a bucket per method: the tool's reads count against "resources/read", and nothing else
    # (the client's own requests) does
    by_method = RateLimitingMiddleware(
        max_requests_per_second=0.001, burst_capacity=2, get_client_id=lambda c: str(c.method)
    )
    limited = FastMCP("limited", middleware=[by_method])

    @limited.resource("data://text")
    def text() -> str:
        return "some text"

    @limited.tool
    async def drain(ctx: Context) -> list[str]:
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(str((await ctx.read_resource("data://text"))[0].content))
            except McpError as exc:
                outcomes.append(exc.error.message)
        return outcomes

    with anyio.fail_after(WAIT):
        async with Client(limited, protocol=protocol) as client:
            assert (await client.call_tool("drain")).data == [
                "some text",
                "some text",
                "Rate limit exceeded for client: resources/read",
            ]


@ERAS
async def test_a_hooks_wire_result_comes_back_as_read_resource_contents(protocol: Era) -> None:
    class Answering(Middleware):
        async def on_read_resource(
            self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
        ):
            uri = str(context.message.uri)
            text = TextResourceContents(uri=uri, mimeType="text/x-made", text="made")
            return ReadResourceResult(contents=[text])

    mcp = _server(Answering())
    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            assert await _use(client, "read", "data://text") == [
                {"content": "'made'", "mime_type": "text/x-made"}
            ]


@ERAS
async def test_a_mounted_servers_middleware_takes_part_in_a_nested_call(protocol: Era) -> None:
    parent_log, child_log = Recorder(), Recorder()
    child = _server(DenyInternal(), child_log)
    parent = _server(parent_log)
    parent.mount(child, prefix="child")
    with anyio.fail_after(WAIT):
        async with Client(parent, protocol=protocol) as client:
            assert await _use(client, "read", "secret://child/db") == "refused: forbidden"
            assert await _use(client, "read", "data://child/text") == [
                {"content": "'some text'", "mime_type": "text/plain"}
            ]
            assert await _use(client, "prompt", "child_admin") == "refused: forbidden"
            listed = await _use(client, "resources")
    assert "secret://db" in listed and "secret://child/db" not in listed
    assert "data://child/text" in listed
    assert ("on_read_resource", "resources/read", "secret://child/db") in parent_log.nested()
    assert ("on_read_resource", "resources/read", "data://text") in child_log.nested()
    assert ("on_list_resources", "resources/list", None) in child_log.nested()


@ERAS
async def test_input_a_nested_resource_asks_for_belongs_to_the_tools_request(
    protocol: Era,
) -> None:
    recorder = Recorder()
    mcp = FastMCP("ask", middleware=[recorder])

    @mcp.resource("data://approved")
    async def approved(ctx: Context) -> str:
        return (await ctx.elicit("Approve?", response_type=None)).action

    @mcp.tool
    async def use(ctx: Context) -> str:
        return str((await ctx.read_resource("data://approved"))[0].content)

    async def approve(message: str, response_type: Any, params: Any, context: Any) -> Any:
        return {}

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol, elicitation_handler=approve) as client:
            assert (await client.call_tool("use")).data == "accept"
    assert ("on_read_resource", "resources/read", "data://approved") in recorder.nested()


async def test_a_context_outside_any_request_runs_the_chain_too() -> None:
    recorder = Recorder()
    mcp = _server(recorder, DenyInternal())
    with anyio.fail_after(WAIT):
        async with Context(mcp) as ctx:
            [content] = await ctx.read_resource("data://text")
            with pytest.raises(McpError, match="forbidden"):
                await ctx.read_resource("secret://db")
            with pytest.raises(NotFoundError):
                await ctx.read_resource("data://missing")
            assert [p.name for p in await ctx.list_prompts()] == ["hello"]
    assert content.content == "some text"
    hooks = [s for s in recorder.seen if s.hook == "on_read_resource"]
    assert [s.key for s in hooks] == ["data://text", "secret://db", "data://missing"]
    assert all(s.fastmcp_context.request_context is None for s in hooks)


async def test_the_reviewers_scenario_holds_over_http() -> None:
    from trimcp.server.middleware.tool_injection import (
        PromptToolMiddleware,
        ResourceToolMiddleware,
    )

    mcp = _server(ResourceToolMiddleware(), PromptToolMiddleware(), DenyInternal())
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:

            async def run(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
                await mcp.run_http_async(port=0, show_banner=False, task_status=task_status)

            address = await tg.start(run)
            for protocol in ("legacy", "modern"):
                async with Client(address.url, protocol=protocol) as client:
                    assert await _use(client, "read", "secret://db") == "refused: forbidden"
                    with pytest.raises(McpError, match="forbidden"):
                        await client.call_tool("read_resource", {"uri": "secret://db"})
                    listed = await client.call_tool("list_resources")
                    assert "secret://db" not in str(listed.structured_content)
            tg.cancel_scope.cancel()


@ERAS
async def test_through_a_mount_without_any_middleware_results_are_unchanged(
    protocol: Era,
) -> None:
    parent = _server()
    parent.mount(_server(), prefix="child")
    with anyio.fail_after(WAIT):
        async with Client(parent, protocol=protocol) as client:
            assert await _use(client, "read", "data://child/text") == [
                {"content": "'some text'", "mime_type": "text/plain"}
            ]
            assert (await _use(client, "read", "data://child/bob/greeting"))[0]["content"] == (
                "'hi bob'"
            )
            assert await _use(client, "prompt", "child_hello") == ["Hello Ada"]
            assert await _use(client, "prompts") == ["admin", "child_admin", "child_hello", "hello"]
            assert "secret://child/db" in await _use(client, "resources")
            with pytest.raises(ToolError, match="Unknown resource"):
                await _use(client, "read", "data://child/missing")
