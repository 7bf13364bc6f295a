"""`mask_error_details` hides the text of every unexpected exception from user code, wherever
it is raised (a tool, a resource, a template, a prompt, a completion handler, middleware), on
every transport: in-memory, stdio, streamable HTTP in both eras (JSON and SSE answers, a
2025-03-26 batch) and legacy SSE. Each fault gets the same answer shape and code everywhere;
with masking off its message reaches the client; `ToolError` messages always do.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest

from tests.wire import MODERN, modern_meta, serving, wire_to
from trimcp import Client
from trimcp.exceptions import McpError
from trimcp.protocol import jsonrpc
from trimcp.protocol.jsonrpc import Request
from trimcp.protocol.sse import SSEDecoder
from trimcp.runtime.peer import Peer
from trimcp.server.middleware import Middleware
from trimcp.transports.stdio import FramedStream

pytestmark = pytest.mark.anyio

SERVER = textwrap.dedent(
    '''
    import sys

    from trimcp import FastMCP
    from trimcp.exceptions import ToolError
    from trimcp.server.context import get_context
    from trimcp.server.middleware import Middleware


    async def emit(ctx=None):
        """Progress first: asked for with a progress token, it turns an HTTP answer into SSE."""
        await (ctx or get_context()).report_progress(0, 1)


    class Faulty(Middleware):
        async def on_call_tool(self, context, call_next):
            if context.message.name == "mw":
                await emit(context.fastmcp_context)
                raise RuntimeError("SECRET-middleware-tool")
            if context.message.name == "mw_public":
                raise ToolError("PUBLIC-tool-error")
            return await call_next(context)

        async def on_read_resource(self, context, call_next):
            if context.message.uri == "mw://x":
                await emit(context.fastmcp_context)
                raise RuntimeError("SECRET-middleware-resource")
            return await call_next(context)

        async def on_list_prompts(self, context, call_next):
            raise RuntimeError("SECRET-middleware-list")

        async def on_get_prompt(self, context, call_next):
            if context.message.name == "mw_prompt":
                raise RuntimeError("SECRET-middleware-prompt")
            return await call_next(context)


    def build(masked):
        mcp = FastMCP("faults", mask_error_details=masked)

        @mcp.tool
        async def boom() -> str:
            await emit()
            raise RuntimeError("SECRET-tool")

        @mcp.tool
        def mw() -> str:
            return "not reached"

        @mcp.tool
        def mw_public() -> str:
            return "not reached"

        @mcp.resource("res://boom")
        async def boom_resource() -> str:
            await emit()
            raise RuntimeError("SECRET-resource")

        @mcp.resource("mw://x")
        def mw_resource() -> str:
            return "not reached"

        @mcp.resource("tpl://{name}")
        async def boom_template(name: str) -> str:
            await emit()
            raise RuntimeError("SECRET-template")

        @mcp.prompt
        async def boom_prompt() -> str:
            await emit()
            raise RuntimeError("SECRET-prompt")

        @mcp.prompt
        def mw_prompt() -> str:
            return "not reached"

        @mcp.completion
        async def complete(ref, argument, context):
            await emit()
            raise RuntimeError("SECRET-completion")

        mcp.add_middleware(Faulty())
        return mcp


    if __name__ == "__main__":
        build("--masked" in sys.argv).run(backend=sys.argv[1], show_banner=False)
    '''
)

# fault -> (method, params)
FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "tool": ("tools/call", {"name": "boom", "arguments": {}}),
    "resource": ("resources/read", {"uri": "res://boom"}),
    "template": ("resources/read", {"uri": "tpl://x"}),
    "prompt": ("prompts/get", {"name": "boom_prompt"}),
    "completion": (
        "completion/complete",
        {
            "ref": {"type": "ref/prompt", "name": "boom_prompt"},
            "argument": {"name": "a", "value": ""},
        },
    ),
    "middleware-tool": ("tools/call", {"name": "mw", "arguments": {}}),
    "middleware-resource": ("resources/read", {"uri": "mw://x"}),
    "middleware-prompt": ("prompts/get", {"name": "mw_prompt"}),
    "middleware-list": ("prompts/list", {}),
    "public-tool-error": ("tools/call", {"name": "mw_public", "arguments": {}}),
}

# what each fault is answered with, on every transport: an isError tool result or a code
EXPECTED_SHAPE = {
    "tool": "isError",
    "resource": -32603,
    "template": -32603,
    "prompt": -32603,
    "completion": -32603,
    "middleware-tool": "isError",
    "middleware-resource": -32603,
    "middleware-prompt": -32603,
    "middleware-list": -32603,
    "public-tool-error": "isError",
}

Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
INIT_PARAMS = {"capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}


def build(masked: bool) -> Any:
    namespace: dict[str, Any] = {"__name__": "faults_server"}
    exec(compile(SERVER, "faults_server", "exec"), namespace)
    return namespace["build"](masked)


def shape(response: dict[str, Any]) -> int | str:
    """What the client got: the error code, or "isError" for an error tool result."""
    if "error" in response:
        return int(response["error"]["code"])
    assert response["result"].get("isError") is True, response
    return "isError"


def check(answers: dict[str, dict[str, Any]], *, masked: bool) -> None:
    """Every fault answered with its shape; the secret there iff unmasked; public text always."""
    for fault, response in answers.items():
        text = msgspec.json.encode(response).decode()
        assert shape(response) == EXPECTED_SHAPE[fault], (fault, response)
        assert response.get("id") is not None, (fault, response)
        if fault == "public-tool-error":
            assert "PUBLIC-tool-error" in text, (fault, response)
        elif masked:
            assert "SECRET" not in text, (fault, response)
        else:
            assert f"SECRET-{fault}" in text, (fault, response)


async def ask_all(call: Call, *, progress: bool = False) -> dict[str, dict[str, Any]]:
    answers = {}
    for fault, (method, params) in FAULTS.items():
        params = dict(params)
        if progress:
            params["_meta"] = {**params.get("_meta", {}), "progressToken": fault}
        answers[fault] = await call(method, params)
    return answers


MASKING = pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])


# -- in-memory (trimcp Client) -----------------------------------------------------------------


@MASKING
@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_in_memory_client_never_sees_a_masked_exception(masked: bool, protocol: str) -> None:
    async with Client(build(masked), protocol=protocol) as client:  # type: ignore[arg-type]

        async def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
            try:
                raw = await client.session.request(method, params)
            except McpError as exc:
                return {"id": 0, "error": msgspec.to_builtins(exc.error)}
            return {"id": 0, "result": msgspec.json.decode(raw)}

        with anyio.fail_after(10):
            check(await ask_all(call), masked=masked)


# -- stdio (a real subprocess) -----------------------------------------------------------------


@MASKING
@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_stdio_server_never_sends_a_masked_exception(
    tmp_path: Path, masked: bool, server_backend: str
) -> None:
    script = tmp_path / "faults.py"
    script.write_text(SERVER)
    args = [sys.executable, str(script), server_backend, *(["--masked"] if masked else [])]
    process = await anyio.open_process(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stderr: list[bytes] = []

    async def drain() -> None:  # a full stderr pipe would block the server's logging
        assert process.stderr is not None
        async for chunk in process.stderr:
            stderr.append(chunk)

    async with process, anyio.create_task_group() as tg:
        tg.start_soon(drain)
        assert process.stdout is not None and process.stdin is not None
        stdin = process.stdin
        stream = FramedStream(process.stdout, stdin, max_line=1 << 24)
        ids = iter(range(1, 1000))

        async def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
            request_id = next(ids)
            message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
            await stdin.send(msgspec.json.encode(message) + b"\n")
            while True:
                answer = msgspec.json.decode(await stream.receive())
                if answer.get("id") == request_id:
                    return answer

        with anyio.fail_after(20):
            await call("initialize", {"protocolVersion": "2025-06-18", **INIT_PARAMS})
            await stdin.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
            check(await ask_all(call), masked=masked)
            await stdin.aclose()
            assert await process.wait() == 0
    # logged server-side, with a traceback, even where masked
    log = b"".join(stderr)
    assert b"SECRET-middleware-tool" in log and b"Traceback" in log


# -- streamable HTTP -------------------------------------------------------------------------


# faults whose code emits progress before raising (the others fail before anything is sent)
EMITTING = {
    "tool",
    "resource",
    "template",
    "prompt",
    "completion",
    "middleware-tool",
    "middleware-resource",
}


def http_answer(response: Any, streams: list[str]) -> dict[str, Any]:
    """The JSON-RPC answer in an HTTP response: its JSON body, or the last message of its SSE
    stream (the others are the progress notifications), noted in `streams`."""
    if response.headers["content-type"].startswith("text/event-stream"):
        streams.append(response.request.content.decode())
        events = SSEDecoder().feed(response.content)
        messages = [msgspec.json.decode(e.data) for e in events if e.data]
        assert messages and all("id" not in m for m in messages[:-1]), messages
        return messages[-1]
    return msgspec.json.decode(response.content)


ACCEPT = "application/json, text/event-stream"


@MASKING
async def test_streamable_http_never_sends_a_masked_exception(masked: bool) -> None:
    """One stateless server: handshake era with JSON and with SSE answers, 2026-07-28, and a
    2025-03-26 batch."""
    async with serving(build(masked), stateless=True) as (_, http):
        streams: list[str] = []

        async def handshake(method: str, params: dict[str, Any]) -> dict[str, Any]:
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            headers = {"accept": ACCEPT, "mcp-protocol-version": "2025-06-18"}
            response = await http.post("/mcp", json=body, headers=headers)
            assert response.status_code == 200, response.text
            return http_answer(response, streams)

        check(await ask_all(handshake), masked=masked)
        assert streams == []  # JSON answers
        check(await ask_all(handshake, progress=True), masked=masked)
        assert len(streams) == len(EMITTING)  # SSE answers where progress came first
        streams.clear()

        async def modern(method: str, params: dict[str, Any]) -> dict[str, Any]:
            params = {**params, "_meta": {**modern_meta(), **params.get("_meta", {})}}
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
            headers = {"accept": ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method}
            name = params.get("name", params.get("uri"))
            if isinstance(name, str) and method != "completion/complete":
                headers["mcp-name"] = name
            response = await http.post("/mcp", json=body, headers=headers)
            assert response.status_code == 200, response.text
            return http_answer(response, streams)

        check(await ask_all(modern), masked=masked)
        assert streams == []
        check(await ask_all(modern, progress=True), masked=masked)
        assert len(streams) == len(EMITTING)

        batch = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
            for i, (method, params) in enumerate(FAULTS.values(), 1)
        ]
        response = await http.post("/mcp", json=batch, headers={"accept": ACCEPT})
        assert response.status_code == 200, response.text
        by_id = {answer["id"]: answer for answer in response.json()}
        check({fault: by_id[i] for i, fault in enumerate(FAULTS, 1)}, masked=masked)


# -- legacy SSE ------------------------------------------------------------------------------


@asynccontextmanager
async def legacy_sse(mcp: Any) -> AsyncIterator[Call]:
    async with serving(mcp, transport="sse") as (_, http):
        async with http.stream("GET", "/sse", headers={"accept": "text/event-stream"}) as stream:
            decoder = SSEDecoder()
            chunks = stream.aiter_bytes()
            pending: list[Any] = []

            async def next_event() -> Any:
                while not pending:
                    pending.extend(decoder.feed(await chunks.__anext__()))
                return pending.pop(0)

            endpoint = (await next_event()).data
            ids = iter(range(1, 1000))

            async def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
                request_id = next(ids)
                body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
                assert (await http.post(endpoint, json=body)).status_code == 202
                while True:
                    event = await next_event()
                    message = msgspec.json.decode(event.data)
                    if message.get("id") == request_id:
                        return message

            await call("initialize", {"protocolVersion": "2024-11-05", **INIT_PARAMS})
            notice = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            assert (await http.post(endpoint, json=notice)).status_code == 202
            yield call


@MASKING
async def test_legacy_sse_never_sends_a_masked_exception(masked: bool) -> None:
    async with legacy_sse(build(masked)) as call:
        check(await ask_all(call), masked=masked)
        check(await ask_all(call, progress=True), masked=masked)


# -- the read loop cannot die ------------------------------------------------------------------


def failing_server() -> Any:
    """A masking server whose `tools/call` middleware returns what cannot be encoded for the
    tool `unencodable`, and whose roots-changed hook raises."""
    mcp = build(True)

    class Unencodable(Middleware):
        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            if context.message.name == "unencodable":
                return object()
            return await call_next(context)

    async def roots_changed(channel: Any) -> None:
        raise RuntimeError("SECRET-notification")

    mcp.add_middleware(Unencodable())
    mcp._on_roots_changed = roots_changed

    @mcp.tool
    def unencodable() -> str:
        return "not reached"

    return mcp


async def test_a_message_that_fails_to_decode_gets_a_parse_error_and_the_loop_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_decode = jsonrpc.decode

    def decode(data: bytes | memoryview) -> Any:
        if b"EXPLODE" in bytes(data):
            raise RecursionError("maximum recursion depth exceeded")
        return real_decode(data)

    monkeypatch.setattr(jsonrpc, "decode", decode)
    async with wire_to(failing_server()) as wire:
        await wire.initialize()
        await wire.send_raw(b'{"jsonrpc":"2.0","id":7,"method":"EXPLODE"}')
        answer = await wire.response()
        assert answer["id"] is None and answer["error"]["code"] == -32700
        assert (await wire.call("ping"))["result"] == {}
    assert [r.message for r in caplog.records].count("could not handle an incoming message") == 1


async def test_a_message_that_fails_to_dispatch_gets_an_error_with_its_id_and_the_loop_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_dispatch = Peer._dispatch

    def dispatch(self: Peer, message: Any) -> None:
        if isinstance(message, Request) and message.method == "explode":
            raise RuntimeError("SECRET-dispatch")
        real_dispatch(self, message)

    monkeypatch.setattr(Peer, "_dispatch", dispatch)
    async with wire_to(failing_server()) as wire:
        await wire.initialize()
        answer = await wire.call("explode")
        assert answer["error"] == {"code": -32603, "message": "Internal error"}
        assert (await wire.call("ping"))["result"] == {}


async def test_a_result_that_cannot_be_encoded_is_a_masked_fault_and_the_loop_goes_on() -> None:
    async with wire_to(failing_server()) as wire:
        await wire.initialize()
        answer = await wire.call("tools/call", {"name": "unencodable", "arguments": {}})
        assert answer["result"]["isError"] is True
        assert answer["result"]["content"][0]["text"] == "Error calling tool 'unencodable'"
        assert (await wire.call("ping"))["result"] == {}


async def test_a_failing_notification_handler_neither_leaks_nor_stops_the_server() -> None:
    mcp = failing_server()
    async with wire_to(mcp) as wire:
        await wire.initialize()
        await wire.notify("notifications/roots/list_changed")
        assert (await wire.call("ping"))["result"] == {}
    async with serving(mcp, stateless=True) as (_, http):
        notice = {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}
        response = await http.post("/mcp", json=notice, headers={"accept": ACCEPT})
        assert response.status_code == 202 and "SECRET" not in response.text
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        response = await http.post("/mcp", json=ping, headers={"accept": ACCEPT})
        assert response.json()["result"] == {}
