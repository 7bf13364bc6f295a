"""HTTP client transports with FastMCP's `httpx_client_factory` (issue 16): the factory gets
a timeout both httpx and httpx2 read, and the transport catches the errors of the library the
factory's client comes from. Real servers over HTTP, on asyncio and trio."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.client.transports import SSETransport, StreamableHttpTransport
from trimcp.exceptions import ClientError
from trimcp.utilities.tests import run_server_async

pytestmark = pytest.mark.anyio


def make_server() -> FastMCP:
    mcp = FastMCP("http-dropin")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    return mcp


@pytest.mark.parametrize(
    ("kind", "transport_class"),
    [("http", StreamableHttpTransport), ("sse", SSETransport)],
)
async def test_a_client_factory_gets_fastmcps_arguments(kind: str, transport_class: Any) -> None:
    import httpx2

    made: list[Any] = []

    def factory(**kwargs: Any) -> Any:
        made.append(kwargs)
        return httpx2.AsyncClient(**kwargs)

    with anyio.fail_after(20):
        async with run_server_async(make_server(), transport=kind) as url:
            transport = transport_class(
                url, headers={"X-Test": "1"}, sse_read_timeout=42, httpx_client_factory=factory
            )
            async with Client(transport) as client:
                assert (await client.call_tool("add", {"a": 1, "b": 2})).data == 3
    (kwargs,) = made
    assert set(kwargs) == {"headers", "timeout", "auth"}
    assert kwargs["headers"] == {"X-Test": "1"}
    assert httpx2.Timeout(kwargs["timeout"]).read == 42


async def test_a_factory_clients_connection_errors_become_client_errors() -> None:
    import httpx2

    transport = StreamableHttpTransport(
        "http://127.0.0.1:1/mcp", httpx_client_factory=lambda **kw: httpx2.AsyncClient(**kw)
    )
    with anyio.fail_after(20), pytest.raises(ClientError, match="Could not reach"):
        async with Client(transport):
            pass


class HeaderAuth:
    """An auth in the shape of an `httpx.Auth` subclass that is not httpx2's (nor callable)."""

    requires_request_body = False
    requires_response_body = False

    def auth_flow(self, request: Any) -> Any:
        request.headers["X-Api-Key"] = "k3y"
        yield request


async def test_an_auth_of_another_http_library_runs_through_its_auth_flow() -> None:
    from trimcp.server.dependencies import get_http_headers

    mcp = make_server()

    @mcp.tool
    def key() -> str:
        return get_http_headers(include_all=True).get("x-api-key", "")

    with anyio.fail_after(20):
        async with run_server_async(mcp, transport="http") as url:
            async with Client(StreamableHttpTransport(url, auth=HeaderAuth())) as client:
                assert (await client.call_tool("key")).data == "k3y"
