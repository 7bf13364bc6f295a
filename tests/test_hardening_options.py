"""The hardening limits reach users through the options they already pass: `FastMCP(...)`
for MRTR rounds, `http_app`/`run_http_async` for the request limits; and middleware runs
with the request's `Context` current, as FastMCP's does."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.test_hardening_decode import asking_server, rounds_until_done
from tests.test_request_limits import (
    Gate,
    assert_refused,
    open_session,
    post,
    slow_server,
    tool_call,
)
from tests.wire import serving, wire_to
from trimcp import Client, FastMCP
from trimcp.protocol.errors import INVALID_REQUEST
from trimcp.server.dependencies import get_context
from trimcp.server.middleware import Middleware

pytestmark = pytest.mark.anyio


async def test_fastmcp_mrtr_max_rounds_bounds_the_input_rounds_of_a_request() -> None:
    mcp = asking_server()
    mcp.mrtr_max_rounds = 2
    assert FastMCP("x", mrtr_max_rounds=2).mrtr_max_rounds == 2
    async with wire_to(mcp) as wire:
        rounds, reply = await rounds_until_done(wire, 2)
        assert rounds == 2 and reply["result"]["structuredContent"] == {"result": 2}
        rounds, reply = await rounds_until_done(wire, 3)
        assert rounds == 2
        assert reply["error"]["code"] == INVALID_REQUEST
        assert "Too many input rounds" in reply["error"]["message"]


async def test_run_http_async_takes_the_request_limits_as_options() -> None:
    gate = Gate(1)
    async with serving(slow_server(gate), max_session_requests=1, max_server_requests=5) as (
        _,
        http,
    ):
        session = await open_session(http)
        statuses: list[int] = []

        async def run() -> None:
            statuses.append(
                (await post(http, tool_call(1), **{"mcp-session-id": session})).status_code
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await gate.wait_started()
            assert_refused(await post(http, tool_call(2), **{"mcp-session-id": session}), 429, 2)
            gate.open.set()
        assert statuses == [200]


async def test_get_context_works_inside_middleware() -> None:
    seen: list[Any] = []

    class Probe(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            ctx = get_context()
            seen.append(ctx is context.fastmcp_context)
            ctx.set_state("from-middleware", "yes")
            return await call_next(context)

    mcp = FastMCP("mw", middleware=[Probe()])

    @mcp.tool
    def read_state() -> str:
        return str(get_context().get_state("from-middleware"))

    async with Client(mcp) as client:
        result = await client.call_tool("read_state", {})
    assert seen == [True]
    assert result.data == "yes"


def test_http_app_passes_the_session_options_to_its_endpoint() -> None:
    app = FastMCP("opts").http_app(
        session_handshake_timeout=5.0,
        session_idle_timeout=600.0,
        get_stream_buffer=7,
        max_sessions=3,
        max_session_requests=4,
        max_server_requests=9,
    )
    [endpoint] = app.endpoints
    sessions = endpoint.sessions
    assert (sessions.handshake_timeout, sessions.idle_timeout) == (5.0, 600.0)
    assert (sessions.stream_buffer, sessions.max_sessions) == (7, 3)
    assert (endpoint.max_session_requests, endpoint.max_server_requests) == (4, 9)
    # unconfirmed sessions are reaped on the shorter timeout's clock
    assert sessions.reap_interval() < 5.0


@pytest.mark.parametrize(
    ("method", "junk"),
    [
        ("sampling/createMessage", {}),
        ("sampling/createMessage", {"content": 3}),
        ("roots/list", {"roots": [{"uri": 5}]}),
        ("roots/list", {"roots": 5}),
    ],
)
async def test_a_clients_malformed_answer_is_a_clean_error_without_traceback(
    method: str, junk: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from trimcp import Context

    mcp = FastMCP("asks")

    @mcp.tool
    async def ask(ctx: Context) -> str:
        if method == "roots/list":
            return str(await ctx.list_roots())
        return str(await ctx.sample("hi"))

    async with wire_to(mcp) as wire:
        await wire.initialize(capabilities={"sampling": {}, "roots": {}})
        await wire.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                         "params": {"name": "ask", "arguments": {}}})  # fmt: skip
        asked = await wire.response()
        assert asked["method"] == method
        await wire.send({"jsonrpc": "2.0", "id": asked["id"], "result": junk})
        answer = await wire.response()
    assert answer["id"] == 1
    assert answer["error"]["code"] == -32602
    assert f"{method} result is malformed" in answer["error"]["message"]
    assert not [r for r in caplog.records if r.exc_info]


async def test_mrtr_max_rounds_zero_allows_no_input_round() -> None:
    mcp = asking_server()
    mcp.mrtr_max_rounds = 0
    async with wire_to(mcp) as wire:
        rounds, reply = await rounds_until_done(wire, 1)
    assert rounds == 0 and reply["error"]["code"] == INVALID_REQUEST


async def test_a_users_own_msgspec_error_in_a_resource_is_masked() -> None:
    import msgspec

    mcp = FastMCP("res", mask_error_details=True)

    @mcp.resource("conf://{name}")
    def conf(name: str) -> str:
        return str(msgspec.json.decode(b'{"password": 1}', type=dict[str, str]))  # SECRET path

    async with wire_to(mcp) as wire:
        await wire.initialize()
        reply = await wire.call("resources/read", {"uri": "conf://x"})
    assert (
        "password" not in str(reply)
        and reply["error"]["message"] == "Error reading resource 'conf://x'"
    )


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


@pytest.mark.parametrize("mask", [True, False])
async def test_an_exception_whose_str_raises_is_still_answered(mask: bool) -> None:
    from trimcp.server.middleware import Middleware

    class Broken(Middleware):
        async def on_message(self, context: Any, call_next: Any) -> Any:
            if context.method == "prompts/list":
                raise Unprintable()
            return await call_next(context)

    mcp = FastMCP("broken", mask_error_details=mask, middleware=[Broken()])
    async with wire_to(mcp) as wire:
        await wire.initialize()
        reply = await wire.call("prompts/list", {})
        assert reply["error"]["code"] == -32603
        assert (await wire.call("ping", {}))["result"] == {}
