"""FastMCP's ready-made middleware at its paths (`trimcp.server.middleware.timing`, ...),
served by a real server on both backends."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.exceptions import ToolError
from trimcp.server.middleware.timing import DetailedTimingMiddleware, TimingMiddleware

pytestmark = pytest.mark.anyio

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

    handshake = 1 if protocol == "legacy" else 0  # initialize passes the middleware too
    for limiter in (
        RateLimitingMiddleware(max_requests_per_second=0.001, burst_capacity=2 + handshake),
        SlidingWindowRateLimitingMiddleware(max_requests=2 + handshake),
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
        get_client_id=lambda context: str(context.message.uri),
    )
    with anyio.fail_after(WAIT):
        async with Client(_server(limiter), protocol="modern") as client:
            await client.read_resource("data://x")
            assert set(limiter.limiters) == {"data://x"}


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


def test_response_caching_is_refused_until_implemented() -> None:
    from trimcp.server.middleware.caching import CallToolSettings, ResponseCachingMiddleware

    settings: CallToolSettings = {"ttl": 60, "included_tools": ["add"]}
    with pytest.raises(NotImplementedError, match="ResponseCachingMiddleware"):
        ResponseCachingMiddleware(call_tool_settings=settings)
