"""Legacy HTTP+SSE (2024-11-05) against a real hypercorn on 127.0.0.1:0, both backends; the
streams, posts and disconnects also against uvicorn (asyncio)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2 as httpx
import msgspec
import pytest

from tests.test_http_streamable import (
    SSE_TIMEOUT,
    _MiniApp,
    init_params,
    make_server,
    serve_asgi,
    wait_until,
)
from tests.wire import on_each_server
from trimcp.http.sse import LegacySSEEndpoint
from trimcp.protocol.sse import ServerSentEvent, SSEDecoder

pytestmark = pytest.mark.anyio


class SSEClient:
    def __init__(self, base: str, response: httpx.Response, client: httpx.AsyncClient) -> None:
        self.base = base
        self.response = response
        self.client = client
        self._chunks = response.aiter_bytes()
        self._decoder = SSEDecoder()
        self._events: list[ServerSentEvent] = []

    async def next_event(self) -> ServerSentEvent:
        with anyio.fail_after(5):
            while not self._events:
                self._events.extend(self._decoder.feed(await self._chunks.__anext__()))
        return self._events.pop(0)

    async def next_message(self) -> Any:
        event = await self.next_event()
        assert event.event == "message"
        return msgspec.json.decode(event.data)

    async def post(self, url: str, message: dict[str, Any]) -> httpx.Response:
        with anyio.fail_after(5):
            return await self.client.post(
                self.base + url,
                content=msgspec.json.encode(message),
                headers={"content-type": "application/json"},
            )


@asynccontextmanager
async def legacy(
    root: str = "", *, http_server: str = "hypercorn"
) -> AsyncIterator[tuple[SSEClient, LegacySSEEndpoint]]:
    endpoint = LegacySSEEndpoint(make_server())

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and root:
            scope = dict(scope, root_path=root)
        await endpoint(scope, receive, send)

    async with endpoint.running():
        async with serve_asgi(
            _MiniApp({"/": app}), on_stop=endpoint.shutdown, http_server=http_server
        ) as url:
            async with httpx.AsyncClient(timeout=SSE_TIMEOUT) as client:
                async with client.stream(
                    "GET", url + root + "/sse", headers={"accept": "text/event-stream"}
                ) as response:
                    assert response.status_code == 200
                    assert response.headers["content-type"].startswith("text/event-stream")
                    yield SSEClient(url, response, client), endpoint


@on_each_server
async def test_get_sse_sends_the_endpoint_event_first(http_server: str) -> None:
    async with legacy(http_server=http_server) as (sse, endpoint):
        event = await sse.next_event()
        assert event.event == "endpoint"
        assert event.data.startswith("/messages/?session_id=")
        assert event.data.split("=", 1)[1] in endpoint.sessions


async def test_endpoint_event_is_relative_to_the_mount_root_path() -> None:
    async with legacy(root="/mounted") as (sse, _):
        event = await sse.next_event()
        assert event.data.startswith("/mounted/messages/?session_id=")
        response = await sse.post(event.data, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert response.status_code == 202


@on_each_server
async def test_posted_messages_get_202_and_answers_flow_on_the_stream(http_server: str) -> None:
    async with legacy(http_server=http_server) as (sse, _):
        url = (await sse.next_event()).data
        init = init_params("2024-11-05")
        response = await sse.post(
            url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init}
        )
        assert response.status_code == 202
        assert (await sse.next_message())["result"]["protocolVersion"] == "2024-11-05"
        assert (
            await sse.post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        ).status_code == 202
        await sse.post(
            url,
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "add", "arguments": {"a": 2, "b": 2}},
            },
        )
        assert (await sse.next_message())["result"]["structuredContent"] == {"result": 4}


@on_each_server
async def test_notifications_flow_on_the_stream_before_the_answer(http_server: str) -> None:
    async with legacy(http_server=http_server) as (sse, _):
        url = (await sse.next_event()).data
        init = init_params("2024-11-05")
        await sse.post(url, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        await sse.next_message()
        await sse.post(
            url,
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "chatty", "arguments": {}, "_meta": {"progressToken": 7}},
            },
        )
        first = await sse.next_message()
        assert first["method"] == "notifications/message"
        assert (await sse.next_message())["method"] == "notifications/progress"
        assert (await sse.next_message())["id"] == 2


async def test_unknown_session_gets_404() -> None:
    async with legacy() as (sse, _):
        await sse.next_event()
        response = await sse.post(
            "/messages/?session_id=nope", {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        )
        assert response.status_code == 404
        missing = await sse.post("/messages/", {"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert missing.status_code == 400


@on_each_server
async def test_disconnect_ends_the_session(http_server: str) -> None:
    endpoint = LegacySSEEndpoint(make_server())
    async with endpoint.running():
        async with serve_asgi(
            _MiniApp({"/": endpoint}), on_stop=endpoint.shutdown, http_server=http_server
        ) as url:
            async with httpx.AsyncClient(timeout=SSE_TIMEOUT) as client:
                async with client.stream("GET", url + "/sse") as response:
                    data = SSEDecoder().feed(await response.aiter_bytes().__anext__())[0].data
                    assert len(endpoint.sessions) == 1
                await wait_until(lambda: not endpoint.sessions)
                posted = await client.post(
                    url + data,
                    content=b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                    headers={"content-type": "application/json"},
                )
                assert posted.status_code == 404


@on_each_server
async def test_invalid_json_post_gets_400_and_the_session_lives_on(http_server: str) -> None:
    async with legacy(http_server=http_server) as (sse, endpoint):
        url = (await sse.next_event()).data
        with anyio.fail_after(5):
            bad = await sse.client.post(
                sse.base + url, content=b"{not json", headers={"content-type": "application/json"}
            )
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == -32700
        with anyio.fail_after(5):
            invalid = await sse.client.post(
                sse.base + url,
                content=b'{"jsonrpc":"2.0","id":3}',
                headers={"content-type": "application/json"},
            )
        assert invalid.status_code == 400
        assert invalid.json()["error"]["code"] == -32600
        assert len(endpoint.sessions) == 1
        # nothing went on the stream for the bad POSTs: the next message is the ping's answer
        assert (
            await sse.post(url, {"jsonrpc": "2.0", "id": 9, "method": "ping"})
        ).status_code == 202
        assert (await sse.next_message()) == {"jsonrpc": "2.0", "id": 9, "result": {}}
