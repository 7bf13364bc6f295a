"""Issue 14, findings 1, 9a and 9b, and limits at their edge: what bad bytes from a client do.

A message nested past the recursion limit, invalid UTF-8 inside params, a malformed
`Last-Event-ID` or `Mcp-Name`: each is answered with a JSON-RPC error or a 4xx, nothing is
logged as a traceback, and the server goes on serving. Over a real stdio subprocess and a real
hypercorn server, on asyncio and trio. Then the configurable limits just below and just above
their edge: the POST body size, the event store (per stream, events and bytes in all) and the
MRTR input rounds of one request.
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, SupportsFloat

import anyio
import msgspec
import pytest

from tests.test_stdio_process import INIT, start
from tests.wire import modern_meta, serving, wire_to
from trimcp import Context, FastMCP
from trimcp.core import mrtr
from trimcp.core.session import decode_params
from trimcp.exceptions import McpError
from trimcp.http.event_store import EventStore, InMemoryEventStore
from trimcp.protocol.envelope import CLIENT_CAPABILITIES_KEY
from trimcp.protocol.errors import INVALID_REQUEST, PARSE_ERROR
from trimcp.protocol.sse import SSEDecoder
from trimcp.storage import MemoryStore
from trimcp.types.tools import CallToolParams

pytestmark = pytest.mark.anyio

MODERN = "2026-07-28"
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_messages(depth: int) -> dict[str, bytes]:
    """One message per place a deep value can hide: the names say where."""
    deep = nested(depth)
    return {
        "params": b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + deep + b"}",
        "top": deep,
        "objects": b'{"a":' * depth + b"1" + b"}" * depth,
        "batch": b'[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","id":3,"method":"ping",'
        b'"params":' + deep + b"}]",
        "meta": b'{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"_meta":{"x":'
        + deep
        + b"}}}",
        "unclosed": b'{"jsonrpc":"2.0","id":5,"method":"ping","params":' + b"[" * depth,
    }


def modern_deep(depth: int) -> bytes:
    meta = msgspec.json.encode(modern_meta())[:-1] + b',"x":' + nested(depth) + b"}"
    return b'{"jsonrpc":"2.0","id":6,"method":"tools/list","params":{"_meta":' + meta + b"}}"


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]


# -- finding 1: one deep line must not kill a stdio server -----------------------------------

SERVER = textwrap.dedent(
    """
    import sys
    from trimcp import FastMCP

    mcp = FastMCP("deep")

    @mcp.tool
    def echo(text: str) -> str:
        return text

    if __name__ == "__main__":
        mcp.run(backend=sys.argv[1], show_banner=False)
    """
)


@pytest.fixture
def server_file(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_deeply_nested_line_gets_parse_error_and_stdio_server_keeps_serving(
    server_file: Path, server_backend: str
):
    proc = await start(server_file, server_backend)
    async with proc.process:
        await proc.send(INIT)
        await proc.receive()
        await proc.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        for depth in (1_000, 100_000):
            for where, line in deep_messages(depth).items():
                await proc.send_raw(line)
                reply = await proc.receive()  # one answer, even for the batch: unreadable whole
                assert reply["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST), (depth, where)
                await proc.send({"jsonrpc": "2.0", "id": 100, "method": "ping"})
                assert (await proc.receive()) == {"jsonrpc": "2.0", "id": 100, "result": {}}
        await proc.send({"jsonrpc": "2.0", "id": 101, "method": "tools/list"})
        assert [t["name"] for t in (await proc.receive())["result"]["tools"]] == ["echo"]
        assert proc.process.stdin is not None
        await proc.process.stdin.aclose()
        stderr = await proc.stderr_text()
        with anyio.fail_after(10):
            assert await proc.process.wait() == 0
    assert "Traceback" not in stderr


# -- finding 1 over HTTP, both eras ------------------------------------------------------------


def make_server() -> FastMCP:
    mcp = FastMCP("hardening")

    @mcp.tool
    def echo(text: str) -> str:
        return text

    return mcp


async def handshake(client: Any, version: str = "2025-11-25") -> dict[str, str]:
    response = await client.post(
        "/mcp",
        json={
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        },
        headers=JSON_HEADERS,
    )
    assert response.status_code == 200
    headers = {
        **JSON_HEADERS,
        "mcp-session-id": response.headers["mcp-session-id"],
        "mcp-protocol-version": version,
    }
    await client.post(
        "/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
    )
    return headers


def modern_headers(method: str, **extra: str) -> dict[str, str]:
    return {**JSON_HEADERS, "mcp-protocol-version": MODERN, "mcp-method": method, **extra}


async def test_deeply_nested_body_gets_400_and_http_server_keeps_serving_in_both_eras(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING)
    async with serving(make_server(), wait=60) as (_, client):
        headers = await handshake(client)
        for depth in (1_000, 100_000):
            bodies = [*deep_messages(depth).values(), modern_deep(depth)]
            for body in bodies:
                for sent in (headers, modern_headers("tools/list")):
                    response = await client.post("/mcp", content=body, headers=sent)
                    assert response.status_code == 400, (depth, body[:60], response.text)
                    assert response.json()["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST)
        ping = await client.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 7, "method": "ping"}, headers=headers
        )
        assert ping.json() == {"jsonrpc": "2.0", "id": 7, "result": {}}
        listed = await client.post(
            "/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 8,
                "method": "tools/list",
                "params": {"_meta": modern_meta()},
            },
            headers=modern_headers("tools/list"),
        )
        assert listed.status_code == 200
        assert [t["name"] for t in listed.json()["result"]["tools"]] == ["echo"]
    assert_no_traceback(caplog)


def test_params_nested_past_the_recursion_limit_are_a_parse_error_not_recursion_error():
    # the envelope skips params as `Raw` from a shallow stack and may succeed where a handler,
    # deeper in the stack, fails to decode the same bytes: that must be an `McpError` too
    with pytest.raises(McpError) as caught:
        decode_params(
            msgspec.Raw(b'{"name":"echo","arguments":{"x":' + nested(5_000) + b"}}"), CallToolParams
        )
    assert caught.value.error.code == PARSE_ERROR


# -- finding 9b: invalid UTF-8 inside params ---------------------------------------------------

BAD_UTF8_CALL = (
    b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
    b'"arguments":{"text":"\xff\xfe"}%s}}'
)


def bad_utf8_call(request_id: int, *, meta: bool = False) -> bytes:
    extra = b',"_meta":' + msgspec.json.encode(modern_meta()) if meta else b""
    return BAD_UTF8_CALL % (request_id, extra)


async def test_invalid_utf8_in_params_is_a_parse_error_over_stdio_in_both_eras(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING)
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        await wire.send_raw(bad_utf8_call(1))
        reply = await wire.response()
        assert reply["id"] == 1 and reply["error"]["code"] == PARSE_ERROR
        assert "UTF-8" in reply["error"]["message"]
        await wire.send_raw(bad_utf8_call(2, meta=True))
        reply = await wire.response()
        assert reply["id"] == 2 and reply["error"]["code"] == PARSE_ERROR
        assert (await wire.call("ping"))["result"] == {}
    assert_no_traceback(caplog)


async def test_invalid_utf8_in_params_is_a_parse_error_over_http_in_both_eras(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING)
    async with serving(make_server()) as (_, client):
        headers = await handshake(client)
        response = await client.post("/mcp", content=bad_utf8_call(1), headers=headers)
        assert response.json()["error"]["code"] == PARSE_ERROR
        response = await client.post(
            "/mcp",
            content=bad_utf8_call(2, meta=True),
            headers=modern_headers("tools/call", **{"mcp-name": "echo"}),
        )
        assert response.status_code == 400
        assert response.json()["error"]["code"] == PARSE_ERROR
        assert response.json()["id"] == 2
        ping = await client.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, headers=headers
        )
        assert ping.json()["result"] == {}
    assert_no_traceback(caplog)


async def test_non_ascii_base64_sentinel_in_mcp_name_gets_400_header_mismatch(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING)
    async with serving(make_server()) as (_, client):
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "a"}, "_meta": modern_meta()},
        }
        headers = modern_headers("tools/call")
        # a sentinel whose payload is not ASCII (an "é" in UTF-8): b64decode raised ValueError
        headers["mcp-name"] = b"=?base64?\xc3\xa9?="  # type: ignore[assignment]
        response = await client.post("/mcp", json=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == -32020
    assert_no_traceback(caplog)


# -- finding 9a: a bad Last-Event-ID -----------------------------------------------------------


async def test_malformed_last_event_id_gets_400_and_the_session_keeps_serving(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING)
    async with serving(make_server()) as (_, client):
        headers = await handshake(client)
        session = headers["mcp-session-id"].encode()
        bad = [
            session + b".0.\xb2",  # passes str.isdigit, fails int()
            session + b".0." + b"9" * 5_000,  # past Python's int-string limit
            session + b".0.\xd9\xa1",  # an Arabic-Indic digit, as UTF-8 bytes
            session + b".0.-1",
            session + b".0.",
            session + b".0.1_0",
            b"\xff" * 100,
        ]
        for last_event_id in bad:
            with anyio.fail_after(5):
                response = await client.get(
                    "/mcp",
                    headers={
                        "accept": "text/event-stream",
                        "mcp-session-id": headers["mcp-session-id"],
                        "mcp-protocol-version": headers["mcp-protocol-version"],
                        "last-event-id": last_event_id,  # type: ignore[dict-item]
                    },
                )
            assert response.status_code == 400, last_event_id[-12:]
            assert "Last-Event-ID" in response.json()["error"]["message"]
        ping = await client.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 3, "method": "ping"}, headers=headers
        )
        assert ping.json()["result"] == {}
    assert_no_traceback(caplog)


# -- limits at their edge: the POST body -------------------------------------------------------


def ping_of_size(size: int) -> bytes:
    head, tail = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"', b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for offset in range(0, len(body), 1000):
        yield body[offset : offset + 1000]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_body_of_exactly_the_limit_is_served_and_one_byte_more_gets_413(chunked: bool):
    limit = 10_000
    async with serving(make_server(), max_body_size=limit) as (_, client):
        headers = await handshake(client)
        for size, status in ((limit - 1, 200), (limit, 200), (limit + 1, 413)):
            body = ping_of_size(size)
            assert len(body) == size
            content: Any = _chunks(body) if chunked else body
            response = await client.post("/mcp", content=content, headers=headers)
            assert response.status_code == status, size
            if status == 413:
                assert response.json()["error"]["code"] == INVALID_REQUEST
            else:
                assert response.json()["result"] == {}


# -- limits at their edge: the event store -----------------------------------------------------


async def replayed(store: EventStore, last_event_id: str) -> list[tuple[str, bytes]]:
    got: list[tuple[str, bytes]] = []

    async def collect(event_id: str, message: bytes) -> None:
        got.append((event_id, message))

    with anyio.fail_after(5):
        await store.replay_events_after(last_event_id, collect)
    return got


async def test_event_store_keeps_max_events_per_stream_and_drops_the_oldest_past_it():
    storage = MemoryStore()
    store = EventStore(storage, max_events_per_stream=3)
    priming = await store.store_event("s.1", None)
    ids = [await store.store_event("s.1", b"m%d" % i) for i in range(3)]
    assert [e for e, _ in await replayed(store, priming)] == ids  # at the limit: all kept
    ids.append(await store.store_event("s.1", b"m3"))  # one past it: the oldest goes
    assert await replayed(store, priming) == [(ids[1], b"m1"), (ids[2], b"m2"), (ids[3], b"m3")]
    assert len(storage) == 3 and store.events == 3


async def test_event_store_keeps_max_events_in_all_and_drops_the_oldest_of_any_stream():
    storage = MemoryStore()
    store = EventStore(storage, max_events=4)
    first = [await store.store_event("a.1", b"a%d" % i) for i in range(2)]
    second = [await store.store_event("b.1", b"b%d" % i) for i in range(2)]
    assert len(storage) == 4 and store.events == 4  # at the limit: all kept
    await store.store_event("b.1", b"b2")  # one past it: the oldest of the store goes
    assert len(storage) == 4 and store.events == 4
    assert [e for e, _ in await replayed(store, "a.1.0")] == first[1:]
    assert [e for e, _ in await replayed(store, "b.1.0")][:2] == second


async def test_event_store_keeps_max_bytes_in_all_and_drops_the_oldest_past_it():
    storage = MemoryStore()
    store = EventStore(storage, max_bytes=30)
    for i in range(3):
        await store.store_event("s.1", b"%010d" % i)  # 10 bytes each: 30 is the limit
    assert store.bytes == 30 and len(storage) == 3
    await store.store_event("s.1", b"x")  # one byte past it
    assert store.bytes == 21 and len(storage) == 3
    assert [m for _, m in await replayed(store, "s.1.0")] == [b"%010d" % 1, b"%010d" % 2, b"x"]
    # larger than the whole store: not kept, and the others stay (it must not empty the store)
    await store.store_event("s.2", b"y" * 31)
    assert store.bytes == 21 and len(storage) == 3
    assert [m for _, m in await replayed(store, "s.1.0")] == [b"%010d" % 1, b"%010d" % 2, b"x"]


async def test_event_store_bookkeeping_stays_bounded_and_forget_releases_it():
    store = InMemoryEventStore(max_events_per_stream=2)
    for i in range(20_000):  # per-stream evictions leave stale entries behind
        await store.store_event(f"s.{i % 3}", b"m")
    assert store.events == 6
    assert len(store._order) <= 2 * store.events + 1024
    for n in range(3):
        await store.forget_stream(f"s.{n}")
    assert store.events == 0 and store.bytes == 0 and store.held == 0


class CheckpointingStore(MemoryStore):
    """A `MemoryStore` that yields on every call, as a network store would."""

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        await anyio.lowlevel.checkpoint()
        await super().put(key, value, collection=collection, ttl=ttl)

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        await anyio.lowlevel.checkpoint()
        return await super().delete(key, collection=collection)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        await anyio.lowlevel.checkpoint()
        return await super().delete_many(keys, collection=collection)


async def test_event_store_limits_hold_under_concurrent_writers_to_one_stream():
    storage = CheckpointingStore()
    store = EventStore(storage, max_events_per_stream=3, max_events=5)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(store.store_event, "s.1", b"m%d" % i)
                tg.start_soon(store.store_event, "s.2", b"n%d" % i)
    assert store.events == 5 and len(storage) == 5  # the books agree with the storage
    first, second = await replayed(store, "s.1.0"), await replayed(store, "s.2.0")
    assert len(first) + len(second) == 5 and len(first) <= 3 and len(second) <= 3
    for events in (first, second):  # each stream keeps its newest, replayed in order
        seqs = [int(e.rpartition(".")[2]) for e, _ in events]
        assert seqs == list(range(51 - len(seqs), 51))


# -- limits at their edge: MRTR input rounds ---------------------------------------------------


def asking_server() -> FastMCP:
    mcp = FastMCP("rounds")

    @mcp.tool
    async def ask(times: int, ctx: Context) -> int:
        for _ in range(times):
            await ctx.list_roots()
        return times

    return mcp


async def rounds_until_done(wire: Any, times: int) -> tuple[int, dict[str, Any]]:
    meta = {**modern_meta(), CLIENT_CAPABILITIES_KEY: {"roots": {}}}
    params: dict[str, Any] = {"name": "ask", "arguments": {"times": times}, "_meta": meta}
    rounds = 0
    while True:
        reply = await wire.call("tools/call", params)
        result = reply.get("result")
        if result is None or result.get("resultType") != "input_required":
            return rounds, reply
        rounds += 1
        [key] = result["inputRequests"]
        params = {
            **params,
            "inputResponses": {key: {"roots": []}},
            "requestState": result["requestState"],
        }


async def test_a_request_may_take_max_rounds_input_rounds_and_is_refused_one_past():
    async with wire_to(asking_server()) as wire:
        rounds, reply = await rounds_until_done(wire, mrtr.MAX_ROUNDS)
        assert rounds == mrtr.MAX_ROUNDS
        assert reply["result"]["structuredContent"] == {"result": mrtr.MAX_ROUNDS}
        rounds, reply = await rounds_until_done(wire, mrtr.MAX_ROUNDS + 1)
        assert rounds == mrtr.MAX_ROUNDS
        assert reply["error"]["code"] == INVALID_REQUEST
        assert "Too many input rounds" in reply["error"]["message"]


def test_max_rounds_is_configurable_per_round():
    keys = mrtr.MrtrKeys([b"k"])
    state, answers = None, None
    for index in range(3):  # max_rounds=3: three input rounds are given out
        current = mrtr.begin_round(keys, "tools/call", {"a": 1}, state, answers, max_rounds=3)
        assert len(current.answers) == index
        pending = mrtr.InputRequired(f"input-{index}", {"method": "roots/list"})
        state = mrtr.input_required_result(keys, current, pending).requestState
        answers = {f"input-{index}": {"roots": []}}
    current = mrtr.begin_round(keys, "tools/call", {"a": 1}, state, answers, max_rounds=3)
    with pytest.raises(McpError) as caught:  # the fourth is refused
        mrtr.input_required_result(keys, current, mrtr.InputRequired("input-3", {}))
    assert caught.value.error.code == INVALID_REQUEST


# -- found by fuzzing: a `_meta` log level that is not a string --------------------------------


@pytest.mark.parametrize("level", [[], {}, 3, None])
async def test_modern_log_level_of_the_wrong_type_gets_32602_not_32603(
    level: Any, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.WARNING)
    meta = {**modern_meta(), "io.modelcontextprotocol/logLevel": level}
    async with wire_to(make_server()) as wire:
        reply = await wire.call("tools/list", {"_meta": meta})
        if level is None:  # absent and null are the same: no level asked for
            assert reply["result"]["tools"]
        else:
            assert reply["error"]["code"] == -32602
            assert "logLevel" in reply["error"]["message"]
    assert_no_traceback(caplog)


def chatty_server(emitted: anyio.Event, gate: anyio.Event) -> FastMCP:
    mcp = FastMCP("replay")

    @mcp.tool
    async def chatter(n: int, ctx: Context) -> str:
        await ctx.request_context.channel.close_sse_stream()  # the client must resume
        for i in range(n):
            await ctx.info(f"m{i}")
        emitted.set()
        await gate.wait()
        return "done"

    return mcp


@pytest.mark.parametrize("sent", [3, 4], ids=["at-the-limit", "one-past"])
async def test_resumed_stream_replays_at_most_max_events_per_stream_on_a_real_server(sent: int):
    limit = 3
    emitted, gate = anyio.Event(), anyio.Event()
    store = InMemoryEventStore(max_events_per_stream=limit)
    server = chatty_server(emitted, gate)
    async with serving(server, event_store=store, retry_interval=10) as (_, client):
        headers = await handshake(client)
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "chatter", "arguments": {"n": sent}},
        }
        closed = await client.post("/mcp", json=call, headers=headers)
        priming = next(e.id for e in SSEDecoder().feed(closed.content) if e.id)
        with anyio.fail_after(5):
            await emitted.wait()  # every log message is stored before we resume
        get_headers = {
            "accept": "text/event-stream",
            "mcp-session-id": headers["mcp-session-id"],
            "mcp-protocol-version": headers["mcp-protocol-version"],
            "last-event-id": priming,
        }
        received: list[Any] = []
        decoder = SSEDecoder()
        with anyio.fail_after(10):
            async with client.stream("GET", "/mcp", headers=get_headers) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        received.append(msgspec.json.decode(event.data))
                    if len(received) == limit:
                        gate.set()  # the replay is over: now the result, live
        logs = [m["params"]["data"]["msg"] for m in received if m.get("method")]
        assert logs == [f"m{i}" for i in range(sent)][-limit:]
        assert received[-1]["result"]["structuredContent"] == {"result": "done"}


# -- the decoders behind the HTTP routing and the client codec ---------------------------------


def test_params_routing_cannot_read_is_a_400_parse_error_on_the_modern_ladder():
    from trimcp.http.wire import modern_ladder, routing_of
    from trimcp.protocol.jsonrpc import Request

    for params in (b'{"_meta":' + nested(5_000) + b"}", b'{"_meta":{"\xff":1}}'):
        request = Request(1, "tools/list", msgspec.Raw(params))
        found = modern_ladder(
            {b"mcp-method": b"tools/list"}, MODERN, request, routing_of(request.params)
        )
        assert found is not None
        status, error = found
        assert (status, error.code) == (400, PARSE_ERROR)


def test_codec_decode_maps_too_deep_json_to_decode_error():
    from trimcp.types.codec import decode

    with pytest.raises(msgspec.DecodeError):
        decode(nested(5_000), list)
