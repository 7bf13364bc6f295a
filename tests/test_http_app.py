"""The HTTP app: custom routes with Starlette's request and responses, the Origin/Host guard,
middleware, the ASGI lifespan, mounting in Starlette and FastAPI. Each test talks to a real hypercorn on
127.0.0.1 port 0, on asyncio and trio."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from tests.wire import counting_lifespan, serving, serving_with_hypercorn
from trimcp import FastMCP
from trimcp.server.dependencies import get_http_headers, get_http_request
from trimcp.server.middleware import Middleware as TrimcpMiddleware

pytestmark = pytest.mark.anyio

WAIT = 10  # seconds: the bound on every wait in these tests


# -- helpers ---------------------------------------------------------------------------------


def make_server(**kwargs: Any) -> FastMCP:
    mcp = FastMCP("http-test", **kwargs)

    @mcp.custom_route("/echo/{name}", methods=["POST"])
    async def echo(request: Request) -> Response:
        body = await request.json()
        return JSONResponse(
            {
                "name": request.path_params["name"],
                "q": request.query_params.get("q"),
                "tags": request.query_params.getlist("tag"),
                "body": body,
                "method": request.method,
            }
        )

    @mcp.custom_route("/items/{item_id:int}/{rest:path}", methods=["GET"])
    async def item(request: Request) -> Response:
        return JSONResponse(request.path_params)

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    @mcp.custom_route("/page", methods=["GET"])
    async def page(request: Request) -> Response:
        return HTMLResponse("<h1>hi</h1>")

    @mcp.custom_route("/go", methods=["GET"])
    async def go(request: Request) -> Response:
        return RedirectResponse("/health")

    @mcp.custom_route("/raw", methods=["GET"])
    async def raw(request: Request) -> Response:
        return Response(
            b"\x00\x01",
            status_code=201,
            headers={"X-Kind": "raw"},
            media_type="application/octet-stream",
        )

    @mcp.custom_route("/stream", methods=["GET"])
    async def stream(request: Request) -> Response:
        async def chunks() -> AsyncIterator[str]:
            for i in range(3):
                yield f"chunk{i};"

        return StreamingResponse(chunks(), media_type="text/plain")

    @mcp.custom_route("/sync", methods=["GET"])
    def sync_handler(request: Request) -> Response:
        return JSONResponse({"main_thread": threading.current_thread() is threading.main_thread()})

    @mcp.custom_route("/whoami", methods=["GET"])
    async def whoami(request: Request) -> Response:
        current = get_http_request()
        assert isinstance(current, Request)
        assert current.scope is request.scope
        return JSONResponse(
            {
                "headers": get_http_headers(),
                "all_headers": get_http_headers(include_all=True),
                "client_host": request.client.host if request.client else None,
                "cookies": request.cookies,
                "url": str(request.url),
                "x_multi": request.headers.getlist("x-multi"),
                "server_is_app_state": request.app.state.fastmcp_server is mcp,
            }
        )

    @mcp.custom_route("/upload", methods=["POST"])
    async def upload(request: Request) -> Response:
        return JSONResponse({"size": len(await request.body())})

    return mcp


# -- custom routes ---------------------------------------------------------------------------


async def test_custom_route_gets_path_params_query_and_json_body():
    async with serving(make_server()) as (_, client):
        response = await client.post("/echo/alice?q=1&tag=a&tag=b", json={"k": [1, 2]})
        assert response.status_code == 200
        assert response.json() == {
            "name": "alice",
            "q": "1",
            "tags": ["a", "b"],
            "body": {"k": [1, 2]},
            "method": "POST",
        }


async def test_path_converters_int_and_path():
    async with serving(make_server()) as (_, client):
        response = await client.get("/items/42/a/b/c")
        assert response.json() == {"item_id": 42, "rest": "a/b/c"}
        assert (await client.get("/items/x/a")).status_code == 404


async def test_each_response_class_sends_its_body_and_content_type():
    async with serving(make_server()) as (_, client):
        text = await client.get("/health")
        assert (text.status_code, text.text) == (200, "OK")
        assert text.headers["content-type"] == "text/plain; charset=utf-8"

        html = await client.get("/page")
        assert html.text == "<h1>hi</h1>"
        assert html.headers["content-type"] == "text/html; charset=utf-8"

        redirect = await client.get("/go", follow_redirects=False)
        assert redirect.status_code == 307
        assert redirect.headers["location"] == "/health"

        raw = await client.get("/raw")
        assert (raw.status_code, raw.content) == (201, b"\x00\x01")
        assert raw.headers["x-kind"] == "raw"
        assert raw.headers["content-type"] == "application/octet-stream"

        stream = await client.get("/stream")
        assert stream.text == "chunk0;chunk1;chunk2;"


async def test_unknown_path_gets_404():
    async with serving(make_server()) as (_, client):
        response = await client.get("/nowhere")
        assert (response.status_code, response.text) == (404, "Not Found")


async def test_wrong_method_gets_405_with_allow():
    async with serving(make_server()) as (_, client):
        response = await client.delete("/health")
        assert response.status_code == 405
        assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


async def test_head_is_served_for_get_routes_without_a_body():
    async with serving(make_server()) as (_, client):
        response = await client.head("/health")
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == "2"


async def test_sync_handler_runs_in_a_worker_thread():
    async with serving(make_server()) as (_, client):
        assert (await client.get("/sync")).json() == {"main_thread": False}


async def test_body_over_the_limit_gets_413():
    async with serving(make_server()) as (_, client):
        small = await client.post("/upload", content=b"x" * 1000)
        assert small.json() == {"size": 1000}
        large = await client.post("/upload", content=b"x" * (5 * 1024 * 1024))
        assert large.status_code == 413


async def test_request_exposes_headers_client_cookies_url_and_app_state():
    async with serving(make_server()) as (address, client):
        response = await client.get(
            "/whoami?x=1",
            headers=[
                ("X-Multi", "1"),
                ("X-Multi", "2"),
                ("Authorization", "Bearer t"),
                ("Cookie", "a=1; b=2"),
            ],
        )
        data = response.json()
        assert data["client_host"] == "127.0.0.1"
        assert data["cookies"] == {"a": "1", "b": "2"}
        assert data["url"] == f"http://127.0.0.1:{address.port}/whoami?x=1"
        assert data["x_multi"] == ["1", "2"]
        assert data["server_is_app_state"] is True


async def test_get_http_headers_in_a_custom_route_drops_hop_and_credential_headers():
    async with serving(make_server()) as (_, client):
        data = (
            await client.get("/whoami", headers={"X-Trace": "abc", "Authorization": "Bearer t"})
        ).json()
        assert data["headers"]["x-trace"] == "abc"
        for name in ("host", "authorization", "accept", "connection"):
            assert name not in data["headers"]
        assert data["all_headers"]["authorization"] == "Bearer t"
        assert data["all_headers"]["host"].startswith("127.0.0.1:")


async def test_get_http_request_outside_a_request_raises_and_headers_are_empty():
    with pytest.raises(RuntimeError, match=r"No active HTTP request found\."):
        get_http_request()
    assert get_http_headers() == {}


async def test_custom_routes_of_mounted_servers_are_served():
    parent = make_server()
    child = FastMCP("child")

    @child.custom_route("/child-health", methods=["GET"])
    async def child_health(request: Request) -> Response:
        return PlainTextResponse("child ok")

    parent._mounted_servers = [SimpleNamespace(server=child)]  # type: ignore[attr-defined]
    async with serving(parent) as (_, client):
        assert (await client.get("/child-health")).text == "child ok"


# -- Origin and Host ---------------------------------------------------------------------------


async def test_foreign_origin_gets_403_with_a_jsonrpc_error():
    async with serving(make_server()) as (_, client):
        response = await client.post("/mcp", json={}, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403
        body = response.json()
        assert body["jsonrpc"] == "2.0" and body["id"] is None
        assert body["error"]["code"] == -32600
        assert "evil" not in response.text  # nothing from the client echoed


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "http://localhost:6274",
        "http://127.0.0.1:3000",
        "https://localhost",
        "http://[::1]:80",
    ],
)
async def test_loopback_origins_and_no_origin_are_allowed(origin: str | None):
    headers = {"Origin": origin} if origin else {}
    async with serving(make_server()) as (_, client):
        response = await client.post("/mcp", json={}, headers=headers)
        assert response.status_code != 403


async def test_allowed_origins_extend_the_list_and_star_allows_all():
    async with serving(
        make_server(), allowed_origins=["https://app.example", "https://dev.example:*"]
    ) as (_, client):
        for origin in ("https://app.example", "https://dev.example:8443"):
            response = await client.post("/mcp", json={}, headers={"Origin": origin})
            assert response.status_code != 403, origin
        response = await client.post("/mcp", json={}, headers={"Origin": "https://other.example"})
        assert response.status_code == 403
    async with serving(make_server(), allowed_origins=["*"]) as (_, client):
        response = await client.post("/mcp", json={}, headers={"Origin": "https://other.example"})
        assert response.status_code != 403


async def test_foreign_host_on_a_loopback_bind_gets_403():
    async with serving(make_server()) as (address, client):
        response = await client.post("/mcp", json={}, headers={"Host": "evil.example"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == -32600
        for host in (f"localhost:{address.port}", "127.0.0.1", "[::1]:1234"):
            response = await client.post("/mcp", json={}, headers={"Host": host})
            assert response.status_code != 403, host


async def test_allowed_hosts_accept_a_named_host():
    async with serving(make_server(), allowed_hosts=["mcp.example:*"]) as (_, client):
        response = await client.post("/mcp", json={}, headers={"Host": "mcp.example:8000"})
        assert response.status_code != 403


async def test_host_origin_protection_off_disables_the_host_check_only():
    async with serving(make_server(), host_origin_protection=False) as (_, client):
        response = await client.post("/mcp", json={}, headers={"Host": "evil.example"})
        assert response.status_code != 403
        response = await client.post("/mcp", json={}, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403


async def test_custom_routes_are_not_behind_the_origin_guard():
    async with serving(make_server()) as (_, client):
        response = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert response.status_code == 200


async def test_mcp_path_is_served_with_and_without_trailing_slash():
    async with serving(make_server()) as (_, client):
        for path in ("/mcp", "/mcp/"):
            response = await client.post(path, json={}, headers={"Origin": "https://evil.example"})
            assert response.status_code == 403, path  # reached the guarded endpoint, no redirect


# -- middleware ----------------------------------------------------------------------------------


class Tagger:
    """Appends its tag to `x-order` on the way out, and records the way in."""

    def __init__(self, app: Any, tag: str, seen: list[str]) -> None:
        self.app, self.tag, self.seen = app, tag, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.seen.append(self.tag)

        async def tagged_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-order", self.tag.encode())]
            await send(message)

        await self.app(scope, receive, tagged_send)


async def test_middleware_is_applied_first_listed_outermost():
    from starlette.middleware import Middleware

    seen: list[str] = []
    middleware = [
        Middleware(Tagger, tag="outer", seen=seen),
        (Tagger, {"tag": "middle", "seen": seen}),
        Middleware(Tagger, "inner", seen),
    ]
    async with serving(make_server(), middleware=middleware) as (_, client):
        response = await client.get("/health")
        assert response.text == "OK"
        assert seen == ["outer", "middle", "inner"]
        # the innermost adds its header first
        assert response.headers.get_list("x-order") == ["inner", "middle", "outer"]


async def test_starlette_middleware_runs_around_the_app():
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware

    middleware = [
        Middleware(CORSMiddleware, allow_origins=["https://ui.example"], allow_methods=["*"])
    ]
    async with serving(make_server(), middleware=middleware) as (_, client):
        response = await client.get("/health", headers={"Origin": "https://ui.example"})
        assert response.headers["access-control-allow-origin"] == "https://ui.example"


# -- lifespan ---------------------------------------------------------------------------------


async def test_asgi_lifespan_scope_runs_the_server_lifespan():
    counts: dict[str, int] = {}
    app = make_server(lifespan=counting_lifespan(counts)).http_app()
    to_app_send, to_app_receive = anyio.create_memory_object_stream[dict](4)
    from_app_send, from_app_receive = anyio.create_memory_object_stream[dict](4)
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg, to_app_send, from_app_receive:
            tg.start_soon(
                app,
                {"type": "lifespan", "asgi": {"version": "3.0"}},
                to_app_receive.receive,
                from_app_send.send,
            )
            await to_app_send.send({"type": "lifespan.startup"})
            assert (await from_app_receive.receive())["type"] == "lifespan.startup.complete"
            assert counts == {"enter": 1}
            await to_app_send.send({"type": "lifespan.shutdown"})
            assert (await from_app_receive.receive())["type"] == "lifespan.shutdown.complete"
    assert counts == {"enter": 1, "exit": 1}


async def test_asgi_lifespan_scope_reports_a_failing_startup():
    @asynccontextmanager
    async def broken(server: FastMCP) -> AsyncIterator[None]:
        raise ValueError("no database")
        yield

    app = make_server(lifespan=broken).http_app()
    to_app_send, to_app_receive = anyio.create_memory_object_stream[dict](4)
    from_app_send, from_app_receive = anyio.create_memory_object_stream[dict](4)
    with anyio.fail_after(WAIT), pytest.raises(ValueError, match="no database"):
        await to_app_send.send({"type": "lifespan.startup"})
        await app({"type": "lifespan"}, to_app_receive.receive, from_app_send.send)
    message = from_app_receive.receive_nowait()
    assert message["type"] == "lifespan.startup.failed"
    assert "no database" in message["message"]


async def test_app_served_directly_by_hypercorn_runs_its_lifespan_once():
    counts: dict[str, int] = {}
    app = make_server(lifespan=counting_lifespan(counts)).http_app()
    async with serving_with_hypercorn(app) as (_, client):
        assert (await client.get("/health")).text == "OK"
        assert counts == {"enter": 1}
    assert counts == {"enter": 1, "exit": 1}


async def test_http_app_mounts_in_starlette_with_its_lifespan():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse as StarlettePlainText
    from starlette.routing import Mount, Route

    counts: dict[str, int] = {}
    mcp = make_server(lifespan=counting_lifespan(counts))
    mcp_app = mcp.http_app()

    async def home(request: Any) -> Any:
        return StarlettePlainText("home")

    app = Starlette(
        routes=[Route("/", home), Mount("/mcp-server", app=mcp_app)], lifespan=mcp_app.lifespan
    )
    async with serving_with_hypercorn(app) as (_, client):
        assert (await client.get("/")).text == "home"  # served once the lifespan has started
        assert counts == {"enter": 1}
        assert (await client.get("/mcp-server/health")).text == "OK"
        assert (await client.get("/mcp-server/items/7/x")).json() == {"item_id": 7, "rest": "x"}
        whoami = (await client.get("/mcp-server/whoami")).json()
        assert whoami["server_is_app_state"] is True
        response = await client.post(
            "/mcp-server/mcp", json={}, headers={"Origin": "https://evil.example"}
        )
        assert response.status_code == 403
        assert (await client.get("/mcp-server/nowhere")).status_code == 404
    assert counts == {"enter": 1, "exit": 1}


async def test_http_app_mounts_in_fastapi_with_its_lifespan():
    from fastapi import FastAPI

    counts: dict[str, int] = {}
    mcp = make_server(lifespan=counting_lifespan(counts))
    mcp_app = mcp.http_app(path="/mcp")
    app = FastAPI(lifespan=mcp_app.lifespan)

    @app.get("/api/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.mount("/mcp-server", mcp_app)
    async with serving_with_hypercorn(app) as (_, client):
        assert (await client.get("/api/ping")).json() == {"pong": "yes"}
        assert counts == {"enter": 1}
        assert (await client.get("/mcp-server/health")).text == "OK"
        response = await client.post("/mcp-server/echo/bob", json=[1])
        assert response.json()["body"] == [1]
    assert counts == {"enter": 1, "exit": 1}


async def test_http_app_has_state_routes_and_lifespan():
    mcp = make_server()
    app = mcp.http_app(path="/api/mcp")
    assert app.state.fastmcp_server is mcp
    assert app.state.path == "/api/mcp"
    assert [r.path for r in app.routes][:2] == ["/api/mcp", "/echo/{name}"]
    assert app.router.routes is app.routes
    assert callable(app.lifespan)


async def test_a_batch_request_that_fails_costs_only_its_own_reply() -> None:
    class FailPrompts(TrimcpMiddleware):
        async def on_list_prompts(self, context: Any, call_next: Any) -> Any:
            raise RuntimeError("prompts are broken")

    mcp = FastMCP("b", middleware=[FailPrompts()])

    @mcp.tool
    def echo(text: str) -> str:
        return text

    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "prompts/list"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": "hi"}},
        },
    ]
    async with serving(mcp, stateless_http=True, json_response=True) as (address, client):
        response = await client.post(
            address.url,
            json=batch,
            headers={
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2025-03-26",
            },
        )
    assert response.status_code == 200
    replies = {reply["id"]: reply for reply in response.json()}
    assert replies[1]["error"] == {"code": -32603, "message": "prompts are broken"}
    assert replies[2]["result"]["structuredContent"] == {"result": "hi"}
