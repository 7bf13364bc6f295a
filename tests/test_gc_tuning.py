"""`trimcp.http.gc_tuning`: while trimcp serves HTTP, the cycle collector's youngest
threshold is `settings.http_gc_threshold` if it was CPython's default; an application's own
threshold, the setting at 0, and a change made while serving are left alone; the threshold
goes back when the last server stops."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from functools import partial
from typing import Any

import anyio
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tests.wire import on_each_server, serving
from trimcp import FastMCP
from trimcp.http import serve as serve_module
from trimcp.http.gc_tuning import CPYTHON_YOUNG_THRESHOLD
from trimcp.settings import settings

pytestmark = pytest.mark.anyio

WAIT = 10
DEFAULT = (CPYTHON_YOUNG_THRESHOLD, 10, 10)


@pytest.fixture(autouse=True)
def interpreter_default() -> Iterator[None]:
    """Each test starts from CPython's default thresholds; the process's own come back."""
    before = gc.get_threshold()
    gc.set_threshold(*DEFAULT)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def health_server() -> FastMCP:
    mcp = FastMCP("gc")

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return PlainTextResponse(repr(gc.get_threshold()))

    return mcp


@on_each_server
async def test_serving_raises_the_youngest_threshold_and_stopping_restores_it(http_server: str):
    async with serving(health_server(), server=http_server) as (_, client):
        response = await client.get("/health")  # seen from a request being served
        assert response.text == repr((settings.http_gc_threshold, 10, 10))
        assert settings.http_gc_threshold == 2000
    assert gc.get_threshold() == DEFAULT


@on_each_server
async def test_an_applications_own_threshold_is_left_alone(http_server: str):
    gc.set_threshold(5000, 20, 30)
    async with serving(health_server(), server=http_server) as (_, client):
        assert (await client.get("/health")).text == repr((5000, 20, 30))
    assert gc.get_threshold() == (5000, 20, 30)
    gc.set_threshold(100, 10, 10)  # lower than the default is the application's choice too
    async with serving(health_server(), server=http_server) as (_, client):
        assert (await client.get("/health")).text == repr((100, 10, 10))
    assert gc.get_threshold() == (100, 10, 10)


async def test_the_setting_at_zero_leaves_the_collector_alone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(settings, "http_gc_threshold", 0)
    async with serving(health_server()) as (_, client):
        assert (await client.get("/health")).text == repr(DEFAULT)
    monkeypatch.setattr(settings, "http_gc_threshold", 3000)
    async with serving(health_server()) as (_, client):
        assert (await client.get("/health")).text == repr((3000, 10, 10))
    assert gc.get_threshold() == DEFAULT


async def test_the_threshold_stays_raised_until_the_last_server_stops():
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as outer:
            await outer.start(partial(health_server().run_http_async, port=0, show_banner=False))
            async with anyio.create_task_group() as inner:
                await inner.start(
                    partial(health_server().run_http_async, port=0, show_banner=False)
                )
                assert gc.get_threshold() == (2000, 10, 10)
                inner.cancel_scope.cancel()
            assert gc.get_threshold() == (2000, 10, 10)  # the first server still runs
            outer.cancel_scope.cancel()
    assert gc.get_threshold() == DEFAULT


async def test_a_change_made_while_serving_is_kept_when_serving_ends():
    async with serving(health_server()):
        assert gc.get_threshold() == (2000, 10, 10)
        gc.set_threshold(1500, 10, 10)
    assert gc.get_threshold() == (1500, 10, 10)


class CannedApp:
    """Any ASGI app: answers every request with the collector's thresholds."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].replace("lifespan.", "")
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        body = repr(gc.get_threshold()).encode()
        headers = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def test_serve_asgi_raises_it_for_any_app_it_serves():
    config = serve_module.build_config()
    config.bind = ["127.0.0.1:0"]
    stop = anyio.Event()
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            binds = await tg.start(
                partial(serve_module.serve_asgi, CannedApp(), config, shutdown_trigger=stop.wait)
            )
            port = int(binds[0].rpartition(":")[2])
            async with await anyio.connect_tcp("127.0.0.1", port) as stream:
                await stream.send(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                answer = b""
                while not answer.endswith(b")"):
                    answer += await stream.receive()
            assert answer.endswith(b"(2000, 10, 10)")
            stop.set()
    assert gc.get_threshold() == DEFAULT
