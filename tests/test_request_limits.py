"""Concurrency limits, tested at their edge: with a limit of N, N slow requests run, the next
one is refused at once (JSON-RPC -32000; over HTTP 429 for the session's limit, 503 for the
server's, with `Retry-After`), and once they finish new requests are served again.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from tests.wire import MODERN, modern_meta, on_each_server, serving, wire_to
from trimcp import FastMCP
from trimcp.settings import Settings, settings

pytestmark = pytest.mark.anyio

SERVER_BUSY = -32000
ACCEPT = "application/json, text/event-stream"


class Gate:
    """What the `slow` tool waits on; `started` says when `expected` calls are inside it."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.started = anyio.Event()
        self.open = anyio.Event()

    async def wait_started(self) -> None:
        with anyio.fail_after(10):
            await self.started.wait()


def slow_server(gate: Gate) -> FastMCP:
    mcp = FastMCP("limits")

    @mcp.tool
    async def slow() -> str:
        gate.count += 1
        if gate.count == gate.expected:
            gate.started.set()
        await gate.open.wait()
        return "done"

    return mcp


def tool_call(request_id: int, name: str = "slow", **params: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": {}, **params},
    }


def test_limits_default_generously_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("MAX_SESSION_REQUESTS", "MAX_SERVER_REQUESTS"):
        monkeypatch.delenv("TRIMCP_" + name, raising=False)
        monkeypatch.delenv("FASTMCP_" + name, raising=False)
    defaults = Settings()
    assert (defaults.max_session_requests, defaults.max_server_requests) == (10_000, 10_000)
    monkeypatch.setenv("TRIMCP_MAX_SESSION_REQUESTS", "7")
    monkeypatch.setenv("FASTMCP_MAX_SERVER_REQUESTS", "70")
    configured = Settings()
    assert (configured.max_session_requests, configured.max_server_requests) == (7, 70)


# -- one connection (stdio, in-memory, legacy SSE): the peer's limit ----------------------------


async def test_a_connection_past_its_request_limit_gets_an_error_then_is_served_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "max_session_requests", 3)
    gate = Gate(3)
    async with wire_to(slow_server(gate)) as wire:
        await wire.initialize()
        for request_id in (101, 102, 103):
            await wire.send(tool_call(request_id))
        await gate.wait_started()
        refused = await wire.call("tools/call", {"name": "slow", "arguments": {}})
        assert refused["error"]["code"] == SERVER_BUSY
        assert "Too many concurrent requests" in refused["error"]["message"]
        assert gate.count == 3  # the refused one never ran
        gate.open.set()
        answers = [await wire.response() for _ in range(3)]
        assert sorted(a["id"] for a in answers) == [101, 102, 103]
        assert all(a["result"]["structuredContent"] == {"result": "done"} for a in answers)
        served = await wire.call("tools/call", {"name": "slow", "arguments": {}})
        assert served["result"]["structuredContent"] == {"result": "done"}


async def test_a_client_pipelining_thousands_of_calls_is_served_under_the_default_limit() -> None:
    mcp = FastMCP("pipeline")

    @mcp.tool
    async def add(a: int, b: int) -> int:
        return a + b

    calls = 5_000
    async with wire_to(mcp) as wire:
        await wire.initialize()
        for i in range(calls):  # back to back, no answer read in between
            await wire.send(tool_call(i, "add", arguments={"a": i, "b": 1}))
        answers = [await wire.response() for _ in range(calls)]
    assert (
        sorted(a["result"]["structuredContent"]["result"] - a["id"] for a in answers) == [1] * calls
    )


async def test_a_batch_counts_each_request_against_the_connection_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "max_session_requests", 2)
    gate = Gate(2)
    async with wire_to(slow_server(gate)) as wire:
        await wire.initialize("2025-03-26")
        await wire.send([tool_call(i) for i in (1, 2, 3)])  # type: ignore[arg-type]
        await gate.wait_started()
        gate.open.set()
        answers = {a["id"]: a for a in await wire.receive()}
        assert answers[3]["error"]["code"] == SERVER_BUSY
        assert [answers[i]["result"]["structuredContent"] for i in (1, 2)] == [
            {"result": "done"}
        ] * 2


# -- streamable HTTP: per session (429) and per server (503) -----------------------------------


async def post(http: Any, body: Any, **headers: str) -> Any:
    return await http.post(
        "/mcp",
        content=msgspec.json.encode(body),
        headers={"accept": ACCEPT, "content-type": "application/json", **headers},
    )


async def open_session(http: Any) -> str:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    response = await post(http, init)
    session_id = response.headers["mcp-session-id"]
    notice = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await post(http, notice, **{"mcp-session-id": session_id})).status_code == 202
    return str(session_id)


def modern_call(request_id: int) -> tuple[dict[str, Any], dict[str, str]]:
    body = tool_call(request_id, _meta=modern_meta())
    headers = {"mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "slow"}
    return body, headers


def assert_refused(response: Any, status: int, request_id: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["id"] == request_id and body["error"]["code"] == SERVER_BUSY


@on_each_server
async def test_http_sessions_and_the_server_past_their_limits_get_429_and_503_then_are_served(
    monkeypatch: pytest.MonkeyPatch, http_server: str
) -> None:
    monkeypatch.setattr(settings, "max_session_requests", 2)
    monkeypatch.setattr(settings, "max_server_requests", 3)
    gate = Gate(3)
    async with serving(slow_server(gate), server=http_server) as (_, http):
        first, second = await open_session(http), await open_session(http)
        statuses: list[int] = []

        async def run(body: Any, **headers: str) -> None:
            statuses.append((await post(http, body, **headers)).status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: run(tool_call(1), **{"mcp-session-id": first}))
            tg.start_soon(lambda: run(tool_call(2), **{"mcp-session-id": first}))
            tg.start_soon(lambda: run(tool_call(3), **{"mcp-session-id": second}))
            await gate.wait_started()
            # the first session is at its own limit: 429
            assert_refused(await post(http, tool_call(4), **{"mcp-session-id": first}), 429, 4)
            # the second is not, but the server is: 503, for a session and a modern request
            assert_refused(await post(http, tool_call(5), **{"mcp-session-id": second}), 503, 5)
            body, headers = modern_call(6)
            assert_refused(await post(http, body, **headers), 503, 6)
            assert gate.count == 3
            gate.open.set()
        assert statuses == [200, 200, 200]
        for request_id, session_id in ((7, first), (8, second)):
            response = await post(http, tool_call(request_id), **{"mcp-session-id": session_id})
            assert response.status_code == 200, response.text
        body, headers = modern_call(9)
        assert (await post(http, body, **headers)).status_code == 200


@on_each_server
async def test_stateless_and_modern_requests_share_the_server_limit(
    monkeypatch: pytest.MonkeyPatch, http_server: str
) -> None:
    monkeypatch.setattr(settings, "max_server_requests", 2)
    gate = Gate(2)
    async with serving(slow_server(gate), stateless=True, server=http_server) as (_, http):
        async with anyio.create_task_group() as tg:
            tg.start_soon(post, http, tool_call(1))
            body, headers = modern_call(2)
            tg.start_soon(lambda: post(http, body, **headers))
            await gate.wait_started()
            assert_refused(await post(http, tool_call(3)), 503, 3)
            body, headers = modern_call(4)
            assert_refused(await post(http, body, **headers), 503, 4)
            gate.open.set()
        assert (await post(http, tool_call(5))).status_code == 200


async def test_a_batch_over_http_counts_each_request_against_the_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "max_session_requests", 2)
    gate = Gate(2)
    async with serving(slow_server(gate), stateless=True) as (_, http):
        answers: dict[int, Any] = {}

        async def run_batch() -> None:
            response = await post(http, [tool_call(i) for i in (1, 2, 3)])
            assert response.status_code == 200
            answers.update({a["id"]: a for a in response.json()})

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_batch)
            await gate.wait_started()
            gate.open.set()
        assert answers[3]["error"]["code"] == SERVER_BUSY
        assert [answers[i]["result"]["structuredContent"] for i in (1, 2)] == [
            {"result": "done"}
        ] * 2
        response = await post(http, [tool_call(i) for i in (4, 5)])
        assert all("result" in a for a in response.json())


async def open_session_0326(http: Any) -> str:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-03-26",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    session_id = str((await post(http, init)).headers["mcp-session-id"])
    notice = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await post(http, notice, **{"mcp-session-id": session_id})
    return session_id


async def test_concurrent_batches_and_single_requests_share_the_session_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "max_session_requests", 2)
    gate = Gate(2)
    async with serving(slow_server(gate)) as (_, http):
        session = {"mcp-session-id": await open_session_0326(http)}
        answers: list[Any] = []

        async def batch(ids: tuple[int, ...]) -> None:
            answers.append((await post(http, [tool_call(i) for i in ids], **session)).json())

        async with anyio.create_task_group() as tg:
            tg.start_soon(batch, (1, 2))
            await gate.wait_started()  # two in flight: the session's limit
            second = (await post(http, [tool_call(3), tool_call(1)], **session)).json()
            single = await post(http, tool_call(4), **session)
            gate.open.set()
        assert {a["id"]: a["error"]["code"] for a in second} == {3: SERVER_BUSY, 1: SERVER_BUSY}
        assert_refused(single, 429, 4)
        assert gate.count == 2
        assert sorted(a["id"] for a in answers[0] if "result" in a) == [1, 2]


async def test_a_duplicate_id_in_flight_in_a_batch_is_refused_alone() -> None:
    gate = Gate(1)
    async with serving(slow_server(gate)) as (_, http):
        session = {"mcp-session-id": await open_session_0326(http)}
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: post(http, tool_call(7), **session))
            await gate.wait_started()
            reply = (await post(http, [tool_call(7)], **session)).json()
            gate.open.set()
        assert reply[0]["id"] == 7 and reply[0]["error"]["code"] == -32600


async def test_during_shutdown_requests_are_refused_but_answers_and_notifications_accepted() -> (
    None
):
    from trimcp.http.streamable import StreamableHTTPEndpoint

    endpoint = StreamableHTTPEndpoint(FastMCP("closing"), stateless=True)
    endpoint.shutdown()

    async def post_raw(body: Any) -> int:
        messages = [{"type": "http.request", "body": msgspec.json.encode(body)}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [(b"accept", ACCEPT.encode()), (b"content-type", b"application/json")]
        await endpoint({"type": "http", "method": "POST", "headers": headers}, receive, send)
        return int(sent[0]["status"])

    assert await post_raw(tool_call(1)) == 503
    assert await post_raw([tool_call(2)]) == 503
    assert await post_raw({"jsonrpc": "2.0", "id": "s1", "result": {}}) == 202
    cancelled = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    assert await post_raw(cancelled) == 202
