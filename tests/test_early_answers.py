"""Issue 14: what happens to a keep-alive connection after an early answer.

- A request answered before its body was read (403 for a foreign `Origin`, 405, 406, 413,
  415) leaves the connection unusable: hypercorn closes it after the answer. The answer says
  so with `Connection: close` (RFC 9112 section 9.6), so a keep-alive client does not send
  its next request on it and see "Server disconnected without sending a response". The server
  never reads a big body just to keep the connection.
- Pipelined requests on one connection are all answered, in order, whether their answers come
  after the body was read (the validation ladder's 400) or before (415, 403), and also when
  the client half-closes after sending them (asyncio's reader passes that end of stream as
  `Closed` during the last request: the last answer was dropped as if the client were gone).

Each server runs in this process on 127.0.0.1:0 (`tests.wire.serving`).
"""

from __future__ import annotations

import re

import anyio
import httpx2
import msgspec
import pytest

from tests.wire import MODERN, modern_meta, post_scope, serving
from trimcp import FastMCP

pytestmark = pytest.mark.anyio

_HEADERS = {
    "content-type": "application/json",
    "accept": "application/json, text/event-stream",
    "mcp-protocol-version": MODERN,
    "mcp-method": "tools/list",
}


def _tools_list(request_id: int, *, meta: bool = True, pad: int = 0) -> bytes:
    params: dict[str, object] = {"_meta": modern_meta() if meta else {}}
    if pad:
        params["pad"] = "A" * pad
    return msgspec.json.encode(
        {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params}
    )


def _raw_post(body: bytes, *, extra: bytes = b"", close: bool = False) -> bytes:
    head = (
        b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"accept: application/json, text/event-stream\r\n"
        b"mcp-protocol-version: " + MODERN.encode() + b"\r\nmcp-method: tools/list\r\n"
    )
    if b"content-type:" not in extra:
        head += b"content-type: application/json\r\n"
    head += extra + b"content-length: %d\r\n" % len(body)
    if close:
        head += b"connection: close\r\n"
    return head + b"\r\n" + body


def _mcp() -> FastMCP:
    mcp = FastMCP("early")

    @mcp.tool
    def echo(text: str) -> str:
        return text

    return mcp


async def _read_to_eof(stream: anyio.abc.ByteStream) -> bytes:
    data = b""
    try:
        while True:
            data += await stream.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError):
        return data


def _statuses(data: bytes) -> list[int]:
    return [int(status) for status in re.findall(rb"HTTP/1\.1 (\d{3})", data)]


_PIPELINES = {
    # answered after the body was read: the validation ladder's 400 (params._meta incomplete)
    "ladder-400": [
        (_raw_post(_tools_list(1)), 200),
        (_raw_post(_tools_list(2, meta=False)), 400),
        (_raw_post(_tools_list(3)), 200),
        (_raw_post(_tools_list(4, meta=False), close=True), 400),
    ],
    # answered before the body was read (its whole body already received): 415 and 403
    "early-415-403": [
        (_raw_post(_tools_list(1)), 200),
        (_raw_post(_tools_list(2), extra=b"content-type: text/plain\r\n"), 415),
        (_raw_post(_tools_list(3)), 200),
        (_raw_post(_tools_list(4), extra=b"origin: http://evil.example\r\n", close=True), 403),
    ],
}


@pytest.mark.parametrize("half_close", [False, True], ids=["open", "half-closed"])
@pytest.mark.parametrize("pipeline", sorted(_PIPELINES))
async def test_pipelined_requests_are_all_answered_in_order(
    pipeline: str, half_close: bool
) -> None:
    requests = _PIPELINES[pipeline]
    async with serving(_mcp(), wait=30) as (address, _):
        for _ in range(5):  # the answers race the reading of the pipeline: a few rounds
            async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
                await stream.send(b"".join(raw for raw, _status in requests))
                if half_close:
                    await stream.send_eof()  # the client is done sending; it still reads
                with anyio.fail_after(10):
                    data = await _read_to_eof(stream)
            assert _statuses(data) == [status for _raw, status in requests], data[:2000]
            ids = [int(found) for found in re.findall(rb'"id":(\d+)', data)]
            if pipeline == "ladder-400":
                assert ids == [1, 2, 3, 4]
            # only the last request asked for the close
            heads = [part.lower() for part in data.split(b"HTTP/1.1 ")[1:]]
            assert [b"connection: close" in head for head in heads] == [False, False, False, True]


def _big_rejections() -> list[tuple[str, str, dict[str, str], int]]:
    """(name, path, extra headers, expected status) of requests refused before their body is
    read; each is sent with a body of about 1 MB."""
    return [
        ("foreign-origin", "/mcp", {"origin": "http://evil.example"}, 403),
        ("not-json", "/mcp", {"content-type": "text/plain"}, 415),
        ("not-acceptable", "/mcp", {"accept": "text/plain"}, 406),
        ("too-large", "/mcp", {}, 413),
        ("wrong-path", "/nowhere", {}, 404),
    ]


def _refuse_then_ask(port: int, rounds: int) -> list[tuple[str, int, str | None, int | str]]:
    """On one keep-alive client (a synchronous one, in a worker thread: it reuses a pooled
    connection as soon as it has read an answer, as a client in another process would): a
    big POST refused unread, then a valid request, `rounds` times. For each round: the
    refusal's name, status and `Connection` header, and the next request's status (or the
    error it got)."""
    big = _tools_list(1, pad=1_000_000)
    ok = _tools_list(2)
    rejections = _big_rejections()
    seen: list[tuple[str, int, str | None, int | str]] = []
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for round_ in range(rounds):
            name, path, extra, _status = rejections[round_ % len(rejections)]
            refused = client.post(path, content=big, headers={**_HEADERS, **extra})
            try:
                answered = client.post("/mcp", content=ok, headers=_HEADERS)
            except httpx2.HTTPError as exc:  # "Server disconnected without sending a response"
                seen.append(
                    (name, refused.status_code, refused.headers.get("connection"), repr(exc))
                )
                continue
            assert answered.json()["id"] == 2
            # a request whose body was read keeps the connection
            assert answered.headers.get("connection") is None
            seen.append(
                (name, refused.status_code, refused.headers.get("connection"), answered.status_code)
            )
    return seen


async def test_a_big_body_refused_unread_is_answered_with_connection_close_and_the_client_goes_on() -> (
    None
):
    expected = {name: status for name, _path, _extra, status in _big_rejections()}
    # a 256 KB cap for the 413; the others are refused before the cap matters
    async with serving(_mcp(), wait=120, max_body_size=256 * 1024) as (address, _):
        seen = await anyio.to_thread.run_sync(_refuse_then_ask, address.port, 50)
    assert len(seen) == 50
    # each refusal has its status and says the connection closes (RFC 9112 section 9.6) ...
    assert [(name, status, "close") for name, status, _c, _n in seen] == [
        (name, expected[name], connection) for name, _s, connection, _n in seen
    ]
    # ... so the client's next request goes on a new connection and is answered
    assert [answer for *_, answer in seen] == [200] * 50


async def test_a_body_still_arriving_is_not_read_to_keep_the_connection() -> None:
    """A client announcing a huge body and refused before it (403) gets its answer and the
    connection closed: the server does not read (or wait for) the body it will never use."""
    async with serving(_mcp(), wait=30) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            await stream.send(
                b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                b"accept: application/json, text/event-stream\r\n"
                b"origin: http://evil.example\r\ncontent-length: 100000000000\r\n\r\n"
                + b"A"
                * 65536
            )
            with anyio.fail_after(10):
                data = await _read_to_eof(stream)  # answered, then closed: not waiting
        assert _statuses(data) == [403]
        assert b"connection: close" in data.lower()


@pytest.mark.parametrize(("limit", "declared"), [(1000, b"900000"), (1000, b"1001"), (5, b"6")])
async def test_a_declared_length_over_a_small_limit_is_refused_before_reading(
    limit: int, declared: bytes
) -> None:
    """Under a `max_body_size` below a million a short `Content-Length` can still be over the
    limit: it is refused (413) without reading the body, as a long one is."""
    from trimcp.http.streamable import StreamableHTTPEndpoint

    endpoint = StreamableHTTPEndpoint(_mcp(), max_body_size=limit)
    received: list[object] = []
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        received.append(True)
        return {"type": "http.request", "body": b"x" * int(declared), "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = post_scope(
        [
            (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream"),
            (b"content-length", declared),
        ]
    )
    async with endpoint.running():
        await endpoint(scope, receive, send)
    assert sent[0]["status"] == 413
    assert received == []
