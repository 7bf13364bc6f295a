"""2026-07-28 multi-round-trip requests, raw on the wire: `ctx.sample`/`ctx.list_roots` in a
tool become `InputRequiredResult`s, the retry replays the handler with the answers."""

from __future__ import annotations

import pytest

from tests.wire import modern_meta, wire_to
from trimcp import Context, FastMCP
from trimcp.protocol.envelope import CLIENT_CAPABILITIES_KEY

pytestmark = pytest.mark.anyio

CAPS = {"sampling": {}, "roots": {}, "elicitation": {}}


def make_server() -> tuple[FastMCP, list[str]]:
    mcp = FastMCP("mrtr")
    runs: list[str] = []

    @mcp.tool
    async def poem(topic: str, ctx: Context) -> str:
        runs.append(topic)  # code before an input runs again on each retry (the replay rule)
        first = await ctx.sample(f"a line about {topic}")
        roots = await ctx.list_roots()
        return f"{first.text} / {len(roots)} roots"

    @mcp.prompt
    async def ask(ctx: Context) -> str:
        reply = await ctx.sample("hello?")
        return reply.text

    return mcp, runs


def meta(**caps) -> dict:
    return {**modern_meta(), CLIENT_CAPABILITIES_KEY: caps or CAPS}


async def test_tool_inputs_become_rounds_and_the_retry_replays_with_answers():
    mcp, runs = make_server()
    async with wire_to(mcp) as wire:
        first = (
            await wire.call(
                "tools/call", {"name": "poem", "arguments": {"topic": "sea"}, "_meta": meta()}
            )
        )["result"]
        assert first["resultType"] == "input_required"
        assert "ttlMs" not in first and "cacheScope" not in first
        [(key, request)] = first["inputRequests"].items()
        assert request["method"] == "sampling/createMessage"
        assert request["params"]["messages"][0]["content"]["text"] == "a line about sea"
        answer = {"role": "assistant", "content": {"type": "text", "text": "waves"}, "model": "m"}
        second = (
            await wire.call(
                "tools/call",
                {
                    "name": "poem",
                    "arguments": {"topic": "sea"},
                    "inputResponses": {key: answer},
                    "requestState": first["requestState"],
                    "_meta": meta(),
                },
            )
        )["result"]
        assert second["resultType"] == "input_required"
        [(key2, request2)] = second["inputRequests"].items()
        assert request2["method"] == "roots/list" and key2 != key
        done = (
            await wire.call(
                "tools/call",
                {
                    "name": "poem",
                    "arguments": {"topic": "sea"},
                    "inputResponses": {
                        key2: {"roots": [{"uri": "file:///a"}, {"uri": "file:///b"}]}
                    },
                    "requestState": second["requestState"],
                    "_meta": meta(),
                },
            )
        )["result"]
        assert done["resultType"] == "complete"
        assert done["structuredContent"] == {"result": "waves / 2 roots"}
    assert runs == ["sea", "sea", "sea"]


async def test_missing_answer_asks_again():
    mcp, _ = make_server()
    async with wire_to(mcp) as wire:
        first = (
            await wire.call(
                "tools/call", {"name": "poem", "arguments": {"topic": "x"}, "_meta": meta()}
            )
        )["result"]
        again = (
            await wire.call(
                "tools/call",
                {
                    "name": "poem",
                    "arguments": {"topic": "x"},
                    "inputResponses": {},
                    "requestState": first["requestState"],
                    "_meta": meta(),
                },
            )
        )["result"]
        assert again["resultType"] == "input_required"
        assert list(again["inputRequests"]) == list(first["inputRequests"])


async def test_forged_request_state_is_rejected():
    mcp, _ = make_server()
    async with wire_to(mcp) as wire:
        first = (
            await wire.call(
                "tools/call", {"name": "poem", "arguments": {"topic": "x"}, "_meta": meta()}
            )
        )["result"]
        body, _, tag = first["requestState"].partition(".")
        forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + tag
        for state in (forged, "garbage", first["requestState"] + "x"):
            response = await wire.call(
                "tools/call",
                {
                    "name": "poem",
                    "arguments": {"topic": "x"},
                    "inputResponses": {},
                    "requestState": state,
                    "_meta": meta(),
                },
            )
            assert response["error"]["code"] == -32602, state


async def test_state_from_another_request_is_rejected():
    mcp, _ = make_server()
    async with wire_to(mcp) as wire:
        first = (
            await wire.call(
                "tools/call", {"name": "poem", "arguments": {"topic": "x"}, "_meta": meta()}
            )
        )["result"]
        response = await wire.call(
            "tools/call",
            {
                "name": "poem",
                "arguments": {"topic": "other"},
                "inputResponses": {},
                "requestState": first["requestState"],
                "_meta": meta(),
            },
        )
        assert response["error"]["code"] == -32602


async def test_expired_state_is_rejected(monkeypatch: pytest.MonkeyPatch):
    import trimcp.core.mrtr as mrtr

    mcp, _ = make_server()
    async with wire_to(mcp) as wire:
        monkeypatch.setattr(mrtr, "STATE_LIFETIME", -1.0)
        first = (
            await wire.call(
                "tools/call", {"name": "poem", "arguments": {"topic": "x"}, "_meta": meta()}
            )
        )["result"]
        response = await wire.call(
            "tools/call",
            {
                "name": "poem",
                "arguments": {"topic": "x"},
                "inputResponses": {},
                "requestState": first["requestState"],
                "_meta": meta(),
            },
        )
        assert response["error"]["code"] == -32602 and "expired" in response["error"]["message"]


async def test_state_signed_by_a_shared_key_verifies_on_another_replica():
    keys = ["k1-shared-secret"]
    a, _ = make_server()
    b, _ = make_server()
    a.mrtr_keys = keys
    b.mrtr_keys = keys
    async with wire_to(a) as wa, wire_to(b) as wb:
        first = (
            await wa.call(
                "tools/call", {"name": "poem", "arguments": {"topic": "x"}, "_meta": meta()}
            )
        )["result"]
        [key] = first["inputRequests"]
        answer = {"role": "assistant", "content": {"type": "text", "text": "t"}, "model": "m"}
        second = (
            await wb.call(
                "tools/call",
                {
                    "name": "poem",
                    "arguments": {"topic": "x"},
                    "inputResponses": {key: answer},
                    "requestState": first["requestState"],
                    "_meta": meta(),
                },
            )
        )["result"]
        assert second["resultType"] == "input_required"  # accepted by the other replica


async def test_missing_client_capability_is_32021():
    mcp, _ = make_server()
    async with wire_to(mcp) as wire:
        response = await wire.call(
            "tools/call", {"name": "poem", "arguments": {"topic": "x"}, "_meta": meta(roots={})}
        )
        assert response["error"]["code"] == -32021
        assert response["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}


async def test_prompts_get_supports_input_required():
    mcp, _ = make_server()
    async with wire_to(mcp) as wire:
        first = (await wire.call("prompts/get", {"name": "ask", "_meta": meta()}))["result"]
        assert first["resultType"] == "input_required"
        [key] = first["inputRequests"]
        answer = {"role": "assistant", "content": {"type": "text", "text": "hi!"}, "model": "m"}
        done = (
            await wire.call(
                "prompts/get",
                {
                    "name": "ask",
                    "inputResponses": {key: answer},
                    "requestState": first["requestState"],
                    "_meta": meta(),
                },
            )
        )["result"]
        assert done["messages"][0]["content"]["text"] == "hi!"


def url_server() -> FastMCP:
    mcp = FastMCP("url")

    @mcp.tool
    async def connect(ctx: Context) -> str:
        result = await ctx.elicit_url("Sign in to continue", "https://example.com/login")
        return result.action

    return mcp


async def test_url_mode_elicitation_in_2026_has_no_elicitation_id():
    async with wire_to(url_server()) as wire:
        first = (
            await wire.call(
                "tools/call",
                {"name": "connect", "arguments": {}, "_meta": meta(elicitation={"url": {}})},
            )
        )["result"]
        [(key, request)] = first["inputRequests"].items()
        assert request["method"] == "elicitation/create"
        assert (
            request["params"]["mode"] == "url"
            and request["params"]["url"] == "https://example.com/login"
        )
        assert "elicitationId" not in request["params"]
        done = (
            await wire.call(
                "tools/call",
                {
                    "name": "connect",
                    "arguments": {},
                    "inputResponses": {key: {"action": "accept"}},
                    "requestState": first["requestState"],
                    "_meta": meta(elicitation={"url": {}}),
                },
            )
        )["result"]
        assert done["structuredContent"] == {"result": "accept"}


async def test_url_mode_needs_the_url_capability():
    async with wire_to(url_server()) as wire:
        response = await wire.call(
            "tools/call", {"name": "connect", "arguments": {}, "_meta": meta(elicitation={})}
        )
        assert response["error"]["code"] == -32021


async def test_url_mode_elicitation_in_the_handshake_era_carries_an_elicitation_id():
    async with wire_to(url_server()) as wire:
        await wire.initialize("2025-11-25", capabilities={"elicitation": {"url": {}}})
        await wire.send(
            {
                "jsonrpc": "2.0",
                "id": 50,
                "method": "tools/call",
                "params": {"name": "connect", "arguments": {}},
            }
        )
        request = await wire.receive()
        assert request["method"] == "elicitation/create"
        assert request["params"]["mode"] == "url" and request["params"]["elicitationId"]
        await wire.send({"jsonrpc": "2.0", "id": request["id"], "result": {"action": "decline"}})
        answer = await wire.response()
        assert answer["id"] == 50 and answer["result"]["structuredContent"] == {"result": "decline"}


async def test_a_tool_that_changes_its_arguments_cannot_change_what_the_state_is_bound_to():
    """The first try's state is bound to the arguments the client sent (read from its raw
    params when the input is asked for), not to what the tool made of them meanwhile: the
    retry with the same arguments verifies, one with other arguments does not."""
    mcp = FastMCP("mrtr")

    @mcp.tool
    async def tally(items: list[str], ctx: Context) -> int:
        # mutates the request's params it can reach, before the input
        ctx.request_context.params.arguments["items"].append("added by the tool")
        reply = await ctx.sample("how many?")
        return len(items) + len(reply.text)

    answer = {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "m"}
    async with wire_to(mcp) as wire:
        sent = {"name": "tally", "arguments": {"items": ["a", "b"]}, "_meta": meta()}
        first = (await wire.call("tools/call", sent))["result"]
        assert first["resultType"] == "input_required"
        [key] = first["inputRequests"]
        retry = {**sent, "inputResponses": {key: answer}, "requestState": first["requestState"]}
        done = (await wire.call("tools/call", retry))["result"]
        assert done["resultType"] == "complete" and done["structuredContent"] == {"result": 4}
        other = {**retry, "arguments": {"items": ["a", "b", "added by the tool"]}}
        refused = await wire.call("tools/call", other)
        assert "Invalid requestState" in refused["error"]["message"]


async def test_bad_keys_fail_every_2026_tools_call_even_one_that_asks_for_no_input():
    """A first try checks the server's MRTR keys though it needs them only if the tool asks
    for input: keys set (or set again) wrongly show at once, not at the first elicitation."""
    mcp = FastMCP("keys")

    @mcp.tool
    def add(a: int, b: int) -> int:
        return a + b

    call = {"name": "add", "arguments": {"a": 1, "b": 2}, "_meta": meta()}

    def failed(response: dict) -> bool:
        return "error" in response or response["result"].get("isError") is True

    async with wire_to(mcp) as wire:
        mcp.mrtr_keys = 1234  # not a list of keys
        assert failed(await wire.call("tools/call", call))
        mcp.mrtr_keys = ["good"]
        assert (await wire.call("tools/call", call))["result"]["structuredContent"] == {"result": 3}
        mcp.mrtr_keys = 5678  # set again, wrongly, after a first try passed
        assert failed(await wire.call("tools/call", call))


async def test_input_asked_by_a_resource_a_first_try_reads_through_a_mount_is_its_round(
    monkeypatch: pytest.MonkeyPatch,
):
    """A first try's round is made only when asked for (`FIRST_TRY`, once the server's keys
    are checked); a component the tool reads through the server's chain (a mount makes it
    one) asks in that round, the one made for the tool call, whose state binds its params."""
    from trimcp.core import handlers

    made_for: list[str] = []
    first_try_round = handlers.first_try_round

    def recording(request):
        made_for.append(request.method)
        return first_try_round(request)

    monkeypatch.setattr(handlers, "first_try_round", recording)
    mcp = FastMCP("parent")
    mcp.mount(FastMCP("child"), prefix="child")

    @mcp.resource("memo://today")
    async def today(ctx: Context) -> str:
        reply = await ctx.sample("what day is it?")
        return reply.text

    @mcp.tool
    async def agenda(ctx: Context) -> str:
        [content] = await ctx.read_resource("memo://today")
        return f"today is {content.content}"

    @mcp.tool
    def ping() -> str:
        return "pong"

    call = {"name": "agenda", "arguments": {}, "_meta": meta()}
    async with wire_to(mcp) as wire:
        warm = {"name": "ping", "arguments": {}, "_meta": meta()}  # checks the keys
        assert (await wire.call("tools/call", warm))["result"]["content"][0]["text"] == "pong"
        made_for.clear()
        first = (await wire.call("tools/call", call))["result"]
        assert first["resultType"] == "input_required"
        assert made_for == ["tools/call"]  # made lazily, for the tool call, not the read
        [(key, request)] = first["inputRequests"].items()
        assert request["method"] == "sampling/createMessage"
        answer = {"role": "assistant", "content": {"type": "text", "text": "Monday"}, "model": "m"}
        retry = {**call, "inputResponses": {key: answer}, "requestState": first["requestState"]}
        done = (await wire.call("tools/call", retry))["result"]
        assert done["resultType"] == "complete"
        assert done["structuredContent"] == {"result": "today is Monday"}
        other = {**retry, "arguments": {"x": 1}}  # the state is bound to this call's arguments
        assert "error" in await wire.call("tools/call", other)
