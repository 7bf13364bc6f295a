"""The streamable HTTP client transport (every era): `StreamableHttpTransport`.

Theory of operation (streamable HTTP):

- Every request is its own POST, in a task of the transport's task group, so concurrent calls
  run concurrently over the client's keep-alive pool and `send()` returns at once (the caller's
  timeout then covers the whole exchange). Notifications and responses are POSTed inline.
- An answer is a JSON body (one message or an array) or an SSE stream of messages; either way
  each message is pushed, in order, into a memory stream that `receive()` reads. Anything the
  server says that is not a JSON-RPC answer (a 4xx/5xx, a wrong content type, a stream that
  ends early, a network error) becomes a JSON-RPC error *response for that request's id*, so
  a caller gets `McpError` and never hangs.
- The era is read off each outgoing message. A message whose `params._meta` carries
  `io.modelcontextprotocol/protocolVersion` is 2026-07-28: it gets `MCP-Protocol-Version`,
  `Mcp-Method` and (for `tools/call`, `prompts/get`, `resources/read`) `Mcp-Name`, and no
  session. Otherwise the handshake era applies: `Mcp-Session-Id` (from the `initialize`
  answer) and `MCP-Protocol-Version` (the version in that answer) go on every later request;
  after `notifications/initialized` a standalone GET stream is opened if the server offers one
  (405: none); a dropped SSE stream resumes through GET with `Last-Event-ID`, a bounded number
  of times, honouring `retry`; closing the transport DELETEs the session.
- Cancellation: the `Peer` announces it by sending `notifications/cancelled`. For a 2026
  request that notification is not POSTed (the revision has no such message on HTTP): the
  request's POST is aborted instead, which closes its response stream, and that is the
  cancellation signal. For a handshake-era request the notification is POSTed (a disconnect is
  not a cancellation in that era) and then the now-unwanted response stream is closed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import msgspec

from trimcp.client.http_base import (
    ACCEPT_POST,
    ACCEPT_SSE,
    CLOSE_GRACE,
    CONNECTION_ERROR,
    DEFAULT_RETRY_MS,
    DRAIN_GRACE,
    INBOUND_BUFFER,
    INCOMING_DECODER,
    MAX_RECONNECTS,
    NEGOTIATED_DECODER,
    HttpTransportBase,
    Outgoing,
    describe_error,
    error_from_body,
    media_type_of,
    modern_version_of,
    peek_outgoing,
    read_limited,
    split_body,
)
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INTERNAL_ERROR, INVALID_REQUEST, ErrorData
from trimcp.protocol.header_values import encode_header_value
from trimcp.protocol.jsonrpc import DECODE_ERRORS
from trimcp.protocol.param_headers import header_params, header_values
from trimcp.protocol.sse import SSEDecoder

if TYPE_CHECKING:
    import httpx2

    from trimcp.runtime.peer import MessageStream


__all__ = ["StreamableHttpTransport", "encode_header_value"]

logger = logging.getLogger("trimcp.client.http")

_NAMED_METHODS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


async def _wait_retry(decoder: SSEDecoder) -> None:
    """Wait the reconnection delay the server asked for (its `retry` field), or the default."""
    await anyio.sleep((decoder.retry if decoder.retry is not None else DEFAULT_RETRY_MS) / 1000)


class StreamableHttpTransport(HttpTransportBase):
    """Streamable HTTP, in the era the client session chooses (2026-07-28 or the handshake).

    Args:
        url: The MCP endpoint (for example `http://127.0.0.1:8000/mcp`).
        headers: Sent on every request.
        auth: A bearer token string, a `BearerAuth`, or any httpx2 auth.
        sse_read_timeout: Longest silence on an open response (seconds or `timedelta`) before
            it counts as lost (default 300 s).
        httpx_client_factory: `(headers=, timeout=, auth=) -> httpx2.AsyncClient`, to tune the
            HTTP client (TLS, proxies, limits).
    """

    supports_modern = True
    session_id: str | None = None
    """The handshake-era session of the open connection, if the server assigned one."""

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MessageStream]:
        client, httpx = self.make_client()
        connection: _StreamableHttpConnection | None = None
        try:
            async with anyio.create_task_group() as tg:
                connection = _StreamableHttpConnection(self, client, tg, httpx)
                try:
                    yield connection
                finally:
                    tg.cancel_scope.cancel()  # stop in-flight POSTs and the GET stream
        finally:
            with anyio.CancelScope(shield=True):
                if connection is not None:
                    with anyio.move_on_after(CLOSE_GRACE):
                        await connection.terminate()
                    connection.close()
                await client.aclose()
                self.session_id = None


class _Exchange:
    """One POST and what became of it."""

    __slots__ = ("answered", "id", "method", "modern", "scope")

    def __init__(self, request_id: Any, method: str | None, *, modern: bool) -> None:
        self.id = request_id  # UNSET for notifications and responses: nobody waits
        self.method = method
        self.modern = modern
        self.answered = False
        self.scope = anyio.CancelScope()

    @property
    def is_request(self) -> bool:
        return self.id is not msgspec.UNSET


class _StreamableHttpConnection:
    """The `MessageStream` of one streamable HTTP connection (see the module docstring)."""

    def __init__(
        self,
        transport: StreamableHttpTransport,
        client: httpx2.AsyncClient,
        task_group: anyio.abc.TaskGroup,
        httpx: Any,
    ) -> None:
        self._transport = transport
        self._url = transport.url
        self._client = client
        self._tg = task_group
        self._httpx = httpx
        self._to_peer, self._from_server = anyio.create_memory_object_stream[bytes](INBOUND_BUFFER)
        self._param_headers: dict[str, dict[tuple[str, ...], str]] = {}
        """Tools' `x-mcp-header` parameters, learnt from `tools/list` answers (2026-07-28)."""
        self.session_id: str | None = None
        self.protocol_version: str | None = None  # negotiated by `initialize`
        self._inflight: dict[Any, _Exchange] = {}
        self._listening = False

    # -- MessageStream -------------------------------------------------------------------

    async def receive(self) -> bytes:
        return await self._from_server.receive()

    async def send(self, message: bytes) -> None:
        out = peek_outgoing(message)
        if out is None:
            await self._post(
                message, self._handshake_headers(), _Exchange(msgspec.UNSET, None, modern=False)
            )
            return
        version = modern_version_of(out)
        headers = self._modern_headers(out, version) if version else self._handshake_headers()
        if version and out.method == "tools/call" and out.params is not None:
            self._add_param_headers(headers, out.params.name, message)
        if out.method is not None and out.id is not msgspec.UNSET:
            exchange = _Exchange(out.id, out.method, modern=version is not None)
            self._inflight[out.id] = exchange
            self._tg.start_soon(self._post, message, headers, exchange)
            return
        if out.method == "notifications/cancelled":
            request_id = out.params.requestId if out.params is not None else None
            cancelled = self._inflight.get(request_id)
            if cancelled is None:
                return  # already answered: nothing left to cancel
            if not cancelled.modern:
                await self._post(
                    message, headers, _Exchange(msgspec.UNSET, out.method, modern=False)
                )
            cancelled.scope.cancel()  # closing the response stream (the 2026 cancellation)
            return
        exchange = _Exchange(msgspec.UNSET, out.method, modern=version is not None)
        accepted = await self._post(message, headers, exchange)
        if out.method == "notifications/initialized" and accepted and not self._listening:
            self._listening = True
            self._tg.start_soon(self._listen)

    def close(self) -> None:
        self._to_peer.close()
        self._from_server.close()

    async def terminate(self) -> None:
        """End the handshake-era session with DELETE (a 405 means the server does not allow it)."""
        if self.session_id is None:
            return
        try:
            response = await self._client.delete(self._url, headers=self._handshake_headers())
            if response.status_code not in (200, 202, 204, 404, 405):
                logger.debug("DELETE of the session answered %s", response.status_code)
        except self._httpx.HTTPError as exc:
            logger.debug("could not end the session: %s", exc)
        self.session_id = self._transport.session_id = None

    # -- headers -------------------------------------------------------------------------

    def _handshake_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": ACCEPT_POST}
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    def _modern_headers(self, out: Outgoing, version: str) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": ACCEPT_POST,
            "MCP-Protocol-Version": version,
        }
        if out.method is not None:
            headers["Mcp-Method"] = encode_header_value(out.method)
            field = _NAMED_METHODS.get(out.method)
            value = getattr(out.params, field) if field and out.params is not None else None
            if isinstance(value, str):
                headers["Mcp-Name"] = encode_header_value(value)
        return headers

    # -- one POST ------------------------------------------------------------------------

    async def _post(self, message: bytes, headers: dict[str, str], exchange: _Exchange) -> bool:
        """POST one message and feed its answer to the receiver. True if the server took it."""
        accepted = False
        try:
            with exchange.scope:
                try:
                    async with self._client.stream(
                        "POST", self._url, content=message, headers=headers
                    ) as response:
                        accepted = response.is_success
                        await self._read_answer(response, exchange)
                except self._httpx.HTTPError as exc:
                    await self._fail(
                        exchange,
                        CONNECTION_ERROR,
                        f"Could not reach {self._url}: {describe_error(exc)}",
                    )
                except Exception as exc:  # a bad answer must never take the connection down
                    logger.exception("handling the answer to %s failed", exchange.method)
                    await self._fail(
                        exchange, INTERNAL_ERROR, f"Bad answer from {self._url}: {exc}"
                    )
        finally:
            if exchange.is_request and self._inflight.get(exchange.id) is exchange:
                del self._inflight[exchange.id]
        return accepted

    async def _read_answer(self, response: httpx2.Response, exchange: _Exchange) -> None:
        status = response.status_code
        if exchange.method == "initialize" and response.is_success:
            session_id = response.headers.get("mcp-session-id")
            if session_id:
                self.session_id = self._transport.session_id = session_id
        if status >= 400:
            await self._read_error(response, exchange)
            return
        if not exchange.is_request:
            return  # accepted; a notification or a response has no answer
        if status == 202:
            await self._fail(
                exchange, INVALID_REQUEST, f"{self._url} accepted the request without answering it"
            )
            return
        content_type = media_type_of(response)
        if content_type == "text/event-stream":
            decoder = await self._pump_events(response, exchange)
            if not exchange.answered and decoder.last_event_id is not None and self.session_id:
                await self._resume(exchange, decoder)
        elif content_type == "application/json":
            for item in split_body(await response.aread()):
                await self._deliver(item, exchange)
        else:
            await self._fail(
                exchange,
                INVALID_REQUEST,
                f"Unexpected content type {content_type!r} from {self._url}",
            )
            return
        if not exchange.answered:
            await self._fail(
                exchange, CONNECTION_ERROR, f"{self._url} ended the response without answering"
            )

    async def _read_error(self, response: httpx2.Response, exchange: _Exchange) -> None:
        status = response.status_code
        body = await read_limited(response)
        error = error_from_body(body)
        if not exchange.is_request:
            logger.warning(
                "%s refused %s: HTTP %s %s",
                self._url,
                exchange.method or "a message",
                status,
                error.message if error is not None else body[:200].decode(errors="replace"),
            )
            return
        if error is None:
            if status == 404 and self.session_id is not None:
                message = f"Session terminated (HTTP 404 from {self._url})"
            else:
                text = body[:200].decode(errors="replace").strip()
                message = f"HTTP {status} {response.reason_phrase} from {self._url}"
                message += f": {text}" if text else ""
            error = ErrorData(INVALID_REQUEST if status < 500 else INTERNAL_ERROR, message)
        await self._deliver(jsonrpc.encode_error(exchange.id, error), exchange)

    # -- SSE -----------------------------------------------------------------------------

    async def _pump_events(
        self,
        response: httpx2.Response,
        exchange: _Exchange | None,
        decoder: SSEDecoder | None = None,
    ) -> SSEDecoder:
        """Deliver the `message` events of one SSE response until it ends (or, once the
        exchange is answered, for a short grace period). Returns the decoder, whose
        `last_event_id`/`retry` say how to resume. A dropped connection is not an error here."""
        decoder = decoder or SSEDecoder()
        try:
            with anyio.CancelScope() as drain:
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        if event.event != "message" or not event.data.strip():
                            continue  # priming events, comments, other event types
                        await self._deliver(event.data.encode(), exchange)
                        if (
                            exchange is not None
                            and exchange.answered
                            and drain.deadline == math.inf
                        ):
                            drain.deadline = anyio.current_time() + DRAIN_GRACE
        except self._httpx.HTTPError as exc:
            logger.debug("SSE stream from %s dropped: %s", self._url, describe_error(exc))
        return decoder

    def _sse_headers(self, last_event_id: str | None) -> dict[str, str]:
        headers = self._handshake_headers()
        headers["Accept"] = ACCEPT_SSE
        del headers["Content-Type"]
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        return headers

    async def _resume(self, exchange: _Exchange, decoder: SSEDecoder) -> None:
        """Resume a request's cut stream through GET with `Last-Event-ID` (handshake era)."""
        fruitless = 0
        while not exchange.answered and fruitless < MAX_RECONNECTS:
            fruitless += 1
            await _wait_retry(decoder)
            before = decoder.last_event_id
            if not await self._follow(decoder, exchange, "resuming the stream"):
                return
            if decoder.last_event_id != before:
                fruitless = 0

    async def _listen(self) -> None:
        """The standalone GET stream: server requests and notifications outside any request."""
        decoder = SSEDecoder()
        fruitless = 0
        while fruitless < MAX_RECONNECTS:
            before = decoder.last_event_id
            # a refusal (405: no standalone stream offered) is fine
            if not await self._follow(decoder, None, "the standalone stream"):
                return
            fruitless = 0 if decoder.last_event_id != before else fruitless + 1
            await _wait_retry(decoder)

    async def _follow(self, decoder: SSEDecoder, exchange: _Exchange | None, what: str) -> bool:
        """One GET of the event stream from `decoder.last_event_id`, its events delivered as
        `exchange`'s (None: the standalone stream). False when the server refuses it."""
        try:
            async with self._client.stream(
                "GET", self._url, headers=self._sse_headers(decoder.last_event_id)
            ) as response:
                if response.status_code != 200 or media_type_of(response) != ACCEPT_SSE:
                    logger.debug("%s: refused with HTTP %s", what, response.status_code)
                    return False
                await self._pump_events(response, exchange, decoder)
        except self._httpx.HTTPError as exc:
            logger.debug("%s failed: %s", what, describe_error(exc))
        return True

    # -- to the receiver -----------------------------------------------------------------

    async def _deliver(self, data: bytes, exchange: _Exchange | None) -> None:
        if exchange is not None and exchange.is_request:
            try:
                peek = INCOMING_DECODER.decode(data)
            except (*DECODE_ERRORS, msgspec.ValidationError):
                peek = None
            if peek is not None and peek.method is None and peek.id == exchange.id:
                exchange.answered = True
                if exchange.method == "initialize" and peek.result is not msgspec.UNSET:
                    self._adopt_version(peek.result)
                elif exchange.method == "tools/list" and peek.result is not msgspec.UNSET:
                    self._learn_param_headers(peek.result)
        try:
            await self._to_peer.send(data)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            logger.debug("connection closed; message from the server dropped")

    def _learn_param_headers(self, result: msgspec.Raw) -> None:
        data = bytes(result)
        if not self._param_headers and b"x-mcp-header" not in data and b"\\" not in data:
            return  # nothing marked (a JSON escape could hide a mark), nothing to forget
        try:
            tools = msgspec.json.decode(data).get("tools") or []
        except (*DECODE_ERRORS, AttributeError):
            return
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            try:
                params = header_params(tool.get("inputSchema") or {})
            except ValueError as exc:
                logger.warning("tool %r has an invalid x-mcp-header (%s)", tool["name"], exc)
                continue
            if params:
                self._param_headers[tool["name"]] = params
            else:
                self._param_headers.pop(tool["name"], None)

    def _add_param_headers(self, headers: dict[str, str], name: Any, message: bytes) -> None:
        """Mirror `x-mcp-header` arguments into `Mcp-Param-*` headers (integers in decimal,
        booleans as true/false, Base64-encoded where needed)."""
        params = self._param_headers.get(name) if isinstance(name, str) else None
        if not params:
            return
        try:
            arguments = msgspec.json.decode(message).get("params", {}).get("arguments")
        except (*DECODE_ERRORS, AttributeError):
            return
        for header, text in header_values(params, arguments):
            headers[f"Mcp-Param-{header}"] = encode_header_value(text)

    def _adopt_version(self, result: msgspec.Raw) -> None:
        try:
            version = NEGOTIATED_DECODER.decode(result).protocolVersion
        except (*DECODE_ERRORS, msgspec.ValidationError):
            return
        self.protocol_version = version

    async def _fail(self, exchange: _Exchange, code: int, message: str) -> None:
        """Answer a request on the server's behalf, so its caller is not left waiting."""
        if not exchange.is_request:
            logger.warning("%s: %s", exchange.method or "message", message)
            return
        if exchange.answered or exchange.scope.cancel_called:
            return
        await self._deliver(jsonrpc.encode_error(exchange.id, ErrorData(code, message)), exchange)
