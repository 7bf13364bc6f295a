"""A request with more than one `Origin` (403) or `Host` (400) header never reaches the endpoint.

Issue 14, finding 9d: two `Origin` headers, a foreign one then `http://localhost`, passed the
guard (it kept the last one); the official SDK answers 403. Which of two values counts is what
an attacker chooses, so any duplicate is refused, whatever the values, on every request of a
connection. Tested on a real server (hypercorn; uvicorn too on asyncio) with raw HTTP/1.1
(clients refuse to send two `Host`s).
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from tests.wire import INITIALIZE as WIRE_INITIALIZE
from tests.wire import on_each_server, post_scope, serving
from trimcp import FastMCP
from trimcp.http.guard import OriginGuard

pytestmark = pytest.mark.anyio

INITIALIZE = msgspec.json.encode(WIRE_INITIALIZE)


def request_bytes(port: int, extra_headers: list[tuple[str, str]], *, host: bool = True) -> bytes:
    lines = ["POST /mcp HTTP/1.1"]
    if host:
        lines.append(f"Host: 127.0.0.1:{port}")
    lines += [
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        f"Content-Length: {len(INITIALIZE)}",
        *(f"{name}: {value}" for name, value in extra_headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + INITIALIZE


class RawConnection:
    """One HTTP/1.1 connection: send bytes, read `Content-Length` responses one at a time."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.buffer = b""

    async def _fill(self) -> None:
        chunk = await self.stream.receive()
        self.buffer += chunk

    async def exchange(self, data: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        await self.stream.send(data)
        while b"\r\n\r\n" not in self.buffer:
            await self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.split(b"\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get(b"content-length", b"0"))
        while len(self.buffer) < length:
            await self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(status_line.split()[1]), headers, body


async def raw_exchanges(port: int, requests: list[bytes]) -> list[tuple[int, bytes]]:
    """Send `requests` one after the other on one connection; their statuses and bodies."""
    answers = []
    with anyio.fail_after(10):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            connection = RawConnection(stream)
            for data in requests:
                status, _headers, body = await connection.exchange(data)
                answers.append((status, body))
    return answers


def served_server() -> tuple[FastMCP, list[str]]:
    mcp = FastMCP("guarded")
    calls: list[str] = []

    @mcp.tool
    def touch() -> str:
        calls.append("touch")
        return "touched"

    return mcp, calls


@pytest.mark.parametrize(
    "origins",
    [
        ["http://evil.example", "http://localhost"],
        ["http://localhost", "http://evil.example"],
        ["http://localhost", "http://localhost"],
        ["http://127.0.0.1:3000", "http://localhost:3000"],
    ],
    ids=["foreign-then-local", "local-then-foreign", "same-twice", "two-local"],
)
@on_each_server
async def test_two_origin_headers_get_403(
    anyio_backend: str, origins: list[str], http_server: str
) -> None:
    mcp, _calls = served_server()
    async with serving(mcp, server=http_server) as (address, _http):
        [(status, body)] = await raw_exchanges(
            address.port, [request_bytes(address.port, [("Origin", o) for o in origins])]
        )
    assert status == 403
    error = msgspec.json.decode(body)["error"]
    assert error["message"] == "Forbidden: more than one Origin header"


@on_each_server
async def test_two_host_headers_get_400(anyio_backend: str, http_server: str) -> None:
    mcp, _calls = served_server()
    async with serving(mcp, server=http_server) as (address, _http):
        [(status, _body)] = await raw_exchanges(
            address.port,
            [request_bytes(address.port, [("Host", "evil.example"), ("Host", "localhost")])],
        )
    assert status == 400


@on_each_server
async def test_duplicate_origin_refused_on_every_request_of_a_kept_alive_connection(
    anyio_backend: str, http_server: str
) -> None:
    mcp, _calls = served_server()
    async with serving(mcp, server=http_server) as (address, _http):
        good = request_bytes(address.port, [("Origin", "http://localhost")])
        twice = request_bytes(
            address.port, [("Origin", "http://evil.example"), ("Origin", "http://localhost")]
        )
        answers = await raw_exchanges(address.port, [good, twice, good, twice])
    assert [status for status, _ in answers] == [200, 403, 200, 403]


@on_each_server
async def test_one_local_origin_or_none_still_passes(anyio_backend: str, http_server: str) -> None:
    mcp, _calls = served_server()
    async with serving(mcp, server=http_server) as (address, _http):
        answers = await raw_exchanges(
            address.port,
            [
                request_bytes(address.port, [("Origin", "http://localhost:5173")]),
                request_bytes(address.port, []),
            ],
        )
    assert [status for status, _ in answers] == [200, 200]


# --- the guard alone: what any ASGI server hands it -----------------------------------------


async def guard_status(headers: list[tuple[bytes, bytes]]) -> int:
    reached: list[bool] = []
    sent: list[dict[str, Any]] = []

    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = post_scope(headers, server=("127.0.0.1", 8000))
    guard = OriginGuard(endpoint, allowed_origins=["https://app.example"])
    with anyio.fail_after(5):
        await guard(scope, receive, send)
    status = sent[0]["status"]
    assert bool(reached) == (status == 200)
    return int(status)


async def test_guard_refuses_duplicate_host_and_origin_from_any_asgi_server(
    anyio_backend: str,
) -> None:
    host = (b"host", b"127.0.0.1:8000")
    assert await guard_status([host, (b"host", b"127.0.0.1:8000")]) == 400
    assert await guard_status([host, (b"host", b"evil.example")]) == 400
    assert (
        await guard_status(
            [host, (b"origin", b"http://evil.example"), (b"origin", b"http://localhost")]
        )
        == 403
    )
    both_allowed = [(b"origin", b"https://app.example"), (b"origin", b"http://localhost")]
    assert await guard_status([host, *both_allowed]) == 403
    assert await guard_status([host, (b"origin", b"https://app.example")]) == 200
    assert await guard_status([host]) == 200
