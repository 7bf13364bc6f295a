"""Issue 14, finding 8: writes to a client that left stop at once and free their buffers.

A handshake-era tool that keeps streaming progress after its client disconnected grew the
process by about 386 MB (20,000 events of 20 KB, asyncio): hypercorn framed every chunk and
wrote it to the dead socket, each write was logged ("socket.send() raised exception.") and
the chunks stayed alive until the tool ended. The server runs in this process; the tool
itself samples the allocator's peak while it streams.
"""

from __future__ import annotations

import json
import logging
import tracemalloc

import anyio
import msgspec
import pytest

from tests.test_http_streamable import running
from tests.wire import serving
from trimcp import Context, FastMCP
from trimcp.core.session import ServerSession
from trimcp.http.sessions import STREAM_BUFFER, HttpSession, SessionManager
from trimcp.http.sse import LegacySSEEndpoint
from trimcp.http.sse_response import SSEStream
from trimcp.http.streamable import StreamableHTTPEndpoint
from trimcp.protocol.sse import SSEDecoder

pytestmark = pytest.mark.anyio

EVENTS = 2_000
SIZE = 20_000  # bytes of progress message per event: 40 MB in all


def _post(body: dict[str, object], session_id: str | None = None) -> bytes:
    data = json.dumps(body).encode()
    extra = f"mcp-session-id: {session_id}\r\n".encode() if session_id else b""
    return (
        b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"accept: application/json, text/event-stream\r\n"
        + extra
        + b"content-length: %d\r\n\r\n" % len(data)
        + data
    )


async def _read_head(stream: anyio.abc.ByteStream, buffered: bytes = b"") -> tuple[bytes, bytes]:
    while b"\r\n\r\n" not in buffered:
        buffered += await stream.receive()
    head, _, rest = buffered.partition(b"\r\n\r\n")
    return head, rest


async def test_streaming_to_a_client_that_left_stops_writing_and_frees_the_chunks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mcp = FastMCP("flood")
    finished = anyio.Event()
    client_left = anyio.Event()
    peak: list[int] = []

    @mcp.tool
    async def flood(ctx: Context) -> str:
        message = "x" * SIZE
        await ctx.report_progress(0, EVENTS, message=message)
        await client_left.wait()
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        for i in range(1, EVENTS):
            await ctx.report_progress(i, EVENTS, message=message)
        peak.append(tracemalloc.get_traced_memory()[1] - start)
        finished.set()
        return "done"

    caplog.set_level(logging.WARNING)
    async with serving(mcp, wait=60) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            init = {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            }
            await stream.send(
                _post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
            )
            head, rest = await _read_head(stream)
            session_id = next(
                line.split(b":", 1)[1].strip().decode()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"mcp-session-id:")
            )
            length = int(
                next(
                    line.split(b":", 1)[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            while len(rest) < length:
                rest += await stream.receive()
            call = {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "flood", "arguments": {}, "_meta": {"progressToken": "p"}},
            }
            await stream.send(_post(call, session_id))
            head, rest = await _read_head(stream, rest[length:])
            assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
            while len(rest) < SIZE:  # the first progress event arrived: the stream is live
                rest += await stream.receive()
        # the client has left; the tool goes on
        tracemalloc.start()
        try:
            client_left.set()
            with anyio.fail_after(30):
                await finished.wait()
        finally:
            tracemalloc.stop()
    total = (EVENTS - 1) * SIZE
    print(
        f"\npeak traced while streaming to a gone client: {peak[0] / 1e6:.1f} MB of {total / 1e6:.0f} MB"
    )
    assert peak[0] < total / 10
    assert not [r for r in caplog.records if "socket.send() raised exception" in r.getMessage()]


# -- a GET stream whose reader does not keep up (finding 9c, and its buffer at the edge) ------


def _notification(n: int) -> bytes:
    return msgspec.json.encode(
        {"jsonrpc": "2.0", "method": "notifications/message", "params": {"n": n}}
    )


def _stall_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "GET stream" in r.getMessage()]


async def test_stalled_get_stream_logs_once_per_stall_then_a_count_when_it_catches_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before: one WARNING per dropped message (17 MB of log for 200,000 of them)."""
    caplog.set_level(logging.DEBUG, logger="trimcp.http")
    async with running() as h:
        session_id = await h.initialize()
        session = h.endpoint.sessions.get(session_id)
        assert session is not None
        headers = {"accept": "text/event-stream", "mcp-session-id": session_id}
        with anyio.fail_after(10):
            async with h.client.stream("GET", h.url, headers=headers) as stream:
                assert stream.status_code == 200
                # no checkpoint in between: the GET stream reads nothing meanwhile, so its
                # outbox fills up to exactly STREAM_BUFFER and the rest is dropped (plus one
                # handed straight to the stream if it was already waiting for a message)
                posted = [session.post_message(_notification(n)) for n in range(2_000)]
                assert session.outbox is not None
                assert session.outbox.statistics().current_buffer_used == STREAM_BUFFER
                accepted = posted.count(True)
                assert accepted in (STREAM_BUFFER, STREAM_BUFFER + 1)
                assert posted[accepted:] == [False] * (2_000 - accepted)
                assert len(_stall_records(caplog)) == 1
                decoder = SSEDecoder()
                received: list[int] = []
                async for chunk in stream.aiter_bytes():
                    for event in decoder.feed(chunk):
                        if event.data:
                            received.append(msgspec.json.decode(event.data)["params"]["n"])
                    if len(received) == accepted:
                        break
                assert received == list(range(accepted))
                assert session.post_message(_notification(-1))  # caught up
        stalls = _stall_records(caplog)
        assert len(stalls) == 2
        assert "not keeping up" in stalls[0]
        assert "caught up" in stalls[1] and f"{2_000 - accepted} message(s)" in stalls[1]


async def test_stall_that_ends_with_the_stream_closing_logs_its_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="trimcp.http")
    server = FastMCP("buffer")
    sessions = SessionManager(idle_timeout=None, max_sessions=None, stream_buffer=3)
    mcp = ServerSession(server)
    session = HttpSession(
        "s1", mcp, store=None, engine=StreamableHTTPEndpoint(server).new_engine(mcp)
    )
    sessions.add(session)
    inbox = session.open_outbox()
    assert [session.post_message(_notification(n)) for n in range(5)] == [True] * 3 + [False] * 2
    assert [inbox.receive_nowait() for _ in range(3)] == [_notification(n) for n in range(3)]
    session.outbox = None  # the GET stream ends (as `http.streams` does)
    inbox.close()
    stalls = _stall_records(caplog)
    assert len(stalls) == 2
    assert "closed" in stalls[1] and "2 message(s)" in stalls[1]
    assert not session.post_message(_notification(9))  # no stream: dropped, nothing logged
    assert len(_stall_records(caplog)) == 2


async def test_get_stream_buffer_is_configurable_and_holds_exactly_that_many() -> None:
    server = FastMCP("buffer")
    sessions = SessionManager(idle_timeout=None, max_sessions=None, stream_buffer=7)
    mcp = ServerSession(server)
    session = HttpSession(
        "s2", mcp, store=None, engine=StreamableHTTPEndpoint(server).new_engine(mcp)
    )
    sessions.add(session)
    inbox = session.open_outbox()
    assert [session.post_message(b"m") for _ in range(8)] == [True] * 7 + [False]
    inbox.receive_nowait()
    assert session.post_message(b"m")
    assert not session.post_message(b"m")
    inbox.close()
    session.open_outbox(buffer=2)  # an explicit size wins over the manager's
    assert [session.post_message(b"m") for _ in range(3)] == [True, True, False]


# -- servers that raise `OSError` from `send` once the client is gone (ASGI 2.4, uvicorn) -----


async def test_sse_stream_treats_an_oserror_from_send_as_the_client_gone() -> None:
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        if message.get("body"):
            raise ConnectionResetError("client gone")
        sent.append(message)

    stream = SSEStream(send)
    await stream.send_message(b'{"jsonrpc":"2.0","method":"a"}')  # headers go, the event fails
    assert not stream.connected
    assert stream.dropped == 1
    await stream.send_message(b'{"jsonrpc":"2.0","method":"b"}')  # not even tried
    assert stream.dropped == 2
    await stream.finish()
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


async def test_legacy_sse_stream_stops_writing_once_send_raises_oserror() -> None:
    endpoint = LegacySSEEndpoint(FastMCP("legacy"))
    writes: list[bytes] = []
    disconnect = anyio.Event()

    async def send(message: dict[str, object]) -> None:
        body = message.get("body")
        if isinstance(body, bytes) and body.startswith(b"event: message"):
            writes.append(body)
            raise ConnectionResetError("client gone")

    async def receive() -> dict[str, object]:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/sse", "headers": [], "root_path": ""}
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(endpoint, scope, receive, send)
            while not endpoint.sessions:  # noqa: ASYNC110 - no event for "stream opened"
                await anyio.sleep(0.01)
            [(_, inbox)] = endpoint.sessions.values()
            await inbox.send(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
            while not writes:  # noqa: ASYNC110 - no event for "answer written"
                await anyio.sleep(0.01)
            await inbox.send(b'{"jsonrpc":"2.0","id":2,"method":"ping"}')
            await inbox.send(b'{"jsonrpc":"2.0","id":3,"method":"ping"}')
            disconnect.set()
    assert len(writes) == 1  # the later answers were not written to the gone client
