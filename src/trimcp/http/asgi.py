"""A small ASGI kit shaped like Starlette's: `Request`, headers, query parameters and responses.

Custom-route handlers written for FastMCP (`async def h(request) -> Response`) run unchanged
on these objects, without Starlette at run time. Everything is computed lazily from the ASGI
scope: a handler that never looks at the query string never parses it.

```
Request(scope, receive)        .method .url .headers .query_params .path_params .client
                               .cookies .state .app .scope  await .body() .json()
                               .stream()  await .is_disconnected()
Response(content, status_code, headers, media_type, background)
├── JSONResponse               msgspec encoding (dicts, lists, Structs; pydantic via a hook)
├── PlainTextResponse
├── HTMLResponse
├── RedirectResponse(url, status_code=307)
└── StreamingResponse(iterable, ...)   a sibling task watches `http.disconnect`
```

Exceptions (`BodyTooLarge`, `ClientDisconnect`) belong to trimcp's one tree (`TrimcpError`).
"""

from __future__ import annotations

import http.cookies
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
)
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote

import anyio
import msgspec

from trimcp.exceptions import TrimcpError

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


# -- headers ---------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only view of an ASGI header list (`[(name, value), ...]` bytes).

    Lookups scan the raw list: header lists are short, and no dict is built per request.
    """

    __slots__ = ("_list",)

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Scope | None = None,
    ) -> None:
        if raw is not None:
            self._list = raw
        elif scope is not None:
            self._list = scope["headers"]
        elif headers is not None:
            self._list = [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            ]
        else:
            self._list = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return self._list

    def get(self, key: str, default: Any = None) -> Any:
        name = key.lower().encode("latin-1")
        for k, v in self._list:
            if k == name or k.lower() == name:
                return v.decode("latin-1")
        return default

    def getlist(self, key: str) -> list[str]:
        name = key.lower().encode("latin-1")
        return [v.decode("latin-1") for k, v in self._list if k.lower() == name]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = key.lower().encode("latin-1")
        return any(k.lower() == name for k, _ in self._list)

    def keys(self) -> list[str]:  # type: ignore[override]
        return [k.decode("latin-1").lower() for k, _ in self._list]

    def values(self) -> list[str]:  # type: ignore[override]
        return [v.decode("latin-1") for _, v in self._list]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in self._list]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self.items()) == sorted(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"


class MutableHeaders(Headers):
    """Headers of a response; writes go to the raw list the response sends."""

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name = key.lower().encode("latin-1")
        encoded = value.encode("latin-1")
        found = False
        kept: list[tuple[bytes, bytes]] = []
        for k, v in self._list:
            if k.lower() == name:
                if not found:
                    kept.append((name, encoded))
                    found = True
            else:
                kept.append((k, v))
        if not found:
            kept.append((name, encoded))
        self._list[:] = kept

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._list[:] = [(k, v) for k, v in self._list if k.lower() != name]

    def setdefault(self, key: str, value: str) -> str:
        existing = self.get(key)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        self.append(key, value)
        return value

    def append(self, key: str, value: str) -> None:
        self._list.append((key.lower().encode("latin-1"), value.encode("latin-1")))

    def update(self, other: Mapping[str, str]) -> None:
        for key, value in other.items():
            self[key] = value


# -- query string, URL, client ---------------------------------------------------------------


class QueryParams(Mapping[str, str]):
    """Parsed query string; `[key]`/`get` give the last value, `getlist` all of them."""

    __slots__ = ("_dict", "_list")

    def __init__(self, query: str | bytes | Iterable[tuple[str, str]] = "") -> None:
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(query, str):
            self._list = parse_qsl(query, keep_blank_values=True)
        else:
            self._list = list(query)
        self._dict = dict(self._list)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._list if k == key]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._list)

    def __getitem__(self, key: str) -> str:
        return self._dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __str__(self) -> str:
        from urllib.parse import urlencode

        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"QueryParams({str(self)!r})"


class Address(NamedTuple):
    host: str
    port: int


class URL:
    """The request URL, rebuilt from the scope (`scheme`, `Host`, `root_path` + `path`, query)."""

    __slots__ = ("_url", "fragment", "hostname", "netloc", "path", "port", "query", "scheme")

    def __init__(self, url: str = "", *, scope: Scope | None = None) -> None:
        if scope is None:
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            self.scheme, self.netloc, self.path = parts.scheme, parts.netloc, parts.path
            self.query, self.fragment = parts.query, parts.fragment
            self.hostname, self.port = parts.hostname, parts.port
            self._url = url
            return
        self.scheme = scope.get("scheme", "http")
        self.path = scope["path"]
        self.query = scope.get("query_string", b"").decode("latin-1")
        self.fragment = ""
        host = None
        for k, v in scope["headers"]:
            if k == b"host":
                host = v.decode("latin-1")
                break
        if host is None:
            server = scope.get("server")
            if server is not None:
                host_part, port = server[0], server[1]
                default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(self.scheme)
                host = host_part if port in (None, default) else f"{host_part}:{port}"
            else:
                host = ""
        self.netloc = host
        self.hostname, self.port = _split_host(host)
        url = f"{self.scheme}://{host}{self.path}"
        self._url = f"{url}?{self.query}" if self.query else url

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"URL({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return str(self) == str(other)

    __hash__ = None  # type: ignore[assignment]


def _split_host(host: str) -> tuple[str | None, int | None]:
    """`example.com:8080` -> ("example.com", 8080); `[::1]:80` -> ("::1", 80)."""
    if not host:
        return None, None
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, None
        name, rest = host[1:end], host[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.partition(":")
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        port = None
    return name.lower(), port


class State:
    """An attribute bag (`request.state.user = ...`), stored in a dict it may share."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __setattr__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._state[key]
        except KeyError:
            raise AttributeError(f"'State' object has no attribute {key!r}") from None

    def __delattr__(self, key: str) -> None:
        del self._state[key]

    def __repr__(self) -> str:
        return f"State({self._state!r})"


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
        """The body decoded as JSON (msgspec); `msgspec.DecodeError` (a `ValueError`) if bad."""
        return _decode_json(await self.body())

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


# -- responses -------------------------------------------------------------------------------


class Response:
    """A complete response sent in one `http.response.body` message.

    Args:
        content: `bytes`, `str` (encoded as UTF-8), or `None` for an empty body.
        status_code: the HTTP status.
        headers: extra headers; `content-length` and `content-type` are added unless given.
        media_type: the `content-type` (text types get `; charset=utf-8`).
        background: an awaitable callable (e.g. Starlette's `BackgroundTask`) run after the
            response is sent.
    """

    media_type: str | None = None
    charset = "utf-8"

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        self.raw_headers = self._init_headers(headers, len(self.body))

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode(self.charset)
        if isinstance(content, (bytearray, memoryview)):
            return bytes(content)
        raise TypeError(f"{type(self).__name__} cannot send {type(content).__name__}")

    def _init_headers(
        self, headers: Mapping[str, str] | None, length: int | None
    ) -> list[tuple[bytes, bytes]]:
        raw: list[tuple[bytes, bytes]] = []
        has_length = has_type = False
        if headers:
            for k, v in headers.items():
                name = k.lower()
                has_length = has_length or name == "content-length"
                has_type = has_type or name == "content-type"
                raw.append((name.encode("latin-1"), v.encode("latin-1")))
        if (
            length is not None
            and not has_length
            and not (self.status_code < 200 or self.status_code in (204, 304))
        ):
            raw.append((b"content-length", str(length).encode("latin-1")))
        if self.media_type is not None and not has_type:
            content_type = self.media_type
            if content_type.startswith("text/") and "charset=" not in content_type.lower():
                content_type += "; charset=" + self.charset
            raw.append((b"content-type", content_type.encode("latin-1")))
        return raw

    @property
    def headers(self) -> MutableHeaders:
        return MutableHeaders(raw=self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
    ) -> None:
        cookie: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            morsel["samesite"] = samesite
        self.raw_headers.append((b"set-cookie", cookie.output(header="").strip().encode("latin-1")))

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None) -> None:
        self.set_cookie(key, max_age=0, path=path, domain=domain)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})
        if self.background is not None:
            await self.background()


class PlainTextResponse(Response):
    media_type = "text/plain"


class HTMLResponse(Response):
    media_type = "text/html"


def _encode_fallback(obj: Any) -> Any:
    """msgspec hook for what it does not know: pydantic models and dataclass-likes."""
    dump = getattr(obj, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_json_encoder = msgspec.json.Encoder(enc_hook=_encode_fallback)


class JSONResponse(Response):
    """JSON encoded with msgspec: dicts, lists, msgspec Structs, dataclasses; pydantic models
    through a fallback hook."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _json_encoder.encode(content)


class RedirectResponse(Response):
    def __init__(
        self,
        url: str | URL,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        super().__init__(
            content=b"", status_code=status_code, headers=headers, background=background
        )
        self.raw_headers.append(
            (b"location", quote(str(url), safe=":/%#?=@[]!$&'()*+,;").encode("latin-1"))
        )


class StreamingResponse(Response):
    """A body sent chunk by chunk from an (async) iterable of `bytes`/`str`.

    A sibling task watches for `http.disconnect` and stops the iteration when the client goes
    (the iterable's `finally` blocks run). A sync iterable is stepped in a worker thread.
    """

    def __init__(
        self,
        content: AsyncIterable[Any] | Iterable[Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = b""
        if isinstance(content, AsyncIterable):
            self.body_iterator: AsyncIterable[Any] = content
        else:
            self.body_iterator = _iterate_in_thread(content)
        self.raw_headers = self._init_headers(headers, None)

    async def _stream(self, scope: Scope, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        iterator = self.body_iterator
        try:
            if scope.get("method") != "HEAD":
                async for chunk in iterator:
                    if isinstance(chunk, str):
                        chunk = chunk.encode(self.charset)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            close = getattr(iterator, "aclose", None)
            if close is not None:
                await close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as tg:

            async def watch_disconnect() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        tg.cancel_scope.cancel()
                        return

            tg.start_soon(watch_disconnect)
            try:
                await self._stream(scope, send)
            except OSError:
                pass  # the connection went away under us: nothing left to tell anyone
            tg.cancel_scope.cancel()
        if self.background is not None:
            await self.background()


async def _iterate_in_thread(iterable: Iterable[Any]) -> AsyncIterator[Any]:
    from trimcp.runtime.threads import run_sync

    iterator = iter(iterable)
    done = object()
    while True:
        item = await run_sync(next, iterator, done)
        if item is done:
            return
        yield item
