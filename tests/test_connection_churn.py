"""Issue 14, finding 6: a connection whose peer has closed is released at once.

hypercorn keeps an idle connection until its keep-alive timer fires, even after the client
closed it: a client that opens one connection per request held one fd per request for
`keep_alive_timeout` seconds, and 3,000 of them in a row hit the 1,024-fd limit. The server
runs in this process, so its sockets are counted in `/proc/self/fd`.
"""

from __future__ import annotations

import os

import anyio
import pytest

from tests.wire import serving
from trimcp import FastMCP
from trimcp.http import PlainTextResponse, Request

pytestmark = pytest.mark.anyio

CONNECTIONS = 300
# a handshake-era request without a session: answered 400 at once, no session is made
_BODY = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
_REQUEST = (
    b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    b"accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-03-26\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _one_request_connection(port: int) -> bytes:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(_REQUEST)
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive()
        return head


async def test_peer_closed_connections_are_released_at_once() -> None:
    mcp = FastMCP("churn")
    # a long keep-alive timer: before the fix every closed connection waited for it
    async with serving(mcp, wait=60, uvicorn_config={"timeout_keep_alive": 60}) as (address, _):
        await _one_request_connection(address.port)  # the server's first connection is warm
        start = _open_fds()
        with anyio.fail_after(40):
            for _ in range(CONNECTIONS):
                head = await _one_request_connection(address.port)
                assert head.startswith(b"HTTP/1.1 400"), head
        # released at once, not after the 60 s keep-alive timer; the kernel's fd table has no
        # event to wait on, so it is polled (bounded)
        with anyio.fail_after(3):
            while _open_fds() > start + 5:  # noqa: ASYNC110
                await anyio.sleep(0.01)


async def test_a_client_that_half_closes_after_its_request_still_gets_the_answer() -> None:
    """Only a failed write (or our own close) makes the server drop what the app sends: a
    peer's end of stream alone may be a half-close, and that peer still reads. The route
    answers only after the server has seen the end of stream (`http.disconnect`)."""
    mcp = FastMCP("churn")

    @mcp.custom_route("/late", methods=["GET"])
    async def late(request: Request) -> PlainTextResponse:
        while (await request.receive()).get("type") != "http.disconnect":
            pass
        return PlainTextResponse("answered after the end of stream")

    async with serving(mcp) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            await stream.send(b"GET /late HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            await stream.send_eof()
            answer = b""
            with anyio.fail_after(5):
                while b"answered after the end of stream" not in answer:
                    answer += await stream.receive()
        assert answer.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    "raw",
    [
        # h11 refuses the body (a bad chunk) while the app answers the request
        b"GET /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nab\r\n",
        # more body than announced, on a connection the client closes
        b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"accept: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}garbage",
    ],
    ids=["bad-chunk", "extra-body"],
)
async def test_malformed_requests_racing_the_close_never_end_the_server(
    raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # hypercorn-trio sends a closing connection's EOF without its send lock: the app's answer
    # racing it raised BusyResourceError out of the connection task and the server exited
    async with serving(FastMCP("race"), wait=60) as (address, http):
        with anyio.fail_after(40):
            for _ in range(60):
                async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
                    await stream.send(raw)
                    await stream.send_eof()
                    try:
                        while await stream.receive():
                            pass
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        pass
        response = await http.post(
            "/mcp",
            content=_BODY,
            headers={
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2025-03-26",
            },
        )
        assert response.status_code == 400  # still serving (a ping without a session)
    assert not [r for r in caplog.records if r.exc_info and "Busy" in repr(r.exc_info[1])]
