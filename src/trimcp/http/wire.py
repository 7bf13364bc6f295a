"""The wire details of the streamable HTTP endpoint: everything below "which handler?".

Owns the ASGI type aliases, the header and `Accept` parsing, the bounded body reader, the
`_meta`/name decoding routing needs, the 2026-07-28 validation ladder and the status it maps
errors to, and the small helpers that write a complete JSON (or empty) response.

Modern ladder, first failure wins: params that are not JSON (400, -32700) → required
`_meta` keys (400, -32602) → headers `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name` (400,
-32020) → supported version (400, -32022). Dispatch errors then map through `MODERN_STATUS`
(unknown or removed method: 404, -32601; -32700/-32020/-32021/-32022: 400; any other error: 200
with the error body).
"""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.http.asgi import DEFAULT_MAX_BODY_SIZE, Message, Receive, Scope, Send
from trimcp.http.guard import SECOND_HOST, SECOND_ORIGIN
from trimcp.protocol import jsonrpc
from trimcp.protocol.envelope import (
    CLIENT_CAPABILITIES_KEY,
    PROTOCOL_VERSION_KEY,
    unsupported_version,
)
from trimcp.protocol.errors import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorData,
)
from trimcp.protocol.header_values import decode_header_value
from trimcp.protocol.jsonrpc import DECODE_ERRORS, Request, RequestId
from trimcp.protocol.param_headers import check_param_headers
from trimcp.protocol.requests import DUPLICATE_ID, busy_error
from trimcp.protocol.versions import MODERN_VERSIONS

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "JSON_HEADERS",
    "MODERN_STATUS",
    "RETRY_AFTER",
    "SERVER_BUSY_ERROR",
    "SESSION_BUSY",
    "Disconnected",
    "Routing",
    "accepts",
    "accepts_json_sse",
    "decode_header_value",
    "header_version",
    "may_be_modern",
    "media_types",
    "modern_ladder",
    "param_header_error",
    "read_body",
    "read_json_body",
    "respond",
    "respond_error",
    "respond_refused",
    "routing_of",
    "wanted_headers",
]


JSON_HEADERS = [(b"content-type", b"application/json")]
_SECOND = {b"origin": SECOND_ORIGIN, b"host": SECOND_HOST}  # a second one is kept apart
_NAME_FIELD = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
MODERN_STATUS = {
    PARSE_ERROR: 400,  # params that are not JSON (invalid UTF-8, too deep): as a bad body
    METHOD_NOT_FOUND: 404,
    HEADER_MISMATCH: 400,
    MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
}


class Routing(msgspec.Struct):
    """The parts of `params` routing needs; everything else is skipped by the decoder."""

    meta: Any = msgspec.field(default=None, name="_meta")
    name: Any = None
    uri: Any = None


_decode_routing = msgspec.json.Decoder(Routing).decode
NO_ROUTING = Routing()
UNREADABLE = Routing()  # params that are not JSON: invalid UTF-8, nested too deeply


def routing_of(params: msgspec.Raw | None) -> Routing:
    if params is None:
        return NO_ROUTING
    try:
        return _decode_routing(params)
    except msgspec.ValidationError:  # not an object: the handler reports -32602
        return NO_ROUTING
    except DECODE_ERRORS:
        return UNREADABLE


def wanted_headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by name, the first of each, in one pass; a second `Origin` or
    `Host` is kept under `SECOND_ORIGIN`/`SECOND_HOST` (`OriginGuard.check` refuses it).

    Every header is in the mapping, not only the ones the endpoint reads: `dict()` builds it
    in C, and only a request that repeats a header name pays for the loop in Python."""
    raw = scope["headers"]
    if type(raw) is list:  # (ASGI allows any iterable)
        found = dict(raw)
        if len(found) == len(raw):
            return found
    return _first_of_each(raw)


def _first_of_each(raw: Any) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for name, value in raw:
        if name not in found:
            found[name] = value
        elif name in _SECOND:
            found[_SECOND[name]] = value
    return found


def media_types(value: bytes | None) -> set[str]:
    if not value:
        return set()
    return {part.split(";", 1)[0].strip().lower() for part in value.decode("latin-1").split(",")}


def accepts(types: set[str], wanted: str) -> bool:
    return wanted in types or "*/*" in types or f"{wanted.split('/')[0]}/*" in types


_accept_cache: dict[bytes | None, tuple[bool, bool]] = {}
_ACCEPT_CACHE_LIMIT = 64


def accepts_json_sse(value: bytes | None) -> tuple[bool, bool]:
    """Whether an `Accept` header value admits `application/json`, `text/event-stream`.

    Memoised per raw value: a client sends the same header on every request, and parsing it
    is a measurable part of serving a small request."""
    found = _accept_cache.get(value)
    if found is None:
        types = media_types(value)
        found = (accepts(types, "application/json"), accepts(types, "text/event-stream"))
        if len(_accept_cache) < _ACCEPT_CACHE_LIMIT:
            _accept_cache[value] = found
    return found


_VERSION_KEY_TAIL = b"protocolVersion"
_BACKSLASH = ord("\\")


def header_version(headers: dict[bytes, bytes]) -> str | None:
    """The `MCP-Protocol-Version` header's value, stripped; None without the header.

    Memoised per raw value, as `accepts_json_sse` is: a client sends the same one each time."""
    raw = headers.get(b"mcp-protocol-version")
    return None if raw is None else _header_text(raw)


def may_be_modern(body: bytes) -> bool:
    """False when a request body certainly carries no modern `_meta` version, so routing
    need not decode `params` to tell the era.

    The key can only hide from the byte search behind a JSON escape, hence the backslash."""
    # `find`, and the backslash by its value: `bytes in bytes` first tries the needle as an
    # integer, and formats the TypeError that fails, on every request
    return body.find(_VERSION_KEY_TAIL) >= 0 or _BACKSLASH in body


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    out = list(headers) if headers else []
    if body:
        out.append((b"content-type", b"application/json"))
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


RETRY_AFTER = [(b"retry-after", b"1")]
SESSION_BUSY = busy_error("for this session")
"""The refusal past a session's `max_session_requests` (429)."""
SERVER_BUSY_ERROR = busy_error("on this server")
"""The refusal past an endpoint's `max_server_requests` (503)."""


async def respond_refused(send: Send, refused: ErrorData, request_id: RequestId | None) -> None:
    """Answer a request an engine did not admit: 400 for a duplicate id in flight, 429 past
    the session's limit (`SESSION_BUSY`), 503 past the endpoint's (both with
    `Retry-After`)."""
    if refused is DUPLICATE_ID:
        await respond(send, 400, jsonrpc.encode_error(request_id, refused))
        return
    status = 429 if refused is SESSION_BUSY else 503
    await respond(send, status, jsonrpc.encode_error(request_id, refused), RETRY_AFTER)


async def respond_error(
    send: Send,
    status: int,
    code: int,
    message: str,
    request_id: RequestId | None = None,
    data: Any = None,
) -> None:
    await respond(send, status, jsonrpc.encode_error(request_id, ErrorData(code, message, data)))


async def read_json_body(
    receive: Receive, send: Send, headers: dict[bytes, bytes], limit: int
) -> bytes | None:
    """The body of a POST that must carry JSON; None after answering 415 (not JSON) or 413
    (over `limit` bytes)."""
    content_type = headers.get(b"content-type", b"")
    if content_type != b"application/json" and (
        content_type.split(b";", 1)[0].strip().lower() != b"application/json"
    ):
        await respond_error(
            send, 415, INVALID_REQUEST, "Unsupported Media Type: send application/json"
        )
        return None
    body: bytes | None = None
    declared = headers.get(b"content-length")
    # (a declared length under a million, below a limit of a million or more, needs no
    # `int()`: fewer digits, a smaller number)
    if (
        declared is None
        or (len(declared) < 7 and limit > 999_999)
        or not _declared_too_large(declared, limit)
    ):
        # `read_body` inline for the usual case, the whole body in one message (a coroutine
        # fewer per request)
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body") or b""
            if len(body) > limit:
                body = None
        else:
            body = await _read_rest(receive, limit, message)
    if body is None:
        await respond_error(send, 413, INVALID_REQUEST, "Request body too large")
    return body


def _declared_too_large(content_length: bytes | None, limit: int) -> bool:
    """Whether `Content-Length` says more than `limit` bytes (a bad value says nothing)."""
    if content_length is None:
        return False
    try:
        return int(content_length) > limit
    except ValueError:
        return False


async def read_body(receive: Receive, limit: int, content_length: bytes | None) -> bytes | None:
    """The request body, or None as soon as it is known to exceed `limit` bytes.

    Reads up to the closing `more_body: False` message even when `Content-Length` says the
    body is complete: middleware wrapping `receive` (a body recorder, say) may rely on it."""
    if _declared_too_large(content_length, limit):
        return None
    return await _read_rest(receive, limit, await receive())


async def _read_rest(receive: Receive, limit: int, message: Message) -> bytes | None:
    """`read_body` from its first message on."""
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise Disconnected()
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                # stop buffering; drain a bounded amount more so a client still writing its
                # body can read the 413 (a connection cut mid-upload loses the answer)
                if message.get("more_body", False):
                    await _drain(receive, max(limit, 1 << 20))
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
        message = await receive()
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


class Disconnected(Exception):
    """The client went away while we read its request."""


def param_header_error(scope: Scope, request: Request, tool: Any) -> ErrorData | None:
    """For a modern `tools/call`: the -32020 error when its `Mcp-Param-*` headers disagree
    with the arguments of the tool's `x-mcp-header` parameters, else None. Only a tool with
    such parameters costs anything here."""
    params = tool.header_params()
    if not params:
        return None
    try:
        arguments = msgspec.json.decode(request.params or b"{}").get("arguments")
    except (*DECODE_ERRORS, AttributeError):
        return None  # the handler reports bad params
    sent: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name.startswith(b"mcp-param-"):
            sent.setdefault(name, value)

    def header(name: str) -> str | None:
        raw = sent.get(b"mcp-param-" + name.lower().encode())
        return None if raw is None else raw.decode("utf-8", "replace")

    reason = check_param_headers(params, arguments, header, decode_header_value)
    return None if reason is None else ErrorData(HEADER_MISMATCH, f"Header mismatch: {reason}")


_header_texts: dict[bytes, str] = {}
_name_values: dict[bytes, str | None] = {}


def _header_text(raw: bytes) -> str:
    """A header's value as text, stripped (memoised per raw value: a client sends the
    same `Mcp-Method` again and again)."""
    text = _header_texts.get(raw)
    if text is None:
        text = raw.decode("latin-1").strip(" \t")
        if len(_header_texts) < _ACCEPT_CACHE_LIMIT:
            _header_texts[raw] = text
    return text


def _name_value(raw: bytes) -> str | None:
    """`Mcp-Name` decoded (`decode_header_value`), None when malformed; memoised per raw
    value as `_header_text` is."""
    if raw in _name_values:
        return _name_values[raw]
    try:
        value = decode_header_value(raw.decode("utf-8"))
    except UnicodeDecodeError:
        value = None
    if len(_name_values) < _ACCEPT_CACHE_LIMIT:
        _name_values[raw] = value
    return value


def modern_ladder(
    headers: dict[bytes, bytes], version: str | None, request: Request, routing: Routing
) -> tuple[int, ErrorData] | None:
    """The first failure of the modern validation ladder (see the module docstring), or
    None; `version` is the `MCP-Protocol-Version` header (`header_version`)."""
    if routing is UNREADABLE:
        return 400, ErrorData(
            PARSE_ERROR,
            "Parse error: params are not valid JSON (invalid UTF-8 or nested too deeply)",
        )
    meta = routing.meta
    if (
        not isinstance(meta, dict)
        or PROTOCOL_VERSION_KEY not in meta
        or CLIENT_CAPABILITIES_KEY not in meta
    ):
        missing = [
            key
            for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY)
            if not isinstance(meta, dict) or key not in meta
        ]
        return 400, ErrorData(
            INVALID_PARAMS, f"params._meta is missing the required key(s): {', '.join(missing)}"
        )
    if version is None:
        return 400, ErrorData(
            HEADER_MISMATCH, "Header mismatch: MCP-Protocol-Version header is missing"
        )
    if version != meta[PROTOCOL_VERSION_KEY]:
        return 400, ErrorData(
            HEADER_MISMATCH,
            "Header mismatch: MCP-Protocol-Version header does not match "
            f"params._meta[{PROTOCOL_VERSION_KEY!r}]",
        )
    method_header = headers.get(b"mcp-method")
    if method_header is None:
        return 400, ErrorData(HEADER_MISMATCH, "Header mismatch: Mcp-Method header is missing")
    if _header_text(method_header) != request.method:
        return 400, ErrorData(
            HEADER_MISMATCH, "Header mismatch: Mcp-Method header does not match the body's method"
        )
    field = _NAME_FIELD.get(request.method)
    if field is not None:
        expected = routing.name if field == "name" else routing.uri
        name_header = headers.get(b"mcp-name")
        if name_header is None:
            return 400, ErrorData(HEADER_MISMATCH, "Header mismatch: Mcp-Name header is missing")
        decoded = _name_value(name_header)
        if decoded is None:
            return 400, ErrorData(HEADER_MISMATCH, "Header mismatch: Mcp-Name header is malformed")
        if decoded != expected:
            return 400, ErrorData(
                HEADER_MISMATCH, f"Header mismatch: Mcp-Name header does not match params.{field}"
            )
    if version not in MODERN_VERSIONS:  # the header, equal to the `_meta` version by now
        return 400, unsupported_version(version)
    return None
