"""Transport limits at their edge, each configurable: the size of an HTTP request's head
(`max_header_size=`, hypercorn's `h11_max_incomplete_size`) and the length of a stdio line
(`settings.stdio_max_line`, `TRIMCP_STDIO_MAX_LINE`). Exactly the limit is accepted, one byte
more is refused, and the server goes on serving."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import msgspec
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tests.wire import serving
from trimcp import FastMCP
from trimcp.protocol.errors import INVALID_REQUEST
from trimcp.transports.stdio import FramedStream

pytestmark = pytest.mark.anyio

HEAD_LIMIT = 4096
LINE_LIMIT = 4096


def health_server() -> FastMCP:
    mcp = FastMCP("limits")

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    return mcp


def head_of(size: int) -> bytes:
    """A GET /health head of exactly `size` bytes up to (not including) its final CRLF: the
    bytes hypercorn buffers before it knows the head is complete."""
    start = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-pad: "
    padding = size - len(start) - 2
    assert padding > 0
    head = start + b"a" * padding + b"\r\n"
    assert len(head) == size
    return head


async def read_response(stream: anyio.abc.ByteStream) -> bytes:
    """Everything the server sends until it has sent a whole response or closed."""
    data = b""
    with anyio.fail_after(10):
        while b"\r\n\r\n" not in data or (data.startswith(b"HTTP/1.1 200") and b"OK" not in data):
            try:
                data += await stream.receive()
            except anyio.EndOfStream:
                break
    return data


async def test_request_head_at_the_header_limit_is_served():
    async with serving(health_server(), max_header_size=HEAD_LIMIT) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            await stream.send(head_of(HEAD_LIMIT))
            await stream.send(b"\r\n")
            response = await read_response(stream)
    assert response.startswith(b"HTTP/1.1 200"), response
    assert response.endswith(b"OK"), response


async def test_request_head_one_byte_over_the_header_limit_gets_431_and_server_keeps_serving():
    async with serving(health_server(), max_header_size=HEAD_LIMIT) as (address, client):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            await stream.send(head_of(HEAD_LIMIT + 1))  # refused before the head is complete
            response = await read_response(stream)
        assert response.startswith(b"HTTP/1.1 431 "), response  # Request Header Fields Too Large
        after = await client.get("/health")
        assert after.status_code == 200 and after.text == "OK"


async def test_header_limit_is_also_set_through_hypercorn_config():
    config = {"h11_max_incomplete_size": HEAD_LIMIT}
    async with serving(health_server(), hypercorn_config=config) as (address, client):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            await stream.send(head_of(HEAD_LIMIT + 1))
            response = await read_response(stream)
        assert response.startswith(b"HTTP/1.1 431 "), response
        assert (await client.get("/health")).status_code == 200


# -- stdio -------------------------------------------------------------------------------

STDIO_SERVER = textwrap.dedent(
    """
    import sys
    from trimcp import FastMCP

    FastMCP("limits").run(backend=sys.argv[1], show_banner=False)
    """
)


def ping_line(request_id: int, size: int) -> bytes:
    """A `ping` request padded with JSON whitespace to exactly `size` bytes."""
    line = b'{"jsonrpc":"2.0","id":%d,"method":"ping"}' % request_id
    padded = line[:-1] + b" " * (size - len(line)) + b"}"
    assert len(padded) == size
    return padded


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_stdio_line_at_the_limit_is_served_one_byte_more_gets_invalid_request(
    tmp_path: Path, server_backend: str
):
    script = tmp_path / "server.py"
    script.write_text(STDIO_SERVER)
    process = await anyio.open_process(
        [sys.executable, str(script), server_backend],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TRIMCP_STDIO_MAX_LINE": str(LINE_LIMIT)},
    )
    async with process:
        assert process.stdin is not None and process.stdout is not None
        wire = FramedStream(process.stdout, process.stdin, max_line=1 << 20)

        async def exchange(line: bytes) -> dict[str, object]:
            assert process.stdin is not None
            await process.stdin.send(line + b"\n")
            with anyio.fail_after(10):
                return msgspec.json.decode(await wire.receive())

        at_limit = await exchange(ping_line(1, LINE_LIMIT))
        assert at_limit == {"jsonrpc": "2.0", "id": 1, "result": {}}
        over = await exchange(ping_line(2, LINE_LIMIT + 1))
        assert over["id"] is None, over
        assert over["error"]["code"] == INVALID_REQUEST, over  # type: ignore[index]
        after = await exchange(ping_line(3, 100))
        assert after == {"jsonrpc": "2.0", "id": 3, "result": {}}
        await process.stdin.aclose()
        with anyio.fail_after(10):
            assert await process.wait() == 0
