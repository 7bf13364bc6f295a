"""FastMCP 2.13's built-in error-handling, retry, timing and logging middleware
(`trimcp.server.middleware.{error_handling,timing,logging}`), on a real server and a trimcp
`Client` over the in-memory transport, on asyncio and trio, in both protocol eras where the
era could matter (issue 17)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.exceptions import (
    ClientError,
    McpError,
    NotFoundError,
    PromptError,
    ResourceError,
    ToolError,
    TrimcpError,
    ValidationError,
)
from trimcp.protocol.errors import ErrorData
from trimcp.server.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.server.middleware.error_handling import ErrorHandlingMiddleware, RetryMiddleware
from trimcp.server.middleware.logging import (
    LoggingMiddleware,
    StructuredLoggingMiddleware,
    default_serializer,
)
from trimcp.server.middleware.timing import DetailedTimingMiddleware, TimingMiddleware

pytestmark = pytest.mark.anyio

Era = Literal["legacy", "modern"]
ERAS: list[Era] = ["legacy", "modern"]
WAIT = 10  # seconds any one test may take; nothing here sleeps for real


class Recorder(logging.Handler):
    """Keeps the records of one logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if level is None or r.levelno == level]


@contextmanager
def recording(name: str) -> Iterator[Recorder]:
    """The records of logger `name` (at DEBUG and up) during the block; its level after is
    the one before."""
    logger = logging.getLogger(name)
    recorder, saved = Recorder(), logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(recorder)
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(saved)


def _server(*middleware: Middleware, mask_error_details: bool | None = None) -> FastMCP:
    mcp = FastMCP("builtins", middleware=list(middleware), mask_error_details=mask_error_details)

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    def echo(text: str) -> str:
        return text

    @mcp.tool
    def fail() -> int:
        raise ToolError("broken")

    @mcp.tool
    def leaky() -> int:
        raise RuntimeError("secret-in-tool")

    @mcp.resource("data://r")
    def plain() -> str:
        return "r"

    @mcp.resource("data://{key}")
    def keyed(key: str) -> str:
        return key

    @mcp.prompt
    def hello(name: str) -> str:
        return f"Hello {name}"

    return mcp


class RaiseOnRead(Middleware):
    """Fails every `resources/read` below the middleware under test (a backend, say)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        raise self.error


class Flaky(Middleware):
    """Fails the first `failures` requests other than the introduction and the listings of
    tools (a client's, or the server's own before a first call) with `error`, then lets them
    through; `attempts` lists the methods it saw."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error = failures, error
        self.attempts: list[str | None] = []

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if context.method not in ("initialize", "tools/list"):
            self.attempts.append(context.method)
            if len(self.attempts) <= self.failures:
                raise self.error
        return await call_next(context)


class Seen(Middleware):
    """Keeps the last message of each method, as the middleware above it saw it."""

    def __init__(self) -> None:
        self.messages: dict[str | None, Any] = {}

    async def on_message(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        self.messages[context.method] = context.message
        return await call_next(context)


# -- ErrorHandlingMiddleware -------------------------------------------------------------------


TRANSFORMS = [
    (ValueError("boom"), -32602, "Invalid params: boom"),
    (TypeError("boom"), -32602, "Invalid params: boom"),
    (FileNotFoundError("boom"), -32001, "Resource not found: boom"),
    (KeyError("boom"), -32001, "Resource not found: 'boom'"),
    (NotFoundError("boom"), -32001, "Resource not found: boom"),
    (PermissionError("boom"), -32000, "Permission denied: boom"),
    (TimeoutError("boom"), -32000, "Request timeout: boom"),
    (RuntimeError("boom"), -32603, "Internal error: boom"),
]


@pytest.mark.parametrize("protocol", ERAS)
@pytest.mark.parametrize(("error", "code", "message"), TRANSFORMS, ids=lambda v: str(v))
async def test_exceptions_become_mcp_errors_with_fastmcps_codes(
    protocol: Era, error: Exception, code: int, message: str
) -> None:
    mcp = _server(ErrorHandlingMiddleware(), RaiseOnRead(error))
    with recording("trimcp.errors"), anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            with pytest.raises(McpError) as caught:
                await client.read_resource("data://r")
    assert (caught.value.code, caught.value.error.message) == (code, message)


async def test_mcp_errors_pass_as_raised_and_transforming_can_be_turned_off() -> None:
    deliberate = RaiseOnRead(McpError(ErrorData(-32042, "custom answer")))
    with recording("trimcp.errors"), anyio.fail_after(WAIT):
        async with Client(_server(ErrorHandlingMiddleware(), deliberate)) as client:
            with pytest.raises(McpError) as passed:
                await client.read_resource("data://r")
        untransformed = _server(
            ErrorHandlingMiddleware(transform_errors=False), RaiseOnRead(ValueError("boom"))
        )
        async with Client(untransformed) as client:
            with pytest.raises(McpError) as engine:
                await client.read_resource("data://r")
    assert (passed.value.code, passed.value.error.message) == (-32042, "custom answer")
    # the server's own answer to an unexpected exception, not the middleware's mapping
    assert engine.value.code == -32603 and "Invalid params" not in engine.value.error.message


@pytest.mark.parametrize("protocol", ERAS)
async def test_masked_server_leaks_no_detail_through_the_middleware(protocol: Era) -> None:
    mcp = _server(
        ErrorHandlingMiddleware(),
        RaiseOnRead(ValueError("secret-in-backend")),
        mask_error_details=True,
    )
    with recording("trimcp.errors") as log, anyio.fail_after(WAIT):
        async with Client(mcp, protocol=protocol) as client:
            with pytest.raises(McpError) as backend:
                await client.read_resource("data://r")
            with pytest.raises(McpError) as tool:
                await client.call_tool("leaky")
    assert (backend.value.code, backend.value.error.message) == (-32602, "Invalid params")
    assert tool.value.code == -32603 and "secret" not in tool.value.error.message
    assert tool.value.error.message == "Internal error: Error calling tool 'leaky'"
    # the operator's log keeps what the client is not told
    assert "Error in resources/read: ValueError: secret-in-backend" in log.messages()


async def test_masked_server_keeps_the_text_of_trimcps_own_errors() -> None:
    mcp = _server(
        ErrorHandlingMiddleware(), RaiseOnRead(NotFoundError("no row 7")), mask_error_details=True
    )
    with recording("trimcp.errors"), anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            with pytest.raises(McpError) as caught:
                await client.read_resource("data://r")
    assert (caught.value.code, caught.value.error.message) == (
        -32001,
        "Resource not found: no row 7",
    )


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ClientError("upstream https://u:hunter2@x failed"), "Internal error"),
        (TrimcpError("internal state: hunter2"), "Internal error"),
        (ToolError("no such row"), "Internal error: no such row"),
        (ResourceError("no such row"), "Internal error: no such row"),
        (PromptError("no such row"), "Internal error: no such row"),
        (ValidationError("no such row"), "Internal error: no such row"),
    ],
    ids=["ClientError", "TrimcpError", "ToolError", "ResourceError", "PromptError", "Validation"],
)
async def test_masked_server_keeps_only_the_text_of_errors_meant_for_the_client(
    error: Exception, message: str
) -> None:
    """The same rule as the engine's fault boundary: a trimcp error that is not one of the
    component errors (a `ClientError` quoting an upstream URL with its password) is masked."""
    mcp = _server(ErrorHandlingMiddleware(), RaiseOnRead(error), mask_error_details=True)
    with recording("trimcp.errors") as log, anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            with pytest.raises(McpError) as caught:
                await client.read_resource("data://r")
    assert (caught.value.code, caught.value.error.message) == (-32603, message)
    assert str(error) in log.messages()[-1]  # the operator's log keeps it


async def test_error_callback_and_counts_see_every_failure() -> None:
    seen: list[tuple[str, str | None]] = []
    middleware = ErrorHandlingMiddleware(
        error_callback=lambda error, context: seen.append((type(error).__name__, context.method))
    )
    mcp = _server(middleware, RaiseOnRead(PermissionError("keep out")))
    with recording("trimcp.errors") as log, anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
            for _ in range(2):
                with pytest.raises(McpError):
                    await client.call_tool("fail")
            with pytest.raises(McpError, match="Permission denied: keep out"):
                await client.read_resource("data://r")
            assert (await client.call_tool("add", {"a": 2, "b": 2})).data == 4
    stats = middleware.get_error_stats()
    assert stats == {"ToolError:tools/call": 2, "PermissionError:resources/read": 1}
    stats.clear()  # a copy: the middleware's counts stay
    assert middleware.error_counts == {
        "ToolError:tools/call": 2,
        "PermissionError:resources/read": 1,
    }
    assert seen == [
        ("ToolError", "tools/call"),
        ("ToolError", "tools/call"),
        ("PermissionError", "resources/read"),
    ]
    assert log.messages(logging.ERROR) == [
        "Error in tools/call: ToolError: broken",
        "Error in tools/call: ToolError: broken",
        "Error in resources/read: PermissionError: keep out",
    ]


async def test_a_failing_callback_is_logged_and_the_traceback_included_on_request() -> None:
    def callback(error: Exception, context: MiddlewareContext[Any]) -> None:
        raise RuntimeError("callback broke")

    logger = logging.getLogger("test.builtin.errors")
    middleware = ErrorHandlingMiddleware(
        logger=logger, include_traceback=True, error_callback=callback
    )
    with recording("test.builtin.errors") as log, anyio.fail_after(WAIT):
        async with Client(_server(middleware, RaiseOnRead(ValueError("bad key")))) as client:
            with pytest.raises(McpError, match="Invalid params: bad key"):
                await client.read_resource("data://r")
    first, second = log.messages()
    assert first.startswith("Error in resources/read: ValueError: bad key\nTraceback")
    assert "ValueError: bad key" in first.splitlines()[-1]
    assert second == "Error in error callback: callback broke"


async def test_the_transformed_error_is_the_sdks_mcp_error_for_fastmcp_code() -> None:
    sdk_module = pytest.importorskip("mcp.shared.exceptions")
    sdk_error = getattr(sdk_module, "McpError", None) or sdk_module.MCPError
    caught: list[int] = []

    class CatchesSdkErrors(Middleware):  # FastMCP code: `except mcp.McpError`
        async def on_message(
            self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
        ) -> Any:
            try:
                return await call_next(context)
            except sdk_error as error:
                caught.append(error.error.code)
                raise

    mcp = _server(CatchesSdkErrors(), ErrorHandlingMiddleware(), RaiseOnRead(KeyError("k")))
    with recording("trimcp.errors"), anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            with pytest.raises(McpError, match="Resource not found"):
                await client.read_resource("data://r")
    assert caught == [-32001]


# -- RetryMiddleware ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ERAS)
async def test_retry_recovers_from_transient_failures(protocol: Era) -> None:
    flaky = Flaky(2, ConnectionError("backend away"))
    logger = logging.getLogger("test.builtin.retry")
    # Waits of 30s, 60s... capped at 0 by max_delay: the test would time out if they were not.
    retry = RetryMiddleware(max_retries=3, base_delay=30.0, max_delay=0.0, logger=logger)
    with recording("test.builtin.retry") as log, anyio.fail_after(WAIT):
        async with Client(_server(retry, flaky), protocol=protocol) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
    assert flaky.attempts.count("tools/call") == 3  # (a legacy client may list tools too)
    assert log.messages(logging.WARNING) == [
        "Request tools/call failed (attempt 1/4): ConnectionError: backend away. "
        "Retrying in 0.0s...",
        "Request tools/call failed (attempt 2/4): ConnectionError: backend away. "
        "Retrying in 0.0s...",
    ]


async def test_retry_gives_up_after_max_retries() -> None:
    flaky = Flaky(10**6, ConnectionError("backend down"))
    retry = RetryMiddleware(max_retries=2, base_delay=0.0, logger=logging.getLogger("test.r"))
    mcp = _server(ErrorHandlingMiddleware(), retry, flaky)
    with recording("test.r") as log, recording("trimcp.errors"), anyio.fail_after(WAIT):
        async with Client(mcp, protocol="modern") as client:
            with pytest.raises(McpError) as caught:
                await client.read_resource("data://r")
    assert flaky.attempts == ["resources/read"] * 3  # the first attempt and two retries
    assert len(log.messages(logging.WARNING)) == 2
    assert (caught.value.code, caught.value.error.message) == (
        -32603,
        "Internal error: backend down",
    )


async def test_retry_leaves_other_errors_alone() -> None:
    flaky = Flaky(1, ValueError("not transient"))
    retry = RetryMiddleware(base_delay=0.0, retry_exceptions=(ConnectionError,))
    mcp = _server(retry, flaky)

    @mcp.tool
    def unreachable() -> int:
        raise ConnectionError("from the tool")

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol="modern") as client:
            with pytest.raises(McpError):
                await client.read_resource("data://r")
            assert flaky.attempts == ["resources/read"]
            # a tool's own failure reaches middleware as its ToolError (FastMCP's): not retried
            with pytest.raises(ToolError, match="Error calling tool 'unreachable'"):
                await client.call_tool("unreachable")
    assert flaky.attempts == ["resources/read", "tools/call"]


# -- TimingMiddleware, DetailedTimingMiddleware ------------------------------------------------

MS = r"\d+\.\d{2}ms"


@pytest.mark.parametrize("protocol", ERAS)
async def test_timing_logs_each_request_once(protocol: Era) -> None:
    with recording("trimcp.timing") as log, anyio.fail_after(WAIT):
        async with Client(_server(TimingMiddleware()), protocol=protocol) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
            with pytest.raises(ToolError):
                await client.call_tool("fail")
            await client.list_prompts()
    # the handshake, and the listing the client makes to learn output schemas, aside
    skipped = ("Request initialize ", "Request tools/list ")
    messages = [m for m in log.messages() if not m.startswith(skipped)]
    assert len(messages) == 3 and {r.levelno for r in log.records} == {logging.INFO}
    assert re.fullmatch(f"Request tools/call completed in {MS}", messages[0])
    assert re.fullmatch(f"Request tools/call failed after {MS}: broken", messages[1])
    assert re.fullmatch(f"Request prompts/list completed in {MS}", messages[2])
    assert not any("notifications/" in m for m in log.messages())  # requests only


async def test_detailed_timing_names_each_operation() -> None:
    logger = logging.getLogger("test.builtin.detailed")
    middleware = DetailedTimingMiddleware(logger=logger, log_level=logging.DEBUG)
    with recording("test.builtin.detailed") as log, anyio.fail_after(WAIT):
        async with Client(_server(middleware)) as client:
            await client.call_tool("add", {"a": 1, "b": 2})
            await client.read_resource("data://r")
            await client.read_resource("data://seven")
            await client.get_prompt("hello", {"name": "Ada"})
            await client.list_tools()
            await client.list_resources()
            await client.list_resource_templates()
            await client.list_prompts()
            with pytest.raises(ToolError):
                await client.call_tool("fail")
    assert {r.levelno for r in log.records} == {logging.DEBUG}
    done = {m.split(" completed in ")[0] for m in log.messages() if " completed in " in m}
    assert done == {
        "Tool 'add'",
        "Resource 'data://r'",
        "Resource 'data://seven'",
        "Prompt 'hello'",
        "List tools",
        "List resources",
        "List resource templates",
        "List prompts",
    }
    assert re.fullmatch(f"Tool 'fail' failed after {MS}: broken", log.messages()[-1])


FORGED = "x' completed in 0.01ms\n2026-12-06 20:00:00,000 INFO auth login succeeded for 'root"


async def test_timing_logs_cannot_be_forged_by_a_name_with_a_line_break() -> None:
    """A client's tool, resource or prompt name is written quoted and escaped (`repr`), and an
    error text quoting it is escaped too: every record stays one line."""
    detailed = DetailedTimingMiddleware(logger=logging.getLogger("test.builtin.forged"))
    with (
        recording("test.builtin.forged") as log,
        recording("trimcp.timing") as plain,
        anyio.fail_after(WAIT),
    ):
        async with Client(_server(TimingMiddleware(), detailed), protocol="modern") as client:
            with pytest.raises(McpError):
                await client.call_tool_mcp(FORGED, {})
            await client.read_resource("data://r\nforged")  # the template data://{key}
            with pytest.raises(McpError):
                await client.get_prompt(FORGED)
    named = [m for m in log.messages() if not m.startswith("List tools")]  # before the call
    records = log.messages() + plain.messages()
    assert len(named) == 3 and not any("\n" in m or "\r" in m for m in records)
    assert named[0].startswith(f"Tool {FORGED!r} failed after ")
    assert named[1].startswith("Resource 'data://r\\nforged' completed in ")
    assert named[2].startswith(f"Prompt {FORGED!r} failed after ")


# -- LoggingMiddleware, StructuredLoggingMiddleware --------------------------------------------


def _fields(message: str) -> dict[str, str]:
    """A `key=value` record whose values hold no ` key=` (true of these payloads)."""
    parts = re.split(r" (?=[a-z_]+=)", message)
    return dict(part.split("=", 1) for part in parts)


@pytest.mark.parametrize("protocol", ERAS)
async def test_logging_cuts_payloads_at_max_payload_length(protocol: Era) -> None:
    middleware = LoggingMiddleware(
        include_payloads=True,
        include_payload_length=True,
        estimate_payload_tokens=True,
        max_payload_length=40,
        methods=["tools/call"],
    )
    text = "y" * 300
    seen = Seen()
    with recording("trimcp.middleware.logging") as log, anyio.fail_after(WAIT):
        async with Client(_server(middleware, seen), protocol=protocol) as client:
            await client.list_tools()  # not among `methods`: not logged
            assert (await client.call_tool("echo", {"text": text})).data == text
    start, success = (_fields(m) for m in log.messages())
    assert start["event"] == "request_start" and start["method"] == "tools/call"
    assert start["source"] == "client" and start["payload_type"] == "CallToolParams"
    whole = default_serializer(seen.messages["tools/call"])
    assert json.loads(whole)["arguments"] == {"text": text}
    assert start["payload"] == whole[:40] + "..."
    # length and tokens are the whole payload's, before the cut
    assert (int(start["payload_length"]), int(start["payload_tokens"])) == (
        len(whole),
        len(whole) // 4,
    )
    assert success["event"] == "request_success" and float(success["duration_ms"]) >= 0
    assert list(success) == ["event", "method", "source", "duration_ms"]


async def test_logging_writes_failures_at_error_and_the_rest_at_its_level() -> None:
    logger = logging.getLogger("test.builtin.logging")
    middleware = LoggingMiddleware(logger=logger, log_level=logging.DEBUG, methods=["tools/call"])
    with recording("test.builtin.logging") as log, anyio.fail_after(WAIT):
        async with Client(_server(middleware)) as client:
            with pytest.raises(ToolError):
                await client.call_tool("fail")
    assert [r.levelno for r in log.records] == [logging.DEBUG, logging.ERROR]
    assert log.messages()[0] == "event=request_start method=tools/call source=client"
    error = _fields(log.messages()[1])
    assert (error["event"], error["error"]) == ("request_error", "broken")


async def test_payload_serializer_is_used_and_a_failing_one_falls_back() -> None:
    def failing(message: Any) -> str:
        raise RuntimeError("cannot")

    custom = LoggingMiddleware(
        include_payloads=True, methods=["tools/call"], payload_serializer=lambda m: "CUSTOM"
    )
    fallback = StructuredLoggingMiddleware(
        include_payloads=True, methods=["tools/call"], payload_serializer=failing
    )
    with (
        recording("trimcp.middleware.logging") as plain,
        recording("trimcp.middleware.structured_logging") as structured,
        anyio.fail_after(WAIT),
    ):
        async with Client(_server(custom, fallback)) as client:
            await client.call_tool("add", {"a": 1, "b": 2})
    assert _fields(plain.messages()[0])["payload"] == "CUSTOM"
    warning = structured.messages(logging.WARNING)
    assert warning == ["Failed to serialize payload due to cannot: request tools/call client."]
    start = json.loads(structured.messages(logging.INFO)[0])
    assert json.loads(start["payload"])["arguments"] == {"a": 1, "b": 2}


@pytest.mark.parametrize("protocol", ERAS)
async def test_structured_logging_writes_one_json_object_per_record(protocol: Era) -> None:
    middleware = StructuredLoggingMiddleware(
        include_payloads=True, include_payload_length=True, estimate_payload_tokens=True
    )
    text = "z" * 1500  # beyond LoggingMiddleware's default cut: structured records are whole
    with recording("trimcp.middleware.structured_logging") as log, anyio.fail_after(WAIT):
        async with Client(_server(middleware), protocol=protocol) as client:
            assert (await client.call_tool("echo", {"text": text})).data == text
            with pytest.raises(ToolError):
                await client.call_tool("fail")
    records = [json.loads(m) for m in log.messages()]  # every record parses
    calls = [r for r in records if r["method"] == "tools/call"]
    assert [r["event"] for r in calls] == [
        "request_start",
        "request_success",
        "request_start",
        "request_error",
    ]
    start = calls[0]
    assert json.loads(start["payload"])["arguments"] == {"text": text}
    assert start["payload_length"] == len(start["payload"])
    assert start["payload_tokens"] == start["payload_length"] // 4
    assert calls[3]["error"] == "broken" and isinstance(calls[3]["duration_ms"], float)
    assert all(r["source"] == "client" for r in records)
    assert all(r["event"].split("_")[0] in {"request", "notification"} for r in records)


async def test_logging_cannot_be_forged_by_a_name_with_a_line_break() -> None:
    """The `key=value` text of `LoggingMiddleware` escapes what a client sends: each record
    stays one line."""
    middleware = LoggingMiddleware(logger=logging.getLogger("test.builtin.forged_text"))
    with recording("test.builtin.forged_text") as log, anyio.fail_after(WAIT):
        async with Client(_server(middleware), protocol="modern") as client:
            with pytest.raises(McpError):
                await client.call_tool_mcp(FORGED, {})
    assert log.messages() and not any("\n" in m or "\r" in m for m in log.messages())
