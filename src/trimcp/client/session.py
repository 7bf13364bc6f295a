"""The client's MCP layer over `runtime.Peer`: era negotiation, the per-request envelope, and
everything the server sends unasked (logs, progress, list-changed, server-to-client requests).

Era negotiation ("auto", shared/SPEC-NOTES.md rows #3/#43): probe `server/discover` with the
modern `_meta`; a result that lists 2026-07-28 makes the session modern and every later request
carries that `_meta`. Any error or a probe timeout falls back to the `initialize` handshake,
never keyed to one error code. A connection that ends is not an era verdict: it is reported.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import msgspec

from trimcp.client.context import RequestContext
from trimcp.client.elicitation import (
    answer_elicitation,
    answer_roots,
    answer_sampling,
)
from trimcp.client.interop import sdk_notification
from trimcp.client.logging import default_log_handler
from trimcp.client.messages import MessageHandler
from trimcp.exceptions import ClientError, McpError
from trimcp.protocol.envelope import (
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LOG_LEVEL_KEY,
    PROTOCOL_VERSION_KEY,
    SERVER_INFO_KEY,
    SUBSCRIPTION_ID_KEY,
)
from trimcp.protocol.errors import METHOD_NOT_FOUND, ErrorData
from trimcp.protocol.jsonrpc import DECODE_ERRORS, Notification, Request, RequestId
from trimcp.protocol.versions import (
    HANDSHAKE_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    LATEST_MODERN_VERSION,
    Era,
)
from trimcp.runtime.peer import MessageStream, Peer
from trimcp.types.base import Implementation
from trimcp.types.codec import decode
from trimcp.types.lifecycle import DiscoverResult, InitializeResult, ServerCapabilities
from trimcp.types.misc import CancelledParams, LoggingMessageParams, ProgressParams

__all__ = [
    "DISCOVER_TIMEOUT",
    "REQUEST_TIMEOUT",
    "ClientSession",
    "Handlers",
    "ServerNotification",
    "ServerRequest",
]

logger = logging.getLogger("trimcp.client")

REQUEST_TIMEOUT = -32001
"""The code of the `McpError` a timed-out request raises (the SDKs' `REQUEST_TIMEOUT`)."""

DISCOVER_TIMEOUT = 5.0
"""How long the "auto" probe waits before deciding the server is handshake-only."""

MESSAGE_HOOKS = {
    # FastMCP `MessageHandler` hook methods, by notification method (also what a proxy's
    # relay hands a backend's notifications to the user's handler with)
    "notifications/tools/list_changed": "on_tool_list_changed",
    "notifications/resources/list_changed": "on_resource_list_changed",
    "notifications/prompts/list_changed": "on_prompt_list_changed",
    "notifications/resources/updated": "on_resource_updated",
    "notifications/progress": "on_progress",
    "notifications/message": "on_logging_message",
    "notifications/cancelled": "on_cancelled",
}


class _Peek(msgspec.Struct):
    id: Any = msgspec.UNSET
    method: str | None = None
    params: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_peek = msgspec.json.Decoder(_Peek)


class _InOrder:
    """A `MessageStream` shim that takes notifications off the wire before the `Peer` sees them.

    The `Peer` runs each notification in a task of its own, so on trio (which shuffles ready
    tasks) two progress notifications could reach the handler out of order. Here they go, in
    order, to one consumer task; requests and responses pass through untouched.
    """

    def __init__(self, stream: MessageStream) -> None:
        self._stream = stream
        self.send_queue, self.queue = anyio.create_memory_object_stream[Notification](math.inf)
        self.received = 0

    async def receive(self) -> bytes:
        while True:
            data = await self._stream.receive()
            try:
                peek = _peek.decode(data)
            except (*DECODE_ERRORS, msgspec.ValidationError):
                return data  # not an object: the Peer answers or reports it
            if peek.method is None or peek.id is not msgspec.UNSET:
                return data
            self.received += 1
            params = peek.params if isinstance(peek.params, msgspec.Raw) else None
            try:
                self.send_queue.send_nowait(Notification(peek.method, params))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # the session has ended: nobody will handle it

    def close_queue(self) -> None:
        """Close the notification queue (both ends): the session has ended."""
        self.send_queue.close()
        self.queue.close()

    async def send(self, message: bytes) -> None:
        await self._stream.send(message)

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


@dataclasses.dataclass
class ServerNotification:
    """A notification from the server, as handed to `message_handler`."""

    method: str
    params: dict[str, Any] | None

    @property
    def root(self) -> ServerNotification:
        """The notification itself (FastMCP's `ServerNotification` wraps it in `.root`)."""
        return self


@dataclasses.dataclass
class ServerRequest:
    """A request from the server, as a `MessageHandler`'s request hooks see it."""

    id: RequestId
    method: str
    params: dict[str, Any] | None

    @property
    def root(self) -> ServerRequest:
        """The request itself (FastMCP's `ServerRequest` wraps it in `.root`)."""
        return self


@dataclasses.dataclass
class Handlers:
    """The user's callbacks (each may be sync or async)."""

    sampling: Callable[..., Any] | None = None
    elicitation: Callable[..., Any] | None = None
    roots: Any = None
    log: Callable[..., Any] | None = None
    progress: Callable[..., Any] | None = None
    message: Any = None


def _subscription_id(raw: msgspec.Raw | None) -> Any:
    try:
        params = msgspec.json.decode(raw or b"{}")
        value = params["_meta"][SUBSCRIPTION_ID_KEY]
    except (*DECODE_ERRORS, KeyError, TypeError):
        return None
    return value if isinstance(value, int | str) else None


async def call_handler(handler: Callable[..., Any], *args: Any) -> Any:
    result = handler(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


class ClientSession:
    """One MCP session over one `MessageStream`. `run` it in a task group, then `open` it."""

    def __init__(
        self,
        stream: MessageStream,
        *,
        handlers: Handlers,
        client_info: dict[str, Any],
        failure_hint: Callable[[], Awaitable[str | None]] | None = None,
        id_prefix: str = "",
    ) -> None:
        self._wire = _InOrder(stream)
        self.peer = Peer(
            self._wire,
            on_request=self.serve_request,
            on_notification=self._on_notification,
            id_prefix=id_prefix,
        )
        self._processed = 0
        self._processed_event = anyio.Event()
        self._consumer: Any = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self.handlers = handlers
        self.client_info = client_info
        self.failure_hint = failure_hint
        self.era: Era | None = None
        self.protocol_version: str | None = None
        self.initialize_result: InitializeResult | None = None
        self.discover_result: DiscoverResult | None = None
        self.log_level: str | None = "debug" if handlers.log is not None else None
        self._progress: dict[RequestId, Callable[..., Any]] = {}
        self._modern_meta: dict[str, Any] | None = None
        self._acknowledged: dict[RequestId, anyio.Event] = {}

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                tg.start_soon(self._consume_notifications)
                await self.peer.run(task_status=task_status)
                tg.cancel_scope.cancel()
        except Exception:  # a background failure must not cancel the user's code
            logger.exception("client connection failed")
        finally:
            self._wire.close_queue()

    def close(self) -> None:
        """Stop the session: waiting calls fail with `PeerClosed`, later ones too."""
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()

    async def _consume_notifications(self) -> None:
        self._consumer = anyio.get_current_task().id
        async for notification in self._wire.queue:
            try:
                await self._on_notification(notification)
            except Exception:
                logger.exception("notification %s failed", notification.method)
            self._processed += 1
            self._processed_event.set()
            self._processed_event = anyio.Event()

    async def _caught_up(self) -> None:
        """Wait until the notifications that arrived before an answer have been handled."""
        if anyio.get_current_task().id == self._consumer:
            return  # a handler calling back into the client: waiting would deadlock
        target = self._wire.received
        while self._processed < target and not self.peer.closed:
            await self._processed_event.wait()

    @property
    def connected(self) -> bool:
        return self.peer.running

    @property
    def capabilities(self) -> dict[str, Any]:
        """What this client declares, from the handlers it was given."""
        caps: dict[str, Any] = {}
        if self.handlers.sampling is not None:
            caps["sampling"] = {}
        if self.handlers.elicitation is not None:
            caps["elicitation"] = {"form": {}}
        if self.handlers.roots is not None:
            caps["roots"] = {"listChanged": True}
        return caps

    # -- opening -------------------------------------------------------------------------

    async def open(self, *, protocol: str) -> None:
        """Choose the era: "auto" probes and falls back, "modern" insists, "legacy" skips the probe."""
        if protocol in ("auto", "modern"):
            try:
                with anyio.fail_after(DISCOVER_TIMEOUT if protocol == "auto" else None):
                    result = await self._send(
                        "server/discover", {"_meta": self._make_modern_meta()}
                    )
                discovered = decode(result, DiscoverResult)
            except (McpError, TimeoutError, msgspec.ValidationError) as exc:
                if protocol == "modern":
                    raise ClientError(  # an old server, or one whose middleware refused us
                        f"server/discover failed: the server does not speak "
                        f"{LATEST_MODERN_VERSION} or refused this client: {exc}"
                    ) from exc
                logger.debug("server/discover failed (%s); falling back to initialize", exc)
            else:
                if LATEST_MODERN_VERSION in discovered.supportedVersions:
                    self._adopt_modern(discovered)
                    return
                if protocol == "modern":
                    raise ClientError(
                        f"The server supports {discovered.supportedVersions}, not {LATEST_MODERN_VERSION}"
                    )
        await self._initialize()

    def resume(self, previous: ClientSession) -> None:
        """Continue what `previous` negotiated over the same, still open, connection (a
        kept-alive server): no new handshake."""
        self.era = previous.era
        self.protocol_version = previous.protocol_version
        self.initialize_result = previous.initialize_result
        self.discover_result = previous.discover_result
        self.log_level = previous.log_level
        self._modern_meta = None if previous._modern_meta is None else dict(previous._modern_meta)

    def _make_modern_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            PROTOCOL_VERSION_KEY: LATEST_MODERN_VERSION,
            CLIENT_CAPABILITIES_KEY: self.capabilities,
            CLIENT_INFO_KEY: self.client_info,
        }
        if self.log_level is not None:
            meta[LOG_LEVEL_KEY] = self.log_level
        return meta

    def _adopt_modern(self, result: DiscoverResult) -> None:
        self.era = Era.MODERN
        self.protocol_version = LATEST_MODERN_VERSION
        self.discover_result = result
        self._modern_meta = self._make_modern_meta()
        info = (result.meta or {}).get(SERVER_INFO_KEY)
        try:
            server_info = msgspec.convert(info, Implementation) if info is not None else None
        except msgspec.ValidationError:
            server_info = None
        # The handshake-shaped view of a modern server, so `client.initialize_result` works in both.
        self.initialize_result = InitializeResult(
            protocolVersion=LATEST_MODERN_VERSION,
            capabilities=result.capabilities,
            serverInfo=server_info or Implementation(name="unknown", version=""),
            instructions=result.instructions,
        )

    async def _initialize(self) -> None:
        raw = await self._send(
            "initialize",
            {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": self.capabilities,
                "clientInfo": self.client_info,
            },
        )
        result = decode(raw, InitializeResult)
        if result.protocolVersion not in HANDSHAKE_VERSIONS:
            raise ClientError(
                f"The server chose an unsupported protocol version: {result.protocolVersion!r}"
            )
        self.era = Era.HANDSHAKE
        self.protocol_version = result.protocolVersion
        self.initialize_result = result
        await self.peer.notify("notifications/initialized")

    def set_log_level(self, level: str) -> None:
        """Modern era: the level travels in every request's `_meta` (no `logging/setLevel`)."""
        self.log_level = level
        if self._modern_meta is not None:
            self._modern_meta[LOG_LEVEL_KEY] = level

    @property
    def server_capabilities(self) -> ServerCapabilities | None:
        return None if self.initialize_result is None else self.initialize_result.capabilities

    # -- requests ------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        params: Any,
        *,
        timeout: float | None = None,
        request_id: RequestId | None = None,
    ) -> msgspec.Raw:
        try:
            return await self.peer.request(method, params, timeout=timeout, request_id=request_id)
        except ClientError as exc:  # PeerClosed: say why the connection ended, if we know
            hint = await self.failure_hint() if self.failure_hint is not None else None
            if hint:
                raise ClientError(f"Connection closed while waiting for {method}: {hint}") from exc
            raise

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
        progress_handler: Callable[..., Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> msgspec.Raw:
        """Send a request dressed for the session's era; a timeout raises `McpError(-32001)`."""
        params = dict(params) if params else {}
        merged: dict[str, Any] = dict(meta) if meta else {}
        if self._modern_meta is not None:
            merged.update(self._modern_meta)
        request_id = self.peer.next_id()
        handler = progress_handler or self.handlers.progress
        if handler is not None:
            merged["progressToken"] = request_id
            self._progress[request_id] = handler
        if merged:
            params["_meta"] = merged
        try:
            result = await self._send(
                method, params or None, timeout=timeout, request_id=request_id
            )
            await self._caught_up()
            return result
        except TimeoutError as exc:
            raise McpError(
                ErrorData(
                    REQUEST_TIMEOUT,
                    # the SDK's words, which FastMCP programs match, then the method
                    f"Timed out while waiting for response to ClientRequest. Waited {timeout} "
                    f"seconds ({method}).",
                )
            ) from exc
        finally:
            self._progress.pop(request_id, None)

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        await self.peer.notify(method, params)

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> bool:
        """Run `fn(*args)` in the session's task group; False when the session is not open."""
        if self._task_group is None:
            return False
        self._task_group.start_soon(fn, *args)
        return True

    async def start_listening(self, timeout: float | None) -> None:
        """2026-07-28: listen for the list changes the server announces (those its
        capabilities offer); back once it acknowledged, or after `timeout`."""
        caps = self.server_capabilities or ServerCapabilities()
        wanted = {
            key: True
            for key, capability in (
                ("toolsListChanged", caps.tools),
                ("resourcesListChanged", caps.resources),
                ("promptsListChanged", caps.prompts),
            )
            if (capability or {}).get("listChanged")
        }
        ready = anyio.Event()
        if not wanted or not self.start_soon(self.listen, wanted, ready):
            return
        with anyio.move_on_after(timeout or None):
            await ready.wait()

    async def listen(self, notifications: dict[str, Any], ready: anyio.Event) -> None:
        """2026-07-28: hold a `subscriptions/listen` request open until cancelled; the
        notifications it carries reach the handlers like any other. `ready` is set on the
        server's acknowledgement, or when the request fails (a server without it)."""
        assert self._modern_meta is not None, "subscriptions/listen is 2026-07-28 only"
        request_id = self.peer.next_id()
        self._acknowledged[request_id] = ready
        try:
            await self._send(
                "subscriptions/listen",
                {"notifications": notifications, "_meta": dict(self._modern_meta)},
                request_id=request_id,
            )
        except (McpError, ClientError) as exc:
            logger.debug("subscriptions/listen ended: %s", exc)
        finally:
            del self._acknowledged[request_id]
            ready.set()

    # -- inbound -------------------------------------------------------------------------

    async def serve_request(self, request: Request) -> Any:
        """Answer a server-to-client request (sampling, elicitation, roots, ping) with this
        client's handlers: what the peer calls, and what a 2026-07-28 input round asks."""
        method = request.method
        handlers = self.handlers
        params: Any = None
        if request.params is not None:
            try:
                params = msgspec.json.decode(request.params)
            except DECODE_ERRORS:
                pass
        params = params if isinstance(params, dict) else None
        meta = params.get("_meta") if params is not None else None
        context = RequestContext(request_id=request.id, method=method, meta=meta, session=self)
        if isinstance(handlers.message, MessageHandler):
            try:
                await handlers.message.dispatch_request(ServerRequest(request.id, method, params))
            except Exception:
                logger.exception("message handler failed")
        if method == "ping":
            return {}
        if method == "sampling/createMessage" and handlers.sampling is not None:
            return await answer_sampling(handlers.sampling, request.params, context)
        if method == "elicitation/create" and handlers.elicitation is not None:
            return await answer_elicitation(handlers.elicitation, request.params, context)
        if method == "roots/list" and handlers.roots is not None:
            return await answer_roots(handlers.roots, context)
        raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")

    async def _on_notification(self, notification: Notification) -> None:
        method = notification.method
        if method == "notifications/progress":
            await self._on_progress(notification.params)
        elif method == "notifications/message":
            await self._on_log(notification.params)
        elif method == "notifications/cancelled":
            try:
                cancelled = decode(notification.params or b"{}", CancelledParams)
            except msgspec.ValidationError:
                return
            # a server ends one of our subscriptions/listen with it (2026-07-28 stdio): that
            # id is ours, not one of the server's requests to us that might share its number
            ours = (
                cancelled.requestId in self._acknowledged
                or _subscription_id(notification.params) is not None
            )
            if cancelled.requestId is not None and not ours:
                self.peer.cancel(cancelled.requestId)
        elif method == "notifications/subscriptions/acknowledged" and self._acknowledged:
            ready = self._acknowledged.get(_subscription_id(notification.params))
            if ready is not None:
                ready.set()
        await self._deliver(notification)

    async def _on_progress(self, raw: msgspec.Raw | None) -> None:
        try:
            params = decode(raw or b"{}", ProgressParams)
        except msgspec.ValidationError:
            logger.debug("malformed progress notification ignored")
            return
        handler = self._progress.get(params.progressToken)
        if handler is None:
            return
        try:
            await call_handler(handler, params.progress, params.total, params.message)
        except Exception:
            logger.exception("progress handler failed")

    async def _on_log(self, raw: msgspec.Raw | None) -> None:
        try:
            params = decode(raw or b"{}", LoggingMessageParams)
        except msgspec.ValidationError:
            logger.debug("malformed log notification ignored")
            return
        try:
            await call_handler(self.handlers.log or default_log_handler, params)
        except Exception:
            logger.exception("log handler failed")

    async def _deliver(self, notification: Notification) -> None:
        handler = self.handlers.message
        if handler is None:
            return
        try:
            params = (
                msgspec.json.decode(notification.params)
                if notification.params is not None
                else None
            )
        except DECODE_ERRORS:
            params = None
        params = params if isinstance(params, dict) else None
        message: Any = ServerNotification(notification.method, params)
        try:
            if isinstance(handler, MessageHandler):
                await handler.dispatch(sdk_notification(message.method, params) or message)
                return
            hook = (
                getattr(handler, MESSAGE_HOOKS.get(notification.method, ""), None)
                if not inspect.isfunction(handler)
                else None
            )
            if hook is not None:
                await call_handler(hook, message)
            elif callable(handler):
                await call_handler(handler, message)
        except Exception:
            logger.exception("message handler failed")
