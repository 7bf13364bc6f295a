"""JSON-RPC 2.0 envelopes, decoded and encoded with msgspec.

Bytes go in, one of the event classes below comes out; nothing here raises for bad input
from the peer. A message that does not parse becomes an `Invalid` event that carries the
error response to send (with the id when it could be read), so the receive loop keeps going.
`params` and `result` stay `msgspec.Raw` until the handler that owns them decodes them.

msgspec recurses once per level of nesting, even to skip a `Raw` value, and raises
`RecursionError` at the interpreter's recursion limit: a message nested deeper than about a
thousand levels, in whatever part, is a parse error. `DECODE_ERRORS` lists what any decode of
peer bytes may raise, for the decoders elsewhere (params, routing) to catch.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from trimcp.protocol.errors import INVALID_REQUEST, PARSE_ERROR, ErrorData

__all__ = [
    "DECODE_ERRORS",
    "Batch",
    "ErrorResponse",
    "Incoming",
    "Invalid",
    "Notification",
    "Request",
    "RequestId",
    "Response",
    "decode",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
]

RequestId = int | str


class _Envelope(msgspec.Struct):
    """Every member a JSON-RPC message may have; classified by `decode`."""

    jsonrpc: str
    id: int | str | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    params: Raw | UnsetType = UNSET
    result: Raw | UnsetType = UNSET
    error: ErrorData | UnsetType = UNSET


class Request(msgspec.Struct):
    id: RequestId
    method: str
    params: Raw | None = None
    decoded: Any = None
    """`params` decoded already for the method's handler (`trimcp.core.session.predecode`:
    the HTTP layer routes a 2026-07-28 request by them), or None; never on the wire."""


class Notification(msgspec.Struct):
    method: str
    params: Raw | None = None


class Response(msgspec.Struct):
    id: RequestId
    result: Raw


class ErrorResponse(msgspec.Struct):
    id: RequestId | None
    error: ErrorData


class Invalid(msgspec.Struct):
    """A message we could not accept; `error` is what to answer (to `id`, possibly None)."""

    id: RequestId | None
    error: ErrorData


class Batch(msgspec.Struct):
    """A JSON array of messages (2025-03-26 batching); items already classified."""

    items: list[Incoming]


Incoming = Request | Notification | Response | ErrorResponse | Invalid | Batch

_decode_envelope = msgspec.json.Decoder(_Envelope).decode
_decode_raw_list = msgspec.json.Decoder(list[Raw]).decode
_decode_any = msgspec.json.decode

DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)
"""What decoding untrusted JSON may raise besides a shape mismatch (`msgspec.ValidationError`
is a `DecodeError`): malformed bytes, invalid UTF-8, nesting past the recursion limit."""

_TOO_DEEP = "parse error: JSON nested too deeply"


def _salvage_id(data: bytes | memoryview) -> RequestId | None:
    """Read the id out of a message that failed validation, so the error can name it."""
    try:
        obj = _decode_any(data)
    except DECODE_ERRORS:
        return None
    if isinstance(obj, dict):
        candidate = obj.get("id")
        if isinstance(candidate, int | str) and not isinstance(candidate, bool):
            return candidate
    return None


def _classify(env: _Envelope, data: bytes | memoryview) -> Incoming:
    if env.jsonrpc != "2.0":
        return Invalid(_salvage_id(data), ErrorData(INVALID_REQUEST, 'jsonrpc must be "2.0"'))
    params = None if env.params is UNSET else env.params
    if env.method is not UNSET:
        if env.result is not UNSET or env.error is not UNSET:
            return Invalid(
                _salvage_id(data), ErrorData(INVALID_REQUEST, "a request has no result or error")
            )
        if env.id is UNSET:
            return Notification(env.method, params)
        if env.id is None:
            return Invalid(None, ErrorData(INVALID_REQUEST, "request id must not be null"))
        return Request(env.id, env.method, params)
    if env.error is not UNSET and env.result is UNSET:
        return ErrorResponse(None if env.id is UNSET else env.id, env.error)
    if env.result is not UNSET and env.error is UNSET and isinstance(env.id, int | str):
        return Response(env.id, env.result)
    return Invalid(
        _salvage_id(data), ErrorData(INVALID_REQUEST, "not a request, notification or response")
    )


def decode(data: bytes | memoryview) -> Incoming:
    """Classify one JSON-RPC message (or a batch). Never raises for bad input."""
    try:
        return _classify(_decode_envelope(data), data)
    except msgspec.ValidationError as exc:
        if _is_array(data):
            return _decode_batch(data)
        return Invalid(_salvage_id(data), ErrorData(INVALID_REQUEST, f"invalid request: {exc}"))
    except RecursionError:
        return Invalid(None, ErrorData(PARSE_ERROR, _TOO_DEEP))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return Invalid(None, ErrorData(PARSE_ERROR, f"parse error: {exc}"))


def _is_array(data: bytes | memoryview | Raw) -> bool:
    return bytes(data).lstrip().startswith(b"[")


def _decode_one(data: Raw) -> Incoming:
    """One member of a batch: a message, never a batch itself."""
    if _is_array(data):  # not decoded: a nested array is no message, however deep
        return Invalid(None, ErrorData(INVALID_REQUEST, "nested batch"))
    return decode(data)


def _decode_batch(data: bytes | memoryview) -> Incoming:
    try:
        parts = _decode_raw_list(data)
    except RecursionError:
        return Invalid(None, ErrorData(PARSE_ERROR, _TOO_DEEP))
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        return Invalid(None, ErrorData(PARSE_ERROR, f"parse error: {exc}"))
    if not parts:
        return Invalid(None, ErrorData(INVALID_REQUEST, "empty batch"))
    return Batch([_decode_one(part) for part in parts])


# -- encoding -------------------------------------------------------------------------------


class _ResultOut(msgspec.Struct):
    jsonrpc: str
    id: RequestId
    result: Any


class _ErrorOut(msgspec.Struct):
    jsonrpc: str
    id: RequestId | None
    error: ErrorData


class _RequestOut(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    id: RequestId
    method: str
    params: Any = None


class _NotificationOut(msgspec.Struct, omit_defaults=True):
    jsonrpc: str
    method: str
    params: Any = None


def _encode_model(obj: Any) -> Any:
    """A value msgspec cannot encode: a pydantic model (an `mcp.types` object a user put in a
    result) is sent as its JSON dump; anything else is refused. Called only for such values,
    so the usual path costs nothing."""
    dump = getattr(obj, "model_dump", None)
    if dump is None:
        raise TypeError(f"cannot encode {type(obj).__name__} as JSON")
    return dump(mode="json", by_alias=True, exclude_none=True)


_encoder = msgspec.json.Encoder(enc_hook=_encode_model)
_encode = _encoder.encode


def encode_result(request_id: RequestId, result: Any) -> bytes:
    return _encode(_ResultOut("2.0", request_id, result))


def encode_error(request_id: RequestId | None, error: ErrorData) -> bytes:
    return _encode(_ErrorOut("2.0", request_id, error))


def encode_request(request_id: RequestId, method: str, params: Any = None) -> bytes:
    return _encode(_RequestOut("2.0", request_id, method, params))


def encode_notification(method: str, params: Any = None) -> bytes:
    return _encode(_NotificationOut("2.0", method, params))
