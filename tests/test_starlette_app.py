"""`http_app()` is a Starlette application: custom routes get Starlette's `Request` and return
its responses, `get_http_request()` in a tool is a Starlette `Request`, the app mounts in
Starlette and FastAPI with `lifespan=mcp_app.lifespan`, user middleware wraps the MCP endpoint
too, and the MCP endpoint is reached without Starlette's routing. Each test serves over a real
hypercorn on 127.0.0.1 port 0, on asyncio and trio; custom routes, `get_http_request()` and
mounting also over uvicorn's own server (asyncio), as `uvicorn.run(mcp.http_app())` serves."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from tests.wire import (
    INITIALIZE,
    counting_lifespan,
    on_each_server,
    serving_with_host,
    serving_with_hypercorn,
)
from trimcp import Client, FastMCP
from trimcp.client.transports import StreamableHttpTransport
from trimcp.http.context import current_http_request, reset_http_request, set_http_request
from trimcp.server.dependencies import get_http_request
from trimcp.server.http import RequestContextMiddleware, StarletteWithLifespan
from trimcp.server.http import set_http_request as request_context

pytestmark = pytest.mark.anyio

WAIT = 10  # seconds: the bound on every wait in these tests

MCP_HEADERS = {"accept": "application/json, text/event-stream"}


def make_server(**kwargs: Any) -> FastMCP:
    mcp = FastMCP("starlette-test", **kwargs)

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    async def inspect_request() -> dict[str, Any]:
        request = get_http_request()
        body = await request.body()
        message = json.loads(body)
        return {
            "class": f"{type(request).__module__}.{type(request).__qualname__}",
            "same_object": get_http_request() is request,
            "body_again": await request.body() == body,
            "trace": request.headers.get("x-trace"),
            "tenant": request.query_params.get("tenant"),
            "method": message["method"],
            "tool": message["params"]["name"],
        }

    @mcp.tool
    def where() -> dict[str, Any]:
        request = get_http_request()
        return {
            "class": f"{type(request).__module__}.{type(request).__qualname__}",
            "path": request.url.path,
            "tenant": request.query_params.get("tenant"),
        }

    @mcp.custom_route("/status", methods=["GET"])
    async def status(request: Request) -> JSONResponse:
        return JSONResponse(
            {"request": type(request).__name__, "q": request.query_params.get("q")},
            headers={"x-kind": "status"},
        )

    return mcp


# -- custom routes and get_http_request --------------------------------------------------------


async def test_http_app_is_a_starlette_app_with_a_lifespan_property():
    app = make_server().http_app()
    assert isinstance(app, Starlette)
    assert isinstance(app, StarletteWithLifespan)
    assert app.lifespan is app.router.lifespan_context
    assert isinstance(app.routes[0], Route) and app.routes[0].path == "/mcp"
    assert app.url_path_for("mcp") == "/mcp"


@on_each_server
async def test_custom_route_returns_a_starlette_json_response(http_server: str):
    async with serving_with_host(make_server().http_app(), server=http_server) as (_, client):
        response = await client.get("/status?q=1")
        assert response.status_code == 200
        assert response.json() == {"request": "Request", "q": "1"}
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-kind"] == "status"


@on_each_server
async def test_get_http_request_in_a_tool_is_a_starlette_request_with_headers_query_and_body(
    http_server: str,
):
    async with serving_with_host(make_server().http_app(), server=http_server) as (base, _):
        transport = StreamableHttpTransport(f"{base}/mcp?tenant=acme", headers={"X-Trace": "t1"})
        async with Client(transport) as client:
            data = (await client.call_tool("inspect_request", {})).data
    assert data == {
        "class": "starlette.requests.Request",
        "same_object": True,
        "body_again": True,
        "trace": "t1",
        "tenant": "acme",
        "method": "tools/call",
        "tool": "inspect_request",
    }


@on_each_server
async def test_get_http_request_in_a_tool_over_legacy_sse_is_the_streams_request(http_server: str):
    app = make_server().http_app(transport="sse")
    async with serving_with_host(app, server=http_server) as (base, _):
        async with Client(f"{base}/sse?tenant=acme") as client:
            data = (await client.call_tool("where", {})).data
    assert data == {"class": "starlette.requests.Request", "path": "/sse", "tenant": "acme"}


async def test_trimcp_http_names_are_starlettes():
    import starlette.requests
    import starlette.responses
    import starlette.routing

    import trimcp.http

    assert trimcp.http.Request is starlette.requests.Request
    assert trimcp.http.JSONResponse is starlette.responses.JSONResponse
    assert trimcp.http.StreamingResponse is starlette.responses.StreamingResponse
    assert trimcp.http.Route is starlette.routing.Route
    assert trimcp.http.Mount is starlette.routing.Mount


async def test_set_http_request_takes_a_scope_and_body_and_builds_one_request_lazily():
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": [(b"x-a", b"1")]}
    token = set_http_request(scope, b'{"k": 1}')
    try:
        request = current_http_request()
        assert isinstance(request, Request)
        assert current_http_request() is request
        assert request.headers["x-a"] == "1"
        with anyio.fail_after(WAIT):
            assert await request.json() == {"k": 1}
            assert await request.body() == b'{"k": 1}'
            assert await request.is_disconnected() is False
    finally:
        reset_http_request(token)
    assert current_http_request() is None


async def test_set_http_request_still_takes_a_starlette_request():
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    token = set_http_request(request)
    try:
        assert current_http_request() is request
        assert get_http_request() is request
    finally:
        reset_http_request(token)


async def test_fastmcp_set_http_request_context_manager_and_request_context_middleware():
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    with request_context(request) as current:
        assert current is request and get_http_request() is request
    assert current_http_request() is None

    async def echo_trace(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # nothing to start or stop
            for step in ("startup", "shutdown"):
                await receive()
                await send({"type": f"lifespan.{step}.complete"})
            return
        await JSONResponse({"trace": get_http_request().headers.get("x-trace")})(
            scope, receive, send
        )

    async with serving_with_hypercorn(RequestContextMiddleware(echo_trace)) as (_, client):
        response = await client.get("/", headers={"X-Trace": "abc"})
        assert response.json() == {"trace": "abc"}


# -- mounting ----------------------------------------------------------------------------------


@on_each_server
async def test_mounted_in_starlette_with_its_lifespan_it_serves_mcp(http_server: str):
    counts: dict[str, int] = {}
    mcp_app = make_server(lifespan=counting_lifespan(counts)).http_app()

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("home")

    app = Starlette(
        routes=[Route("/", home), Mount("/mcp-server", app=mcp_app)], lifespan=mcp_app.lifespan
    )
    async with serving_with_host(app, server=http_server) as (base, client):
        assert (await client.get("/")).text == "home"  # answered once the lifespan has started
        assert counts == {"enter": 1}
        async with Client(f"{base}/mcp-server/mcp") as mcp_client:
            assert (await mcp_client.call_tool("add", {"a": 2, "b": 3})).data == 5
        assert (await client.get("/mcp-server/status")).json()["request"] == "Request"
    assert counts == {"enter": 1, "exit": 1}


@on_each_server
async def test_mounted_in_fastapi_with_its_lifespan_it_serves_mcp(http_server: str):
    from fastapi import FastAPI

    counts: dict[str, int] = {}
    mcp_app = make_server(lifespan=counting_lifespan(counts)).http_app()
    app = FastAPI(lifespan=mcp_app.lifespan)

    @app.get("/api/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.mount("/mcp-server", mcp_app)
    async with serving_with_host(app, server=http_server) as (base, client):
        assert (await client.get("/api/ping")).json() == {"pong": "yes"}
        assert counts == {"enter": 1}
        async with Client(f"{base}/mcp-server/mcp/") as mcp_client:
            assert (await mcp_client.call_tool("add", {"a": 4, "b": 5})).data == 9
    assert counts == {"enter": 1, "exit": 1}


# -- middleware and dispatch -------------------------------------------------------------------


async def test_user_cors_middleware_runs_around_the_mcp_endpoint():
    ui = "https://ui.example"
    app = make_server().http_app(
        stateless_http=True,
        json_response=True,
        allowed_origins=[ui],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=[ui],
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["mcp-session-id"],
            )
        ],
    )
    async with serving_with_hypercorn(app) as (_, client):
        preflight = await client.options(
            "/mcp",
            headers={
                "Origin": ui,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,mcp-protocol-version",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ui
        response = await client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": ui})
        assert response.status_code == 200
        assert response.json()["result"]["serverInfo"]["name"] == "starlette-test"
        assert response.headers["access-control-allow-origin"] == ui
        assert response.headers["access-control-expose-headers"] == "mcp-session-id"


class RecordScopes:
    """Records, per path, the scope each request left behind (what Starlette's layers added)."""

    def __init__(self, app: Any, seen: dict[str, Any]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.seen[scope["path"]] = scope


async def test_the_mcp_endpoint_is_reached_without_starlettes_router():
    mcp = make_server()

    @mcp.custom_route("/mcp", methods=["POST"])
    async def shadow(request: Request) -> PlainTextResponse:  # pragma: no cover - must not run
        return PlainTextResponse("custom route")

    seen: dict[str, Any] = {}
    app = mcp.http_app(
        stateless_http=True, json_response=True, middleware=[Middleware(RecordScopes, seen=seen)]
    )
    async with serving_with_hypercorn(app) as (_, client):
        for path in ("/mcp", "/mcp/"):
            response = await client.post(path, json=INITIALIZE, headers=MCP_HEADERS)
            assert response.status_code == 200, path
            assert response.json()["result"]["serverInfo"]["name"] == "starlette-test"
        assert (await client.get("/status")).status_code == 200
    for path in ("/mcp", "/mcp/"):
        # neither the Router nor the ExceptionMiddleware saw these requests
        assert "router" not in seen[path] and "endpoint" not in seen[path]
        assert "starlette.exception_handlers" not in seen[path]
    assert seen["/status"]["router"] is app.router
    assert "starlette.exception_handlers" in seen["/status"]


async def test_mcp_path_below_a_root_path_is_dispatched():
    app = make_server().http_app(stateless_http=True, json_response=True)
    outer = Starlette(routes=[Mount("/a/b", app=app)], lifespan=app.lifespan)
    async with serving_with_hypercorn(outer) as (_, client):
        response = await client.post("/a/b/mcp", json=INITIALIZE, headers=MCP_HEADERS)
        assert response.status_code == 200
        assert (await client.post("/a/mcp", json=INITIALIZE)).status_code == 404


@on_each_server
async def test_custom_route_body_over_the_limit_gets_413(http_server: str):
    mcp = FastMCP("limits")

    @mcp.custom_route("/upload", methods=["POST"])
    async def upload(request: Request) -> JSONResponse:
        return JSONResponse({"size": len(await request.body())})

    app = mcp.http_app(max_body_size=1000)
    async with serving_with_host(app, server=http_server) as (_, client):
        assert (await client.post("/upload", content=b"x" * 1000)).json() == {"size": 1000}
        large = await client.post("/upload", content=b"x" * 1001)
        assert (large.status_code, large.text) == (413, "Request body too large")


async def test_custom_route_failing_on_json_nested_too_deeply_answers_500_and_serves_on():
    mcp = FastMCP("deep")

    @mcp.custom_route("/json", methods=["POST"])
    async def parse(request: Request) -> JSONResponse:
        return JSONResponse({"type": type(await request.json()).__name__})

    deep = b"[" * 100_000 + b"]" * 100_000
    async with serving_with_hypercorn(mcp.http_app()) as (_, client):
        response = await client.post("/json", content=deep)
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        assert (await client.post("/json", content=b"[1]")).json() == {"type": "list"}
