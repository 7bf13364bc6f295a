"""A live fuzzer: random and mutated messages against a running trimcp server, for a bounded
time, over streamable HTTP and stdio, on asyncio and trio.

```sh
python bench/fuzz.py --seconds 60                          # both backends, both transports
python bench/fuzz.py --seconds 10 --backend trio --transport stdio --seed 7
python bench/fuzz.py --replay bench/results/fuzz/<fault>.json   # re-run one reproducer
```

The server is `examples/everything.py`'s `mcp` (every tool, resource, prompt and completion
the conformance suite calls), started in a subprocess by this same script (`--serve`): over
HTTP with `run_http_async` on port 0, over stdio with `run_stdio_async`.

What is sent (each message records the names of the mutations it carries, so a fault says
what provoked it and `--exclude NAME` can leave a kind out):

- valid MCP messages of both eras: `initialize`, `ping`, `tools/list|call`,
  `resources/list|read|templates/list|subscribe|unsubscribe`, `prompts/list|get`,
  `completion/complete`, `logging/setLevel`, `server/discover`, notifications, 2026-07-28
  requests carrying `_meta`, MRTR retries with forged `requestState`, batches;
- the same with fields deleted, retyped or duplicated, bad ids, huge strings, deep nesting,
  lone surrogates, invalid UTF-8, random bytes, truncation, trailing garbage;
- over HTTP also: wrong methods, paths and content types, odd `Accept`, garbage
  `Mcp-Session-Id`, `Last-Event-ID`, `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, foreign
  and duplicate `Origin`, huge headers, and on a raw socket: truncated bodies, lying
  `Content-Length`, broken chunked encoding, pipelining, connections closed mid-request.

The oracle (a fault is any of these):

- `died`: the server process exits;
- `http-5xx`: an HTTP answer with status 500 or more;
- `no-answer`: no answer within `--timeout` (an HTTP response, or on stdio a JSON-RPC
  response for each request with an id);
- `malformed`: a stdio line that is not a well-formed JSON-RPC message, or an error whose
  code is not an integer outside JSON-RPC's reserved range (or one of its defined codes);
- `traceback`: the server's stderr shows a `Traceback`;
- `unresponsive`: a health probe (a valid request on a fresh connection) fails;
- `memory`: the RSS at the end exceeds the RSS after warm-up by more than `--rss-growth-mb`;
- `bad-exit`: on stdio, closing stdin does not end the server promptly with status 0.

Every fault is saved once per signature (kind + what it said) to `--out` as a JSON reproducer:
the one message that provoked it, the 20 before it (for faults that need history) and the
sessions it used. At the end of the run each is replayed against a fresh server, alone, then
with its history; the summary says whether and how it reproduced. One that reproduces alone is
then shrunk (`shrink`): the smallest message found that still gives the same fault is saved.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import hashlib
import json
import queue
import random
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
MODERN = "2026-07-28"
HANDSHAKE_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
META_PREFIX = "io.modelcontextprotocol/"

# JSON-RPC 2.0: -32768..-32000 is reserved; only these and the server range are defined in it
_DEFINED_CODES = {-32700, -32600, -32601, -32602, -32603}

# tools that finish on their own; the others ask the client something (sampling, elicitation)
# or close their stream (test_reconnection): over handshake-era HTTP this fuzzer does not answer
# the server's requests, so they are sent only where the server cannot wait on the client
SIMPLE_TOOLS = [
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "test_error_handling",
    "json_schema_2020_12_tool",
]
ASKING_TOOLS = [
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "test_reconnection",
]
PROMPTS = [
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
]
URIS = [
    "test://static-text",
    "test://static-binary",
    "test://watched-resource",
    "test://template/7/data",
    "test://template/../data",
    "test://template/%2e%2e/data",
    "test://template/..%2F..%2Fetc%2Fpasswd/data",
    "test://template/a%00b/data",
    "test://template//data",
    "file:///etc/passwd",
    "test://nope",
    "",
]


# what a raw socket can do that an HTTP client will not (tagged `raw:<kind>`)
RAW_KINDS = [
    "truncated-body",  # Content-Length more than is sent, then the end of the stream
    "close-mid-request",  # the whole request sent, the connection closed at once
    "close-mid-headers",  # part of the head sent, the connection closed
    "lying-length",  # Content-Length 0, shorter or longer than the body, or 2**63
    "bad-chunked",  # Transfer-Encoding: chunked with broken chunks
    "pipelined",  # two requests in one write
    "non-latin1-header",  # a header value in UTF-8
]


# -- serving (`--serve`) ----------------------------------------------------------------------


def serve(transport: str, backend: str) -> None:
    """The server under test: `examples/everything.py`'s `mcp`, as a user would run it."""
    import anyio

    sys.path.insert(0, str(EXAMPLES))
    from everything import mcp  # type: ignore[import-not-found]

    if transport == "stdio":
        mcp.run(transport="stdio", show_banner=False, backend=backend)
        return

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            address = await tg.start(
                lambda task_status: mcp.run_http_async(
                    host="127.0.0.1", port=0, show_banner=False, task_status=task_status
                )
            )
            print(f"PORT {address.port}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(main, backend=backend)


# -- encoding what is sent --------------------------------------------------------------------


class Raw:
    """Bytes spliced verbatim into the encoded message (deep nesting, duplicate keys...)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class Pairs(list):  # type: ignore[type-arg]
    """A JSON object written as its (key, value) pairs: keys may repeat."""


def encode(value: Any) -> bytes:
    """JSON, with `Raw` and `Pairs`; strings go out as UTF-8 with lone surrogates kept (as
    invalid UTF-8 bytes) so the server meets them as a client could send them."""
    spliced: dict[bytes, bytes] = {}

    def prepare(item: Any) -> Any:
        if isinstance(item, Pairs):
            inner = b",".join(encode(str(k)) + b":" + encode(v) for k, v in item)
            item = Raw(b"{" + inner + b"}")
        if isinstance(item, Raw):
            token = f"@@fuzz-raw-{len(spliced)}@@"
            spliced[f'"{token}"'.encode()] = item.data
            return token
        if isinstance(item, dict):
            return {k: prepare(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [prepare(v) for v in item]
        return item

    out = json.dumps(prepare(value), ensure_ascii=False).encode("utf-8", "surrogatepass")
    for token, data in spliced.items():
        out = out.replace(token, data, 1)
    return out


def modern_meta(rng: random.Random) -> dict[str, Any]:
    return {
        META_PREFIX + "protocolVersion": MODERN,
        META_PREFIX + "clientCapabilities": rng.choice(
            [{}, {"sampling": {}, "elicitation": {"form": {}}}, {"roots": {}}]
        ),
        META_PREFIX + "clientInfo": {"name": "fuzz", "version": "0"},
    }


# -- generating messages ----------------------------------------------------------------------


@dataclass
class Message:
    """One thing sent: a JSON-RPC payload plus, over HTTP, how it travels."""

    body: bytes
    tags: list[str]
    era: str  # "handshake" | "modern" | "none"
    method: str | None = None  # the JSON-RPC method before mutation
    http_method: str = "POST"
    path: str = "/mcp"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    raw: str | None = None  # a raw-socket action, see HttpDriver._send_raw
    expect_answer: bool = True  # over HTTP: an answer is due (not so for a GET stream)

    def describe(self) -> dict[str, Any]:
        return {
            "tags": self.tags,
            "era": self.era,
            "method": self.method,
            "http_method": self.http_method,
            "path": self.path,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            "raw": self.raw,
            "expect_answer": self.expect_answer,
            "body_b64": base64.b64encode(self.body).decode(),
            "body_preview": self.body[:300].decode("utf-8", "backslashreplace"),
            "body_len": len(self.body),
        }

    @classmethod
    def from_description(cls, d: dict[str, Any]) -> Message:
        return cls(
            body=base64.b64decode(d["body_b64"]),
            tags=d["tags"],
            era=d["era"],
            method=d.get("method"),
            http_method=d["http_method"],
            path=d["path"],
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in d["headers"]],
            raw=d.get("raw"),
            expect_answer=d.get("expect_answer", True),
        )


class Generator:
    """Messages from a seed: the same seed and options give the same sequence."""

    def __init__(self, seed: int, *, transport: str, exclude: set[str]) -> None:
        self.rng = random.Random(seed)
        self.transport = transport
        self.exclude = exclude
        self.ids = 0

    def allowed(self, tag: str) -> bool:
        return tag not in self.exclude

    def next_id(self) -> int | str:
        self.ids += 1
        return self.ids if self.rng.random() < 0.8 else f"fz-{self.ids}"

    # -- valid messages --

    def params_for(self, method: str, era: str) -> dict[str, Any] | None:
        rng = self.rng
        tools = SIMPLE_TOOLS + (
            ASKING_TOOLS if self.transport == "stdio" or era == "modern" else []
        )
        if method == "initialize":
            return {
                "protocolVersion": rng.choice([*HANDSHAKE_VERSIONS, MODERN, "1999-01-01", "x"]),
                "capabilities": rng.choice(
                    [{}, {"sampling": {}}, {"roots": {"listChanged": True}}]
                ),
                "clientInfo": {"name": "fuzz", "version": "0"},
            }
        if method == "tools/call":
            name = rng.choice([*tools, "no_such_tool"])
            arguments: dict[str, Any] = {}
            if name == "json_schema_2020_12_tool":
                arguments = {"name": "Ada", "address": {"street": "1 Main", "city": "Paris"}}
            elif name == "test_sampling":
                arguments = {"prompt": "hi"}
            elif name == "test_elicitation":
                arguments = {"message": "who?"}
            params: dict[str, Any] = {"name": name, "arguments": arguments}
            if rng.random() < 0.3:
                params["_meta"] = {"progressToken": rng.choice([1, "p", None, {"x": 1}])}
            if era == "modern" and rng.random() < 0.2:  # an MRTR retry with forged state
                params["requestState"] = rng.choice(["", "AAAA", "x" * 64, "e30.e30.sig"])
                params["inputResponses"] = rng.choice(
                    [{}, {"a": {"action": "accept", "content": {}}}, [], "x"]
                )
            return params
        if method in ("resources/read", "resources/subscribe", "resources/unsubscribe"):
            return {"uri": rng.choice(URIS)}
        if method == "prompts/get":
            name = rng.choice([*PROMPTS, "nope"])
            args: dict[str, Any] = {}
            if name == "test_prompt_with_arguments":
                args = {"arg1": "a", "arg2": "b"}
            elif name == "test_prompt_with_embedded_resource":
                args = {"resourceUri": rng.choice(URIS)}
            return {"name": name, "arguments": args}
        if method == "completion/complete":
            return {
                "ref": rng.choice(
                    [
                        {"type": "ref/prompt", "name": "test_prompt_with_arguments"},
                        {"type": "ref/resource", "uri": "test://template/{id}/data"},
                        {"type": "ref/nope"},
                    ]
                ),
                "argument": {"name": rng.choice(["arg1", "arg2", "id", "x"]), "value": "pa"},
            }
        if method == "logging/setLevel":
            return {"level": rng.choice(["debug", "info", "error", "emergency", "loud"])}
        if method in ("tools/list", "resources/list", "prompts/list", "resources/templates/list"):
            return rng.choice([{}, {"cursor": rng.choice(["", "x", "999", "-1"])}])
        if method == "notifications/cancelled":
            return {"requestId": rng.choice([1, 2, "fz-1", None]), "reason": "fuzz"}
        if method == "notifications/progress":
            return {"progressToken": 1, "progress": rng.choice([0, 1.5, -1, "x"])}
        return None

    METHODS = [
        "initialize",
        "ping",
        "tools/list",
        "tools/call",
        "tools/call",
        "tools/call",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
        "server/discover",
        "notifications/initialized",
        "notifications/cancelled",
        "notifications/progress",
        "notifications/roots/list_changed",
    ]

    def valid(self, era: str) -> tuple[dict[str, Any], str]:
        method = self.rng.choice(self.METHODS)
        message: dict[str, Any] = {"jsonrpc": "2.0"}
        if not method.startswith("notifications/"):
            message["id"] = self.next_id()
        message["method"] = method
        params = self.params_for(method, era)
        if era == "modern":
            params = dict(params or {})
            params["_meta"] = {**modern_meta(self.rng), **params.get("_meta", {})}
        if params is not None:
            message["params"] = params
        return message, method

    # -- structural mutations (on the decoded message) --

    def junk_value(self) -> Any:
        rng = self.rng
        return rng.choice(
            [
                None,
                True,
                0,
                -1,
                2**63,
                10**400,
                1e308,
                -0.0,
                "",
                "x",
                [],
                {},
                [None],
                {"": None},
                "\u0000",
                "\ud800",
                "é" * 3,
            ]
        )

    def _paths(self, value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        if isinstance(value, dict):
            for key, val in value.items():
                yield (*prefix, key)
                yield from self._paths(val, (*prefix, key))
        elif isinstance(value, list):
            for i, val in enumerate(value):
                yield (*prefix, i)
                yield from self._paths(val, (*prefix, i))

    def _pick_path(self, message: dict[str, Any]) -> tuple[Any, ...] | None:
        paths = list(self._paths(message))
        return self.rng.choice(paths) if paths else None

    @staticmethod
    def _parent(message: Any, path: tuple[Any, ...]) -> Any:
        for key in path[:-1]:
            message = message[key]
        return message

    def mutate(self, message: dict[str, Any], tags: list[str]) -> Any:
        rng = self.rng
        choices = [
            "delete-field",
            "retype-field",
            "duplicate-key",
            "huge-string",
            "deep-nesting",
            "lone-surrogate",
            "bad-id",
            "bad-jsonrpc",
            "bad-method",
            "batch",
            "wide-object",
        ]
        choices = [c for c in choices if self.allowed(c)]
        result: Any = message
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            if not choices:
                break
            kind = rng.choice(choices)
            if not isinstance(result, dict):
                break
            path = self._pick_path(result)
            if kind == "delete-field" and path:
                del self._parent(result, path)[path[-1]]
            elif kind == "retype-field" and path:
                self._parent(result, path)[path[-1]] = self.junk_value()
            elif kind == "duplicate-key":
                target = result.get("params") if rng.random() < 0.5 else result
                if not isinstance(target, dict) or not target:
                    target = result
                if not target:  # every field deleted by an earlier mutation
                    continue
                key = rng.choice(list(target))
                pairs = Pairs([*target.items(), (key, self.junk_value())])
                if rng.random() < 0.5:
                    pairs.reverse()
                if target is result:
                    result = pairs
                else:
                    result["params"] = pairs
                tags.append(kind)
                break  # a Pairs is final: no further dict mutation
            elif kind == "huge-string" and path:
                size = rng.choice([10_000, 100_000, 1_000_000, 4_000_000])
                char = rng.choice(["A", "é", "\u2028", "\\", '"', "\u0000", "😀"])
                self._parent(result, path)[path[-1]] = char * (size // len(char.encode()))
            elif kind == "deep-nesting":
                depth = rng.choice([100, 1_000, 10_000, 100_000])
                opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
                nested = Raw(opener * depth + b"1" + closer * depth)
                if path and rng.random() < 0.7:
                    self._parent(result, path)[path[-1]] = nested
                else:
                    result["params"] = nested
            elif kind == "lone-surrogate" and path:
                self._parent(result, path)[path[-1]] = rng.choice(
                    ["\ud800", "a\udfffb", "\udc00\ud800", "\ud83d"]
                )
            elif kind == "bad-id":
                result["id"] = rng.choice(
                    [None, True, 1.5, -1, 2**64, 10**30, {}, [], "", "x" * 10_000]
                )
            elif kind == "bad-jsonrpc":
                result["jsonrpc"] = rng.choice(["1.0", 2.0, None, "", "2.0 "])
            elif kind == "bad-method":
                result["method"] = rng.choice(
                    ["", "rpc.discover", "x" * 5000, "tools/", "/", None, 1, "notifications/"]
                )
            elif kind == "batch":
                size = rng.choice([0, 1, 2, 5, 50])
                items: list[Any] = [result]
                for _ in range(size):
                    other, _method = self.valid("handshake")
                    items.append(other if rng.random() < 0.7 else self.junk_value())
                result = items if size else []  # an empty batch is its own case
                tags.append(kind)
                break
            elif kind == "wide-object" and path:
                width = rng.choice([1_000, 50_000])
                self._parent(result, path)[path[-1]] = {f"k{i}": i for i in range(width)}
            else:
                continue
            tags.append(kind)
        return result

    # -- byte mutations (on the encoded message) --

    def mutate_bytes(self, body: bytes, tags: list[str]) -> bytes:
        rng = self.rng
        choices = [
            c
            for c in ("invalid-utf8", "truncate", "random-bytes", "trailing-garbage", "bom")
            if self.allowed(c)
        ]
        if not choices:
            return body
        kind = rng.choice(choices)
        tags.append(kind)
        if kind == "invalid-utf8":
            bad = rng.choice(
                [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80"]
            )
            quote = [m.start() for m in re.finditer(rb'"', body)]
            at = rng.choice(quote) + 1 if quote else rng.randrange(len(body) + 1)
            return body[:at] + bad + body[at:]
        if kind == "truncate":
            return body[: rng.randrange(len(body) + 1)]
        if kind == "random-bytes":
            return rng.randbytes(rng.choice([0, 1, 16, 1024, 65_536]))
        if kind == "trailing-garbage":
            return body + rng.choice([b"x", b"{}", b" \x00", b"]", b'{"jsonrpc":"2.0"}'])
        return b"\xef\xbb\xbf" + body  # bom

    def payload(self, era: str) -> tuple[bytes, list[str], str]:
        message, method = self.valid(era)
        tags: list[str] = []
        rng = self.rng
        shaped: Any = message
        if rng.random() < 0.6:
            shaped = self.mutate(message, tags)
        body = encode(shaped)
        if rng.random() < 0.15:
            body = self.mutate_bytes(body, tags)
        return body, tags, method

    # -- HTTP shaping --

    def http_message(self, sessions: list[tuple[str, str]]) -> Message:
        """A request: body, method, path and headers, any of them possibly odd."""
        rng = self.rng
        era = "modern" if rng.random() < 0.35 else "handshake"
        body, tags, method = self.payload(era)
        msg = Message(body=body, tags=tags, era=era, method=method)
        headers: dict[bytes, list[bytes]] = {
            b"content-type": [b"application/json"],
            b"accept": [b"application/json, text/event-stream"],
        }
        if era == "handshake" and sessions and method != "initialize":
            sid, version = rng.choice(sessions)
            headers[b"mcp-session-id"] = [sid.encode()]
            headers[b"mcp-protocol-version"] = [version.encode()]
        elif era == "modern":
            headers[b"mcp-protocol-version"] = [MODERN.encode()]
            headers[b"mcp-method"] = [method.encode()]
            name = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}.get(
                method
            )
            if name:
                try:
                    value = json.loads(body)["params"][name]
                    if isinstance(value, str) and value.isascii() and value.isprintable():
                        headers[b"mcp-name"] = [value.encode()]
                except Exception:
                    pass

        def odd(tag: str, probability: float) -> bool:
            if self.allowed(tag) and rng.random() < probability:
                tags.append(tag)
                return True
            return False

        if odd("content-type", 0.05):
            headers[b"content-type"] = [
                rng.choice(
                    [b"text/plain", b"application/json; charset=latin-1", b"", b"\xff/\xfe", b"*/*"]
                )
            ]
        if odd("accept", 0.05):
            headers[b"accept"] = [
                rng.choice([b"application/json", b"text/event-stream", b"*/*", b"", b"x\x00y"])
            ]
        if odd("session-id", 0.06):
            headers[b"mcp-session-id"] = [
                rng.choice(
                    [b"", b"x", b"\xff\xfe", b"0" * 8192, b"../../etc", b"a b", b"%00", b"\x7f"]
                )
            ]
        if odd("protocol-version", 0.06):
            headers[b"mcp-protocol-version"] = [
                rng.choice(
                    [b"", b"2025-13-45", b"9999-99-99", b"\xe9", b"2026-07-28x", b"x" * 4000]
                )
            ]
        if odd("mcp-method-header", 0.05):
            headers[b"mcp-method"] = [
                rng.choice(
                    [b"", b"tools/list", b"=?base64?!!!?=", b"=?base64?dG9vbHMvY2FsbA==?=", b"\xff"]
                )
            ]
        if odd("mcp-name-header", 0.05):
            headers[b"mcp-name"] = [
                rng.choice([b"", b"=?base64?AAAA?=", b"=?base64?%%%?=", b"\xfe", b"x" * 9000])
            ]
        if odd("last-event-id", 0.05):
            sid = rng.choice(sessions)[0].encode() if sessions else b"s"
            headers[b"last-event-id"] = [
                rng.choice(
                    [
                        sid + b".0.\xb2",
                        sid + b".0." + b"9" * 5000,
                        sid + b".-1.-1",
                        b"\xff",
                        b"",
                        b"1",
                        sid + b"." * 50,
                    ]
                )
            ]
            if rng.random() < 0.5:
                msg.http_method = "GET"
        if odd("foreign-origin", 0.03):
            headers[b"origin"] = [b"http://evil.example"]
        if odd("duplicate-origin", 0.03):
            headers[b"origin"] = [
                rng.choice([b"http://evil.example", b"null"]),
                b"http://localhost",
            ]
        if odd("huge-header", 0.02):
            headers[b"x-fuzz"] = [b"h" * rng.choice([8_000, 64_000, 200_000])]
        if odd("http-method", 0.05):
            msg.http_method = rng.choice(["GET", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"])
        if odd("path", 0.03):
            msg.path = rng.choice(
                ["/", "/mcp/", "/MCP", "/mcp?x=%ff", "/mcp/../mcp", "/" + "a" * 9000]
            )
        if msg.http_method in ("GET",) and msg.path.startswith("/mcp"):
            headers[b"accept"] = [b"text/event-stream"]
            msg.expect_answer = True  # the head is due; the stream itself may stay open
        msg.headers = [(k, v) for k, values in headers.items() for v in values]
        raw_kinds = [kind for kind in RAW_KINDS if self.allowed("raw:" + kind)]
        if raw_kinds and self.allowed("raw") and rng.random() < 0.15:
            msg.raw = rng.choice(raw_kinds)
            tags.append("raw:" + msg.raw)
        return msg


# -- the server process -----------------------------------------------------------------------

_LIVE: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _kill_live_servers() -> None:
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)


class Server:
    """One server subprocess: its stderr in a file, its RSS from /proc."""

    def __init__(self, backend: str, transport: str, workdir: Path) -> None:
        self.backend = backend
        self.transport = transport
        workdir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = workdir / f"server-{backend}-{transport}-{time.time_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                transport,
                "--backend",
                backend,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=REPO,
        )
        _LIVE.add(self.proc)
        self._stderr_seen = 0
        self.port = 0
        if transport == "http":
            assert self.proc.stdout is not None
            ready, _, _ = select.select([self.proc.stdout], [], [], 30)
            line = self.proc.stdout.readline() if ready else b""
            if not line.startswith(b"PORT "):
                self.stop()
                raise RuntimeError(f"server did not start: {line!r} {self.stderr_tail()}")
            self.port = int(line.split()[1])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kb(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def new_stderr(self) -> str:
        with self.stderr_path.open("rb") as f:
            f.seek(self._stderr_seen)
            data = f.read()
        self._stderr_seen += len(data)
        return data.decode("utf-8", "replace")

    def peek_stderr(self) -> str:
        with self.stderr_path.open("rb") as f:
            f.seek(self._stderr_seen)
            return f.read().decode("utf-8", "replace")

    def stderr_tail(self, size: int = 20_000) -> str:
        return self.stderr_path.read_bytes()[-size:].decode("utf-8", "replace")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stderr.close()
        _LIVE.discard(self.proc)
        return self.proc.returncode


# -- faults -----------------------------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    detail: str
    signature: str
    backend: str
    transport: str
    message: Message | None
    history: list[Message]
    setup: list[Message]
    sessions: list[tuple[str, str]] = field(default_factory=list)  # HTTP: (id, version)
    count: int = 1
    path: Path | None = None
    reproduced: str | None = None
    shrunk: tuple[int, int] | None = None  # bytes of the message (and headers) before, after


def traceback_signature(text: str) -> str:
    """What a logged traceback (or exception group) says: its innermost exception type that
    is not a group, and the last trimcp frame before it."""
    lines = [line.strip().lstrip("|").strip() for line in text.splitlines()]
    exc_at, exc_type = -1, "?"
    for i, line in enumerate(lines):
        match = re.match(
            r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning))(?::|$)", line
        )
        if match and not match.group(1).endswith("ExceptionGroup"):
            exc_at, exc_type = i, match.group(1)
    frames = [
        (Path(m.group(1)).name, m.group(2))
        for line in (lines[:exc_at] if exc_at >= 0 else lines)
        if (m := re.match(r'File "([^"]*(?:trimcp|everything)[^"]*)", line \d+, in (\w+)', line))
    ]
    where = f"{frames[-1][0]}:{frames[-1][1]}" if frames else "?"
    return f"{exc_type} at {where}"


def valid_error_code(code: Any) -> bool:
    if isinstance(code, bool) or not isinstance(code, int):
        return False
    return code in _DEFINED_CODES or not -32768 <= code <= -32000 or -32099 <= code <= -32000


def check_jsonrpc_line(line: bytes) -> tuple[Any, str | None]:
    """The decoded line and what is wrong with it as a JSON-RPC message, if anything."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return None, f"not JSON: {exc}"

    def one(m: Any) -> str | None:
        if not isinstance(m, dict) or m.get("jsonrpc") != "2.0":
            return "not a JSON-RPC 2.0 object"
        if "method" in m:
            return None if isinstance(m["method"], str) else "method is not a string"
        if "id" not in m:
            return "a response without an id"
        if ("result" in m) == ("error" in m):
            return "a response needs exactly one of result and error"
        if "error" in m:
            error = m["error"]
            if not isinstance(error, dict) or not isinstance(error.get("message"), str):
                return "error is not an object with a message"
            if not valid_error_code(error.get("code")):
                return f"invalid error code {error.get('code')!r}"
        return None

    if isinstance(message, list):
        problems = [p for p in map(one, message) if p]
        return message, (problems[0] if problems else None) if message else "an empty array"
    return message, one(message)


# -- drivers ----------------------------------------------------------------------------------


class Run:
    """One backend x transport: sends messages until the deadline, applies the oracle."""

    def __init__(self, args: argparse.Namespace, backend: str, transport: str, seed: int) -> None:
        self.args = args
        self.backend = backend
        self.transport = transport
        self.gen = Generator(seed, transport=transport, exclude=set(args.exclude))
        self.workdir = Path(args.out)
        self.faults: dict[str, Fault] = {}
        self.sent = 0
        self.history: deque[Message] = deque(maxlen=20)
        self.setup: list[Message] = []
        self.rss_start = self.rss_peak = self.rss_end = 0
        self.server: Server | None = None
        self.restarts = 0
        self.closed = 0  # HTTP requests the server closed the connection on without an answer
        self.closed_tags: Counter[str] = Counter()  # ... by the tags of their messages
        self.closed_reasons: Counter[str] = Counter()  # ... by what the client said

    # -- bookkeeping --

    def fault(self, kind: str, detail: str, message: Message | None, signature: str = "") -> None:
        signature = f"{kind}: {signature or detail[:160]}"
        known = self.faults.get(signature)
        if known:
            known.count += 1
            return
        self.faults[signature] = Fault(
            kind,
            detail[:4000],
            signature,
            self.backend,
            self.transport,
            message,
            list(self.history),
            list(self.setup),
            list(getattr(self, "all_sessions", [])),
        )
        if not self.args.quiet:
            tags = ",".join(message.tags) if message else "-"
            print(
                f"  FAULT [{self.backend}/{self.transport}] {signature} (tags: {tags})", flush=True
            )

    def check_server(self, message: Message | None) -> bool:
        """Traceback in stderr, death: record them. False when the server must be restarted."""
        assert self.server is not None
        text = self.read_tracebacks()
        if self.server.alive() and "Traceback" in text:
            self.fault("traceback", text, message, traceback_signature(text))
        if not self.server.alive():
            code = self.server.proc.returncode
            tail = self.server.stderr_tail()
            self.fault(
                "died",
                f"exit status {code}; stderr:\n{tail}",
                message,
                f"exit {code}, {traceback_signature(tail)}",
            )
            return False
        return True

    def read_tracebacks(self) -> str:
        """The server's new stderr; once a traceback shows, until it stops growing (a
        traceback is written in pieces) for at most half a second."""
        assert self.server is not None
        text = self.server.new_stderr()
        if "Traceback" in text:
            for _ in range(10):
                time.sleep(0.05)
                more = self.server.new_stderr()
                if not more:
                    break
                text += more
        return text

    def sample_rss(self) -> None:
        assert self.server is not None
        rss = self.server.rss_kb()
        self.rss_peak = max(self.rss_peak, rss)
        self.rss_end = rss or self.rss_end

    # -- the loop --

    def run(self) -> None:
        deadline = time.monotonic() + self.args.seconds
        warm_until = time.monotonic() + min(3.0, self.args.seconds / 4)
        self.start_server()
        next_probe = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            message = self.next_message()
            self.sent += 1
            t0 = time.monotonic()
            try:
                self.send(message)
            except Exception as exc:  # a fuzzer bug must not pass for a server fault
                print(f"  fuzzer error on {message.tags}: {exc!r}", file=sys.stderr)
                raise
            self.history.append(message)
            if self.args.slow and time.monotonic() - t0 > self.args.slow:
                print(
                    f"  slow {time.monotonic() - t0:.2f}s: {message.method} {message.http_method} {message.tags}"
                )
            if not self.check_server(message):
                self.restart()
                continue
            now = time.monotonic()
            if now >= next_probe:
                next_probe = now + 1.0
                self.sample_rss()
                if self.rss_start == 0 and now >= warm_until:
                    self.rss_start = self.server.rss_kb() if self.server else 0
                if not self.probe():
                    self.fault("unresponsive", "a health probe got no valid answer", message)
                    self.restart()
        self.sample_rss()
        if self.rss_start and self.rss_end - self.rss_start > self.args.rss_growth_mb * 1024:
            self.fault(
                "memory",
                f"RSS grew from {self.rss_start} kB to {self.rss_end} kB (peak {self.rss_peak} kB)",
                None,
                "RSS growth",
            )
        self.finish()

    def restart(self) -> None:
        if self.server:
            self.server.stop()
        self.restarts += 1
        self.start_server()

    # overridden per transport
    def start_server(self) -> None:
        raise NotImplementedError

    def next_message(self) -> Message:
        raise NotImplementedError

    def send(self, message: Message) -> None:
        raise NotImplementedError

    def probe(self) -> bool:
        raise NotImplementedError

    def finish(self) -> None:
        if self.server:
            self.check_server(None)
            self.server.stop()


class HttpRun(Run):
    def start_server(self) -> None:
        import httpx2

        self.server = Server(self.backend, "http", self.workdir / "logs")
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.client = httpx2.Client(base_url=self.base, timeout=self.args.timeout)
        self.sessions: list[tuple[str, str]] = []
        self.all_sessions: list[tuple[str, str]] = []  # every one made: a replay remakes them
        self.setup = []
        for version in ("2025-11-25", "2025-06-18", "2025-03-26"):
            self.new_session(version)
        self.rss_peak = max(self.rss_peak, self.server.rss_kb())

    def new_session(self, version: str) -> None:
        body = encode(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "fuzz", "version": "0"},
                },
            }
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream"),
        ]
        init = Message(
            body=body, tags=["setup"], era="handshake", method="initialize", headers=headers
        )
        response = self.client.post("/mcp", content=body, headers=(headers))
        sid = response.headers.get("mcp-session-id")
        if response.status_code != 200 or not sid:
            self.fault(
                "unresponsive", f"initialize got {response.status_code}", init, "setup failed"
            )
            return
        done = encode({"jsonrpc": "2.0", "method": "notifications/initialized"})
        session_headers = [
            *headers,
            (b"mcp-session-id", sid.encode()),
            (b"mcp-protocol-version", version.encode()),
        ]
        self.client.post("/mcp", content=done, headers=(session_headers))
        self.sessions.append((sid, version))
        self.all_sessions.append((sid, version))
        # a reproducer replays this with the session id the replaying server hands out
        self.setup += [
            init,
            Message(body=done, tags=["setup"], era="handshake", headers=session_headers),
        ]

    def next_message(self) -> Message:
        if len(self.sessions) < 3 and self.gen.rng.random() < 0.1:
            self.new_session(self.gen.rng.choice(HANDSHAKE_VERSIONS[:3]))
        return self.gen.http_message(self.sessions)

    def send(self, message: Message) -> None:
        if message.raw or any(_CONTROL.search(v) for _k, v in message.headers):
            self.send_raw(message)  # the HTTP client refuses control bytes in headers
            return
        import httpx2

        started = time.monotonic()
        try:
            with self.client.stream(
                message.http_method,
                message.path,
                content=message.body or None,
                headers=(message.headers),
            ) as response:
                status = response.status_code
                content_type = response.headers.get("content-type", "")
                body = b""
                if message.http_method == "GET" and "text/event-stream" in content_type:
                    pass  # a standalone or resumed stream stays open: its head is the answer
                else:
                    for chunk in response.iter_bytes():
                        if len(body) < 1 << 20:
                            body += chunk
                        if time.monotonic() - started > self.args.timeout:
                            raise httpx2.ReadTimeout("body too slow")
                self.check_http_body(message, content_type, body)
        except httpx2.TimeoutException as exc:
            self.fault(
                "no-answer",
                f"{message.http_method} {message.method}: {exc!r}",
                message,
                f"{message.http_method} {message.method} timeout",
            )
            self.client.close()
            self.client = httpx2.Client(base_url=self.base, timeout=self.args.timeout)
            return
        except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError) as exc:
            # the server may refuse a bad request by closing (counted; its death, traceback or
            # unresponsiveness is what the oracle checks next)
            self.closed += 1
            before = self.history[-1] if self.history else None
            self.closed_tags[
                f"{','.join(sorted(set(message.tags))) or '(none)'}"
                f" after {before.http_method if before else '-'} {before.raw or ''}"
                f"[{','.join(sorted(set(before.tags))) if before else ''}]"
            ] += 1
            self.closed_reasons[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
            self.client.close()
            self.client = httpx2.Client(base_url=self.base, timeout=self.args.timeout)
            return
        except httpx2.ConnectError as exc:
            self.refused(message, exc)
            return
        if status >= 500:
            self.five_xx(status, message, f"{message.http_method} {message.method}")
        if message.http_method == "DELETE" and status < 300:
            self.sessions = [
                s for s in self.sessions if s[0].encode() not in dict(message.headers).values()
            ]

    def send_raw(self, message: Message) -> None:
        rng = self.gen.rng
        kind = message.raw
        body = message.body
        headers = [(k, v) for k, v in message.headers if k != b"content-length"]
        head_lines = [
            f"{message.http_method} {message.path} HTTP/1.1".encode("latin-1"),
            b"host: 127.0.0.1",
        ]
        if kind == "non-latin1-header":
            headers.append((b"x-odd", "ünïcödé 😀".encode()))
        if kind == "bad-chunked":
            headers.append((b"transfer-encoding", b"chunked"))
            payload = rng.choice(
                [
                    b"zz\r\n" + body + b"\r\n0\r\n\r\n",
                    b"fffffffffff\r\nx",
                    b"1\r\nab\r\n0\r\n\r\n",
                    b"-1\r\n\r\n",
                ]
            )
        else:
            length = len(body)
            if kind == "lying-length":
                length = rng.choice([0, max(len(body) - 5, 0), len(body) + 5, 2**63])
            elif kind == "truncated-body":
                length = len(body) + 100
            headers.append((b"content-length", str(length).encode()))
            payload = body
        headers.append((b"connection", b"close"))
        request = b"\r\n".join(head_lines + [k + b": " + v for k, v in headers]) + b"\r\n\r\n"
        if kind == "close-mid-headers":
            request = request[: rng.randrange(1, max(len(request) - 4, 2))]
            payload = b""
        if kind == "pipelined" and len(payload) <= 65_536:
            # (not with big bodies: this client reads only once all is sent, and a server
            # that answers the first while the second is still coming would wait on it)
            second = request + payload
            request = (request + payload + second).replace(b"connection: close\r\n", b"", 1)
            payload = b""
        try:
            sock = socket.create_connection(
                ("127.0.0.1", self.server.port if self.server else 0), timeout=self.args.timeout
            )
        except OSError as exc:
            self.refused(message, exc)
            return
        with sock:
            try:
                sock.sendall(request + payload)
                if kind in ("close-mid-request", "close-mid-headers"):
                    return  # closed with the request (or its head) half sent
                # the client is done sending: a server waiting on a body it was promised
                # sees the end of it instead of waiting for `--timeout`
                sock.shutdown(socket.SHUT_WR)
                data = b""
                started = time.monotonic()
                while time.monotonic() - started < self.args.timeout:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    head = data.partition(b"\r\n\r\n")[0].lower()
                    if len(data) > 1 << 20 or (
                        message.http_method == "GET" and b"text/event-stream" in head
                    ):
                        break  # an open stream: its head is the answer
                else:
                    self.fault(
                        "no-answer",
                        f"raw {kind}: connection neither answered nor closed",
                        message,
                        f"raw {kind} timeout",
                    )
                    return
            except TimeoutError:
                self.fault("no-answer", f"raw {kind}: timed out", message, f"raw {kind} timeout")
                return
            except OSError:
                return  # reset: the server refused the connection
        for status in re.findall(rb"HTTP/1\.[01] (\d{3})", data):
            if int(status) >= 500:
                self.five_xx(int(status), message, f"raw {kind}")

    def check_http_body(self, message: Message, content_type: str, body: bytes) -> None:
        """A JSON or SSE answer carries well-formed JSON-RPC messages only."""
        if not body or len(body) >= 1 << 20:
            return
        if content_type.startswith("application/json"):
            lines = [body]
        elif content_type.startswith("text/event-stream"):
            lines = [
                line[5:].strip()
                for line in body.replace(b"\r\n", b"\n").split(b"\n")
                if line.startswith(b"data:") and line[5:].strip()
            ]
        else:
            return
        for line in lines:
            _decoded, problem = check_jsonrpc_line(line)
            if problem:
                self.fault("malformed", f"{problem}: {line[:500]!r}", message, problem[:80])

    def refused(self, message: Message, exc: Exception) -> None:
        """A refused connection: the server died (reported by the caller, with its stderr)
        or stopped listening."""
        assert self.server is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.server.proc.wait(timeout=1.0)
        if self.server.alive():
            self.fault("unresponsive", f"connect failed: {exc!r}", message, "connect failed")

    def five_xx(self, status: int, message: Message, what: str) -> None:
        """A 5xx, named after the traceback the server logged for it (if any) so that one
        bug reached by many messages is one fault."""
        assert self.server is not None
        deadline = time.monotonic() + 0.5
        text = self.server.peek_stderr()
        while "Traceback" not in text and time.monotonic() < deadline:
            time.sleep(0.02)  # the log line may follow the response by a moment
            text = self.server.peek_stderr()
        cause = traceback_signature(text) if "Traceback" in text else f"no traceback, {what}"
        self.fault("http-5xx", f"{status} for {what}", message, f"{status} {cause}")

    def probe(self) -> bool:
        import httpx2

        try:
            with httpx2.Client(base_url=self.base, timeout=self.args.timeout) as fresh:
                response = fresh.post(
                    "/mcp",
                    json={
                        "jsonrpc": "2.0",
                        "id": "probe",
                        "method": "tools/list",
                        "params": {"_meta": modern_meta(self.gen.rng)},
                    },
                    headers={
                        "accept": "application/json, text/event-stream",
                        "mcp-protocol-version": MODERN,
                        "mcp-method": "tools/list",
                    },
                )
            return response.status_code == 200 and response.json().get("id") == "probe"
        except Exception:
            return False

    def finish(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        super().finish()


_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class StdioRun(Run):
    """One server process per segment of `SEGMENT` messages, each in one era; stdin closed at
    the end of a segment must end the process with status 0."""

    SEGMENT = 400
    forced_era: str | None = None  # a replay's: the era the reproducer was found in
    force_junk = False  # a replay's: answer the server's requests with junk

    def start_server(self) -> None:
        self.server = Server(self.backend, "stdio", self.workdir / "logs")
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.write_lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, args=(self.server,), daemon=True)
        self.reader.start()
        self.segment_left = self.SEGMENT
        self.era = self.forced_era or ("modern" if self.gen.rng.random() < 0.35 else "handshake")
        self.sync = 0
        self.setup = []
        if self.era == "handshake":
            version = self.gen.rng.choice(HANDSHAKE_VERSIONS)
            init = encode(
                {
                    "jsonrpc": "2.0",
                    "id": "init",
                    "method": "initialize",
                    "params": {
                        "protocolVersion": version,
                        "capabilities": {"sampling": {}, "elicitation": {}, "roots": {}},
                        "clientInfo": {"name": "fuzz", "version": "0"},
                    },
                }
            )
            done = encode({"jsonrpc": "2.0", "method": "notifications/initialized"})
            self.setup = [
                Message(body=init, tags=["setup"], era="handshake"),
                Message(body=done, tags=["setup"], era="handshake"),
            ]
            self.write(init)
            self.wait_for({"init"}, self.setup[0])
            self.write(done)

    def _read(self, server: Server) -> None:
        assert server.proc.stdout is not None
        for line in server.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def write(self, data: bytes) -> bool:
        assert self.server is not None and self.server.proc.stdin is not None
        try:
            with self.write_lock:
                self.server.proc.stdin.write(data + b"\n")
                self.server.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def next_message(self) -> Message:
        rng = self.gen.rng
        roll = rng.random()
        if roll < 0.02 and self.gen.allowed("blank-line"):
            return Message(
                body=rng.choice([b"", b"   ", b"\r", b"\t"]), tags=["blank-line"], era=self.era
            )
        if roll < 0.03 and self.gen.allowed("long-line"):
            return Message(
                body=b'"' + b"x" * rng.choice([1 << 20, 8 << 20]) + b'"',
                tags=["long-line"],
                era=self.era,
            )
        body, tags, method = self.gen.payload(self.era)
        if rng.random() < 0.02 and self.gen.allowed("cr-line"):
            body = body.replace(b",", b",\r", 1)
            tags.append("cr-line")
        return Message(body=body, tags=tags, era=self.era, method=method)

    @staticmethod
    def expected_ids(body: bytes) -> set[int | str]:
        """The ids of the requests in a line, as the fuzzer reads it (strict UTF-8 JSON)."""
        try:
            message = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):
            return set()
        items = message if isinstance(message, list) else [message]
        if isinstance(message, list):
            return set()  # a batch: answered as a whole or refused as a whole, see `send`
        ids: set[int | str] = set()
        for item in items:
            if (
                isinstance(item, dict)
                and item.get("jsonrpc") == "2.0"
                and isinstance(item.get("method"), str)
                and "id" in item
                and isinstance(item["id"], int | str)
                and not isinstance(item["id"], bool)
                and item["method"] != "subscriptions/listen"
            ):
                ids.add(item["id"])
        return ids

    def send(self, message: Message) -> None:
        if not self.write(message.body):
            return  # the server is gone: the caller sees it
        wanted = self.expected_ids(message.body)
        # then a ping of our own: its answer bounds the wait for everything before it
        self.sync += 1
        sync_id = f"sync-{self.sync}"
        ping: dict[str, Any] = {"jsonrpc": "2.0", "id": sync_id, "method": "ping"}
        if self.era == "modern":
            ping["params"] = {"_meta": modern_meta(self.gen.rng)}
        self.write(encode(ping))
        self.wait_for({*wanted, sync_id}, message, sync=sync_id)
        self.segment_left -= 1
        if self.segment_left <= 0:
            self.end_segment(message)

    def wait_for(self, ids: set[Any], message: Message, sync: Any = None) -> None:
        """Read answers until each id in `ids` has one (within `--timeout`). An error with id
        null answers a line whose id the server could not read (invalid UTF-8, too deep): once
        one came and the `sync` ping after the line is answered, nothing else is owed."""
        deadline = time.monotonic() + self.args.timeout
        pending = {json.dumps(i) for i in ids}
        sync_key = json.dumps(sync)
        null_errors = 0
        while pending:
            if null_errors and sync_key not in pending:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                self.fault(
                    "no-answer",
                    f"no answer for ids {sorted(pending)} within {self.args.timeout}s",
                    message,
                    f"{message.method} {sorted(set(message.tags))}",
                )
                return
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:  # stdout closed: let the process end, the caller reports it
                with contextlib.suppress(subprocess.TimeoutExpired):
                    assert self.server is not None
                    self.server.proc.wait(timeout=self.args.timeout)
                return
            decoded, problem = check_jsonrpc_line(line)
            if problem:
                self.fault("malformed", f"{problem}: {line[:500]!r}", message, problem[:80])
                continue
            for item in decoded if isinstance(decoded, list) else [decoded]:
                if "method" in item:
                    if "id" in item:  # the server asks us something: answer, sometimes oddly
                        self.answer_server_request(item, message)
                    continue
                if item.get("id") is None:
                    null_errors += 1
                pending.discard(json.dumps(item.get("id")))

    def answer_server_request(self, request: dict[str, Any], message: Message) -> None:
        """Answer the server's own request (sampling, elicitation, roots) as a client may: an
        error, a plausible result, or (tag `client-junk-answer`, on `message`) a junk result."""
        rng = self.gen.rng
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request["id"]}
        roll = rng.random()
        if roll < 0.4:
            answer["error"] = {"code": -32601, "message": "not supported by the fuzzer"}
        elif self.force_junk:  # a replay of a fault found with a junk answer
            answer["result"] = {"content": {}}
            if "client-junk-answer" not in message.tags:
                message.tags.append("client-junk-answer")
        elif roll < 0.7 or not self.gen.allowed("client-junk-answer"):
            answer["result"] = (
                {"action": "decline"}
                if "elicit" in request["method"]
                else {
                    "role": "assistant",
                    "content": {"type": "text", "text": "ok"},
                    "model": "fuzz",
                }
            )
        else:
            answer["result"] = rng.choice(
                [self.gen.junk_value(), {"content": {}}, {"action": 1}, {"content": []}]
            )
            if "client-junk-answer" not in message.tags:
                message.tags.append("client-junk-answer")
        self.write(encode(answer))

    def end_segment(self, message: Message) -> None:
        """Close stdin: the server must exit promptly, with status 0 and no traceback."""
        assert self.server is not None and self.server.proc.stdin is not None
        with contextlib.suppress(OSError):
            self.server.proc.stdin.close()
        try:
            code = self.server.proc.wait(timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            self.fault("bad-exit", "still running after stdin closed", message, "no exit at EOF")
            code = None
        self.check_server_quiet(message)
        if code not in (0, None):
            self.fault(
                "bad-exit",
                f"exit status {code} at EOF:\n{self.server.stderr_tail()}",
                message,
                f"exit {code} at EOF",
            )
        self.server.stop()
        self.start_server()

    def check_server_quiet(self, message: Message) -> None:
        assert self.server is not None
        text = self.read_tracebacks()
        if "Traceback" in text:
            self.fault("traceback", text, message, traceback_signature(text))

    def probe(self) -> bool:
        return True  # every message is followed by a ping whose answer is awaited


# -- replay -----------------------------------------------------------------------------------


def replay(path: Path, args: argparse.Namespace) -> str | None:
    """Re-run a reproducer against a fresh server, until a fault of the same kind shows: its
    one message (`"alone"`), else the 20 messages before it and it (`"with history"`)."""
    data = json.loads(path.read_text())
    if data["messages"] and _replay(data, args, data["messages"]):
        return "alone"
    for _attempt in range(3):  # a race may need more than one try
        if data.get("history") and _replay(data, args, [*data["history"], *data["messages"]]):
            return "with history"
    return None


def _replay_runner(
    data: dict[str, Any], args: argparse.Namespace, described: list[dict[str, Any]]
) -> tuple[Run, list[Message], list[tuple[bytes, bytes]]]:
    """A fresh server for a reproducer, set up as it was (era, sessions), its messages with
    the session ids this server handed out, and those renamings (old id, new id)."""
    backend = args.backend if args.backend != "both" else data["backend"]
    ns = argparse.Namespace(**{**vars(args), "exclude": [], "quiet": True})
    runner: Run = (HttpRun if data["transport"] == "http" else StdioRun)(
        ns, backend, data["transport"], 0
    )
    messages = [Message.from_description(m) for m in described]
    if isinstance(runner, StdioRun) and messages:
        runner.forced_era = messages[0].era
        runner.force_junk = any("client-junk-answer" in m.tags for m in messages)
    runner.start_server()
    renamed: list[tuple[bytes, bytes]] = []
    if isinstance(runner, HttpRun):  # the same sessions, under the ids this server gives
        made = list(runner.all_sessions)
        for _sid, version in data.get("sessions", [])[len(made) :]:
            runner.new_session(version)
        renamed = [
            (old.encode(), new.encode())
            for (old, _), (new, _) in zip(
                data.get("sessions", []), runner.all_sessions, strict=False
            )
        ]
        for message in messages:
            message.headers = [(name, _rename(value, renamed)) for name, value in message.headers]
    return runner, messages, renamed


def _rename(value: bytes, renamed: list[tuple[bytes, bytes]]) -> bytes:
    for old, new in renamed:
        value = value.replace(old, new)
    return value


def _replay(
    data: dict[str, Any], args: argparse.Namespace, described: list[dict[str, Any]]
) -> bool:
    runner, messages, _renamed = _replay_runner(data, args, described)
    try:
        for message in messages:
            runner.send(message)
            if not runner.check_server(message):
                break
        time.sleep(0.2)  # let a log line that follows the answer reach stderr
        if runner.server and runner.server.alive():
            runner.check_server(None)
    finally:
        if runner.server:
            runner.server.stop()
    return data["signature"] in runner.faults


_RUN = re.compile(rb"(.{1,8}?)\1{15,}", re.DOTALL)  # a unit repeated 16 times or more


def shrink(path: Path, args: argparse.Namespace, budget: float = 10.0) -> tuple[int, int] | None:
    """Make a reproducer's one message smaller while it still gives the same fault (same
    signature) on a live server: drop headers one by one, halve long runs (`[[[[`, `AAAA`;
    runs of equal length together, so brackets stay balanced), drop `params` keys. Saves the
    result in place (the original is kept under `original`) and returns (bytes before, after).
    """
    data = json.loads(path.read_text())
    if data["kind"] not in ("traceback", "http-5xx", "malformed", "no-answer"):
        return None  # a death restarts the server: replay it as it is
    if len(data["messages"]) != 1:
        return None
    runner, (message,), renamed = _replay_runner(data, args, data["messages"])
    deadline = time.monotonic() + budget

    def reproduces(candidate: Message) -> bool:
        assert runner.server is not None
        if time.monotonic() > deadline or not runner.server.alive():
            return False
        runner.faults.clear()
        runner.send(candidate)
        runner.check_server(candidate)
        return data["signature"] in runner.faults

    def variant(
        body: bytes | None = None, headers: list[tuple[bytes, bytes]] | None = None
    ) -> Message:
        d = best.describe()
        copy = Message.from_description(d)
        copy.body = best.body if body is None else body
        copy.headers = list(best.headers if headers is None else headers)
        return copy

    try:
        if not reproduces(message):
            return None
        best = message
        for i in reversed(range(len(best.headers))):
            candidate = variant(headers=best.headers[:i] + best.headers[i + 1 :])
            if reproduces(candidate):
                best = candidate
        shrinking = True
        while shrinking and time.monotonic() < deadline:
            shrinking = False
            runs = sorted(
                ((m.start(), m.end(), m.group(1)) for m in _RUN.finditer(best.body)),
                key=lambda r: r[0] - r[1],
            )
            by_length: dict[int, list[tuple[int, int, bytes]]] = {}
            for run in runs:
                by_length.setdefault(run[1] - run[0], []).append(run)
            groups = [group for _, group in sorted(by_length.items(), reverse=True)]
            for group in groups + [[run] for run in runs]:
                body = best.body
                for start, end, unit in sorted(group, reverse=True):
                    count = (end - start) // len(unit)
                    body = body[:start] + unit * (count // 2) + body[start + count * len(unit) :]
                candidate = variant(body=body)
                if len(body) < len(best.body) and reproduces(candidate):
                    best, shrinking = candidate, True
                    break
        try:
            decoded = json.loads(best.body)
        except (ValueError, RecursionError):
            decoded = None
        if isinstance(decoded, dict) and isinstance(decoded.get("params"), dict):
            for key in list(decoded["params"]):
                trial = json.loads(best.body)
                del trial["params"][key]
                candidate = variant(body=json.dumps(trial).encode())
                if reproduces(candidate):
                    best = candidate
    finally:
        if runner.server:
            runner.server.stop()
    before = len(message.body) + sum(len(k) + len(v) for k, v in message.headers)
    after = len(best.body) + sum(len(k) + len(v) for k, v in best.headers)
    if after < before:
        best.headers = [  # saved with the session ids of the run that found it
            (name, _rename(value, [(new, old) for old, new in renamed]))
            for name, value in best.headers
        ]
        data["original"] = data["messages"]
        data["messages"] = [best.describe()]
        data["shrunk"] = {"bytes_before": before, "bytes_after": after}
        path.write_text(json.dumps(data, indent=1))
    return before, after


def save_fault(fault: Fault, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(fault.signature.encode()).hexdigest()[:8]
    path = out / f"{fault.backend}-{fault.transport}-{fault.kind}-{digest}.json"
    messages = [fault.message] if fault.message else []
    data = {
        "kind": fault.kind,
        "signature": fault.signature,
        "detail": fault.detail,
        "backend": fault.backend,
        "transport": fault.transport,
        "count": fault.count,
        "messages": [m.describe() for m in messages],
        "history": [
            m.describe()
            for m in fault.history
            if m is not fault.message and len(m.body) < 1_000_000
        ],
        "sessions": fault.sessions,
        "replay": f"python bench/fuzz.py --replay {path}",
    }
    path.write_text(json.dumps(data, indent=1))
    return path


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per backend and transport")
    parser.add_argument("--backend", choices=("asyncio", "trio", "both"), default="both")
    parser.add_argument("--transport", choices=("http", "stdio", "both"), default="both")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds an answer may take")
    parser.add_argument("--rss-growth-mb", type=float, default=128.0)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "fuzz"))
    parser.add_argument("--exclude", action="append", default=[], metavar="MUTATION")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the summary as JSON")
    parser.add_argument("--no-replay", action="store_true", help="do not replay the faults found")
    parser.add_argument("--no-shrink", action="store_true", help="do not shrink the reproducers")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--slow", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--replay", default=None, metavar="FILE")
    parser.add_argument("--serve", choices=("http", "stdio"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.exclude = [name for value in args.exclude for name in value.split(",") if name]

    if args.serve:
        serve(args.serve, args.backend if args.backend != "both" else "asyncio")
        return 0
    if args.replay:
        reproduced = replay(Path(args.replay), args)
        print(f"reproduced {reproduced}" if reproduced else "did not reproduce")
        return 1 if reproduced else 0

    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    transports = ["http", "stdio"] if args.transport == "both" else [args.transport]
    print(
        f"fuzz: seed {seed}, {args.seconds:g} s per backend and transport, excluded: {args.exclude or 'none'}"
    )
    summary: list[dict[str, Any]] = []
    for backend in backends:
        for transport in transports:
            run_seed = seed * 4 + backends.index(backend) * 2 + transports.index(transport)
            runner = (HttpRun if transport == "http" else StdioRun)(
                args, backend, transport, run_seed
            )
            started = time.monotonic()
            runner.run()
            elapsed = time.monotonic() - started
            faults = []
            for fault in runner.faults.values():
                fault.path = save_fault(fault, Path(args.out))
                if not args.no_replay and (fault.message is not None or fault.history):
                    replay_args = argparse.Namespace(**{**vars(args), "backend": backend})
                    fault.reproduced = replay(fault.path, replay_args)
                    if fault.reproduced == "alone" and not args.no_shrink:
                        fault.shrunk = shrink(fault.path, replay_args)
                faults.append(
                    {
                        "kind": fault.kind,
                        "signature": fault.signature,
                        "count": fault.count,
                        "tags": fault.message.tags if fault.message else [],
                        "reproducer": str(fault.path),
                        "reproduced": fault.reproduced,
                        "shrunk": fault.shrunk,
                        "detail": fault.detail[:600],
                    }
                )
            row = {
                "backend": backend,
                "transport": transport,
                "seed": run_seed,
                "seconds": round(elapsed, 1),
                "messages": runner.sent,
                "restarts": runner.restarts,
                "closed_without_answer": runner.closed,
                "closed_without_answer_tags": dict(runner.closed_tags.most_common()),
                "closed_without_answer_reasons": dict(runner.closed_reasons.most_common()),
                "rss_kb": {
                    "start": runner.rss_start,
                    "peak": runner.rss_peak,
                    "end": runner.rss_end,
                },
                "faults": faults,
            }
            summary.append(row)
            print(
                f"{backend:7} {transport:5} messages {runner.sent:6}  ({runner.sent / max(elapsed, 1e-9):5.0f}/s)  "
                f"faults {len(faults):2} unique / {sum(f['count'] for f in faults):4} total  "
                f"RSS start/peak/end {runner.rss_start / 1024:.0f}/{runner.rss_peak / 1024:.0f}/{runner.rss_end / 1024:.0f} MB  "
                f"restarts {runner.restarts}"
                + (f"  closed-unanswered {runner.closed}" if transport == "http" else ""),
                flush=True,
            )
            for f in faults:
                again = f"reproduces {f['reproduced']}" if f["reproduced"] else "did not reproduce"
                if f["shrunk"] and f["shrunk"][1] < f["shrunk"][0]:
                    again += f", shrunk from {f['shrunk'][0]:,} to {f['shrunk'][1]:,} bytes"
                print(
                    f"    {f['signature']}  x{f['count']}  [{','.join(f['tags'])}]  {again}\n      {f['reproducer']}"
                )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"seed": seed, "runs": summary}, indent=1))
    return 1 if any(row["faults"] for row in summary) else 0


if __name__ == "__main__":
    sys.exit(main())
