"""A small ASGI kit shaped like Starlette's: `Request`, headers, query parameters and responses.

This module owns the ASGI types, the kit's exceptions and `Request`; it re-exports the rest, so
every name keeps its import path: `trimcp.http.datastructures` (`Headers`, `MutableHeaders`,
`QueryParams`, `URL`, `Address`, `State`) and `trimcp.http.responses` (the response classes).

Custom-route handlers written for FastMCP (`async def h(request) -> Response`) run unchanged
on these objects, without Starlette at run time. Everything is computed lazily from the ASGI
scope: a handler that never looks at the query string never parses it.

```
Request(scope, receive)        .method .url .headers .query_params .path_params .client
                               .cookies .state .app .scope  await .body() .json()
                               .stream()  await .is_disconnected()
```

The response classes and their tree: see `trimcp.http.responses`.

Exceptions (`BodyTooLarge`, `ClientDisconnect`) belong to trimcp's one tree (`TrimcpError`).
"""

from __future__ import annotations

import http.cookies
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    MutableMapping,
)
from typing import Any

import anyio
import msgspec

from trimcp.exceptions import TrimcpError
from trimcp.http.datastructures import URL, Address, Headers, MutableHeaders, QueryParams, State
from trimcp.http.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "URL",
    "Address",
    "BodyTooLarge",
    "ClientDisconnect",
    "HTMLResponse",
    "Headers",
    "JSONResponse",
    "MutableHeaders",
    "PlainTextResponse",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "Response",
    "State",
    "StreamingResponse",
    "get_route_path",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024
"""Default cap on a request body read through `Request.body()` (4 MiB)."""


class BodyTooLarge(TrimcpError):
    """The request body is over the limit (the client's fault: answer 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body exceeds {limit} bytes")
        self.limit = limit


class ClientDisconnect(TrimcpError):
    """The client went away while its request body was being read."""


def get_route_path(scope: Scope) -> str:
    """The part of `scope["path"]` below `scope["root_path"]` (the path this app routes on).

    ASGI servers and Starlette's `Mount` keep the full path in `path` and the mount point in
    `root_path`; older ones strip the prefix from `path`. Both are handled.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if len(path) == len(root_path):
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


# -- request ---------------------------------------------------------------------------------


async def _empty_receive() -> Message:
    raise RuntimeError("This request has no receive channel")


_decode_json = msgspec.json.Decoder().decode


class Request:
    """One HTTP request, read lazily from the ASGI scope and `receive` callable.

    Args:
        scope: the ASGI `http` scope.
        receive: the ASGI receive callable (omit for a request whose body is not read).
        max_body_size: `body()`, `json()` raise `BodyTooLarge` past this many bytes
            (`None`: no limit). `stream()` is not capped.
    """

    __slots__ = (
        "_body",
        "_cookies",
        "_headers",
        "_is_disconnected",
        "_query_params",
        "_receive",
        "_received_all",
        "_state",
        "_stream_consumed",
        "_url",
        "max_body_size",
        "scope",
    )

    def __init__(
        self,
        scope: Scope,
        receive: Receive = _empty_receive,
        *,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self.scope = scope
        self._receive = receive
        self.max_body_size = max_body_size
        self._body: bytes | None = None
        self._headers: Headers | None = None
        self._query_params: QueryParams | None = None
        self._url: URL | None = None
        self._cookies: dict[str, str] | None = None
        self._state: State | None = None
        self._stream_consumed = False
        self._received_all = False
        self._is_disconnected = False

    # scope views

    @property
    def method(self) -> str:
        return self.scope["method"]  # type: ignore[no-any-return]

    @property
    def url(self) -> URL:
        if self._url is None:
            self._url = URL(scope=self.scope)
        return self._url

    @property
    def base_url(self) -> URL:
        url = self.url
        root = self.scope.get("root_path", "")
        return URL(f"{url.scheme}://{url.netloc}{root}/")

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(raw=self.scope["headers"])
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        if self._query_params is None:
            self._query_params = QueryParams(self.scope.get("query_string", b""))
        return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        return self.scope.get("path_params", {})  # type: ignore[no-any-return]

    @property
    def client(self) -> Address | None:
        client = self.scope.get("client")
        return None if client is None else Address(client[0], client[1])

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            cookies: dict[str, str] = {}
            for value in self.headers.getlist("cookie"):
                jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
                try:
                    jar.load(value)
                except http.cookies.CookieError:
                    continue
                cookies.update({k: m.value for k, m in jar.items()})
            self._cookies = cookies
        return self._cookies

    @property
    def state(self) -> State:
        if self._state is None:
            self._state = State(self.scope.setdefault("state", {}))
        return self._state

    @property
    def app(self) -> Any:
        return self.scope.get("app")

    @property
    def receive(self) -> Receive:
        return self._receive

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    # body

    async def stream(self) -> AsyncIterator[bytes]:
        """The body in the chunks it arrives in (not capped; not replayable unless read)."""
        if self._body is not None:
            yield self._body
            yield b""
            return
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        self._stream_consumed = True
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "http.request":
                chunk = message.get("body", b"")
                if not message.get("more_body", False):
                    self._received_all = True
                    if chunk:
                        yield chunk
                    break
                if chunk:
                    yield chunk
            elif kind == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect("client disconnected while the body was read")
        yield b""

    async def body(self) -> bytes:
        """The whole body; `BodyTooLarge` past `max_body_size` (checked on `Content-Length`
        first, then while reading)."""
        if self._body is not None:
            return self._body
        limit = self.max_body_size
        if limit is not None:
            declared = self.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
        if self._stream_consumed:
            raise RuntimeError("Stream consumed")
        self._stream_consumed = True
        # the common case: one message carries the whole body, no join
        message = await self._receive()
        chunks: list[bytes] = []
        size = 0
        while True:
            kind = message["type"]
            if kind == "http.request":
                chunk: bytes = message.get("body", b"")
                last = not message.get("more_body", False)
                if last:
                    self._received_all = True
                    if not chunks:
                        if limit is not None and len(chunk) > limit:
                            raise BodyTooLarge(limit)
                        self._body = chunk
                        return chunk
                if chunk:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise BodyTooLarge(limit)
                    chunks.append(chunk)
                if last:
                    break
            elif kind == "http.disconnect":
                self._is_disconnected = True
                raise ClientDisconnect("client disconnected while the body was read")
            message = await self._receive()
        self._body = b"".join(chunks)
        return self._body

    async def drain(self, *, max_bytes: int = 4 * DEFAULT_MAX_BODY_SIZE) -> bool:
        """Read and drop what is left of the body, up to `max_bytes`; `True` if it all came.

        Answering (413, say) before the client has sent its body makes many clients see a
        reset instead of the answer; draining first lets them read it.
        """
        if self._body is not None or self._received_all:
            return True
        self._stream_consumed = True
        dropped = 0
        while dropped <= max_bytes:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._is_disconnected = True
                return False
            dropped += len(message.get("body", b""))
            if not message.get("more_body", False):
                self._received_all = True
                return True
        return False

    async def json(self) -> Any:
        """The body decoded as JSON (msgspec); `msgspec.DecodeError` (a `ValueError`) if bad,
        nested too deeply included."""
        body = await self.body()
        try:
            return _decode_json(body)
        except RecursionError as exc:
            raise msgspec.DecodeError("JSON nested too deeply") from exc

    async def is_disconnected(self) -> bool:
        """Whether the client has gone (looks at one pending message without waiting)."""
        if not self._is_disconnected:
            message: Message = {}
            with anyio.CancelScope() as scope:
                scope.cancel()
                message = await self._receive()
            if message.get("type") == "http.disconnect":
                self._is_disconnected = True
        return self._is_disconnected

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url})"
