"""Shutdown of the legacy HTTP+SSE transport on SIGTERM and SIGINT, on a real server process,
on both backends, hypercorn and (asyncio) uvicorn (the server script and helpers are
tests/test_shutdown.py's).

As over streamable HTTP: the requests in flight when the signal arrives are answered on their
session's SSE stream, with their result if they finish within the grace period, else with a
-32800 error (a batch's requests too, in the batch's reply); a new request is refused with
503; the stream then ends and the process exits cleanly. A stream with nothing in flight
ends at once, without waiting for the grace period.

(the server stops accepting connections at the signal, so the 503 for a new request is checked
in process, with the endpoint's `shutdown()`.)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import msgspec
import pytest

from tests.test_http_legacy_sse import legacy
from tests.test_http_streamable import init_params
from tests.test_shutdown import (
    GRACE,
    ServerProcess,
    assert_clean_exit,
    call,
    command,
    server_file,  # noqa: F401 - a fixture
    signalled,
)
from tests.wire import on_each_server
from trimcp.protocol.errors import INTERNAL_ERROR, REQUEST_CANCELLED
from trimcp.protocol.sse import SSEDecoder

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
]

BATCHES = "2025-03-26"  # the revision whose sessions may send JSON-RPC batches


class LegacySession:
    """A client of the legacy transport: the GET /sse stream and the POST URL it announced."""

    def __init__(self, client: httpx2.AsyncClient, base: str, response: httpx2.Response) -> None:
        self.client = client
        self.base = base
        self.response = response
        self.chunks = response.aiter_bytes()
        self.decoder = SSEDecoder()
        self.events: list[Any] = []
        self.messages: list[Any] = []  # every message received, in order
        self.post_url = ""

    async def next_event(self) -> Any:
        """The next event, or None when the stream has ended."""
        while not self.events:
            try:
                chunk = await self.chunks.__anext__()
            except StopAsyncIteration:
                return None
            self.events.extend(self.decoder.feed(chunk))
        return self.events.pop(0)

    async def next_message(self) -> Any:
        """The next JSON-RPC message, or None when the stream has ended."""
        while True:
            event = await self.next_event()
            if event is None:
                return None
            if event.event == "message":
                message = msgspec.json.decode(event.data)
                self.messages.append(message)
                return message

    async def post(self, message: Any) -> httpx2.Response:
        return await self.client.post(
            self.base + self.post_url,
            content=msgspec.json.encode(message),
            headers={"content-type": "application/json"},
        )


@asynccontextmanager
async def legacy_session(url: str, timeout: float) -> AsyncIterator[LegacySession]:
    base = url.split("/sse")[0]
    async with httpx2.AsyncClient(timeout=timeout) as client:
        async with client.stream("GET", url, headers={"accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            session = LegacySession(client, base, response)
            with anyio.fail_after(15):
                event = await session.next_event()
            assert event is not None and event.event == "endpoint", event
            session.post_url = event.data
            yield session


async def initialize(session: LegacySession, version: str) -> None:
    init = {
        "protocolVersion": version,
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    }
    response = await session.post(
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}
    )
    assert response.status_code == 202, response.text
    with anyio.fail_after(15):
        answer = await session.next_message()
    assert answer is not None and "result" in answer, answer
    response = await session.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status_code == 202, response.text


@signalled("TERM")
async def test_legacy_sse_signal_answers_in_flight_requests_on_their_stream(
    server_file: Path,  # noqa: F811 - the fixture
    server_backend: str,
    http_server: str,
    signum: int,
):
    process = await anyio.open_process(
        command(server_file, "sse", server_backend, "run()", http_server), stderr=subprocess.PIPE
    )
    server = ServerProcess(process)
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        url = (await server.wait_for_stderr(r"(http://\S+/sse)")).group(1)
        async with legacy_session(url, GRACE + 10) as session:
            await initialize(session, BATCHES)
            posts = [
                call(1, "quick", "quick"),
                call(2, "stuck", "stuck"),
                call(3, "chatty", "chatty", _meta={"progressToken": 3}),
                [call(4, "quick", "batch-quick"), call(5, "stuck", "batch-stuck")],
            ]
            for message in posts:
                response = await session.post(message)
                assert response.status_code == 202, response.text
            for name in ("quick", "stuck", "chatty", "batch-quick", "batch-stuck"):
                await server.wait_for_stderr(f"STARTED {name}")
            server.signal(signum)
            with anyio.fail_after(GRACE + 10):
                while await session.next_message() is not None:
                    pass
        status = await server.exit_status()

    answers: dict[Any, Any] = {}
    batch_replies = [m for m in session.messages if isinstance(m, list)]
    assert len(batch_replies) == 1, session.messages  # the batch got one reply
    for message in [*session.messages, *batch_replies[0]]:
        if isinstance(message, dict) and "id" in message:
            assert message["id"] not in answers, session.messages  # each answered once
            answers[message["id"]] = message
    assert sorted(answers) == [0, 1, 2, 3, 4, 5], session.messages
    for request_id, name in ((1, "quick"), (4, "batch-quick")):
        assert answers[request_id]["result"]["content"][0]["text"] == f"finished {name}"
    for request_id in (2, 3, 5):
        error = answers[request_id]["error"]
        assert error["code"] == REQUEST_CANCELLED, answers[request_id]
        assert error["message"] == "Request cancelled: the server is shutting down", error
    assert_clean_exit(server, status, signum)


@signalled("INT")
async def test_legacy_sse_stream_with_nothing_in_flight_ends_without_waiting_for_the_grace(
    server_file: Path,  # noqa: F811 - the fixture
    server_backend: str,
    http_server: str,
    signum: int,
):
    # a grace period far longer than the bound below: ending within it proves nothing waited
    argv = [sys.executable, str(server_file), "sse", server_backend, "60", http_server]
    process = await anyio.open_process(argv, stderr=subprocess.PIPE)
    server = ServerProcess(process)
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(server.collect_stderr)
        url = (await server.wait_for_stderr(r"(http://\S+/sse)")).group(1)
        async with legacy_session(url, 30) as session:
            await initialize(session, "2024-11-05")
            server.signal(signum)
            with anyio.fail_after(15):
                assert await session.next_message() is None  # the stream ended
        with anyio.fail_after(15):
            status = await process.wait()
    assert_clean_exit(server, status, signum)


@on_each_server
async def test_legacy_sse_shutdown_refuses_new_requests_and_takes_the_answers_requests_await(
    http_server: str,
):
    # a request in flight waits for the client's answer (roots/list): still accepted, and its
    # own answer goes out on the stream before it ends; a new request is refused with 503
    async with legacy(http_server=http_server) as (sse, endpoint):
        url = (await sse.next_event()).data
        init = {**init_params("2024-11-05"), "capabilities": {"roots": {}}}
        await sse.post(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        assert "result" in await sse.next_message()
        await sse.post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        ask = {"name": "ask", "arguments": {}}
        await sse.post(url, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": ask})
        question = await sse.next_message()
        assert question["method"] == "roots/list", question
        endpoint.shutdown()
        refused = await sse.post(url, {"jsonrpc": "2.0", "id": 3, "method": "ping"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == INTERNAL_ERROR
        assert refused.json()["error"]["message"] == "Server shutting down"
        roots = {"roots": [{"uri": "file:///kept"}]}
        answer = {"jsonrpc": "2.0", "id": question["id"], "result": roots}
        assert (await sse.post(url, answer)).status_code == 202
        reply = await sse.next_message()
        assert reply["id"] == 2 and reply["result"]["content"][0]["text"] == "file:///kept"
        with pytest.raises(StopAsyncIteration):  # nothing left in flight: the stream ended
            await sse.next_event()
