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
import pytest

from tests.wire import serving
from trimcp import Context, FastMCP

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
