"""Middleware as FastMCP 2.13 programs write it (issue 16): hooks that see FastMCP's objects
(components in listings, the `ToolResult`, `ReadResourceContents`, the handshake), and
FastMCP's ready-made middleware at its paths (`trimcp.server.middleware.timing`, ...), served
by a real server on both backends."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.exceptions import ClientError, McpError, ToolError
from trimcp.resources import ReadResourceContents
from trimcp.server.middleware import Middleware
from trimcp.server.middleware.timing import DetailedTimingMiddleware, TimingMiddleware

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
WAIT = 10


def _server(*middleware: Any) -> FastMCP:
    mcp = FastMCP("timed", middleware=list(middleware))

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    def fail() -> int:
        raise ToolError("broken")

    @mcp.tool
    def broken() -> int:
        raise RuntimeError("not transient")

    @mcp.resource("data://x")
    def x() -> str:
        return "x"

    return mcp


async def test_timing_middleware_logs_each_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trimcp.timing")
    with anyio.fail_after(WAIT):
        async with Client(_server(TimingMiddleware()), protocol="legacy") as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
            with pytest.raises(ToolError):
                await client.call_tool("fail")
    messages = [r.getMessage() for r in caplog.records if r.name == "trimcp.timing"]
    assert any(m.startswith("Request tools/call completed in ") for m in messages)
    assert any(m.startswith("Request tools/call failed after ") for m in messages)
    assert all(m.endswith("ms") or "ms: " in m for m in messages)


async def test_detailed_timing_names_the_operation(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.detailed")
    caplog.set_level(logging.DEBUG, logger="test.detailed")
    middleware = DetailedTimingMiddleware(logger=logger, log_level=logging.DEBUG)
    with anyio.fail_after(WAIT):
        async with Client(_server(middleware)) as client:
            await client.call_tool("add", {"a": 1, "b": 2})
            await client.read_resource("data://x")
            await client.list_tools()
    messages = [r.getMessage() for r in caplog.records if r.name == "test.detailed"]
    assert {m.split(" completed in ")[0] for m in messages} == {
        "Tool 'add'",
        "Resource 'data://x'",
        "List tools",
    }
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "test.detailed")


async def test_error_handling_middleware_counts_logs_and_maps_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from trimcp.exceptions import McpError
    from trimcp.server.middleware import Middleware
    from trimcp.server.middleware.error_handling import ErrorHandlingMiddleware

    seen: list[tuple[str, str | None]] = []
    middleware = ErrorHandlingMiddleware(
        error_callback=lambda error, context: seen.append((type(error).__name__, context.method))
    )

    class Guard(Middleware):  # failures raised below the error handling, by middleware
        async def on_read_resource(self, context: Any, call_next: Any) -> Any:
            if str(context.message.uri).endswith("bad"):
                raise ValueError("no such shape")
            raise PermissionError("keep out")

    mcp = _server(middleware, Guard())

    @mcp.resource("data://{key}")
    def lookup(key: str) -> str:
        return key

    caplog.set_level(logging.ERROR, logger="trimcp.errors")
    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol="modern") as client:
            with pytest.raises(McpError, match="Invalid params: no such shape") as invalid:
                await client.read_resource("data://bad")
            with pytest.raises(McpError, match="Permission denied: keep out") as denied:
                await client.read_resource("data://secret")
            # a tool's failure reaches middleware as its ToolError (FastMCP's)
            with pytest.raises(McpError, match="Internal error: Error calling tool 'broken'"):
                await client.call_tool("broken")
    assert (invalid.value.code, denied.value.code) == (-32602, -32000)
    assert middleware.get_error_stats() == {
        "ValueError:resources/read": 1,
        "PermissionError:resources/read": 1,
        "ToolError:tools/call": 1,
    }
    assert seen == [
        ("ValueError", "resources/read"),
        ("PermissionError", "resources/read"),
        ("ToolError", "tools/call"),
    ]
    assert any("Error in resources/read: ValueError" in r.getMessage() for r in caplog.records)


async def test_retry_middleware_retries_transient_failures() -> None:
    from trimcp.server.middleware import Middleware
    from trimcp.server.middleware.error_handling import RetryMiddleware

    attempts: list[str | None] = []

    class Flaky(Middleware):  # a transient failure below the retry (a backend, say)
        async def on_request(self, context: Any, call_next: Any) -> Any:
            if context.method in ("initialize", "tools/list"):  # the introduction, listings
                return await call_next(context)
            attempts.append(context.method)
            if len(attempts) < 3:
                raise ConnectionError("try again")
            return await call_next(context)

    mcp = _server(RetryMiddleware(max_retries=3, base_delay=0), Flaky())
    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol="modern") as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
            assert attempts.count("tools/call") == 3
            # a tool's own failure is its ToolError, as in FastMCP: not transient, not retried
            with pytest.raises(ToolError, match="Error calling tool 'broken': not transient"):
                await client.call_tool("broken")
            assert attempts.count("tools/call") == 4


async def test_logging_middleware_writes_fastmcps_records(caplog: pytest.LogCaptureFixture) -> None:
    import json

    from trimcp.server.middleware.logging import LoggingMiddleware, StructuredLoggingMiddleware

    text = LoggingMiddleware(
        include_payloads=True, include_payload_length=True, methods=["tools/call"]
    )
    structured = StructuredLoggingMiddleware(estimate_payload_tokens=True)
    caplog.set_level(logging.INFO, logger="trimcp.middleware")
    with anyio.fail_after(WAIT):
        async with Client(_server(text, structured)) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
            with pytest.raises(ToolError):
                await client.call_tool("fail")
    plain = [r for r in caplog.records if r.name == "trimcp.middleware.logging"]
    assert [r.getMessage().split(" ")[0] for r in plain] == [
        "event=request_start",
        "event=request_success",
        "event=request_start",
        "event=request_error",
    ]
    assert '"name":"add"' in plain[0].getMessage() and "payload_length=" in plain[0].getMessage()
    assert plain[3].levelno == logging.ERROR and "error=broken" in plain[3].getMessage()
    records = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "trimcp.middleware.structured_logging"
    ]
    calls = [r for r in records if r["method"] == "tools/call"]
    assert [r["event"] for r in calls] == [
        "request_start",
        "request_success",
        "request_start",
        "request_error",
    ]
    assert calls[0]["payload_tokens"] > 0 and calls[1]["duration_ms"] >= 0


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_rate_limiting_answers_requests_over_the_limit(protocol: str) -> None:
    from trimcp.exceptions import McpError
    from trimcp.server.middleware.rate_limiting import (
        RateLimitingMiddleware,
        SlidingWindowRateLimitingMiddleware,
    )

    introduction = 1  # initialize (or a 2026-07-28 server/discover) passes the middleware too
    for limiter in (
        RateLimitingMiddleware(max_requests_per_second=0.001, burst_capacity=2 + introduction),
        SlidingWindowRateLimitingMiddleware(max_requests=2 + introduction),
    ):
        with anyio.fail_after(WAIT):
            async with Client(_server(limiter), protocol=protocol) as client:
                await client.read_resource("data://x")
                await client.read_resource("data://x")
                with pytest.raises(McpError, match="Rate limit exceeded") as caught:
                    await client.read_resource("data://x")
        assert caught.value.code == -32000


async def test_rate_limits_are_per_client_when_asked() -> None:
    from trimcp.server.middleware.rate_limiting import RateLimitingMiddleware

    limiter = RateLimitingMiddleware(
        max_requests_per_second=0.001,
        burst_capacity=1,
        get_client_id=lambda context: str(getattr(context.message, "uri", context.method)),
    )
    with anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol="modern") as client:
            await client.read_resource("data://x")
            assert set(limiter.limiters) == {"initialize", "data://x"}


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_injected_tools_are_listed_and_called(protocol: str) -> None:
    from trimcp.server.middleware.tool_injection import (
        PromptToolMiddleware,
        ResourceToolMiddleware,
        ToolInjectionMiddleware,
    )
    from trimcp.tools import Tool

    def shout(text: str) -> str:
        return text.upper()

    mcp = _server(
        ToolInjectionMiddleware([Tool.from_function(shout)]),
        PromptToolMiddleware(),
        ResourceToolMiddleware(),
    )

    @mcp.prompt
    def hello(name: str) -> str:
        return f"Hello {name}"

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            names = [tool.name for tool in await client.list_tools()]
            assert names[:1] == ["shout"] and {"add", "fail"} <= set(names)
            assert {"list_prompts", "get_prompt", "list_resources", "read_resource"} <= set(names)
            assert (await client.call_tool("shout", {"text": "hi"})).data == "HI"
            read = await client.call_tool("read_resource", {"uri": "data://x"})
            assert '"content":"x"' in read.content[0].text
            rendered = await client.call_tool(
                "get_prompt", {"name": "hello", "arguments": {"name": "Ada"}}
            )
            assert "Hello Ada" in rendered.content[0].text
            listed = await client.call_tool("list_prompts")
            assert '"name":"hello"' in listed.content[0].text


@pytest.mark.parametrize("protocol", ERAS)
async def test_response_caching_answers_repeats_from_the_cache(protocol: str) -> None:
    from trimcp.server.middleware.caching import ResponseCachingMiddleware

    calls: list[str] = []
    cache = ResponseCachingMiddleware(call_tool_settings={"excluded_tools": ["fresh"]})
    mcp = FastMCP("cached", middleware=[cache])

    @mcp.tool
    def slow(n: int) -> int:
        calls.append(f"slow {n}")
        return n * 2

    @mcp.tool
    def fresh() -> int:
        calls.append("fresh")
        return len(calls)

    @mcp.tool
    def flaky() -> int:
        calls.append("flaky")
        raise ToolError("not this time")

    @mcp.resource("data://blob")
    def blob() -> bytes:
        calls.append("blob")
        return b"\x00\x01"

    @mcp.prompt
    def greet(name: str) -> str:
        calls.append(f"greet {name}")
        return f"Hello {name}"

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            for _ in range(2):
                assert (await client.call_tool("slow", {"n": 2})).data == 4
                assert (await client.call_tool("slow", {"n": 3})).data == 6
                assert (await client.read_resource("data://blob"))[0].blob == "AAE="
                prompt = await client.get_prompt("greet", {"name": "Ada"})
                assert prompt.messages[0].content.text == "Hello Ada"
                await client.call_tool("fresh")
                with pytest.raises(ToolError):
                    await client.call_tool("flaky")
            listed = {t.name for t in await client.list_tools()}

            @mcp.tool
            def late() -> int:
                return 0

            assert {t.name for t in await client.list_tools()} == listed  # the cached listing
    assert sorted(calls) == sorted(
        ["slow 2", "slow 3", "blob", "greet Ada", "fresh", "flaky", "fresh", "flaky"]
    )


def test_response_caching_takes_any_async_key_value_store() -> None:
    from key_value.aio.stores.memory import MemoryStore as PyKeyValueMemoryStore

    from trimcp.server.middleware.caching import ResponseCachingMiddleware
    from trimcp.storage import MemoryStore

    assert isinstance(ResponseCachingMiddleware(cache_storage=MemoryStore()).store, MemoryStore)
    foreign = PyKeyValueMemoryStore()
    assert ResponseCachingMiddleware(cache_storage=foreign).store is foreign
    with pytest.raises(TypeError, match="AsyncKeyValue"):
        ResponseCachingMiddleware(cache_storage=object())  # type: ignore[arg-type]


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
