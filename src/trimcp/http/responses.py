"""The response classes of trimcp's ASGI kit, shaped like Starlette's.

```
Response(content, status_code, headers, media_type, background)
├── JSONResponse               msgspec encoding (dicts, lists, Structs; pydantic via a hook)
├── PlainTextResponse
├── HTMLResponse
├── RedirectResponse(url, status_code=307)
└── StreamingResponse(iterable, ...)   a sibling task watches `http.disconnect`
```

Each is an ASGI callable. `trimcp.http.asgi` (the request side) re-exports them all, so
`from trimcp.http.asgi import JSONResponse` keeps working.
"""

from __future__ import annotations

import http.cookies
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
import msgspec

from trimcp.http.datastructures import URL, MutableHeaders

if TYPE_CHECKING:
    from trimcp.http.asgi import Receive, Scope, Send

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
    "StreamingResponse",
]


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
