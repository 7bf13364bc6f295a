"""OpenTelemetry (`trimcp.telemetry`): a span per request with the method, the component, the
session, the era and the outcome; request, latency and error metrics; the parent taken
from `params._meta` or the HTTP headers (W3C trace context). Without OpenTelemetry, nothing
of it is imported and a session serves unwrapped.

Spans and metrics are read with the SDK's in-memory exporter and reader, given to
`trimcp.telemetry.configure` (the global providers can be set once per process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from trimcp import Client, FastMCP, telemetry
from trimcp.client.streamable_http import StreamableHttpTransport
from trimcp.exceptions import ToolCallRefused, ToolError
from trimcp.server.middleware import Middleware
from trimcp.utilities.tests import run_server_async

pytestmark = pytest.mark.anyio

WAIT = 10
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Recorded:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.metrics = InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.providers = {
            "tracer_provider": tracer_provider,
            "meter_provider": MeterProvider(metric_readers=[self.metrics]),
        }

    def finished(self, method: str | None = None) -> list[ReadableSpan]:
        spans = list(self.spans.get_finished_spans())
        if method is None:
            return spans
        return [s for s in spans if (s.attributes or {}).get("mcp.method.name") == method]

    def points(self, metric: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        found.extend(m.data.data_points)
        return found


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    rec = Recorded()
    telemetry.configure(**rec.providers)
    try:
        yield rec
    finally:
        telemetry.configure()


def make_server() -> FastMCP:
    mcp = FastMCP("otel")

    @mcp.tool
    async def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    async def fails() -> str:
        raise ToolError("no luck")

    @mcp.tool
    async def current_span() -> str:
        return format(trace.get_current_span().get_span_context().span_id, "016x")

    @mcp.resource("data://info")
    def info() -> str:
        return "info"

    return mcp


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_a_successful_call_has_a_server_span_and_is_counted(
    recorded: Recorded, protocol: str
) -> None:
    with anyio.fail_after(WAIT):
        async with Client(make_server(), protocol=protocol) as client:  # type: ignore[arg-type]
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
            (contents,) = await client.read_resource("data://info")
            assert contents.text == "info"
            negotiated = client.protocol_version
    (span,) = recorded.finished("tools/call")
    assert span.name == "tools/call add"
    assert span.kind is SpanKind.SERVER
    assert span.status.status_code is StatusCode.UNSET
    attrs = attributes(span)
    assert attrs["gen_ai.tool.name"] == "add"
    assert attrs["trimcp.outcome"] == "ok"
    assert "error.type" not in attrs
    assert attrs["trimcp.transport"] == "memory"
    assert isinstance(attrs["mcp.session.id"], str) and attrs["mcp.session.id"]
    if protocol == "modern":
        assert (attrs["trimcp.protocol.era"], attrs["mcp.protocol.version"]) == (
            "modern",
            "2026-07-28",
        )
    else:
        assert attrs["trimcp.protocol.era"] == "handshake"
        assert attrs["mcp.protocol.version"] == negotiated
        (initialize,) = recorded.finished("initialize")
        assert initialize.name == "initialize"
    (read,) = recorded.finished("resources/read")
    assert read.name == "resources/read"  # a URI is no span name (cardinality)
    assert attributes(read)["mcp.resource.uri"] == "data://info"
    calls = [
        p
        for p in recorded.points("trimcp.server.requests")
        if p.attributes.get("gen_ai.tool.name") == "add"
    ]
    assert [p.value for p in calls] == [1]
    (latency,) = [
        p
        for p in recorded.points("mcp.server.operation.duration")
        if p.attributes.get("gen_ai.tool.name") == "add"
    ]
    assert latency.count == 1 and latency.sum > 0
    assert not [
        p
        for p in recorded.points("trimcp.server.errors")
        if p.attributes.get("gen_ai.tool.name") == "add"
    ]


async def test_failures_are_marked_with_their_outcome_and_counted(recorded: Recorded) -> None:
    class Broken(Middleware):
        async def on_read_resource(self, context: Any, call_next: Any) -> Any:
            raise RuntimeError("middleware bug")

    mcp = make_server()
    mcp.add_middleware(Broken())
    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            failed = await client.call_tool("fails", {}, raise_on_error=False)
            assert failed.is_error
            with pytest.raises(ToolCallRefused):
                await client.call_tool("nope", {})
            with pytest.raises(
                Exception, match=r"Error reading resource 'data://info': middleware bug"
            ):
                await client.read_resource("data://info")
    outcomes = {
        span.name: (attributes(span)["trimcp.outcome"], attributes(span).get("error.type"))
        for span in recorded.finished()
        if span.name != "tools/list"
    }
    assert outcomes["tools/call fails"] == ("tool_error", "tool_error")
    assert outcomes["tools/call nope"] == ("error", "-32602")
    assert outcomes["resources/read"] == ("exception", "RuntimeError")
    for span in recorded.finished():
        if span.name in outcomes and outcomes[span.name][0] != "ok":
            assert span.status.status_code is StatusCode.ERROR
    (refused,) = [s for s in recorded.finished() if s.name == "tools/call nope"]
    assert attributes(refused)["rpc.response.status_code"] == "-32602"
    (raised,) = [s for s in recorded.finished() if s.name == "resources/read"]
    assert [event.name for event in raised.events] == ["exception"]
    errors = {
        (p.attributes["mcp.method.name"], p.attributes["error.type"]): p.value
        for p in recorded.points("trimcp.server.errors")
    }
    assert errors == {
        ("tools/call", "tool_error"): 1,
        ("tools/call", "-32602"): 1,
        ("resources/read", "RuntimeError"): 1,
    }


async def test_a_request_the_client_cancels_ends_its_span_as_cancelled(recorded: Recorded) -> None:
    started, ended = anyio.Event(), anyio.Event()

    class Watch(SimpleSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            super().on_end(span)
            if span.name == "tools/call hang":
                ended.set()

    recorded.providers["tracer_provider"].add_span_processor(Watch(InMemorySpanExporter()))
    mcp = make_server()

    @mcp.tool
    async def hang() -> str:
        started.set()
        await anyio.sleep_forever()
        return "never"

    with anyio.fail_after(WAIT):
        async with Client(mcp) as client:
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call_tool, "hang", {})
                await started.wait()
                tg.cancel_scope.cancel()  # the client sends notifications/cancelled
            await ended.wait()
    (span,) = [s for s in recorded.finished() if s.name == "tools/call hang"]
    assert (attributes(span)["trimcp.outcome"], attributes(span)["error.type"]) == (
        "cancelled",
        "cancelled",
    )
    assert span.status.status_code is StatusCode.ERROR


async def test_the_span_continues_the_trace_context_in_meta(recorded: Recorded) -> None:
    with anyio.fail_after(WAIT):
        async with Client(make_server()) as client:
            result = await client.call_tool(
                "current_span", {}, meta={"traceparent": TRACEPARENT, "tracestate": "k=v"}
            )
    (span,) = recorded.finished("tools/call")
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT_ID
    assert span.parent.is_remote
    assert span.context.trace_state.get("k") == "v"
    # the tool runs inside the request's span: its own spans would nest under it
    assert result.data == format(span.context.span_id, "016x")


async def test_without_trace_context_a_request_starts_a_trace(recorded: Recorded) -> None:
    with anyio.fail_after(WAIT):
        async with Client(make_server()) as client:
            await client.call_tool("add", {"a": 1, "b": 1})
    (span,) = recorded.finished("tools/call")
    assert span.parent is None


@asynccontextmanager
async def over_http(headers: dict[str, str], protocol: str) -> AsyncIterator[Client]:
    async with run_server_async(make_server()) as url:
        transport = StreamableHttpTransport(url, headers=headers)
        async with Client(transport, protocol=protocol) as client:  # type: ignore[arg-type]
            yield client


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_over_http_the_span_continues_the_trace_context_in_the_headers(
    recorded: Recorded, protocol: str
) -> None:
    with anyio.fail_after(WAIT):
        async with over_http({"traceparent": TRACEPARENT}, protocol) as client:
            assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
            other = f"00-{'1' * 32}-{'2' * 16}-01"
            await client.call_tool("add", {"a": 1, "b": 1}, meta={"traceparent": other})
    first, second = recorded.finished("tools/call")
    assert format(first.context.trace_id, "032x") == TRACE_ID
    assert first.parent is not None and format(first.parent.span_id, "016x") == PARENT_ID
    assert attributes(first)["trimcp.transport"] == "streamable-http"
    if protocol == "legacy":
        assert isinstance(attributes(first).get("mcp.session.id"), str)
    # `_meta`'s trace context is the message's own: it wins over the HTTP request's
    assert format(second.context.trace_id, "032x") == "1" * 32


async def test_configured_off_no_span_is_made(recorded: Recorded) -> None:
    telemetry.configure(enabled=False)
    with anyio.fail_after(WAIT):
        async with Client(make_server()) as client:
            await client.call_tool("add", {"a": 1, "b": 1})
    assert recorded.finished() == []


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


SERVE_ONE_CALL = """
    import anyio
    from trimcp import Client, FastMCP
    from trimcp.core.session import ServerSession

    mcp = FastMCP("t")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    async def main():
        async with Client(mcp) as client:
            assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3

    anyio.run(main, backend=BACKEND)
    session = ServerSession(mcp)
    loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry") and sys.modules[m])
    print(loaded, "handle_request" in vars(session))
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("how", ["sys.modules", "meta_path"])
def test_without_opentelemetry_nothing_is_imported_and_sessions_are_not_wrapped(
    how: str, backend: str
) -> None:
    if how == "sys.modules":
        hide = "sys.modules['opentelemetry'] = None"
    else:
        hide = """
        class Blocker:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {name!r}")
                return None

        sys.meta_path.insert(0, Blocker())
        """
    code = f"import sys\n{textwrap.dedent(hide)}\nBACKEND = {backend!r}\n{textwrap.dedent(SERVE_ONE_CALL)}"
    assert run_python(code) == "[] False"


def test_opentelemetry_is_imported_only_once_the_application_uses_it() -> None:
    out = run_python(
        """
        import sys
        import trimcp
        from trimcp import FastMCP
        from trimcp.core.session import ServerSession
        mcp = FastMCP("t")
        loaded = lambda: any(m.startswith("opentelemetry") for m in sys.modules)
        first = ServerSession(mcp)  # installed, but the application does not use it
        before = loaded(), "handle_request" in vars(first)
        import opentelemetry.trace  # what setting up a tracer provider does
        second = ServerSession(mcp)
        print(*before, "handle_request" in vars(second))
        """
    )
    assert out == "False False True"


def test_trimcp_otel_1_reports_before_the_application_imports_opentelemetry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIMCP_OTEL", "1")
    out = run_python(
        """
        from trimcp import FastMCP
        from trimcp.core.session import ServerSession
        print("handle_request" in vars(ServerSession(FastMCP("t"))))
        """
    )
    assert out == "True"


@pytest.mark.parametrize("value", ["0", "off", "FALSE"])
def test_trimcp_otel_0_in_the_environment_turns_it_off(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIMCP_OTEL", value)
    out = run_python(
        """
        import sys
        from trimcp import FastMCP
        from trimcp.core.session import ServerSession
        session = ServerSession(FastMCP("t"))
        print(any(m.startswith("opentelemetry") for m in sys.modules), "handle_request" in vars(session))
        """
    )
    assert out == "False False"
