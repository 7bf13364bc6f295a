"""`x-mcp-header` parameters (2026-07-28): checked at registration and on each request."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

from tests.test_http_streamable import running
from tests.wire import serving
from trimcp import Client, FastMCP
from trimcp.protocol.param_headers import check_param_headers, header_params

pytestmark = pytest.mark.anyio


def schema(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def test_marked_parameters_are_found_through_properties():
    found = header_params(
        schema(
            region={"type": "string", "x-mcp-header": "Region"},
            opts={"type": "object", "properties": {"n": {"type": "integer", "x-mcp-header": "N"}}},
        )
    )
    assert found == {("region",): "Region", ("opts", "n"): "N"}


@pytest.mark.parametrize(
    "bad",
    [
        schema(x={"type": "number", "x-mcp-header": "X"}),  # number is not allowed
        schema(x={"type": "string", "x-mcp-header": "Bad Name"}),  # not a token
        schema(
            a={"type": "string", "x-mcp-header": "Dup"}, b={"type": "string", "x-mcp-header": "dup"}
        ),
        {
            "type": "object",
            "properties": {
                "xs": {"type": "array", "items": {"type": "string", "x-mcp-header": "X"}}
            },
        },
    ],
)
def test_marks_clients_would_reject_are_refused(bad: dict[str, Any]):
    with pytest.raises(ValueError):
        header_params(bad)


def forecast_server() -> FastMCP:
    """A server whose one tool, `forecast`, marks `region` as an `x-mcp-header` parameter."""
    mcp = FastMCP("hdr")

    @mcp.tool
    def forecast(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], days: int = 1
    ) -> str:
        return f"{region}:{days}"

    return mcp


def check(arguments: Any, headers: dict[str, str]) -> str | None:
    params = {("region",): "Region", ("count",): "Count", ("flag",): "Flag"}
    return check_param_headers(params, arguments, lambda n: headers.get(n.lower()), lambda v: v)


def test_request_checks():
    assert (
        check(
            {"region": "eu", "count": 7, "flag": True},
            {"region": "eu", "count": "7", "flag": "true"},
        )
        is None
    )
    assert check({"region": "eu"}, {"region": "eu"}) is None  # absent values expect no header
    assert check({"region": None}, {}) is None  # null too
    assert "missing" in check({"region": "eu"}, {})
    assert "does not match" in check({"region": "eu"}, {"region": "us"})
    assert check({"count": 7}, {"count": "07"}) is None  # integers compare numerically
    assert "does not match" in check({"flag": False}, {"flag": "true"})


def test_registration_refuses_a_bad_mark():
    mcp = FastMCP("bad")
    with pytest.raises(ValueError):

        @mcp.tool
        def weigh(
            grams: Annotated[float, Field(json_schema_extra={"x-mcp-header": "Grams"})],
        ) -> float:
            return grams


async def test_http_rejects_a_missing_or_wrong_param_header_with_32020():
    async with running(forecast_server()) as h:
        call = {"name": "forecast", "arguments": {"region": "eu"}}
        missing = await h.modern("tools/call", call)
        assert missing.status_code == 400 and missing.json()["error"]["code"] == -32020
        wrong = await h.modern("tools/call", call, headers={"mcp-param-region": "us"})
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == -32020
        right = await h.modern("tools/call", call, headers={"Mcp-Param-Region": "eu"})
        assert right.status_code == 200 and right.json()["result"]["structuredContent"] == {
            "result": "eu:1"
        }
        encoded = await h.modern(
            "tools/call", call, headers={"mcp-param-region": "=?base64?ZXU=?="}
        )
        assert encoded.status_code == 200


async def test_trimcp_client_mirrors_param_headers_over_http():
    async with serving(forecast_server(), wait=20) as (address, _), Client(address.url) as client:
        assert client.protocol_version == "2026-07-28"
        await client.list_tools()
        assert (
            await client.call_tool("forecast", {"region": "Zürich", "days": 2})
        ).data == "Zürich:2"
