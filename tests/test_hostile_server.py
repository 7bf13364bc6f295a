"""A trimcp client facing a hostile server: an answer nested past the decoder's depth is a
clean `ClientError`, never a `RecursionError` out of the transport."""

from __future__ import annotations

import socket
from functools import partial
from typing import Any

import anyio
import pytest
from hypercorn.config import Config

from trimcp import Client
from trimcp.exceptions import ClientError

pytestmark = pytest.mark.anyio

DEEP = b'{"jsonrpc":"2.0","id":0,"result":' + b"[" * 5000 + b"]" * 5000 + b"}"


async def deep_answer(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[1]  # startup | shutdown
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": DEEP})


async def test_client_refuses_an_answer_nested_too_deeply(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    if anyio_backend == "trio":
        from hypercorn.trio import serve
    else:
        from hypercorn.asyncio import serve  # type: ignore[assignment]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.loglevel = "WARNING"
    stop = anyio.Event()
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(serve, deep_answer, config, shutdown_trigger=stop.wait))
            with pytest.raises(ClientError):
                async with Client(f"http://127.0.0.1:{port}/mcp", timeout=10):
                    pass
            stop.set()
    assert not [r for r in caplog.records if r.exc_info and r.exc_info[0] is RecursionError]


async def test_a_listen_teardown_cancel_does_not_cancel_a_server_request_of_that_number() -> None:
    # 2026-07-28 stdio: a server ends the client's subscriptions/listen with
    # notifications/cancelled naming the listen's id (ours); the server's own request to us
    # that happens to share the number must run on
    import msgspec

    from trimcp.client.session import ClientSession, Handlers
    from trimcp.protocol.envelope import SUBSCRIPTION_ID_KEY
    from trimcp.runtime.memory import memory_stream_pair

    release = anyio.Event()

    async def roots(context: Any) -> list[dict[str, str]]:
        await release.wait()
        return [{"uri": "file:///r", "name": "r"}]

    client_end, server_end = memory_stream_pair()
    session = ClientSession(client_end, handlers=Handlers(roots=roots), client_info={})
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await tg.start(session.run)
            await server_end.send(b'{"jsonrpc":"2.0","id":5,"method":"roots/list"}')
            cancel = {"requestId": 5, "_meta": {SUBSCRIPTION_ID_KEY: 5}}
            await server_end.send(
                msgspec.json.encode(
                    {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": cancel}
                )
            )
            await server_end.send(b'{"jsonrpc":"2.0","id":6,"method":"ping"}')  # in order
            assert msgspec.json.decode(await server_end.receive())["id"] == 6
            release.set()
            answer = msgspec.json.decode(await server_end.receive())
            tg.cancel_scope.cancel()
    assert answer["id"] == 5 and answer["result"]["roots"][0]["uri"] == "file:///r"
