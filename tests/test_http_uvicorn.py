"""uvicorn beside hypercorn (issue 18): choosing the server, what trimcp owns of uvicorn's
options, no signal handlers of uvicorn's, the request head bounded with 431 as under
hypercorn, and `trimcp run --server uvicorn` on uvloop.

What holds on both servers (lifespan once, graceful shutdown, streams and disconnects, limits,
the Origin guard, legacy SSE, custom routes) is tested in the modules of those features, on
both servers (`tests.wire.on_each_server`); shutdown on signals in tests/test_shutdown.py.
"""

from __future__ import annotations

import signal
import socket
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tests.test_cli_support import http_server as cli_server
from tests.test_cli_support import run_cli, write
from tests.wire import counting_lifespan, on_each_server, serving
from trimcp import FastMCP
from trimcp.http.serve import choose_server
from trimcp.http.serve_uvicorn import UvicornServing

pytestmark = pytest.mark.anyio

WAIT = 10
HEAD_LIMIT = 4096


def health_server(counts: dict[str, int] | None = None) -> FastMCP:
    mcp = FastMCP("uv", lifespan=counting_lifespan(counts if counts is not None else {}))

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    return mcp


# -- choosing the server -----------------------------------------------------------------


def test_hypercorn_is_the_default_and_uvicorn_config_alone_selects_uvicorn_on_asyncio():
    assert choose_server(None, backend="asyncio") == "hypercorn"
    assert choose_server(None, backend="trio") == "hypercorn"
    assert choose_server(None, backend="asyncio", uvicorn_config={}) == "uvicorn"
    # under trio uvicorn cannot run: its options are mapped onto hypercorn's, as before
    assert choose_server(None, backend="trio", uvicorn_config={}) == "hypercorn"
    both = {"uvicorn_config": {}, "hypercorn_config": {}}
    assert choose_server(None, backend="asyncio", **both) == "hypercorn"
    assert choose_server("hypercorn", backend="asyncio", uvicorn_config={}) == "hypercorn"
    assert choose_server("uvicorn", backend="asyncio") == "uvicorn"


def test_unknown_server_uvicorn_under_trio_and_hypercorn_options_for_uvicorn_are_refused():
    with pytest.raises(ValueError, match="unknown HTTP server 'gunicorn'"):
        choose_server("gunicorn", backend="asyncio")
    with pytest.raises(RuntimeError, match="uvicorn runs on asyncio only, not on trio"):
        choose_server("uvicorn", backend="trio")
    with pytest.raises(ValueError, match="hypercorn_config applies to hypercorn"):
        choose_server("uvicorn", backend="asyncio", hypercorn_config={})


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_refused_server_fails_at_the_call_before_anything_is_bound_or_entered(
    anyio_backend: str,
):
    counts: dict[str, int] = {}
    mcp = health_server(counts)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    taken.close()
    refused: list[tuple[type[Exception], dict[str, Any]]] = [(ValueError, {"server": "gunicorn"})]
    if anyio_backend == "trio":
        refused.append((RuntimeError, {"server": "uvicorn"}))
    else:
        hypercorn_options = {"hypercorn_config": {"keep_alive_timeout": 1}}
        refused.append((ValueError, {"server": "uvicorn", **hypercorn_options}))
    for error, options in refused:
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                with pytest.raises(error):
                    await tg.start(
                        partial(mcp.run_http_async, port=port, show_banner=False, **options)
                    )
        with socket.socket() as probe:  # nothing listens there: the port was never bound
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    assert counts == {}


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_uvicorn_config_serves_with_uvicorn_on_asyncio_and_hypercorn_under_trio(
    anyio_backend: str,
):
    options = {"server_header": True, "timeout_keep_alive": 7}
    async with serving(health_server(), uvicorn_config=options) as (_, client):
        response = await client.get("/health")
    expected = "uvicorn" if anyio_backend == "asyncio" else "hypercorn"
    assert response.headers["server"].startswith(expected)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_uvicorn_config_options_apply_and_a_lifespan_option_does_not_run_it_twice(
    anyio_backend: str,
):
    counts: dict[str, int] = {}
    options = {"lifespan": "on", "server_header": False, "headers": [("x-served-by", "uv")]}
    async with serving(health_server(counts), uvicorn_config=options) as (_, client):
        response = await client.get("/health")
        assert counts == {"enter": 1}
    assert counts == {"enter": 1, "exit": 1}
    assert "server" not in response.headers
    assert response.headers["x-served-by"] == "uv"


def test_trimcp_owns_the_lifespan_the_grace_period_and_the_socket():
    app = FastMCP("uv").http_app()
    serving = UvicornServing(app, uvicorn_config={"timeout_graceful_shutdown": 2}, cut_margin=1)
    assert serving.grace == 2.0
    assert serving.config.timeout_graceful_shutdown == 3.0  # uvicorn's cut comes after ours
    assert serving.config.lifespan == "off"
    assert serving.config.access_log is False
    explicit = UvicornServing(app, graceful_timeout=0.5, uvicorn_config={"loop": "asyncio"})
    assert explicit.grace == 0.5
    for key, value in (("uds", "/tmp/x.sock"), ("fd", 3), ("reload", True), ("workers", 2)):
        with pytest.raises(ValueError, match=f"uvicorn_config\\['{key}'\\]"):
            UvicornServing(app, uvicorn_config={key: value})
    with pytest.raises(TypeError):
        UvicornServing(app, uvicorn_config={"no_such_option": 1})


# -- serving -----------------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_uvicorn_installs_no_signal_handlers(anyio_backend: str):
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    async with serving(health_server(), server="uvicorn") as (_, client):
        assert (await client.get("/health")).text == "OK"
        during = {signum: signal.getsignal(signum) for signum in before}
    assert during == before


@on_each_server
async def test_after_cancellation_the_port_is_closed_and_the_lifespan_exited(http_server: str):
    counts: dict[str, int] = {}
    async with serving(health_server(counts), server=http_server) as (address, client):
        assert (await client.get("/health")).text == "OK"  # a kept-alive connection is open
    assert counts == {"enter": 1, "exit": 1}
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", address.port)) != 0


def head_of(size: int) -> bytes:
    """A GET /health head of exactly `size` bytes up to (not including) its final CRLF."""
    start = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-pad: "
    padding = size - len(start) - 2
    head = start + b"a" * padding + b"\r\n"
    assert len(head) == size
    return head


async def exchange(port: int, *chunks: bytes) -> bytes:
    """Send `chunks` on one connection; everything the server sends until its response is
    whole or it closed."""
    data = b""
    with anyio.fail_after(WAIT):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            for chunk in chunks:
                await stream.send(chunk)
            while b"\r\n\r\n" not in data or not data.endswith((b"OK", b"Too Large")):
                try:
                    data += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
    return data


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_request_head_past_the_limit_gets_431_whether_arriving_or_whole(anyio_backend: str):
    mcp = health_server()
    async with serving(mcp, server="uvicorn", max_header_size=HEAD_LIMIT) as (address, client):
        at_limit = await exchange(address.port, head_of(HEAD_LIMIT), b"\r\n")
        assert at_limit.startswith(b"HTTP/1.1 200") and at_limit.endswith(b"OK"), at_limit
        arriving = await exchange(address.port, head_of(HEAD_LIMIT + 1))  # no end yet
        assert arriving.startswith(b"HTTP/1.1 431 "), arriving
        whole = await exchange(address.port, head_of(HEAD_LIMIT + 1) + b"\r\n")
        assert whole.startswith(b"HTTP/1.1 431 "), whole
        assert b"connection: close" in whole.lower()
        assert (await client.get("/health")).text == "OK"  # and it serves on


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_request_head_limit_defaults_to_16_kib_and_reads_uvicorn_config(anyio_backend: str):
    async with serving(health_server(), server="uvicorn") as (address, _):
        assert (await exchange(address.port, head_of(16 * 1024), b"\r\n")).endswith(b"OK")
        refused = await exchange(address.port, head_of(16 * 1024 + 1), b"\r\n")
        assert refused.startswith(b"HTTP/1.1 431 "), refused
    options = {"h11_max_incomplete_event_size": HEAD_LIMIT}
    async with serving(health_server(), uvicorn_config=options) as (address, _):
        refused = await exchange(address.port, head_of(HEAD_LIMIT + 1), b"\r\n")
        assert refused.startswith(b"HTTP/1.1 431 "), refused


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("split", [0, 3 * 1026 + 500], ids=["one-read", "head-across-reads"])
async def test_pipelined_requests_under_the_head_limit_are_all_served(
    anyio_backend: str, split: int
):
    # eight 1 KiB heads sent at once, or with the fourth cut across two reads (the rest is
    # sent once the first three are answered): a head that begins after another request in
    # the same read is not charged with that request's bytes
    pipelined = (head_of(1024) + b"\r\n") * 8
    chunks = [pipelined[:split], pipelined[split:]] if split else [pipelined]
    data = b""
    async with serving(health_server(), server="uvicorn", max_header_size=1100) as (address, _):
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
                sent = 0
                for chunk in chunks:
                    await stream.send(chunk)
                    sent += len(chunk)
                    answered = pipelined[:sent].count(b"\r\n\r\n")
                    while data.count(b"HTTP/1.1 ") < answered or not data.endswith(b"OK"):
                        data += await stream.receive()
    assert data.count(b"HTTP/1.1 200 ") == 8, data


# -- uvicorn's request callbacks, as trimcp repeats them -------------------------------------


def echo_server() -> FastMCP:
    mcp = FastMCP("uv")

    @mcp.custom_route("/echo/{rest:path}", methods=["GET", "POST"])
    async def echo(request: Request) -> Response:
        body = await request.body()
        scope = request.scope
        return PlainTextResponse(
            f"{scope['path']}|{scope['raw_path'].decode()}|{scope['query_string'].decode()}"
            f"|{scope['http_version']}|{body.decode()}"
        )

    return mcp


async def in_turn(port: int, *requests: bytes, until: bytes) -> bytes:
    """Send each request once the answers before it came; what came back, up to `until`'s
    count of answers (or the connection's end)."""
    data = b""
    with anyio.fail_after(WAIT):
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            for number, request in enumerate(requests, 1):
                await stream.send(request)
                while data.count(until) < number:
                    try:
                        data += await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return data
    return data


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_request_callbacks_keep_uvicorns_behaviour(anyio_backend: str):
    # the paths uvicorn's callbacks take that the benchmark's requests do not
    async with serving(echo_server(), server="uvicorn") as (address, _):
        port = address.port
        # a percent-encoded path and a query; then a body sent after `100 Continue`
        expect = (
            b"POST /echo/a%20b?x=1 HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
            b"Content-Length: 5\r\n\r\n"
        )
        data = b""
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(expect)
                while b"\r\n\r\n" not in data:
                    data += await stream.receive()
                assert data.startswith(b"HTTP/1.1 100 Continue\r\n"), data
                await stream.send(b"hello")
                while not data.endswith(b"hello"):
                    data += await stream.receive()
        assert data.endswith(b"/echo/a b|/echo/a%20b|x=1|1.1|hello"), data
        # HTTP/1.0: answered, then closed (read to the end of the connection)
        data = await in_turn(port, b"GET /echo/z HTTP/1.0\r\nHost: h\r\n\r\n", until=b"\0")
        assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"/echo/z|/echo/z||1.0|")
        # a WebSocket upgrade (no WebSocket protocol served): answered as a plain request
        upgrade = (
            b"GET /echo/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        data = await in_turn(port, upgrade, until=b"|1.1|")
        assert data.startswith(b"HTTP/1.1 200 "), data
        # a malformed request: 400, the connection closed; the server serves on
        data = await in_turn(port, b"GET / HTTP/1.1\r\nHost h\r\n\r\n", until=b"\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 400 "), data
        get = b"GET /echo/again HTTP/1.1\r\nHost: h\r\n\r\n"
        data = await in_turn(port, get, get, until=b"|1.1|")
        assert data.count(b"HTTP/1.1 200 ") == 2, data


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_request_callbacks_apply_root_path_and_limit_concurrency(anyio_backend: str):
    options = {"root_path": "/base"}
    async with serving(echo_server(), server="uvicorn", uvicorn_config=options) as (_, client):
        answer = await client.get("/echo/z?q=1")
        assert answer.text == "/base/echo/z|/base/echo/z|q=1|1.1|", answer.text
    options = {"limit_concurrency": 1}  # the one connection fills it: 503 to every request
    async with serving(echo_server(), server="uvicorn", uvicorn_config=options) as (_, client):
        answer = await client.get("/echo/z")
        assert answer.status_code == 503, answer.text


# -- one write per response ----------------------------------------------------------------


class _Recording:
    """A transport that records what is written to it (and writes it)."""

    def __init__(self, transport: Any, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def recording_protocol(writes: list[bytes]) -> type:
    from trimcp.http.serve_uvicorn import HeadLimitedHttpToolsProtocol

    class Recording(HeadLimitedHttpToolsProtocol):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(_Recording(transport, writes))

    return Recording


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_response_is_written_at_once_and_a_streamed_head_is_not_held(anyio_backend: str):
    from starlette.responses import StreamingResponse

    writes: list[bytes] = []
    go_on = anyio.Event()
    mcp = health_server()

    @mcp.custom_route("/stream", methods=["GET"])
    async def stream(request: Request) -> Response:
        async def events() -> Any:
            await go_on.wait()
            yield b"data: one\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @mcp.custom_route("/chunks", methods=["GET"])
    async def chunks(request: Request) -> Response:
        async def two() -> Any:
            yield b"one,"
            yield b"two"

        return StreamingResponse(two(), media_type="text/plain")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    options = {"http": recording_protocol(writes)}
    async with serving(mcp, uvicorn_config=options) as (address, client):
        assert (await client.get("/health")).text == "OK"
        assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert writes[0].endswith(b"\r\n\r\nOK")
        writes.clear()
        # what a response writes in the iteration it starts in leaves in one write
        assert (await client.get("/chunks")).text == "one,two"
        assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"one," in writes[0] and b"two" in writes[0]
        writes.clear()
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        accept = {"accept": "application/json, text/event-stream"}
        response = await client.post("/mcp", json=initialize, headers=accept)
        assert response.status_code == 200 and response.json()["result"]["serverInfo"]
        # the SSE answer to initialize: head and body joined, whatever the body's shape
        assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
        writes.clear()
        # a streamed response: its head arrives while its body waits for the test
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", address.port) as sock:
                await sock.send(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    data += await sock.receive()
                assert data.startswith(b"HTTP/1.1 200 OK\r\n")
                assert b"data: one" not in data
                go_on.set()
                while b"data: one" not in data:
                    data += await sock.receive()
        assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and b"data: one" not in writes[0]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_keep_alive_closes_an_idle_connection_and_keeps_a_busy_one(anyio_backend: str):
    request = b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n"
    options = {"timeout_keep_alive": 1}
    async with serving(health_server(), uvicorn_config=options) as (address, _):
        with anyio.fail_after(WAIT):
            async with await anyio.connect_tcp("127.0.0.1", address.port) as busy:
                # a request every 0.2 s for 2.5 keep-alive timeouts: never closed
                for _ in range(13):
                    await busy.send(request)
                    data = b""
                    while not data.endswith(b"OK"):
                        data += await busy.receive()
                    await anyio.sleep(0.2)  # the client's pace, what the test is about
            async with await anyio.connect_tcp("127.0.0.1", address.port) as idle:
                await idle.send(request)
                data = b""
                while not data.endswith(b"OK"):
                    data += await idle.receive()
                with anyio.fail_after(4):  # closed between one and two timeouts later
                    with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                        await idle.receive()


# The uvicorn code `HeadLimitedHttpToolsProtocol` repeats (`on_response_complete` and the
# request callbacks) or relies on (where uvicorn arms and cancels its keep-alive timer), as
# reviewed against uvicorn 0.55:
# the sha256 of its source. A uvicorn release that changes any of it fails here: compare,
# carry the change over to trimcp.http.serve_uvicorn, then record the new hash.
REVIEWED_UVICORN_CODE = {
    "on_response_complete": "64e254f28e389e76",
    "_unset_keepalive_if_required": "00a6a4e47214e68e",
    "data_received": "010a7ae59a5d3b1a",
    "connection_lost": "c91a4c9bf2e29c55",
    "on_message_begin": "96d377fdc7c2baef",
    "on_headers_complete": "1ea8589acfad92d8",
    "on_message_complete": "1fbad42dc31fc01f",
}


@pytest.mark.parametrize("name", sorted(REVIEWED_UVICORN_CODE))
def test_the_uvicorn_code_trimcp_repeats_is_the_reviewed_one(name: str) -> None:
    import hashlib
    import inspect

    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    source = inspect.getsource(getattr(HttpToolsProtocol, name))
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert digest == REVIEWED_UVICORN_CODE[name], (
        f"uvicorn {uvicorn.__version__} changed HttpToolsProtocol.{name}: update "
        f"trimcp.http.serve_uvicorn, then this hash ({digest})"
    )


# -- trimcp run --server -----------------------------------------------------------------

LOOP_SERVER = """
import asyncio
from starlette.responses import PlainTextResponse
from trimcp import FastMCP

mcp = FastMCP("Loop")

@mcp.custom_route("/loop", methods=["GET"])
async def loop(request):
    return PlainTextResponse(type(asyncio.get_running_loop()).__module__)
"""


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_trimcp_run_server_uvicorn_serves_on_uvloop(tmp_path: Path, anyio_backend: str):
    import httpx2

    write(tmp_path, "loop.py", LOOP_SERVER)
    args = ["loop.py", "--transport", "http", "--port", "0", "--server", "uvicorn"]
    async with cli_server(*args, cwd=tmp_path) as (_, url, _, _):
        async with httpx2.AsyncClient(timeout=WAIT) as client:
            response = await client.get(url.removesuffix("/mcp") + "/loop")
        assert response.headers["server"] == "uvicorn"
        assert response.text.startswith("uvloop")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transport", "http", "--server", "uvicorn", "--backend", "trio"], "asyncio only"),
        (["--server", "uvicorn"], "--server applies to the HTTP transports"),
    ],
)
def test_trimcp_run_refuses_server_options_that_cannot_apply(
    tmp_path: Path, args: list[str], message: str
) -> None:
    write(tmp_path, "loop.py", LOOP_SERVER)
    result = run_cli("run", "loop.py", *args, cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr, result.stderr
