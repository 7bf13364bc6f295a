"""The error boundary across a transport matrix: `mask_error_details` hides the text of every
unexpected exception from user code, wherever it is raised (a tool, a resource, a template, a
prompt, a completion handler, middleware on each of those methods and on a list), and each
fault gets the same answer on every transport. With masking off the exception's text reaches
the client; a `ToolError`, `ResourceError` or `PromptError` raised on purpose (by a component
or by middleware) is always sent.

The transports (`RECORDED`): in memory (the raw wire of a `ServerConnection`, and trimcp's
`Client` in both eras); stdio (a real subprocess on the test's backend); streamable HTTP with
sessions (2025-06-18 JSON and SSE answers, a 2025-03-26 batch, 2026-07-28 JSON and SSE) and
stateless (the same, the batch without a session); legacy HTTP+SSE. Memory, stdio and legacy
SSE run every fault plain, asking for progress, as 2026-07-28 requests, and (stdio, legacy
SSE) in a 2025-03-26 batch. Every fault emits progress before it raises, so where progress is
asked for, notifications precede the answer and an HTTP answer is SSE.

The expected answers are written out in `FAULTS`, so a regression shows as a diff. One server
(or process) per transport group, masking mode and backend serves every fault (`Recorder`),
and one event loop per backend serves the module; each cell then checks what its transport
recorded: the documented answer, the memory transport's answer for the same fault, and
(masked) every byte the client received for it. A cell that fails on today's code goes in
`KNOWN_INCONSISTENT` (a strict xfail), never into a weaker assertion. The module ends with the
read loop's own faults (undecodable messages, unencodable results, failing notification
handlers).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import msgspec
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp.client.client import Client as SdkClient
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference

from tests.wire import MODERN, modern_meta, serving, wire_to
from trimcp import Client
from trimcp.exceptions import McpError
from trimcp.protocol import jsonrpc
from trimcp.protocol.jsonrpc import Request
from trimcp.protocol.sse import SSEDecoder
from trimcp.runtime.peer import Peer
from trimcp.server.middleware import Middleware

pytestmark = pytest.mark.anyio

SERVER = textwrap.dedent(
    '''
    import sys

    from trimcp import FastMCP
    from trimcp.exceptions import PromptError, ResourceError, ToolError
    from trimcp.server.context import get_context
    from trimcp.server.middleware import Middleware


    async def emit(ctx=None):
        """Progress first: asked for with a progress token, it turns an HTTP answer into SSE
        (and puts a notification before the answer on every other transport)."""
        await (ctx or get_context()).report_progress(0, 1)


    class Faulty(Middleware):
        async def on_call_tool(self, context, call_next):
            if context.message.name == "mw":
                await emit(context.fastmcp_context)
                raise RuntimeError("SECRET-middleware-tool")
            if context.message.name == "mw_public":
                await emit(context.fastmcp_context)
                raise ToolError("PUBLIC-middleware-tool")
            return await call_next(context)

        async def on_read_resource(self, context, call_next):
            if context.message.uri == "mw://x":
                await emit(context.fastmcp_context)
                raise RuntimeError("SECRET-middleware-resource")
            if context.message.uri == "mw://public":
                await emit(context.fastmcp_context)
                raise ResourceError("PUBLIC-middleware-resource")
            return await call_next(context)

        async def on_list_prompts(self, context, call_next):
            await emit(context.fastmcp_context)
            raise RuntimeError("SECRET-middleware-list")

        async def on_get_prompt(self, context, call_next):
            if context.message.name == "mw_prompt":
                await emit(context.fastmcp_context)
                raise RuntimeError("SECRET-middleware-prompt")
            if context.message.name == "mw_public_prompt":
                await emit(context.fastmcp_context)
                raise PromptError("PUBLIC-middleware-prompt")
            return await call_next(context)

        async def on_request(self, context, call_next):
            # completion/complete has no hook of its own (nor has it in FastMCP)
            if context.method == "completion/complete" and context.message.argument.name == "mw":
                await emit(context.fastmcp_context)
                raise RuntimeError("SECRET-middleware-completion")
            return await call_next(context)


    def build(masked):
        mcp = FastMCP("faults", mask_error_details=masked)

        @mcp.tool
        async def boom() -> str:
            await emit()
            raise RuntimeError("SECRET-tool")

        @mcp.tool
        async def public() -> str:
            await emit()
            raise ToolError("PUBLIC-tool")

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

        @mcp.resource("res://public")
        async def public_resource() -> str:
            await emit()
            raise ResourceError("PUBLIC-resource")

        @mcp.resource("mw://x")
        def mw_resource() -> str:
            return "not reached"

        @mcp.resource("mw://public")
        def mw_public_resource() -> str:
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
        async def public_prompt() -> str:
            await emit()
            raise PromptError("PUBLIC-prompt")

        @mcp.prompt
        def mw_prompt() -> str:
            return "not reached"

        @mcp.prompt
        def mw_public_prompt() -> str:
            return "not reached"

        @mcp.completion
        async def complete(ref, argument, context):
            await emit()
            if ref.type == "ref/resource":
                raise RuntimeError("SECRET-completion-template")
            raise RuntimeError("SECRET-completion")

        mcp.add_middleware(Faulty())
        return mcp


    if __name__ == "__main__":
        build("--masked" in sys.argv).run(backend=sys.argv[1], show_banner=False)
    '''
)


def build(masked: bool) -> Any:
    namespace: dict[str, Any] = {"__name__": "faults_server"}
    exec(compile(SERVER, "faults_server", "exec"), namespace)
    return namespace["build"](masked)


# -- the faults and their documented answers ---------------------------------------------------

# What the client saw, normalized across transports and eras: ("error", code, message) for a
# JSON-RPC error (its `data` appended when there is one), ("isError", text) for a tool result.
Answer = tuple[Any, ...]

INTERNAL_ERROR = -32603
INVALID_PARAMS = -32602


def tool_error(text: str) -> Answer:
    return ("isError", text)


def error(code: int, message: str) -> Answer:
    return ("error", code, message)


@dataclass(frozen=True)
class Fault:
    method: str
    params: dict[str, Any]
    unmasked: Answer
    masked: Answer

    def answer(self, *, masked: bool) -> Answer:
        return self.masked if masked else self.unmasked


def completion_params(argument: str, ref: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "ref": ref or {"type": "ref/prompt", "name": "boom_prompt"},
        "argument": {"name": argument, "value": ""},
    }


# FastMCP's wording (shared/DESIGN.md §7, `trimcp.core.handlers.answer_fault`): an unexpected
# exception is "Error calling tool 'x'" (an isError result), "Error reading resource 'x'",
# "Error rendering prompt 'x'", "Error completing 'x'" (-32603), its text appended only when
# unmasked; one from middleware on any other method (completion/complete, a list) is its own
# text unmasked and "Internal error" masked, as the SDK answers. A ToolError/ResourceError/PromptError is its own message, always.
FAULTS: dict[str, Fault] = {
    "tool": Fault(
        "tools/call",
        {"name": "boom", "arguments": {}},
        tool_error("Error calling tool 'boom': SECRET-tool"),
        tool_error("Error calling tool 'boom'"),
    ),
    "resource": Fault(
        "resources/read",
        {"uri": "res://boom"},
        error(INTERNAL_ERROR, "Error reading resource 'res://boom': SECRET-resource"),
        error(INTERNAL_ERROR, "Error reading resource 'res://boom'"),
    ),
    "template": Fault(
        "resources/read",
        {"uri": "tpl://x"},
        error(INTERNAL_ERROR, "Error reading resource 'tpl://x': SECRET-template"),
        error(INTERNAL_ERROR, "Error reading resource 'tpl://x'"),
    ),
    "prompt": Fault(
        "prompts/get",
        {"name": "boom_prompt"},
        error(INTERNAL_ERROR, "Error rendering prompt 'boom_prompt': SECRET-prompt"),
        error(INTERNAL_ERROR, "Error rendering prompt 'boom_prompt'"),
    ),
    "completion": Fault(
        "completion/complete",
        completion_params("a"),
        error(INTERNAL_ERROR, "Error completing 'a': SECRET-completion"),
        error(INTERNAL_ERROR, "Error completing 'a'"),
    ),
    "completion-template": Fault(
        "completion/complete",
        completion_params("name", {"type": "ref/resource", "uri": "tpl://{name}"}),
        error(INTERNAL_ERROR, "Error completing 'name': SECRET-completion-template"),
        error(INTERNAL_ERROR, "Error completing 'name'"),
    ),
    "middleware-tool": Fault(
        "tools/call",
        {"name": "mw", "arguments": {}},
        tool_error("Error calling tool 'mw': SECRET-middleware-tool"),
        tool_error("Error calling tool 'mw'"),
    ),
    "middleware-resource": Fault(
        "resources/read",
        {"uri": "mw://x"},
        error(INTERNAL_ERROR, "Error reading resource 'mw://x': SECRET-middleware-resource"),
        error(INTERNAL_ERROR, "Error reading resource 'mw://x'"),
    ),
    "middleware-prompt": Fault(
        "prompts/get",
        {"name": "mw_prompt"},
        error(INTERNAL_ERROR, "Error rendering prompt 'mw_prompt': SECRET-middleware-prompt"),
        error(INTERNAL_ERROR, "Error rendering prompt 'mw_prompt'"),
    ),
    "middleware-completion": Fault(
        "completion/complete",
        completion_params("mw"),
        error(INTERNAL_ERROR, "SECRET-middleware-completion"),
        error(INTERNAL_ERROR, "Internal error"),
    ),
    "middleware-list": Fault(
        "prompts/list",
        {},
        error(INTERNAL_ERROR, "SECRET-middleware-list"),
        error(INTERNAL_ERROR, "Internal error"),
    ),
    "tool-error": Fault(
        "tools/call",
        {"name": "public", "arguments": {}},
        tool_error("PUBLIC-tool"),
        tool_error("PUBLIC-tool"),
    ),
    "resource-error": Fault(
        "resources/read",
        {"uri": "res://public"},
        error(INTERNAL_ERROR, "PUBLIC-resource"),
        error(INTERNAL_ERROR, "PUBLIC-resource"),
    ),
    "prompt-error": Fault(
        "prompts/get",
        {"name": "public_prompt"},
        error(INVALID_PARAMS, "PUBLIC-prompt"),
        error(INVALID_PARAMS, "PUBLIC-prompt"),
    ),
    "middleware-tool-error": Fault(
        "tools/call",
        {"name": "mw_public", "arguments": {}},
        tool_error("PUBLIC-middleware-tool"),
        tool_error("PUBLIC-middleware-tool"),
    ),
    "middleware-resource-error": Fault(
        "resources/read",
        {"uri": "mw://public"},
        error(INTERNAL_ERROR, "PUBLIC-middleware-resource"),
        error(INTERNAL_ERROR, "PUBLIC-middleware-resource"),
    ),
    "middleware-prompt-error": Fault(
        "prompts/get",
        {"name": "mw_public_prompt"},
        error(INVALID_PARAMS, "PUBLIC-middleware-prompt"),
        error(INVALID_PARAMS, "PUBLIC-middleware-prompt"),
    ),
}


# the text of each unexpected exception (a ToolError, ResourceError or PromptError has none)
SECRETS = {f"SECRET-{fault}" for fault in FAULTS if not fault.endswith("-error")}


def normalize(response: dict[str, Any]) -> Answer:
    """What the client got, without what only the era or transport adds (`resultType`...)."""
    if "error" in response:
        found = response["error"]
        answer = error(found["code"], found["message"])
        return (*answer, found["data"]) if "data" in found else answer
    result = response["result"]
    if result.get("isError") is not True:
        return ("result", result)
    return tool_error("\n".join(str(c.get("text")) for c in result["content"]))


# -- recording what each transport answers ---------------------------------------------------


@dataclass
class Exchange:
    """One fault's request and what came back: its JSON-RPC answer, and every byte the client
    received for it (HTTP status, headers and body; stdio lines; SSE events; notifications)."""

    answer: dict[str, Any]
    received: bytes
    request_id: Any
    sse: bool = False


@dataclass
class Transcript:
    """One transport's run of every fault."""

    exchanges: dict[str, Exchange] = field(default_factory=dict)
    wire: bytearray = field(default_factory=bytearray)  # every byte received, start to end
    stderr: bytes = b""  # stdio: the server's log
    returncode: int | None = None  # stdio: the server's exit status


Send = Callable[[bytes], Awaitable[None]]
Receive = Callable[[], Awaitable[bytes]]
ACCEPT = "application/json, text/event-stream"
INIT_PARAMS = {"capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
REQUEST_ID_BASE = 100


def with_progress(fault: str, params: dict[str, Any]) -> dict[str, Any]:
    return {**params, "_meta": {**params.get("_meta", {}), "progressToken": fault}}


def request(request_id: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


PASSES = ("", "-progress", "-modern")


async def over_messages(
    name: str,
    wire: bytearray,
    send: Send,
    receive: Receive,
    *,
    passes: tuple[str, ...] = PASSES,
) -> dict[str, Transcript]:
    """Every fault over a message transport (memory, stdio, legacy SSE), in passes: one at a
    time as `name` (pass ""); again asking for progress ("-progress"); again as 2026-07-28
    requests asking for progress ("-modern"); all in one 2025-03-26 batch ("-batch").
    `receive` returns the next message and adds what it read to `wire`: all of it from a
    request on (notifications, a POST's 202) is that fault's."""
    transcripts: dict[str, Transcript] = {}
    for number, suffix in enumerate(passes, 1):
        begin = len(wire) if transcripts else 0  # the first holds the handshake too
        transcript = transcripts[name + suffix] = Transcript()
        if suffix == "-batch":
            await send(msgspec.json.encode(batch_of_faults()))
            while isinstance(answers := msgspec.json.decode(await receive()), dict):
                assert "id" not in answers, answers  # a notification may come first
            transcript.wire += wire[begin:]
            record_batch(transcript, answers, bytes(transcript.wire))
            continue
        for request_id, (fault, spec) in enumerate(FAULTS.items(), 100 * number):
            start = len(wire)
            params = spec.params if suffix == "" else with_progress(fault, spec.params)
            if suffix == "-modern":
                params = {**params, "_meta": {**modern_meta(), **params.get("_meta", {})}}
            await send(msgspec.json.encode(request(request_id, spec.method, params)))
            while True:
                message = msgspec.json.decode(await receive())
                if isinstance(message, dict) and message.get("id") == request_id:
                    received = bytes(wire[start:])
                    transcript.exchanges[fault] = Exchange(message, received, request_id)
                    break
        transcript.wire += wire[begin:]
    return transcripts


async def record_memory(masked: bool, backend: str) -> dict[str, Transcript]:
    """A `ServerConnection` over memory streams, read as the bytes it sends."""
    wire = bytearray()
    async with wire_to(build(masked)) as peer:
        await peer.initialize()

        async def receive() -> bytes:
            data = bytes(await peer.stream.receive())
            wire.extend(data)
            return data

        return await over_messages("memory", wire, peer.send_raw, receive)


async def record_client(masked: bool, backend: str) -> dict[str, Transcript]:
    """trimcp's own `Client`, in each era: what it hands its caller (it gives no raw bytes)."""
    transcripts = {}
    for transport, protocol in (("client", "legacy"), ("client-modern", "modern")):
        transcript = transcripts[transport] = Transcript()
        async with Client(build(masked), protocol=protocol) as client:  # type: ignore[arg-type]
            for fault, spec in FAULTS.items():
                try:
                    raw = await client.session.request(spec.method, spec.params)
                except McpError as exc:
                    answer = {"id": 0, "error": msgspec.to_builtins(exc.error)}
                    received = msgspec.json.encode(answer) + repr(exc).encode()
                else:
                    answer = {"id": 0, "result": msgspec.json.decode(raw)}
                    received = bytes(raw)
                transcript.wire += received
                transcript.exchanges[fault] = Exchange(answer, received, 0)
    return transcripts


async def record_stdio(masked: bool, backend: str) -> dict[str, Transcript]:
    """A real subprocess on the test's backend, read as bytes (no trimcp code on this side)."""
    wire = bytearray()
    args = [sys.executable, "-c", SERVER, backend, *(["--masked"] if masked else [])]
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
        stdout = BufferedByteReceiveStream(process.stdout)

        async def send(data: bytes) -> None:
            await stdin.send(data + b"\n")

        async def receive() -> bytes:
            try:
                line = await stdout.receive_until(b"\n", 1 << 24)
            except (anyio.IncompleteRead, anyio.EndOfStream) as exc:
                log = b"".join(stderr)[-4000:].decode(errors="replace")
                raise AssertionError(
                    f"the stdio server's stdout ended; its stderr:\n{log}"
                ) from exc
            wire.extend(line + b"\n")
            return line

        await send(
            msgspec.json.encode(
                request(1, "initialize", {"protocolVersion": "2025-03-26", **INIT_PARAMS})
            )
        )
        assert msgspec.json.decode(await receive())["id"] == 1
        await send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        passes = (*PASSES, "-batch")
        transcripts = await over_messages("stdio", wire, send, receive, passes=passes)
        await stdin.aclose()
        returncode = await process.wait()
    for transcript in transcripts.values():
        transcript.returncode, transcript.stderr = returncode, b"".join(stderr)
    return transcripts


def http_bytes(response: Any) -> bytes:
    """What the client received: status, headers and body."""
    head = [f"{response.status_code}"] + [f"{k}: {v}" for k, v in response.headers.items()]
    return "\n".join(head).encode() + b"\n\n" + bytes(response.content)


def http_answer(response: Any) -> tuple[Any, bool]:
    """The JSON-RPC answer in an HTTP response: its JSON body, or the last message of its SSE
    stream (the others being notifications); and whether it came as SSE."""
    assert response.status_code == 200, (response.status_code, response.text)
    if response.headers["content-type"].startswith("text/event-stream"):
        events = SSEDecoder().feed(response.content)
        messages = [msgspec.json.decode(e.data) for e in events if e.data]
        assert messages and all("id" not in m for m in messages[:-1]), messages
        return messages[-1], True
    return msgspec.json.decode(response.content), False


async def post_each(
    transcript: Transcript,
    http: Any,
    headers: dict[str, str],
    *,
    modern: bool = False,
    progress: bool = False,
) -> None:
    for number, (fault, spec) in enumerate(FAULTS.items(), REQUEST_ID_BASE):
        params = with_progress(fault, spec.params) if progress else dict(spec.params)
        own = dict(headers)
        if modern:
            params["_meta"] = {**modern_meta(), **params.get("_meta", {})}
            own |= {"mcp-protocol-version": MODERN, "mcp-method": spec.method}
            name = spec.params.get("name", spec.params.get("uri"))
            if isinstance(name, str) and spec.method != "completion/complete":
                own["mcp-name"] = name
        response = await http.post("/mcp", json=request(number, spec.method, params), headers=own)
        received = http_bytes(response)
        transcript.wire += received
        answer, sse = http_answer(response)
        transcript.exchanges[fault] = Exchange(answer, received, number, sse=sse)


def batch_of_faults() -> list[dict[str, Any]]:
    return [
        request(request_id, spec.method, spec.params)
        for request_id, spec in enumerate(FAULTS.values(), REQUEST_ID_BASE)
    ]


def record_batch(transcript: Transcript, answers: list[Any], received: bytes) -> None:
    """A batch's answers, by id; every fault's received bytes are the whole reply."""
    by_id = {answer["id"]: answer for answer in answers}
    for request_id, fault in enumerate(FAULTS, REQUEST_ID_BASE):
        transcript.exchanges[fault] = Exchange(by_id[request_id], received, request_id)


async def post_batch(transcript: Transcript, http: Any, headers: dict[str, str]) -> None:
    response = await http.post(
        "/mcp", json=batch_of_faults(), headers={"accept": ACCEPT, **headers}
    )
    assert response.status_code == 200, response.text
    received = http_bytes(response)
    transcript.wire += received
    record_batch(transcript, msgspec.json.decode(response.content), received)


async def initialize_http(http: Any, version: str) -> dict[str, str]:
    """A handshake-era session: the headers its requests carry."""
    body = request(1, "initialize", {"protocolVersion": version, **INIT_PARAMS})
    response = await http.post("/mcp", json=body, headers={"accept": ACCEPT})
    assert response.status_code == 200, response.text
    headers = {
        "accept": ACCEPT,
        "mcp-session-id": response.headers["mcp-session-id"],
        "mcp-protocol-version": version,
    }
    notice = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post("/mcp", json=notice, headers=headers)).status_code == 202
    return headers


async def record_http(masked: bool, backend: str) -> dict[str, Transcript]:
    """One server with sessions: a 2025-06-18 session (JSON answers, then SSE ones), a
    2025-03-26 session's batch, and 2026-07-28 requests (JSON, then SSE)."""
    names = ("http-json", "http-sse", "http-batch", "modern-json", "modern-sse")
    transcripts = {name: Transcript() for name in names}
    async with serving(build(masked)) as (address, http):
        session = await initialize_http(http, "2025-06-18")
        await post_each(transcripts["http-json"], http, session)
        await post_each(transcripts["http-sse"], http, session, progress=True)
        await post_batch(transcripts["http-batch"], http, await initialize_http(http, "2025-03-26"))
        await post_each(transcripts["modern-json"], http, {"accept": ACCEPT}, modern=True)
        await post_each(
            transcripts["modern-sse"], http, {"accept": ACCEPT}, modern=True, progress=True
        )
        await record_sdk(transcripts, f"http://127.0.0.1:{address.port}/mcp")
    return transcripts


async def sdk_request(client: Any, method: str, params: dict[str, Any]) -> Any:
    """`method` through the official SDK client's own API."""
    if method == "tools/call":
        return await client.call_tool(params["name"], params["arguments"])
    if method == "resources/read":
        return await client.read_resource(params["uri"])
    if method == "prompts/get":
        return await client.get_prompt(params["name"])
    if method == "prompts/list":
        return await client.list_prompts()
    assert method == "completion/complete", method
    ref: PromptReference | ResourceTemplateReference
    if params["ref"]["type"] == "ref/prompt":
        ref = PromptReference(type="ref/prompt", name=params["ref"]["name"])
    else:
        ref = ResourceTemplateReference(type="ref/resource", uri=params["ref"]["uri"])
    return await client.complete(ref, params["argument"])


async def record_sdk(transcripts: dict[str, Transcript], url: str) -> None:
    """The official `mcp` SDK's client (an independent peer), in each era: what it hands its
    caller, as JSON (it gives no raw bytes)."""
    for name, mode in (("sdk", "legacy"), ("sdk-modern", "auto")):
        transcript = transcripts[name] = Transcript()
        async with SdkClient(url, mode=mode) as client:
            assert (client.session.protocol_version == MODERN) == (mode == "auto")
            for fault, spec in FAULTS.items():
                try:
                    result = await sdk_request(client, spec.method, spec.params)
                except MCPError as exc:
                    answer = {"id": 0, "error": exc.error.model_dump(exclude_none=True)}
                    received = msgspec.json.encode(answer) + repr(exc).encode()
                else:
                    dumped = result.model_dump(mode="json", by_alias=True, exclude_none=True)
                    answer = {"id": 0, "result": dumped}
                    received = msgspec.json.encode(answer)
                transcript.wire += received
                transcript.exchanges[fault] = Exchange(answer, received, 0)


async def record_stateless(masked: bool, backend: str) -> dict[str, Transcript]:
    """One stateless server: handshake-era requests without a session (JSON, SSE), a batch,
    and 2026-07-28 requests (JSON, SSE)."""
    names = (
        "stateless-json",
        "stateless-sse",
        "stateless-batch",
        "stateless-modern-json",
        "stateless-modern-sse",
    )
    transcripts = {name: Transcript() for name in names}
    async with serving(build(masked), stateless=True) as (_, http):
        headers = {"accept": ACCEPT, "mcp-protocol-version": "2025-06-18"}
        await post_each(transcripts["stateless-json"], http, headers)
        await post_each(transcripts["stateless-sse"], http, headers, progress=True)
        await post_batch(transcripts["stateless-batch"], http, {})
        modern = {"accept": ACCEPT}
        await post_each(transcripts["stateless-modern-json"], http, modern, modern=True)
        await post_each(
            transcripts["stateless-modern-sse"], http, modern, modern=True, progress=True
        )
    return transcripts


@asynccontextmanager
async def legacy_sse_session(
    http: Any, version: str
) -> AsyncIterator[tuple[bytearray, Send, Receive]]:
    """A legacy HTTP+SSE session of `version`: its wire, and how to send and receive on it
    (requests POSTed, each answered 202; answers on the GET stream)."""
    wire = bytearray()
    async with http.stream("GET", "/sse", headers={"accept": "text/event-stream"}) as stream:
        decoder = SSEDecoder()
        chunks = stream.aiter_bytes()
        pending: list[Any] = []

        async def next_event() -> Any:
            while not pending:
                chunk = await chunks.__anext__()
                wire.extend(chunk)
                pending.extend(decoder.feed(chunk))
            return pending.pop(0)

        endpoint = (await next_event()).data

        async def send(data: bytes) -> None:
            response = await http.post(
                endpoint, content=data, headers={"content-type": "application/json"}
            )
            wire.extend(http_bytes(response))
            assert response.status_code == 202, response.text

        async def receive() -> bytes:
            return str((await next_event()).data).encode()

        body = request(1, "initialize", {"protocolVersion": version, **INIT_PARAMS})
        await send(msgspec.json.encode(body))
        assert msgspec.json.decode(await receive())["id"] == 1
        await send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        yield wire, send, receive


async def record_legacy_sse(masked: bool, backend: str) -> dict[str, Transcript]:
    """One legacy HTTP+SSE server: a 2024-11-05 session, and a 2025-03-26 one for a batch
    (2024-11-05 has none)."""
    async with serving(build(masked), transport="sse") as (_, http):
        async with legacy_sse_session(http, "2024-11-05") as (wire, send, receive):
            transcripts = await over_messages("legacy-sse", wire, send, receive)
        async with legacy_sse_session(http, "2025-03-26") as (wire, send, receive):
            passes = ("-batch",)
            transcripts |= await over_messages("legacy-sse", wire, send, receive, passes=passes)
    return transcripts


Recording = Callable[[bool, str], Awaitable[dict[str, Transcript]]]
# each recording and the transports it records, one server (or process) for all of them
RECORDED: dict[Recording, tuple[str, ...]] = {
    record_memory: ("memory", "memory-progress", "memory-modern"),
    record_client: ("client", "client-modern"),
    record_stdio: ("stdio", "stdio-progress", "stdio-modern", "stdio-batch"),
    record_http: (
        "http-json",
        "http-sse",
        "http-batch",
        "modern-json",
        "modern-sse",
        "sdk",
        "sdk-modern",
    ),
    record_stateless: (
        "stateless-json",
        "stateless-sse",
        "stateless-batch",
        "stateless-modern-json",
        "stateless-modern-sse",
    ),
    record_legacy_sse: (
        "legacy-sse",
        "legacy-sse-progress",
        "legacy-sse-modern",
        "legacy-sse-batch",
    ),
}
RECORDINGS = {name: recording for recording, names in RECORDED.items() for name in names}
TRANSPORTS = list(RECORDINGS)
# every fault emits progress before it raises: asked for, it makes the answer SSE (lazy SSE)
SSE_TRANSPORTS = {"http-sse", "modern-sse", "stateless-sse", "stateless-modern-sse"}
HTTP_TRANSPORTS = {*RECORDED[record_http], *RECORDED[record_stateless]} - {"sdk", "sdk-modern"}


class Recorder:
    """Each recording run once per backend and masking mode, and kept for the module's cells:
    one server (or process) per transport group, not one per cell. A recording that fails
    fails every cell that needs it, with its cause."""

    def __init__(self) -> None:
        self.done: dict[tuple[str, bool, Recording], dict[str, Transcript] | BaseException] = {}

    async def transcript(self, backend: str, masked: bool, transport: str) -> Transcript:
        recording = RECORDINGS[transport]
        key = (backend, masked, recording)
        if key not in self.done:
            try:
                with anyio.fail_after(30):
                    self.done[key] = await recording(masked, backend)
            except Exception as exc:
                self.done[key] = exc
        found = self.done[key]
        if isinstance(found, BaseException):
            raise AssertionError(f"recording {transport} failed: {found!r}") from found
        return found[transport]


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Module-scoped here (tests/conftest.py's is per test): one event loop per backend for
    the module's 1,600 cells instead of one per cell."""
    return str(request.param)


@pytest.fixture(scope="module")
async def recorder(anyio_backend: str) -> AsyncIterator[Recorder]:
    # async, so that it holds anyio's test runner (its event loop) for the whole module
    yield Recorder()


MASKING = pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])

# (transport, fault, masked) -> why that cell fails on today's code; each is an
# xfail(strict=True), so the fix that makes it pass must remove it. Empty: every cell passes.
KNOWN_INCONSISTENT: dict[tuple[str, str, bool], str] = {}


def cells() -> list[Any]:
    found = []
    for transport in TRANSPORTS:
        for fault in FAULTS:
            for masked in (True, False):
                reason = KNOWN_INCONSISTENT.get((transport, fault, masked))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                cell = f"{transport}-{fault}-{'masked' if masked else 'unmasked'}"
                found.append(pytest.param(transport, fault, masked, marks=marks, id=cell))
    return found


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize(("transport", "fault", "masked"), cells())
async def test_each_fault_gets_its_documented_answer_on_every_transport(
    recorder: Recorder, anyio_backend: str, masked: bool, transport: str, fault: str
) -> None:
    with anyio.fail_after(60):
        seen = (await recorder.transcript(anyio_backend, masked, transport)).exchanges[fault]
        reference = (await recorder.transcript(anyio_backend, masked, "memory")).exchanges[fault]
    answer = normalize(seen.answer)
    assert answer == FAULTS[fault].answer(masked=masked)
    assert answer == normalize(reference.answer)  # the same on every transport
    assert seen.answer.get("id") == seen.request_id
    if masked:
        assert b"SECRET" not in seen.received


@MASKING
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_masking_server_sends_no_secret_on_any_transport(
    recorder: Recorder, anyio_backend: str, masked: bool, transport: str
) -> None:
    """Every byte the client received, from its first to its last (the handshake, every
    notification), and the server's own log: the secrets are logged, never sent."""
    with anyio.fail_after(60):
        transcript = await recorder.transcript(anyio_backend, masked, transport)
    assert list(transcript.exchanges) == list(FAULTS)
    if masked:
        assert b"SECRET" not in transcript.wire
    else:  # each unexpected exception's text reached the client
        assert {s for s in SECRETS if s.encode() in transcript.wire} == SECRETS
    if transport.startswith("stdio"):
        assert transcript.returncode == 0
        # each logged server-side, with its traceback, even where masked
        assert {s for s in SECRETS if s.encode() in transcript.stderr} == SECRETS
        assert transcript.stderr.count(b"Traceback") >= 2 * len(SECRETS)


@MASKING
@pytest.mark.parametrize("transport", sorted(HTTP_TRANSPORTS - {"http-batch", "stateless-batch"}))
async def test_http_answers_are_sse_exactly_where_progress_came_first(
    recorder: Recorder, anyio_backend: str, masked: bool, transport: str
) -> None:
    with anyio.fail_after(60):
        transcript = await recorder.transcript(anyio_backend, masked, transport)
    sse = {fault for fault, exchange in transcript.exchanges.items() if exchange.sse}
    assert sse == (set(FAULTS) if transport in SSE_TRANSPORTS else set())


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
    mcp.roots_changed = roots_changed

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
