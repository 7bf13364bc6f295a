"""What the HTTP client transports share: options, the HTTP client, and reading messages.

Owns the constants of both transports (timeouts, `Accept` values, `CONNECTION_ERROR`), the
cheap peeks at a message's envelope (id, method, era) done without decoding it fully, the
helpers that turn an HTTP answer into messages or an `ErrorData`, the lazy import of httpx2
(never at `import trimcp`), and `HttpTransportBase`, which holds the options both transports
take and builds their `httpx2.AsyncClient`. The transports themselves live in
`trimcp.client.streamable_http` and `trimcp.client.sse`; `trimcp.client.http` re-exports them.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from trimcp.client.auth import resolve_auth
from trimcp.client.transports import ClientTransport
from trimcp.exceptions import ClientError
from trimcp.protocol.envelope import PROTOCOL_VERSION_KEY
from trimcp.protocol.errors import ErrorData
from trimcp.protocol.jsonrpc import DECODE_ERRORS

if TYPE_CHECKING:
    import httpx2


__all__ = ["CONNECTION_ERROR"]

CONNECTION_ERROR = -32000
"""Code of the error answer synthesized when the server cannot be reached (the SDKs'
`CONNECTION_CLOSED`). HTTP errors without a JSON-RPC body become -32600 (4xx) or -32603 (5xx)."""

ACCEPT_POST = "application/json, text/event-stream"
ACCEPT_SSE = "text/event-stream"

DEFAULT_TIMEOUT = 30.0  # connect, write, pool
DEFAULT_SSE_READ_TIMEOUT = 300.0  # seconds without a byte before a response counts as lost
MAX_RECONNECTS = 3  # consecutive fruitless attempts to resume an SSE stream
DEFAULT_RETRY_MS = 1000  # before a reconnection, when the server gave no `retry`
DRAIN_GRACE = 5.0  # how long a response stream may stay open after its answer arrived
CLOSE_GRACE = 3.0  # bound on the DELETE that ends a session
ERROR_BODY_LIMIT = 64 * 1024
INBOUND_BUFFER = 64


# -- peeking at messages -------------------------------------------------------------------


class _OutParams(msgspec.Struct):
    name: Any = None
    uri: Any = None
    requestId: Any = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class Outgoing(msgspec.Struct):
    id: Any = msgspec.UNSET
    method: str | None = None
    params: _OutParams | None = None


class _Incoming(msgspec.Struct):
    id: Any = msgspec.UNSET
    method: str | None = None
    result: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: Any = msgspec.UNSET


class _Negotiated(msgspec.Struct):
    protocolVersion: str | None = None


class _ErrorBody(msgspec.Struct):
    error: ErrorData


_outgoing = msgspec.json.Decoder(Outgoing)
INCOMING_DECODER = msgspec.json.Decoder(_Incoming)
_messages = msgspec.json.Decoder(list[msgspec.Raw])
NEGOTIATED_DECODER = msgspec.json.Decoder(_Negotiated)
_error_body = msgspec.json.Decoder(_ErrorBody)


def peek_outgoing(message: bytes) -> Outgoing | None:
    try:
        return _outgoing.decode(message)
    except (*DECODE_ERRORS, msgspec.ValidationError):
        return None  # not ours to judge: send it as is, the server answers


def modern_version_of(out: Outgoing) -> str | None:
    meta = out.params.meta if out.params is not None else None
    version = meta.get(PROTOCOL_VERSION_KEY) if meta else None
    return version if isinstance(version, str) else None


def split_body(body: bytes) -> list[bytes]:
    """A JSON answer body as messages: one object, or the elements of an array."""
    stripped = body.lstrip()
    if stripped.startswith(b"["):
        try:
            return [bytes(item) for item in _messages.decode(stripped)]
        except (*DECODE_ERRORS, msgspec.ValidationError):
            pass
    return [body]


def error_from_body(body: bytes) -> ErrorData | None:
    try:
        return _error_body.decode(body).error
    except (*DECODE_ERRORS, msgspec.ValidationError):
        return None


def load_httpx() -> Any:
    try:
        import httpx2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ClientError(
            "The HTTP transports need httpx2: install trimcp with the `http` extra "
            "(`pip install 'trimcp[http]'`)"
        ) from exc
    return httpx2


def _seconds(value: float | datetime.timedelta | None) -> float | None:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value


def media_type_of(response: httpx2.Response) -> str:
    return response.headers.get("content-type", "").partition(";")[0].strip().lower()


async def read_limited(response: httpx2.Response, limit: int = ERROR_BODY_LIMIT) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def adapt_auth(auth: Any, httpx: Any) -> Any:
    """`auth` as `httpx` takes it: an `Auth` of another HTTP library (an `httpx.Auth`
    subclass, as FastMCP programs write them, given to httpx2) runs through its `auth_flow`."""
    if auth is None or isinstance(auth, httpx.Auth) or callable(auth):
        return auth
    found = getattr(auth, "auth_flow", None)
    if found is None:
        return auth  # not an auth: the library says so
    flow: Callable[[Any], Any] = found

    class ForeignAuth(httpx.Auth):  # type: ignore[misc]  # httpx is loaded at run time
        requires_request_body = getattr(auth, "requires_request_body", False)
        requires_response_body = getattr(auth, "requires_response_body", False)

        def auth_flow(self, request: Any) -> Any:
            return flow(request)

    return ForeignAuth()


class HttpTransportBase(ClientTransport):
    """Options shared by both HTTP transports and the creation of the HTTP client."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        sse_read_timeout: float | datetime.timedelta | None = None,
        httpx_client_factory: Callable[..., Any] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Not an HTTP(S) URL: {url!r}")
        self.url = url
        self.headers = dict(headers or {})
        self.auth = resolve_auth(auth)
        self.sse_read_timeout = _seconds(sse_read_timeout)
        self.httpx_client_factory = httpx_client_factory

    def _set_auth(self, auth: Any) -> None:
        """`Client(..., auth=...)` lands here (FastMCP's hook name)."""
        self.auth = resolve_auth(auth)

    def make_client(self) -> tuple[httpx2.AsyncClient, Any]:
        """The HTTP client for one connection, and the library it comes from (its exceptions
        are the ones to catch): httpx2's, or what `httpx_client_factory` returns, which may
        be an `httpx.AsyncClient`, as FastMCP programs write it."""
        httpx = load_httpx()
        read = (
            self.sse_read_timeout if self.sse_read_timeout is not None else DEFAULT_SSE_READ_TIMEOUT
        )
        client: httpx2.AsyncClient
        if self.httpx_client_factory is None:
            timeout = httpx.Timeout(DEFAULT_TIMEOUT, read=read)
            client = httpx.AsyncClient(
                headers=self.headers,
                timeout=timeout,
                auth=adapt_auth(self.auth, httpx),
                follow_redirects=True,
            )
            return client, httpx
        # FastMCP's / the SDK's factory signature: (headers=, timeout=, auth=); the timeout as
        # a (connect, read, write, pool) tuple, which httpx and httpx2 both read
        client = self.httpx_client_factory(
            headers=self.headers,
            timeout=(DEFAULT_TIMEOUT, read, DEFAULT_TIMEOUT, DEFAULT_TIMEOUT),
            auth=self.auth,
        )
        library = sys.modules.get(type(client).__module__.partition(".")[0])
        return client, library if hasattr(library, "HTTPError") else httpx

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(url={self.url!r})>"


def describe_error(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
