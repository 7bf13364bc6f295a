"""The legacy HTTP+SSE client transport (protocol 2024-11-05): `SSETransport`.

One GET opens the event stream; its first event, `endpoint`, names the URL (same origin only)
that every message is POSTed to; the server's messages arrive as `message` events on the
stream. Handshake era only. A POST that fails becomes a JSON-RPC error answer for its request,
so a caller never hangs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import anyio
import anyio.abc
import msgspec

from trimcp.client.http_base import (
    ACCEPT_SSE,
    CONNECTION_ERROR,
    ERROR_BODY_LIMIT,
    INBOUND_BUFFER,
    HttpTransportBase,
    describe_error,
    error_from_body,
    media_type_of,
    peek_outgoing,
)
from trimcp.exceptions import ClientError
from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INTERNAL_ERROR, INVALID_REQUEST, ErrorData
from trimcp.protocol.sse import SSEDecoder

if TYPE_CHECKING:
    import httpx2

    from trimcp.runtime.peer import MessageStream


__all__ = ["SSETransport"]

logger = logging.getLogger("trimcp.client.http")


class SSETransport(HttpTransportBase):
    """The 2024-11-05 HTTP+SSE transport: one GET event stream, messages POSTed to the
    `endpoint` it announces. Handshake era only (`supports_modern` is false, so `Client`
    skips the 2026 probe).

    Args:
        url: The SSE endpoint (for example `http://127.0.0.1:8000/sse`).
        headers: Sent on every request.
        auth: A bearer token string, a `BearerAuth`, or any httpx2 auth.
        sse_read_timeout: Longest silence on the event stream before it counts as lost
            (default 300 s; the server's keep-alives reset it).
        httpx_client_factory: `(headers=, timeout=, auth=) -> httpx2.AsyncClient`.
    """

    supports_modern = False
    _failure: str | None = None

    async def failure_hint(self) -> str | None:
        return self._failure

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MessageStream]:
        client, httpx = self.make_client()
        connection = _SSEConnection(self.url, client, httpx)
        self._failure = None
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(connection.run)
                if connection.endpoint is not None:
                    try:
                        yield connection
                    finally:
                        self._failure = connection.failure
                        tg.cancel_scope.cancel()
            if connection.endpoint is None:  # raised out here: not wrapped in an ExceptionGroup
                self._failure = connection.failure
                raise ClientError(
                    f"Could not open the SSE stream at {self.url}: {connection.failure}"
                )
        finally:
            with anyio.CancelScope(shield=True):
                connection.close()
                await client.aclose()


class _SSEConnection:
    """The `MessageStream` of one legacy HTTP+SSE connection."""

    def __init__(self, url: str, client: httpx2.AsyncClient, httpx: Any) -> None:
        self._url = url
        self._client = client
        self._httpx = httpx
        self._to_peer, self._from_server = anyio.create_memory_object_stream[bytes](INBOUND_BUFFER)
        self.endpoint: str | None = None
        self.failure: str | None = None

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Read the event stream until it ends; `started` once the endpoint is known (or the
        stream failed first: then `endpoint` stays `None` and `failure` says why)."""
        started = False
        try:
            async with self._client.stream(
                "GET", self._url, headers={"Accept": ACCEPT_SSE}
            ) as response:
                if response.status_code != 200:
                    self.failure = f"HTTP {response.status_code} {response.reason_phrase}"
                elif media_type_of(response) != ACCEPT_SSE:
                    self.failure = f"unexpected content type {media_type_of(response)!r}"
                else:
                    decoder = SSEDecoder()
                    async for chunk in response.aiter_bytes():
                        for event in decoder.feed(chunk):
                            if event.event == "endpoint" and self.endpoint is None:
                                endpoint = self._resolve(event.data.strip())
                                if endpoint is None:
                                    task_status.started()  # `connect` reports `failure`
                                    return
                                self.endpoint = endpoint
                                started = True
                                task_status.started()
                            elif event.event == "message" and event.data.strip() and started:
                                await self._deliver(event.data.encode())
                    self.failure = "the server closed the SSE stream"
        except self._httpx.HTTPError as exc:
            self.failure = f"could not reach {self._url}: {describe_error(exc)}"
        except Exception as exc:
            logger.exception("the SSE stream failed")
            self.failure = f"the SSE stream failed: {exc}"
        finally:
            self._to_peer.close()  # the receiver sees end-of-stream: the connection is over
        if not started:  # not on cancellation: then nobody is waiting for `start()`
            task_status.started()

    def _resolve(self, endpoint: str) -> str | None:
        resolved = urljoin(self._url, endpoint)
        sse, target = urlsplit(self._url), urlsplit(resolved)
        if (sse.scheme, sse.netloc) != (target.scheme, target.netloc):
            self.failure = f"the endpoint {resolved!r} is not on the SSE stream's origin"
            return None
        return resolved

    async def receive(self) -> bytes:
        return await self._from_server.receive()

    async def send(self, message: bytes) -> None:
        assert self.endpoint is not None
        out = peek_outgoing(message)
        request_id = out.id if out is not None and out.method is not None else msgspec.UNSET
        try:
            response = await self._client.post(
                self.endpoint,
                content=message,
                headers={"Content-Type": "application/json"},
            )
        except self._httpx.HTTPError as exc:
            await self._refuse(
                request_id,
                ErrorData(
                    CONNECTION_ERROR, f"Could not reach {self.endpoint}: {describe_error(exc)}"
                ),
            )
            return
        if response.is_success:
            return
        error = error_from_body(response.content[:ERROR_BODY_LIMIT])
        if error is None:
            text = response.text[:200].strip()
            message_text = (
                f"HTTP {response.status_code} {response.reason_phrase} from {self.endpoint}"
            )
            message_text += f": {text}" if text else ""
            code = INVALID_REQUEST if response.status_code < 500 else INTERNAL_ERROR
            error = ErrorData(code, message_text)
        await self._refuse(request_id, error)

    async def _refuse(self, request_id: Any, error: ErrorData) -> None:
        if request_id is msgspec.UNSET:
            logger.warning("%s", error.message)
            return
        await self._deliver(jsonrpc.encode_error(request_id, error))

    async def _deliver(self, data: bytes) -> None:
        try:
            await self._to_peer.send(data)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            logger.debug("connection closed; message from the server dropped")

    def close(self) -> None:
        self._to_peer.close()
        self._from_server.close()
