"""Resource and template annotations keep keys beyond the spec's three, as FastMCP's do
(`mcp.types.Annotations` allows extra keys): on the server, on the wire, in a client's listing."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from tests.wire import modern_meta, serving_with_hypercorn
from trimcp import Client, FastMCP
from trimcp.types import Annotations, Resource
from trimcp.types.base import keep_annotation_extras

EXTRA = {"httpMethod": "GET", "Cache-Control": "max-age=3600"}


def annotated_server() -> FastMCP:
    mcp = FastMCP("annotated")

    @mcp.resource("http://example.com/data", annotations={"audience": ["user"], **EXTRA})
    def data() -> str:
        return "hello"

    @mcp.resource("api://users/{user_id}", annotations=EXTRA)
    def user(user_id: str) -> str:
        return user_id

    @mcp.resource("plain://x", annotations={"priority": 0.5})
    def plain() -> str:
        return "x"

    return mcp


def check_listing(resources: list[Any], templates: list[Any]) -> None:
    by_uri = {str(r.uri): r for r in resources}
    data = by_uri["http://example.com/data"].annotations
    assert data.audience == ["user"]
    assert getattr(data, "httpMethod")  # noqa: B009 == "GET"
    assert getattr(data, "Cache-Control") == "max-age=3600"
    assert data.extras == EXTRA
    assert by_uri["plain://x"].annotations.extras == {}
    (template,) = templates
    assert getattr(template.annotations, "Cache-Control") == "max-age=3600"


@pytest.mark.anyio
async def test_extra_annotation_keys_reach_an_in_memory_client() -> None:
    async with Client(annotated_server()) as client:
        check_listing(await client.list_resources(), await client.list_resource_templates())


@pytest.mark.anyio
async def test_extra_annotation_keys_reach_an_http_client_in_both_eras() -> None:
    mcp = annotated_server()
    with anyio.fail_after(20):
        async with serving_with_hypercorn(mcp.http_app()) as (base, http):
            for protocol in ("legacy", "modern"):
                async with Client(f"{base}/mcp", protocol=protocol) as client:
                    check_listing(
                        await client.list_resources(), await client.list_resource_templates()
                    )
            # on the wire: one flat object, spec fields and extras side by side
            reply = await http.post(
                f"{base}/mcp",
                json={
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "resources/list",
                    "params": {"_meta": modern_meta()},
                },
                headers={
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2026-07-28",
                    "Mcp-Method": "resources/list",
                },
            )
            listed = {r["uri"]: r for r in reply.json()["result"]["resources"]}
            assert listed["http://example.com/data"]["annotations"] == {
                "audience": ["user"],
                **EXTRA,
            }


def test_server_side_annotations_keep_extras_and_validate_spec_fields() -> None:
    annotations = Annotations.from_mapping({"priority": 1.0, "x-owner": "ops"})
    assert annotations.priority == 1.0
    assert getattr(annotations, "x-owner") == "ops"
    assert annotations.model_dump(exclude_none=True) == {"priority": 1.0, "x-owner": "ops"}
    assert annotations == Annotations(priority=1.0)  # equality: the spec's fields
    with pytest.raises(msgspec.ValidationError):
        Annotations.from_mapping({"priority": "high"})


def test_hostile_extra_keys_are_kept_as_data_only() -> None:
    # keys that name attributes of the class never shadow them; non-string keys are dropped
    (resource,) = [Resource(uri="a://b", name="b", annotations=Annotations())]
    raw = [{"annotations": {"__class__": 1, "model_dump": 2, "extras": 3, "ok": 4}}]
    keep_annotation_extras([resource], raw)
    annotations = resource.annotations
    assert annotations is not None
    assert annotations.extras == {"__class__": 1, "model_dump": 2, "extras": 3, "ok": 4}
    assert getattr(annotations, "ok") == 4  # noqa: B009
    assert type(annotations) is Annotations or isinstance(annotations, Annotations)
    assert annotations.model_dump(exclude_none=True)["ok"] == 4
    keep_annotation_extras([resource], "not a list")  # malformed raw: nothing happens
    keep_annotation_extras([resource], [{"annotations": ["x"]}])


@pytest.mark.anyio
async def test_a_server_sending_hostile_annotation_keys_does_not_break_the_client() -> None:
    mcp = FastMCP("hostile")

    @mcp.resource("h://x", annotations={"__class__": "x", "model_dump": "y", "__init__": 1})
    def x() -> str:
        return "x"

    async with Client(mcp) as client:
        (resource,) = await client.list_resources()
        assert resource.annotations.extras["__class__"] == "x"
        assert resource.annotations.model_dump(exclude_none=True)["model_dump"] == "y"
