"""The client side of 2026-07-28 multi-round-trip requests.

When `tools/call`, `prompts/get` or `resources/read` answers `resultType: "input_required"`,
the client fulfils each input request with the same handlers that answer live
server-to-client requests in the handshake era (sampling, elicitation, roots), then retries
the same method -- a new request id, the original params plus `inputResponses` and the
`requestState` echoed unchanged -- for at most `MAX_ROUNDS` rounds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from trimcp.exceptions import ClientError
from trimcp.protocol.jsonrpc import DECODE_ERRORS, Request

__all__ = ["MAX_ROUNDS", "drive_input_rounds"]

MAX_ROUNDS = 10


class _Head(msgspec.Struct):
    resultType: str | None = None
    inputRequests: dict[str, Any] | None = None
    requestState: str | None = None


_decode_head = msgspec.json.Decoder(_Head).decode


async def drive_input_rounds(
    send: Callable[..., Awaitable[msgspec.Raw]],
    serve: Callable[[Request], Awaitable[Any]],
    method: str,
    params: dict[str, Any] | None,
    raw: msgspec.Raw,
    options: dict[str, Any],
) -> msgspec.Raw:
    """Return the final (complete) raw result, answering input rounds on the way."""
    for _ in range(MAX_ROUNDS):
        try:
            head = _decode_head(raw)
        except DECODE_ERRORS:  # ValidationError is a DecodeError
            return raw  # not an object: let the caller's decoding report it
        if head.resultType != "input_required":
            return raw
        if not head.inputRequests and head.requestState is None:
            raise ClientError(f"The server asked for input to {method} but sent no input requests")
        responses: dict[str, Any] = {}
        for key, request in (head.inputRequests or {}).items():
            responses[key] = await _fulfil(serve, key, request)
        retry = {
            k: v for k, v in (params or {}).items() if k not in ("inputResponses", "requestState")
        }
        retry["inputResponses"] = responses
        if head.requestState is not None:
            retry["requestState"] = head.requestState
        raw = await send(method, retry, **options)
    raise ClientError(
        f"The server kept asking for input to {method} for more than {MAX_ROUNDS} rounds"
    )


async def _fulfil(serve: Callable[[Request], Awaitable[Any]], key: str, request: Any) -> Any:
    if not isinstance(request, dict) or not isinstance(request.get("method"), str):
        raise ClientError(f"Malformed input request {key!r} from the server")
    params = request.get("params")
    inbound = Request(
        id=f"input:{key}",
        method=request["method"],
        params=msgspec.Raw(msgspec.json.encode(params)) if params is not None else None,
    )
    result = await serve(inbound)
    return msgspec.to_builtins(result)
