"""trimcp's hypercorn tuning (trimcp.http.tuning) serves trimcp's own servers, and only them.

The tuned classes are what serve a connection of `run_http` and of `serve_asgi` on both
backends; after trimcp has served, hypercorn's modules hold hypercorn's own classes and a
plain `hypercorn.asyncio.serve`/`hypercorn.trio.serve` in the same process serves with them.
A hypercorn whose internals differ from what the tuned serving builds on fails loudly: at
serve time (`check_hypercorn`, naming the installed version) and here, where the hypercorn
code that trimcp's serve loops repeat is pinned.
"""

from __future__ import annotations

import gc
import hashlib
import inspect
import socket
import ssl
import subprocess
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import anyio.abc
import h2.config
import h2.connection
import h2.events
import hypercorn.asyncio
import hypercorn.asyncio.run
import hypercorn.asyncio.tcp_server
import hypercorn.asyncio.worker_context
import hypercorn.protocol
import hypercorn.protocol.h11
import hypercorn.trio
import hypercorn.trio.run
import hypercorn.trio.tcp_server
import hypercorn.trio.worker_context
import pytest
from hypercorn.config import Config

from tests.wire import serving
from trimcp import FastMCP
from trimcp.http import serve as serve_module
from trimcp.http import tuning
from trimcp.http.serve import serve_asgi

pytestmark = pytest.mark.anyio

WAIT = 10

# hypercorn's own classes, as its modules define them (not as anyone may have rebound them)
HYPERCORN_H11 = hypercorn.protocol.h11.H11Protocol
HYPERCORN_TCP_SERVER = {
    "asyncio": hypercorn.asyncio.tcp_server.TCPServer,
    "trio": hypercorn.trio.tcp_server.TCPServer,
}
HYPERCORN_SINGLE_TASK = {
    "asyncio": hypercorn.asyncio.worker_context.AsyncioSingleTask,
    "trio": hypercorn.trio.worker_context.TrioSingleTask,
}

# a handshake-era request without a session: trimcp answers 400, the connection stays open
MCP_BODY = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
MCP_REQUEST = (
    b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    b"accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-03-26\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(MCP_BODY), MCP_BODY)
)
GET_REQUEST = b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"


class CannedApp:
    """An ASGI app answering every request `200 ok`, recording its lifespan events."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan.append(message["type"])
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})


async def answer_head(stream: anyio.abc.ByteStream, request: bytes) -> bytes:
    """Send `request` on a keep-alive connection; what arrived by the end of the head."""
    await stream.send(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += await stream.receive()
    return data


async def canned_answer(stream: anyio.abc.ByteStream) -> bytes:
    """`GET /` to a `CannedApp` on a keep-alive connection; the whole answer."""
    answer = await answer_head(stream, GET_REQUEST)
    while not answer.endswith(b"\r\n\r\nok"):
        answer += await stream.receive()
    return answer


@asynccontextmanager
async def asgi_serving(app: Any, config: Config | None = None, **options: Any) -> Any:
    """`serve_asgi(app, config, **options)` on a free port of 127.0.0.1, stopped by its
    trigger on the way out: `(bound URL, port)`."""
    if config is None:
        config = serve_module.build_config()
    config.bind = ["127.0.0.1:0"]
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        binds = await tg.start(
            partial(serve_asgi, app, config, shutdown_trigger=stop.wait, **options)
        )
        try:
            yield binds[0], int(binds[0].rpartition(":")[2])
        finally:
            stop.set()


def h2_client_asking_root() -> h2.connection.H2Connection:
    """An HTTP/2 client (prior knowledge) that has asked `GET /`: its bytes are still to send."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    client.initiate_connection()
    client.send_headers(
        1,
        [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")],
        end_stream=True,
    )
    return client


def connection_serving(port: int, backend: str) -> Any:
    """The hypercorn `TCPServer` (trimcp's subclass or hypercorn's own) serving the one open
    connection to the server on `port`."""
    gc.collect()
    base = HYPERCORN_TCP_SERVER[backend]
    found = [
        candidate
        for candidate in gc.get_objects()
        if isinstance(candidate, base)
        and getattr(getattr(candidate, "protocol", None), "server", None) == ("127.0.0.1", port)
    ]
    assert len(found) == 1, found
    return found[0]


def assert_tuned(connection: Any, backend: str) -> None:
    worker = serve_module._tuned_worker(backend)
    assert type(connection) is worker.TunedTCPServer
    assert type(connection.idle_task) is tuning.DeferredIdleTask
    assert isinstance(connection.protocol, tuning.TunedProtocolWrapper)
    expected = (
        worker.TrioCoalescingH11Protocol if backend == "trio" else tuning.CoalescingH11Protocol
    )
    assert type(connection.protocol.protocol) is expected


def assert_hypercorns_own(connection: Any, backend: str) -> None:
    assert type(connection) is HYPERCORN_TCP_SERVER[backend]
    assert type(connection.idle_task) is HYPERCORN_SINGLE_TASK[backend]
    assert type(connection.protocol) is hypercorn.protocol.ProtocolWrapper
    assert type(connection.protocol.protocol) is HYPERCORN_H11


def assert_hypercorn_modules_untouched() -> None:
    assert hypercorn.protocol.H11Protocol is HYPERCORN_H11
    assert HYPERCORN_H11.__module__ == "hypercorn.protocol.h11"
    assert hypercorn.asyncio.tcp_server.AsyncioSingleTask is HYPERCORN_SINGLE_TASK["asyncio"]
    assert hypercorn.trio.tcp_server.TrioSingleTask is HYPERCORN_SINGLE_TASK["trio"]
    for backend, single_task in HYPERCORN_SINGLE_TASK.items():
        assert single_task.__module__ == f"hypercorn.{backend}.worker_context"
    assert hypercorn.asyncio.run.TCPServer is HYPERCORN_TCP_SERVER["asyncio"]
    assert hypercorn.trio.run.TCPServer is HYPERCORN_TCP_SERVER["trio"]
    assert hypercorn.asyncio.tcp_server.ProtocolWrapper is hypercorn.protocol.ProtocolWrapper
    assert hypercorn.trio.tcp_server.ProtocolWrapper is hypercorn.protocol.ProtocolWrapper


async def test_trimcps_connections_are_served_by_the_tuned_classes(anyio_backend_name: str):
    async with serving(FastMCP("tuned")) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            with anyio.fail_after(WAIT):
                head = await answer_head(stream, MCP_REQUEST)
            assert head.startswith(b"HTTP/1.1 400"), head
            assert_tuned(connection_serving(address.port, anyio_backend_name), anyio_backend_name)
    assert_hypercorn_modules_untouched()


async def test_serve_asgi_serves_any_app_with_the_tuned_classes(anyio_backend_name: str):
    """The public way to serve another app as trimcp serves its own (the benchmark's bare
    ceiling uses it): trimcp's config by default, hypercorn's lifespan, the bound URLs
    reported to `task_status`, one write per small response."""
    app = CannedApp()
    with anyio.fail_after(WAIT):
        async with asgi_serving(app) as (_, port):
            assert app.lifespan == ["lifespan.startup"]
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                for _ in range(2):
                    await stream.send(GET_REQUEST)
                    first = await stream.receive()  # head and body in one write
                    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"\r\n\r\nok")
                assert_tuned(connection_serving(port, anyio_backend_name), anyio_backend_name)
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]


async def test_serve_asgi_without_a_lifespan_never_sends_the_app_one(anyio_backend_name: str):
    """`lifespan=False` (what `run_http` asks, since it runs the app's lifespan itself): the
    app is served, from startup to shutdown, without ever getting a lifespan scope."""
    app = CannedApp()
    scopes: list[str] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        scopes.append(scope["type"])
        await app(scope, receive, send)

    with anyio.fail_after(WAIT):
        async with asgi_serving(recording, lifespan=False) as (_, port):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                assert (await canned_answer(stream)).startswith(b"HTTP/1.1 200")
    assert scopes == ["http"]
    assert app.lifespan == []


async def test_serve_asgi_switches_to_http2_for_a_client_that_speaks_it():
    """`TunedProtocolWrapper` builds its protocols itself (not through hypercorn's
    `__init__`): a client with HTTP/2 prior knowledge still gets hypercorn's HTTP/2."""
    client = h2_client_asking_root()
    with anyio.fail_after(WAIT):
        async with asgi_serving(CannedApp()) as (_, port):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(client.data_to_send())
                status, body, ended = None, b"", False
                while not ended:
                    for event in client.receive_data(await stream.receive()):
                        if isinstance(event, h2.events.ResponseReceived):
                            status = dict(event.headers)[b":status"]
                        elif isinstance(event, h2.events.DataReceived):
                            body += event.data
                        ended = ended or isinstance(event, h2.events.StreamEnded)
                    await stream.send(client.data_to_send())
    assert (status, body) == (b"200", b"ok")


async def test_serve_asgi_stops_on_its_own_after_max_requests():
    """hypercorn's `max_requests` (uvicorn's `limit_max_requests`): past it, the worker shuts
    down gracefully, and `serve_asgi` returns with no trigger and no cancellation."""
    app = CannedApp()
    config = serve_module.build_config(hypercorn_config={"max_requests": 2})
    config.max_requests_jitter = 0
    config.bind = ["127.0.0.1:0"]
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            binds = await tg.start(partial(serve_asgi, app, config))
            port = int(binds[0].rpartition(":")[2])
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                for _ in range(3):  # the third is past the limit: answered, then the end
                    assert (await canned_answer(stream)).startswith(b"HTTP/1.1 200")
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (certfile, keyfile), made by openssl."""
    where = tmp_path_factory.mktemp("tls")
    certfile, keyfile = str(where / "cert.pem"), str(where / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", keyfile, "-out", certfile,
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return certfile, keyfile


async def test_serve_asgi_serves_tls_with_the_tuned_classes(
    anyio_backend_name: str, certificate: tuple[str, str]
):
    certfile, keyfile = certificate
    config = serve_module.build_config(hypercorn_config={"certfile": certfile, "keyfile": keyfile})
    trusted = ssl.create_default_context(cafile=certfile)
    with anyio.fail_after(WAIT):
        async with asgi_serving(CannedApp(), config) as (url, port):
            assert url.startswith("https://")
            async with await anyio.connect_tcp(
                "127.0.0.1", port, tls=True, ssl_context=trusted, tls_standard_compatible=False
            ) as stream:
                for _ in range(2):
                    assert (await canned_answer(stream)).startswith(b"HTTP/1.1 200")
                assert_tuned(connection_serving(port, anyio_backend_name), anyio_backend_name)


async def _serve_trimcp_once(backend: str) -> None:
    async with serving(FastMCP("once")) as (address, _):
        async with await anyio.connect_tcp("127.0.0.1", address.port) as stream:
            with anyio.fail_after(WAIT):
                assert (await answer_head(stream, MCP_REQUEST)).startswith(b"HTTP/1.1 400")
            assert_tuned(connection_serving(address.port, backend), backend)


async def _plain_hypercorn_serves_with_its_own_classes(backend: str) -> None:
    """Another app served by hypercorn's own `serve`, in the process trimcp served in."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # connections wait in the backlog until hypercorn accepts
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]
    config.accesslog = None
    stop = anyio.Event()
    serve: Callable[..., Any] = (
        hypercorn.trio.serve if backend == "trio" else hypercorn.asyncio.serve
    )
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(serve, CannedApp(), config, shutdown_trigger=stop.wait))
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                assert (await answer_head(stream, GET_REQUEST)).startswith(b"HTTP/1.1 200")
                assert_hypercorns_own(connection_serving(port, backend), backend)
            stop.set()


def test_serving_trimcp_leaves_hypercorn_as_it_is() -> None:
    """trimcp served on both backends, then: hypercorn's modules hold hypercorn's classes,
    and hypercorn's own `serve` of another app uses them, on both backends."""
    for backend in ("asyncio", "trio"):
        anyio.run(_serve_trimcp_once, backend, backend=backend)
    assert_hypercorn_modules_untouched()
    for backend in ("asyncio", "trio"):
        anyio.run(_plain_hypercorn_serves_with_its_own_classes, backend, backend=backend)
    assert_hypercorn_modules_untouched()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_installed_hypercorn_has_what_the_tuned_serving_builds_on(backend: str) -> None:
    tuning.check_hypercorn(backend)


def test_a_changed_hypercorn_constructor_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def reordered(self: Any, app: Any, stream: Any, config: Any, context: Any, state: Any) -> None:
        pass

    monkeypatch.setattr(HYPERCORN_TCP_SERVER["trio"], "__init__", reordered)
    tuning.check_hypercorn("asyncio")  # the other backend's classes are not in question
    with pytest.raises(RuntimeError) as caught:
        tuning.check_hypercorn("trio")
    message = str(caught.value)
    assert f"installed hypercorn {tuning.hypercorn_version()}" in message
    assert "hypercorn.trio.tcp_server.TCPServer does not take" in message


def test_a_new_optional_hypercorn_parameter_still_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """hypercorn's positional calls that trimcp repeats still work when a release adds an
    optional parameter at the end."""

    def extended(
        self: Any, app: Any, config: Any, context: Any, state: Any, stream: Any, extra: int = 0
    ) -> None:
        pass

    monkeypatch.setattr(HYPERCORN_TCP_SERVER["trio"], "__init__", extended)
    tuning.check_hypercorn("trio")


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


async def test_a_hypercorn_without_what_the_tuning_builds_on_fails_loudly(
    monkeypatch: pytest.MonkeyPatch,
):
    """An upgrade that drops or changes what trimcp's classes override (here, the method
    `CoalescingH11Protocol` overrides to write once) stops the server from starting, with
    an error that names the installed hypercorn, instead of serving untuned or broken."""
    monkeypatch.delattr(HYPERCORN_H11, "_send_h11_event")
    serve_module._tuned_worker.cache_clear()
    try:
        with pytest.raises(BaseException) as caught:  # which: checked below
            async with serving(FastMCP("upgraded")):
                pass
    finally:
        serve_module._tuned_worker.cache_clear()
    [error] = _leaves(caught.value)
    assert isinstance(error, RuntimeError), error
    message = str(error)
    assert f"hypercorn {tuning.hypercorn_version()}" in message
    assert "H11Protocol has no _send_h11_event" in message


# The hypercorn code that trimcp's serve loops and classes repeat (trimcp.http.worker_asyncio,
# trimcp.http.worker_trio, tuning.TunedProtocolWrapper and CoalescingH11Protocol), as reviewed: the sha256 of its
# source. A hypercorn release that changes any of it fails here, even when the serve-time
# check still passes: compare hypercorn's new code with trimcp's copy, carry the change
# over, then record the new hash.
REVIEWED_HYPERCORN_CODE = {
    "hypercorn.asyncio.run.worker_serve": "ae30269c42b95442",
    "hypercorn.asyncio.tcp_server.TCPServer.__init__": "95a6f196b96bfa92",
    "hypercorn.asyncio.tcp_server.TCPServer.run": "9437d01a916d887b",
    # `TunedTCPServer.protocol_send` repeats its RawData branch, `_initiate_server_close`
    # the whole; `_close` is where it flushes
    "hypercorn.asyncio.tcp_server.TCPServer.protocol_send": "06144915fc094c1b",
    "hypercorn.asyncio.tcp_server.TCPServer._close": "ea76225e14315206",
    "hypercorn.asyncio.tcp_server.TCPServer._initiate_server_close": "b133876f0613af93",
    "hypercorn.trio.run.worker_serve": "8dc8347a9fc357ca",
    "hypercorn.trio.tcp_server.TCPServer.__init__": "4c1d42457bc197b2",
    "hypercorn.trio.tcp_server.TCPServer.run": "fd34b021d1a86c98",
    "hypercorn.protocol.ProtocolWrapper.__init__": "df25e181b9e2e64d",
    "hypercorn.protocol.h11.H11Protocol._send_h11_event": "5e40283daa303ec7",
}


def _code(dotted: str) -> Any:
    names = dotted.split(".")
    for split in range(len(names), 0, -1):
        try:
            value: Any = __import__(".".join(names[:split]), fromlist=["_"])
        except ImportError:
            continue
        for name in names[split:]:
            value = getattr(value, name)
        return value
    raise ImportError(dotted)


@pytest.mark.parametrize("where", sorted(REVIEWED_HYPERCORN_CODE))
def test_the_hypercorn_code_trimcp_repeats_is_the_reviewed_one(where: str) -> None:
    source = inspect.getsource(_code(where))
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    assert digest == REVIEWED_HYPERCORN_CODE[where], (
        f"hypercorn {tuning.hypercorn_version()} changed {where} (trimcp's tuned serving "
        f"repeats it; reviewed against hypercorn {tuning.HYPERCORN_TESTED}): update trimcp's "
        f"copy, then this hash ({digest})"
    )


async def test_serve_asgi_refuses_http3_before_the_lifespan_starts() -> None:
    """HTTP/3 is not served: a `quic_bind` is refused at once, before the app's lifespan
    runs or any socket is bound (nothing to undo)."""
    events: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            events.append("lifespan")
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

    config = serve_module.build_config()
    config.bind = ["127.0.0.1:0"]
    config.quic_bind = ["127.0.0.1:0"]
    with anyio.fail_after(10), pytest.raises(ValueError, match="quic_bind"):
        await serve_module.serve_asgi(app, config)
    assert events == []


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_keep_alive_close_writes_what_the_connection_holds(anyio_backend: str):
    """asyncio holds a connection's writes until after the loop iteration. hypercorn's
    keep-alive close (`_initiate_server_close`) closes an HTTP/2 connection without going
    through `_close`, and still sends what is held before closing the socket."""
    client = h2_client_asking_root()
    with anyio.fail_after(WAIT):
        async with asgi_serving(CannedApp()) as (_, port):
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(client.data_to_send())
                ended = False
                while not ended:
                    events = client.receive_data(await stream.receive())
                    ended = any(isinstance(e, h2.events.StreamEnded) for e in events)
                connection = connection_serving(port, "asyncio")
                connection._writes.hold(b"held")  # held: written after this step at the earliest
                await connection._initiate_server_close()
                data = b""
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                    while True:
                        data += await stream.receive()
    assert data.endswith(b"held"), data
