"""The server's protocol behaviour, raw JSON-RPC over memory streams, both eras."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from tests.wire import MODERN, modern_meta, wire_to
from trimcp import Context, FastMCP
from trimcp.protocol.envelope import LOG_LEVEL_KEY, SERVER_INFO_KEY

pytestmark = pytest.mark.anyio


def make_server(**kwargs) -> FastMCP:
    mcp = FastMCP("test", instructions="hi", **kwargs)

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    @mcp.tool
    async def chatty(ctx: Context) -> str:
        await ctx.debug("d")
        await ctx.warning("w")
        await ctx.report_progress(1, 2)
        await ctx.report_progress(2, 2)
        return "done"

    @mcp.tool
    async def wait_forever() -> str:
        await anyio.sleep_forever()
        return "never"

    @mcp.resource("data://x")
    def x() -> str:
        return "X"

    @mcp.prompt
    def greet(name: str) -> str:
        return f"Hello {name}"

    return mcp


async def test_initialize_negotiates_a_handshake_version():
    async with wire_to(make_server()) as wire:
        response = await wire.initialize("2025-06-18")
        result = response["result"]
        assert result["protocolVersion"] == "2025-06-18"
        assert result["serverInfo"]["name"] == "test"
        assert result["instructions"] == "hi"
        assert {"tools", "resources", "prompts", "logging"} <= set(result["capabilities"])
        assert "resultType" not in result


async def test_initialize_with_unknown_version_gets_latest_handshake_version():
    async with wire_to(make_server()) as wire:
        response = await wire.initialize("2026-07-28")
        assert response["result"]["protocolVersion"] == "2025-11-25"


async def test_request_before_initialize_is_refused_and_session_survives():
    async with wire_to(make_server()) as wire:
        response = await wire.call("tools/list")
        assert response["error"]["code"] == -32602
        await wire.initialize()
        assert len((await wire.call("tools/list"))["result"]["tools"]) == 3


async def test_ping_in_handshake_era():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        assert (await wire.call("ping"))["result"] == {}


async def test_tools_call_handshake_era():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        result = (await wire.call("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}}))[
            "result"
        ]
        assert result["structuredContent"] == {"result": 5}
        assert result["content"][0]["text"] == "5"
        assert "resultType" not in result


async def test_unknown_tool_is_invalid_params():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        response = await wire.call("tools/call", {"name": "nope", "arguments": {}})
        assert response["error"]["code"] == -32602


async def test_bad_arguments_are_a_tool_error_result_naming_the_argument():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        result = (await wire.call("tools/call", {"name": "add", "arguments": {"a": "x", "b": 1}}))[
            "result"
        ]
        assert result["isError"] is True
        assert "a" in result["content"][0]["text"]


async def test_malformed_messages_get_errors_and_the_session_keeps_serving():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        await wire.send_raw(b"{not json")
        assert (await wire.response())["error"]["code"] == -32700
        await wire.send_raw(b'{"jsonrpc":"2.0","id":true,"method":"ping"}')
        assert (await wire.response())["error"]["code"] == -32600
        assert (await wire.call("nope/nope"))["error"]["code"] == -32601
        assert (await wire.call("tools/call", {"name": 5}))["error"]["code"] == -32602
        assert (await wire.call("ping"))["result"] == {}


async def test_discover_answers_without_a_session():
    async with wire_to(make_server()) as wire:
        result = (await wire.call("server/discover", modern=True))["result"]
        assert result["supportedVersions"] == [MODERN]
        assert result["resultType"] == "complete"
        assert result["ttlMs"] >= 0 and result["cacheScope"] in ("public", "private")
        assert result["_meta"][SERVER_INFO_KEY]["name"] == "test"


async def test_modern_request_is_served_without_initialize():
    async with wire_to(make_server()) as wire:
        result = (
            await wire.call(
                "tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}}, modern=True
            )
        )["result"]
        assert result["resultType"] == "complete"
        assert result["structuredContent"] == {"result": 2}
        assert SERVER_INFO_KEY in result["_meta"]
        listed = (await wire.call("tools/list", modern=True))["result"]
        assert listed["ttlMs"] >= 0 and listed["resultType"] == "complete"


async def test_modern_and_legacy_requests_share_one_stdio_style_connection():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        legacy = (await wire.call("tools/list"))["result"]
        modern = (await wire.call("tools/list", modern=True))["result"]
        assert "resultType" not in legacy and modern["resultType"] == "complete"


async def test_removed_methods_are_method_not_found_in_modern_era():
    async with wire_to(make_server()) as wire:
        for method in ("ping", "logging/setLevel", "initialize", "resources/subscribe"):
            response = await wire.call(
                method, {"level": "info", "uri": "x://"} if method != "ping" else {}, modern=True
            )
            assert response["error"]["code"] == -32601, method


async def test_unsupported_modern_version_is_32022():
    async with wire_to(make_server()) as wire:
        response = await wire.call(
            "tools/list",
            {"_meta": {"io.modelcontextprotocol/protocolVersion": "v999"}},
            modern=True,
        )
        assert response["error"]["code"] == -32022
        assert response["error"]["data"] == {"supported": [MODERN], "requested": "v999"}


async def test_modern_request_missing_capabilities_is_invalid_params():
    async with wire_to(make_server()) as wire:
        response = await wire.call(
            "tools/list", {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}
        )
        assert response["error"]["code"] == -32602


async def test_modern_logs_only_when_asked():
    async with wire_to(make_server()) as wire:
        await wire.call("tools/call", {"name": "chatty", "arguments": {}}, modern=True)
        assert not [n for n in wire.notifications if n["method"] == "notifications/message"]
        await wire.call(
            "tools/call",
            {
                "name": "chatty",
                "arguments": {},
                "_meta": {**modern_meta(), LOG_LEVEL_KEY: "warning"},
            },
        )
        logs = [
            n["params"]["level"]
            for n in wire.notifications
            if n["method"] == "notifications/message"
        ]
        assert logs == ["warning"]


async def test_handshake_logging_set_level_filters():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        assert (await wire.call("logging/setLevel", {"level": "warning"}))["result"] == {}
        await wire.call("tools/call", {"name": "chatty", "arguments": {}})
        logs = [
            n["params"]["level"]
            for n in wire.notifications
            if n["method"] == "notifications/message"
        ]
        assert logs == ["warning"]


async def test_progress_only_with_a_token():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        await wire.call("tools/call", {"name": "chatty", "arguments": {}})
        assert not [n for n in wire.notifications if n["method"] == "notifications/progress"]
        await wire.call(
            "tools/call", {"name": "chatty", "arguments": {}, "_meta": {"progressToken": "p"}}
        )
        progress = [
            n["params"] for n in wire.notifications if n["method"] == "notifications/progress"
        ]
        assert [p["progress"] for p in progress] == [1, 2]
        assert all(p["progressToken"] == "p" for p in progress)


async def test_cancelled_request_gets_no_response_and_session_continues():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        await wire.send(
            {
                "jsonrpc": "2.0",
                "id": 99,
                "method": "tools/call",
                "params": {"name": "wait_forever", "arguments": {}},
            }
        )
        await wire.notify("notifications/cancelled", {"requestId": 99, "reason": "test"})
        await wire.notify("notifications/cancelled", {"requestId": 12345})  # unknown: ignored
        response = await wire.call("ping")
        assert "result" in response  # the next message is the ping's answer, not request 99's


async def test_resource_not_found_code_differs_by_era():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        legacy = await wire.call("resources/read", {"uri": "data://missing"})
        assert legacy["error"]["code"] == -32002
        modern = await wire.call("resources/read", {"uri": "data://missing"}, modern=True)
        assert modern["error"]["code"] == -32602


async def test_read_resource_and_get_prompt():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        contents = (await wire.call("resources/read", {"uri": "data://x"}))["result"]["contents"]
        assert contents == [{"uri": "data://x", "text": "X", "mimeType": "text/plain"}]
        messages = (
            await wire.call("prompts/get", {"name": "greet", "arguments": {"name": "Ann"}})
        )["result"]["messages"]
        assert messages[0]["content"]["text"] == "Hello Ann"
        missing = await wire.call("prompts/get", {"name": "greet", "arguments": {}})
        assert missing["error"]["code"] == -32602


async def test_pagination_is_deterministic_and_rejects_bad_cursors():
    async with wire_to(make_server(list_page_size=2)) as wire:
        await wire.initialize()
        first = (await wire.call("tools/list"))["result"]
        assert [t["name"] for t in first["tools"]] == ["add", "chatty"]
        second = (await wire.call("tools/list", {"cursor": first["nextCursor"]}))["result"]
        assert [t["name"] for t in second["tools"]] == [
            "wait_forever"
        ] and "nextCursor" not in second
        assert (await wire.call("tools/list", {"cursor": "garbage!"}))["error"]["code"] == -32602


async def test_batch_only_for_2025_03_26():
    async with wire_to(make_server()) as wire:
        await wire.initialize("2025-03-26")
        await wire.send_raw(
            b'[{"jsonrpc":"2.0","id":"b1","method":"ping"},{"jsonrpc":"2.0","id":"b2","method":"tools/list"}]'
        )
        replies = await wire.receive()
        assert sorted(r["id"] for r in replies) == ["b1", "b2"]
    async with wire_to(make_server()) as wire:
        await wire.initialize("2025-06-18")
        await wire.send_raw(b'[{"jsonrpc":"2.0","id":"b1","method":"ping"}]')
        assert (await wire.receive())["error"]["code"] == -32600


async def test_disabled_tools_are_neither_listed_nor_callable():
    mcp = make_server()
    mcp.disable(names={"add"})
    async with wire_to(mcp) as wire:
        await wire.initialize()
        names = [t["name"] for t in (await wire.call("tools/list"))["result"]["tools"]]
        assert "add" not in names
        assert (await wire.call("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}))[
            "error"
        ]["code"] == -32602
        mcp.enable(names={"add"})
        assert "add" in [t["name"] for t in (await wire.call("tools/list"))["result"]["tools"]]
        assert any(n["method"] == "notifications/tools/list_changed" for n in wire.notifications)


async def test_cancellation_reaches_a_sync_tool_through_ctx_is_cancelled():
    mcp = FastMCP("cancel")
    started = threading.Event()
    stopped = threading.Event()

    @mcp.tool
    def crunch(ctx: Context) -> str:
        started.set()
        deadline = time.monotonic() + 10
        while not ctx.is_cancelled and time.monotonic() < deadline:
            time.sleep(0.001)  # a sync tool's work, polling for cancellation between steps
        if ctx.is_cancelled:
            stopped.set()
        return "stopped"

    async with wire_to(mcp) as wire:
        await wire.initialize()
        await wire.send(
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "tools/call",
                "params": {"name": "crunch", "arguments": {}},
            }
        )
        with anyio.fail_after(10):
            assert await anyio.to_thread.run_sync(started.wait, 10)
            await wire.notify("notifications/cancelled", {"requestId": 7})
            assert await anyio.to_thread.run_sync(stopped.wait, 10)
        assert "result" in await wire.call("ping")  # no answer for 7; the session goes on


# -- subscriptions/listen on stdio and in memory (2026-07-28) ---------------------------------


async def test_listen_acknowledges_then_sends_only_opted_in_changes_tagged_with_its_id():
    server = make_server()
    async with wire_to(server) as wire:
        await wire.send(
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "subscriptions/listen",
                "params": {
                    "notifications": {
                        "toolsListChanged": True,
                        "resourceSubscriptions": ["data://x"],
                    },
                    "_meta": modern_meta(),
                },
            }
        )
        ack = await wire.receive()
        assert ack["method"] == "notifications/subscriptions/acknowledged"
        assert ack["params"]["notifications"] == {
            "toolsListChanged": True,
            "resourceSubscriptions": ["data://x"],
        }
        assert ack["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": 7}
        server.prompt(lambda: "p", name="other")  # not opted in: nothing
        await server.notify_resource_updated("data://elsewhere")  # not this URI: nothing
        server.tool(lambda: "n", name="new")
        await server.notify_resource_updated("data://x")
        changed = await wire.receive()
        assert changed["method"] == "notifications/tools/list_changed"
        assert changed["params"]["_meta"] == {"io.modelcontextprotocol/subscriptionId": 7}
        updated = await wire.receive()
        assert updated["method"] == "notifications/resources/updated"
        assert updated["params"]["uri"] == "data://x"
        # The client ends it with notifications/cancelled: no response for it, serving goes on.
        await wire.notify("notifications/cancelled", {"requestId": 7})
        response = await wire.call("tools/list", {"_meta": modern_meta()})
        assert "new" in {tool["name"] for tool in response["result"]["tools"]}


async def test_listen_is_method_not_found_in_the_handshake_era():
    async with wire_to(make_server()) as wire:
        await wire.initialize()
        response = await wire.call("subscriptions/listen", {"notifications": {}})
        assert response["error"]["code"] == -32601


async def test_a_sync_tool_that_adds_a_tool_notifies_from_its_worker_thread():
    """Sync tools run in worker threads; the list-changed fan-out hops back to the loop."""
    server = make_server()

    @server.tool
    def grow() -> str:
        server.tool(lambda: "n", name="grown")
        return "ok"

    async with wire_to(server) as wire:
        await wire.initialize()
        await wire.send(
            {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "grow"}}
        )
        messages = [await wire.receive(), await wire.receive()]
        assert {m.get("method") for m in messages} == {"notifications/tools/list_changed", None}
        assert next(m for m in messages if "id" in m)["result"]["content"][0]["text"] == "ok"
