"""Shutdown on SIGTERM and SIGINT, on a real server process, on both backends, HTTP (hypercorn;
uvicorn too on asyncio) and stdio.

Every request in flight when the signal arrives is answered: with its result if it finishes
within the grace period, else with a JSON-RPC error. The lifespan exits once, the process
exits 0 for SIGTERM and 130 for SIGINT, and nothing is printed as a traceback.

The server is a script written to a temporary directory; each tool call writes a marker to
stderr when it starts, so the test sends the signal once the calls are known to be running.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import httpx2
import msgspec
import pytest

from tests.wire import modern_meta
from trimcp.protocol.errors import INTERNAL_ERROR, REQUEST_CANCELLED, ErrorData
from trimcp.runtime.memory import memory_stream_pair
from trimcp.runtime.peer import Peer
from trimcp.transports.stdio import FramedStream

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

GRACE = 1.5

SERVER = textwrap.dedent(
    """
    import sys
    from contextlib import asynccontextmanager

    import anyio
    from trimcp import Context, FastMCP

    @asynccontextmanager
    async def lifespan(server):
        print("LIFESPAN-ENTER", file=sys.stderr, flush=True)
        try:
            yield {}
        finally:
            print("LIFESPAN-EXIT", file=sys.stderr, flush=True)

    mcp = FastMCP("shutdown", lifespan=lifespan)

    @mcp.tool
    async def quick(tag: str) -> str:
        print("STARTED", tag, file=sys.stderr, flush=True)
        await anyio.sleep(0.5)  # well within the grace period
        return "finished " + tag

    @mcp.tool
    async def stuck(tag: str) -> str:
        print("STARTED", tag, file=sys.stderr, flush=True)
        await anyio.sleep_forever()
        return "never"

    @mcp.tool
    async def chatty(tag: str, ctx: Context) -> str:
        await ctx.report_progress(1, 2)  # over HTTP, the answer is now an SSE stream
        print("STARTED", tag, file=sys.stderr, flush=True)
        await anyio.sleep_forever()
        return "never"

    @mcp.custom_route("/forever", methods=["GET"])
    async def forever(request):
        print("STARTED forever", file=sys.stderr, flush=True)
        await anyio.sleep_forever()

    if __name__ == "__main__":
        transport, backend, grace = sys.argv[1], sys.argv[2], float(sys.argv[3])
        # uvicorn through `run`: FastMCP's spelling, `uvicorn_config=`
        chosen = {"uvicorn_config": {}} if sys.argv[4:] == ["uvicorn"] else {}
        if transport == "stdio":
            mcp.run(backend=backend, show_banner=False, graceful_timeout=grace)
        else:
            mcp.run(
                transport=transport, backend=backend, port=0, graceful_timeout=grace, **chosen
            )
    """
)

HANDSHAKE = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


class ServerProcess:
    """A server subprocess whose stderr is collected as it comes, line by line."""

    def __init__(self, process: anyio.abc.Process) -> None:
        self.process = process
        self.stderr = ""
        self._changed = anyio.Event()

    async def collect_stderr(self) -> None:
        assert self.process.stderr is not None
        async for chunk in self.process.stderr:
            self.stderr += chunk.decode(errors="replace")
            self._changed.set()
            self._changed = anyio.Event()
        self._changed.set()

    async def wait_for_stderr(self, pattern: str) -> re.Match[str]:
        """Wait (bounded) until stderr matches `pattern`."""
        with anyio.fail_after(15):
            while True:
                found = re.search(pattern, self.stderr)
                if found is not None:
                    return found
                if self.process.returncode is not None:
                    raise AssertionError(f"server exited; stderr:\n{self.stderr}")
                await self._changed.wait()

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def exit_status(self) -> int:
        with anyio.fail_after(GRACE + 10):
            return await self.process.wait()


# an HTTP server process: its backend and HTTP server
SERVED = pytest.mark.parametrize(
    ("server_backend", "http_server"),
    [("asyncio", "hypercorn"), ("asyncio", "uvicorn"), ("trio", "hypercorn")],
    ids=["asyncio", "asyncio-uvicorn", "trio"],
)
SIGNALS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT}


def signalled(*uvicorn_runs: str, launchers: bool = False) -> pytest.MarkDecorator:
    """Parametrize `server_backend`, `http_server`, `signum` (and `launcher` if `launchers`):
    hypercorn on both backends with both signals (and both launchers), and uvicorn (asyncio)
    with only the runs named, `"TERM"` or `"TERM run()"` (suite time: a process each)."""
    names = ["server_backend", "http_server", "signum"] + (["launcher"] if launchers else [])
    ways = ["run()", "trimcp run"] if launchers else [None]
    cases, ids = [], []
    for backend in ("asyncio", "trio"):
        for name, signum in SIGNALS.items():
            for way in ways:
                cases.append((backend, "hypercorn", signum, way))
                ids.append("-".join(filter(None, [backend, name, way])))
    for run in uvicorn_runs:
        name, _, way = run.partition(" ")
        cases.append(("asyncio", "uvicorn", SIGNALS[name], way or None))
        ids.append("-".join(filter(None, ["asyncio-uvicorn", name, way])))
    return pytest.mark.parametrize(names, [c[: len(names)] for c in cases], ids=ids)


def command(
    server_file: Path, transport: str, backend: str, launcher: str, http_server: str = "hypercorn"
) -> list[str]:
    if launcher == "run()":
        return [sys.executable, str(server_file), transport, backend, str(GRACE), http_server]
    argv = [sys.executable, "-m", "trimcp", "run", str(server_file), "--backend", backend]
    argv += ["--graceful-timeout", str(GRACE)]
    if transport != "stdio":
        argv += ["--transport", transport, "--port", "0", "--server", http_server]
    else:
        argv += ["--no-banner"]
    return argv


def assert_clean_exit(server: ServerProcess, status: int, signum: int) -> None:
    expected = 0 if signum == signal.SIGTERM else 128 + signal.SIGINT
    assert status == expected, server.stderr
    assert "Traceback" not in server.stderr, server.stderr
    assert server.stderr.count("LIFESPAN-EXIT") == 1, server.stderr


class StdioServer(ServerProcess):
    """A stdio server subprocess: `send` writes messages a line each, `wire` reads the answers."""

    @classmethod
    async def open(cls, argv: list[str]) -> StdioServer:
        pipe = subprocess.PIPE
        return cls(await anyio.open_process(argv, stdin=pipe, stdout=pipe, stderr=pipe))

    def __init__(self, process: anyio.abc.Process) -> None:
        super().__init__(process)
        assert process.stdout is not None and process.stdin is not None
        self._stdin = process.stdin
        self.wire = FramedStream(process.stdout, process.stdin, max_line=1 << 24)

    async def send(self, *messages: Any) -> None:
        await self._stdin.send(b"".join(msgspec.json.encode(m) + b"\n" for m in messages))


@pytest.fixture
def server_file(tmp_path: Path) -> Path:
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


def call(request_id: int, tool: str, tag: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"name": tool, "arguments": {"tag": tag}, **extra}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


# -- HTTP --------------------------------------------------------------------------------


async def http_post(
    client: httpx2.AsyncClient, url: str, message: dict[str, Any], headers: dict[str, str]
) -> httpx2.Response:
    return await client.post(
        url,
        content=msgspec.json.encode(message),
        headers={"content-type": "application/json", "accept": ACCEPT, **headers},
    )


def answer_of(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC answer in a response, JSON or the last message of an SSE stream."""
    assert response.status_code == 200, (response.status_code, response.text)
    if response.headers["content-type"].startswith("application/json"):
        return msgspec.json.decode(response.content)
    data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
    messages = [msgspec.json.decode(d) for d in data if d]
    answers = [m for m in messages if "id" in m and ("result" in m or "error" in m)]
    assert len(answers) == 1, response.text
    return answers[0]


@signalled("TERM run()", "INT trimcp run", launchers=True)
async def test_http_signal_answers_in_flight_requests_of_both_eras_and_exits_cleanly(
    server_file: Path, server_backend: str, http_server: str, signum: int, launcher: str
):
    process = await anyio.open_process(
        command(server_file, "http", server_backend, launcher, http_server),
        stderr=subprocess.PIPE,
    )
    server = ServerProcess(process)
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        url = (await server.wait_for_stderr(r"(http://\S+/mcp)")).group(1)
        answers: dict[str, httpx2.Response | BaseException] = {}
        async with httpx2.AsyncClient(timeout=GRACE + 10) as client:
            init = {
                "protocolVersion": HANDSHAKE,
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            }
            response = await http_post(
                client, url, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}, {}
            )
            session = {"mcp-session-id": response.headers["mcp-session-id"]}
            await http_post(
                client, url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session
            )

            def modern(tool: str) -> dict[str, str]:
                return {"mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call",
                        "mcp-name": tool}  # fmt: skip

            calls = {
                "handshake-quick": (call(1, "quick", "handshake-quick"), session),
                "handshake-stuck": (call(2, "stuck", "handshake-stuck"), session),
                "modern-quick": (
                    call(3, "quick", "modern-quick", _meta=modern_meta()),
                    modern("quick"),
                ),
                "modern-stuck": (
                    call(4, "stuck", "modern-stuck", _meta=modern_meta()),
                    modern("stuck"),
                ),
                "handshake-chatty": (
                    call(5, "chatty", "handshake-chatty", _meta={"progressToken": 5}),
                    session,
                ),
                "modern-chatty": (
                    call(6, "chatty", "modern-chatty", _meta=modern_meta(progressToken=6)),
                    modern("chatty"),
                ),
            }

            async def send(name: str) -> None:
                message, headers = calls[name]
                try:
                    answers[name] = await http_post(client, url, message, headers)
                except Exception as exc:
                    answers[name] = exc

            async with anyio.create_task_group() as clients:
                for name in calls:
                    clients.start_soon(send, name)
                for name in calls:
                    await server.wait_for_stderr(f"STARTED {name}")
                server.signal(signum)
        status = await server.exit_status()

    for name in ("handshake-quick", "modern-quick"):
        reply = answers[name]
        assert isinstance(reply, httpx2.Response), (name, reply, server.stderr)
        answer = answer_of(reply)
        assert answer["result"]["content"][0]["text"] == f"finished {name}", answer
    for name in ("handshake-stuck", "modern-stuck", "handshake-chatty", "modern-chatty"):
        reply = answers[name]
        assert isinstance(reply, httpx2.Response), (name, reply, server.stderr)
        answer = answer_of(reply)
        assert answer["error"]["code"] == REQUEST_CANCELLED, answer
        assert "shutting down" in answer["error"]["message"], answer
    for name in ("handshake-chatty", "modern-chatty"):  # the error ended the SSE stream
        reply = answers[name]
        assert isinstance(reply, httpx2.Response)
        assert reply.headers["content-type"].startswith("text/event-stream"), name
    assert_clean_exit(server, status, signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize(
    ("server_backend", "transport", "http_server"),
    [
        ("asyncio", "http", "hypercorn"),
        ("trio", "http", "hypercorn"),
        ("asyncio", "stdio", "-"),
        ("trio", "stdio", "-"),
    ],
    ids=["asyncio-http", "trio-http", "asyncio-stdio", "trio-stdio"],
)
async def test_idle_server_exits_cleanly_on_signal(
    server_file: Path, server_backend: str, transport: str, http_server: str, signum: int
):
    process = await anyio.open_process(
        command(server_file, transport, server_backend, "run()", http_server),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    server = ServerProcess(process)
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        await server.wait_for_stderr("LIFESPAN-ENTER")
        if transport == "http":
            await server.wait_for_stderr(r"http://\S+/mcp")
        server.signal(signum)
        status = await server.exit_status()
    assert_clean_exit(server, status, signum)


@SERVED
async def test_http_connection_cut_after_the_grace_period_logs_no_traceback(
    server_file: Path, server_backend: str, http_server: str
):
    # a custom route that never answers has nothing that could cancel it: the server cuts
    # its connection once the grace period is over, which is no error
    process = await anyio.open_process(
        command(server_file, "http", server_backend, "run()", http_server),
        stderr=subprocess.PIPE,
    )
    server = ServerProcess(process)
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        url = (await server.wait_for_stderr(r"(http://\S+)/mcp")).group(1)
        async with httpx2.AsyncClient(timeout=GRACE + 10) as client:

            async def forever() -> None:
                with pytest.raises(httpx2.HTTPError):
                    response = await client.get(url + "/forever")
                    response.raise_for_status()  # 500 on asyncio, a reset on trio

            async with anyio.create_task_group() as clients:
                clients.start_soon(forever)
                await server.wait_for_stderr("STARTED forever")
                server.signal(signal.SIGTERM)
        status = await server.exit_status()
    assert_clean_exit(server, status, signal.SIGTERM)


# -- stdio -------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("launcher", ["run()", "trimcp run"])
async def test_stdio_signal_answers_in_flight_requests_and_exits_cleanly(
    server_file: Path, server_backend: str, signum: int, launcher: str
):
    server = await StdioServer.open(command(server_file, "stdio", server_backend, launcher))
    process, wire, send = server.process, server.wire, server.send

    received: list[dict[str, Any]] = []
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        init = {
            "protocolVersion": HANDSHAKE,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        await send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
        with anyio.fail_after(15):
            assert "result" in msgspec.json.decode(await wire.receive())
        listen = {"notifications": {"toolsListChanged": True}, "_meta": modern_meta()}
        await send(
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            call(1, "quick", "handshake-quick"),
            call(2, "stuck", "handshake-stuck"),
            call(3, "quick", "modern-quick", _meta=modern_meta()),
            call(4, "stuck", "modern-stuck", _meta=modern_meta()),
            {"jsonrpc": "2.0", "id": 5, "method": "subscriptions/listen", "params": listen},
        )
        for name in ("handshake-quick", "handshake-stuck", "modern-quick", "modern-stuck"):
            await server.wait_for_stderr(f"STARTED {name}")
        with anyio.fail_after(15):  # the listen stream is open once acknowledged
            while not any(m.get("method", "").endswith("acknowledged") for m in received):
                received.append(msgspec.json.decode(await wire.receive()))
        server.signal(signum)
        with anyio.fail_after(GRACE + 10):
            while True:
                try:
                    message = msgspec.json.decode(await wire.receive())
                except anyio.EndOfStream:
                    break
                received.append(message)
                if message.get("id") == 1:  # answered live, while the grace period runs:
                    await send({"jsonrpc": "2.0", "id": 6, "method": "ping"})  # refused
        status = await server.exit_status()

    by_id = {message["id"]: message for message in received if "id" in message}
    assert sorted(by_id) == [1, 2, 3, 4, 5, 6], received  # each answered once
    assert by_id[6]["error"]["code"] == INTERNAL_ERROR, received  # refused, as over HTTP
    assert "shutting down" in by_id[6]["error"]["message"], received
    order = [message.get("id") for message in received]
    assert order.index(6) < order.index(2), received  # refused before the grace period ended
    for request_id, name in ((1, "handshake-quick"), (3, "modern-quick")):
        assert by_id[request_id]["result"]["content"][0]["text"] == f"finished {name}", received
    for request_id in (2, 4):
        assert by_id[request_id]["error"]["code"] == REQUEST_CANCELLED, received
        assert "shutting down" in by_id[request_id]["error"]["message"], received
    # the server tore the listen stream down: on stdio a `notifications/cancelled` for the
    # listen request (MUST), sent while it is in progress, then its final result
    cancels = [m for m in received if m.get("method") == "notifications/cancelled"]
    assert [c["params"]["requestId"] for c in cancels] == [5], received
    assert cancels[0]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 5
    assert received.index(cancels[0]) < received.index(by_id[5]), received
    assert by_id[5]["result"]["_meta"]["io.modelcontextprotocol/subscriptionId"] == 5, received
    assert_clean_exit(server, status, signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_stdio_signal_answers_the_requests_of_a_batch_in_its_reply(
    server_file: Path, server_backend: str, signum: int
):
    # 2025-03-26 sessions may send batches: a request of a batch is in flight like any other,
    # answered with its result or, cut at the end of the grace period, with -32800
    server = await StdioServer.open(command(server_file, "stdio", server_backend, "run()"))
    process, wire, send = server.process, server.wire, server.send

    received: list[Any] = []
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        init = {
            "protocolVersion": "2025-03-26",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        await send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
        with anyio.fail_after(15):
            assert "result" in msgspec.json.decode(await wire.receive())
        await send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await send([call(1, "quick", "batch-quick"), call(2, "stuck", "batch-stuck")])
        for name in ("batch-quick", "batch-stuck"):
            await server.wait_for_stderr(f"STARTED {name}")
        server.signal(signum)
        with anyio.fail_after(GRACE + 10):
            while True:
                try:
                    received.append(msgspec.json.decode(await wire.receive()))
                except anyio.EndOfStream:
                    break
        status = await server.exit_status()

    assert len(received) == 1 and isinstance(received[0], list), received  # one reply
    by_id = {message["id"]: message for message in received[0]}
    assert sorted(by_id) == [1, 2], received
    assert by_id[1]["result"]["content"][0]["text"] == "finished batch-quick", received
    assert by_id[2]["error"]["code"] == REQUEST_CANCELLED, received
    assert "shutting down" in by_id[2]["error"]["message"], received
    assert_clean_exit(server, status, signum)


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_second_sigint_during_the_grace_period_exits_at_once_with_130(
    server_file: Path, server_backend: str
):
    long_grace = "60"
    server = await StdioServer.open(
        [sys.executable, str(server_file), "stdio", server_backend, long_grace]
    )
    process, wire, send = server.process, server.wire, server.send

    async def answer(request_id: int) -> dict[str, Any]:
        with anyio.fail_after(15):
            while True:
                message = msgspec.json.decode(await wire.receive())
                if message.get("id") == request_id:
                    return message

    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        init = {
            "protocolVersion": HANDSHAKE,
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        await send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
        await answer(0)
        await send(
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            call(1, "stuck", "stuck"),
        )
        await server.wait_for_stderr("STARTED stuck")
        server.signal(signal.SIGINT)
        # the signal has been handled once new requests are refused
        for request_id in range(2, 1000):
            await send({"jsonrpc": "2.0", "id": request_id, "method": "ping"})
            if "error" in (await answer(request_id)):
                break
        server.signal(signal.SIGINT)
        with anyio.fail_after(10):  # far less than the grace period
            status = await process.wait()
    assert status == 128 + signal.SIGINT
    assert "second interrupt" in server.stderr
    assert "Traceback" not in server.stderr


# -- the peer's shutdown API (what a stdio or legacy SSE shutdown waits on) ------------------


def gated_peer() -> tuple[Any, Peer, dict[str, anyio.Event], dict[str, anyio.Event]]:
    """A peer whose method `gate-<n>` runs until `gates[n]` is set (`entered[n]` once it
    runs); any other method answers at once."""
    gates: dict[str, anyio.Event] = {}
    entered: dict[str, anyio.Event] = {}

    async def on_request(request: Any) -> Any:
        if request.method.startswith("gate-"):
            name = request.method[5:]
            entered.setdefault(name, anyio.Event()).set()
            await gates.setdefault(name, anyio.Event()).wait()
        return request.method

    async def on_notification(notification: Any) -> None:
        pass

    ours, theirs = memory_stream_pair()
    peer = Peer(theirs, on_request=on_request, on_notification=on_notification)
    return ours, peer, gates, entered


def request(request_id: int, method: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method}


async def test_peer_wait_idle_returns_once_the_last_answer_is_written():
    ours, peer, gates, entered = gated_peer()
    idle = anyio.Event()

    async def wait_idle() -> None:
        await peer.wait_idle()
        idle.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(peer.run)
            await peer.wait_idle()  # nothing in flight: at once
            for n in (1, 2):
                gates[str(n)] = anyio.Event()
                await ours.send(msgspec.json.encode(request(n, f"gate-{n}")))
                await entered.setdefault(str(n), anyio.Event()).wait()
            assert peer.inflight_ids() == [1, 2]
            tg.start_soon(wait_idle)
            gates["1"].set()
            assert msgspec.json.decode(await ours.receive())["id"] == 1
            assert not idle.is_set() and peer.inflight_ids() == [2]  # 2 still runs
            gates["2"].set()
            assert msgspec.json.decode(await ours.receive())["id"] == 2
            await idle.wait()
            await ours.aclose()


async def test_peer_cancel_inflight_answers_each_request_and_each_request_of_a_batch():
    ours, peer, _, entered = gated_peer()  # the gates stay shut: only a cut ends them
    peer.accept_batches = True
    cut = ErrorData(REQUEST_CANCELLED, "Request cancelled: the server is shutting down")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(peer.run)
            await ours.send(msgspec.json.encode(request(1, "gate-a")))
            batch = [request(2, "gate-b"), request(3, "quick")]
            await ours.send(msgspec.json.encode(batch))
            for name in ("a", "b"):
                await entered.setdefault(name, anyio.Event()).wait()
            assert sorted(peer.inflight_ids()) == [1, 2]  # 3 is answered, its reply waits
            await peer.cancel_inflight(cut)
            await peer.wait_idle()
            replies = [msgspec.json.decode(await ours.receive()) for _ in range(2)]
            await ours.aclose()
    single = next(r for r in replies if isinstance(r, dict))
    assert single == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {"code": cut.code, "message": cut.message},
    }
    batch_reply = {r["id"]: r for r in next(r for r in replies if isinstance(r, list))}
    assert batch_reply[3]["result"] == "quick"
    assert batch_reply[2]["error"] == {"code": cut.code, "message": cut.message}


async def test_peer_cancel_inflight_survives_a_request_finishing_while_it_writes() -> None:
    from trimcp.protocol.errors import ErrorData
    from trimcp.runtime.peer import Peer

    release_third, third_answered = anyio.Event(), anyio.Event()
    inbox_send, inbox = anyio.create_memory_object_stream[bytes](10)
    written: list[dict[str, Any]] = []

    class Stream:
        async def receive(self) -> bytes:
            return await inbox.receive()

        async def send(self, data: bytes) -> None:
            message = msgspec.json.decode(data)
            written.append(message)
            if message.get("id") == 3:
                third_answered.set()
            elif "error" in message and len(written) == 1:  # the first answer of the cut
                release_third.set()
                with anyio.fail_after(5):
                    await third_answered.wait()

    started: list[Any] = []
    all_started = anyio.Event()

    async def on_request(request: Any) -> Any:
        started.append(request.id)
        if len(started) == 3:
            all_started.set()
        if request.id == 3:
            try:
                await release_third.wait()
            except anyio.get_cancelled_exc_class():
                third_answered.set()  # cancelled first: its answer is the cut's to write
                raise
            return {}
        await anyio.sleep_forever()

    async def on_notification(notification: Any) -> None:
        pass

    peer = Peer(Stream(), on_request=on_request, on_notification=on_notification)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(peer.run)
            for request_id in (1, 2, 3):
                await inbox_send.send(b'{"jsonrpc":"2.0","id":%d,"method":"x"}' % request_id)
            await all_started.wait()
            await peer.cancel_inflight(ErrorData(-32800, "shutting down"))
            await peer.wait_idle()
            tg.cancel_scope.cancel()
    assert sorted(m["id"] for m in written) == [1, 2, 3]  # each answered exactly once


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_stdio_requests_in_flight_when_stdin_closes_are_still_answered(
    server_file: Path, server_backend: str
):
    # `printf '<initialize>\n<call>\n' | server`: the client closed its end, not stdout
    process = await anyio.open_process(
        command(server_file, "stdio", server_backend, "run()"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    init = {"protocolVersion": HANDSHAKE, "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}  # fmt: skip
    lines = [
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        call(1, "quick", "after-eof"),
    ]
    out = b""
    async with process:
        with anyio.fail_after(15):
            await process.stdin.send(b"".join(msgspec.json.encode(m) + b"\n" for m in lines))
            await process.stdin.aclose()
            async for chunk in process.stdout:
                out += chunk
            status = await process.wait()
    answers = {m["id"]: m for m in map(msgspec.json.decode, out.splitlines()) if "id" in m}
    assert answers[1]["result"]["content"][0]["text"] == "finished after-eof", out
    assert status == 0


async def test_stdio_shutdown_refuses_a_new_batch_in_one_reply() -> None:
    import os

    from trimcp.transports.stdio import FdStream

    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    stream = FdStream(in_read, out_write, max_line=1 << 20)
    batch = [
        call(1, "quick", "a"),
        {"jsonrpc": "2.0", "method": "notifications/x"},
        call(2, "quick", "b"),
    ]
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    try:
        async with stream.writing():
            stream.refuse_requests(
                lambda rid: msgspec.json.encode(
                    {
                        "jsonrpc": "2.0",
                        "id": rid,
                        "error": {"code": -32603, "message": "Server shutting down"},
                    }
                )
            )
            os.write(in_write, msgspec.json.encode(batch) + b"\n")
            os.write(in_write, msgspec.json.encode(notification) + b"\n")
            with anyio.fail_after(5):  # the batch is answered here, the notification passes
                assert msgspec.json.decode(await stream.receive()) == notification
        reply = msgspec.json.decode(os.read(out_read, 1 << 16).splitlines()[0])
    finally:
        stream.restore_blocking()
        for fd in (in_read, in_write, out_read, out_write):
            os.close(fd)
    assert [(m["id"], m["error"]["message"]) for m in reply] == [
        (1, "Server shutting down"),
        (2, "Server shutting down"),
    ]
