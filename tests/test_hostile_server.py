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
