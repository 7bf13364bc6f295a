"""The MCP layer of a session, independent of transport.

`ServerSession.handle_request` chooses the era of each request from its `_meta` (never per
connection), keeps the handshake-era session state (lifecycle, negotiated version, client
capabilities, log level), decodes params, runs the handler and dresses modern results
(`resultType`, `serverInfo`, caching hints). A stream connection (stdio, in-memory) owns one;
the HTTP transport owns one per handshake-era session and one stateless one for modern
requests.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import msgspec

from trimcp.core import answers
from trimcp.core.context import Context, enter_context
from trimcp.core.handlers import HANDLERS, MIDDLEWARE_STEPS
from trimcp.core.middleware import ChainCache, InitializeRequest, MiddlewareContext
from trimcp.core.mount_middleware import routes_to_middleware, through_mounts
from trimcp.core.request import Channel, ServerRequest
from trimcp.exceptions import McpError
from trimcp.protocol.envelope import (
    Envelope,
    handshake_envelope,
    is_modern,
    parse_modern,
)
from trimcp.protocol.errors import INVALID_PARAMS, METHOD_NOT_FOUND, PARSE_ERROR, ErrorData
from trimcp.protocol.jsonrpc import Notification, Request, RequestId
from trimcp.protocol.lifecycle import Lifecycle, SessionEvent, SessionState
from trimcp.protocol.versions import ASSUMED_HANDSHAKE_VERSION, negotiate_handshake
from trimcp.telemetry import request_telemetry
from trimcp.types.lifecycle import DiscoverResult, InitializeParams, InitializeResult
from trimcp.types.misc import CancelledParams, PaginatedParams, SetLevelParams
from trimcp.types.resources import SubscribeParams
from trimcp.types.results import EmptyMeta

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["ServerSession", "decode_params", "predecode"]

logger = logging.getLogger("trimcp.server")

# Methods 2026-07-28 removed: a modern request for them is "method not found".
REMOVED_IN_MODERN = frozenset(
    {"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"}
)

_decoders: dict[type, msgspec.json.Decoder[Any]] = {}
# enum members read per request, as module constants (an enum attribute lookup costs ~0.2 µs)
_OPERATING = SessionState.OPERATING
_PING = SessionEvent.PING
_REQUEST = SessionEvent.REQUEST


def decode_params(raw: msgspec.Raw | None, params_type: type | None) -> Any:
    """Decode a request's params into its struct; raises `McpError`: -32602 for a shape
    error, -32700 for bytes that are not JSON (the envelope skipped them undecoded: invalid
    UTF-8 in a string, nesting past the recursion limit)."""
    if params_type is None:
        if raw is None:
            return None
        params_type = EmptyMeta
    decoder = _decoders.get(params_type)
    if decoder is None:
        decoder = _decoders[params_type] = msgspec.json.Decoder(params_type)
    try:
        return decoder.decode(raw if raw is not None else b"{}")
    except msgspec.ValidationError as exc:
        raise McpError(INVALID_PARAMS, f"Invalid params: {exc}") from exc
    except RecursionError as exc:
        raise McpError(PARSE_ERROR, "Parse error: params nested too deeply") from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise McpError(PARSE_ERROR, f"Parse error in params: {exc}") from exc


def predecode(request: Request) -> Any:
    """`request.params` decoded for its method's handler and kept on the request
    (`request.decoded`), so that `ServerSession.handle_request` does not decode them again:
    what the HTTP layer reads a request's `_meta`, `name` or `uri` from. None when the
    method has no plain handler or the params do not fit its shape (the handler reports
    why)."""
    entry = HANDLERS.get(request.method)
    if entry is None or entry[0] is None or request.params is None:
        return None
    try:
        params = decode_params(request.params, entry[0])
    except McpError:
        return None
    request.decoded = params
    return params


class ServerSession:
    """MCP state and dispatch for one session (or for stateless modern requests).

    Args:
        server: the server it serves.
        shared: it serves the requests of many clients, not one session (what the HTTP
            endpoint keeps for stateless and 2026-07-28 requests): it ends only with the
            endpoint, so `at_close` is refused.
    """

    def __init__(self, server: FastMCP, *, shared: bool = False) -> None:
        self.server = server
        self.shared = shared
        self.lifecycle = Lifecycle()
        self.protocol_version: str | None = None
        self._session_envelope: dict[str, Any] | None = None
        self._log_level: str | None = None
        self._bare_envelope: Envelope | None = None
        self.subscriptions: set[str] = set()
        """Resource URIs this session subscribed to (handshake era)."""
        self._at_close: list[Callable[[], object]] | None = []
        self._initialized: InitializeResult | None = None
        telemetry = request_telemetry()
        if telemetry is not None:  # each request in a span (`trimcp.telemetry`); else no cost
            self.__dict__["handle_request"] = telemetry.traced(self, self.handle_request)

    def close(self) -> None:
        """The session ended (its connection or HTTP session is gone): the callbacks given to
        `at_close` run, once, in the order given."""
        self.lifecycle.handle(SessionEvent.CLOSE)
        callbacks, self._at_close = self._at_close, None
        for callback in callbacks or ():
            try:
                callback()
            except Exception:
                logger.exception("a session-close callback failed")

    @property
    def session_id(self) -> str:
        """An id for this session, made up on first use (a UUID): `ctx.session_id` where the
        transport has none of its own (stdio, in memory)."""
        made = self.__dict__.get("_session_id")
        if made is None:
            import uuid

            made = self.__dict__["_session_id"] = str(uuid.uuid4())
        return made

    def at_close(self, callback: Callable[[], object]) -> None:
        """Call `callback()` (sync, on the event loop) when this session ends: what binds
        something to a client session (a stateful proxy's backend client) lets go of it
        there. A session that already ended calls it at once.

        Raises:
            RuntimeError: this session is `shared` (stateless HTTP, 2026-07-28 requests over
                HTTP): no client session ends there, the callback would wait for shutdown.
        """
        if self.shared:
            raise RuntimeError(
                "ctx.session.at_close() needs a client session: this request has none "
                "(stateless HTTP, or a 2026-07-28 request over HTTP), its session is shared "
                "by every client and ends only when the server stops"
            )
        if self._at_close is None:
            callback()
        else:
            self._at_close.append(callback)

    async def handle_request(self, request: Request, channel: Channel) -> Any:
        """Serve one request; raise `McpError` to answer with an error."""
        method = request.method
        entry = HANDLERS.get(method)
        server = self.server
        if entry is not None and method not in REMOVED_IN_MODERN:
            # the hot path: a method with a plain handler (`tools/call`, the listings...);
            # the general path below, with its special cases skipped
            params = request.decoded  # (`predecode`)
            if params is None:
                params = decode_params(request.params, entry[0])
            meta = getattr(params, "meta", None)
            fast: Envelope | ErrorData
            if meta is None and self.lifecycle.state is _OPERATING:
                fast = self._bare_envelope or self._handshake_envelope(method, None)
            elif is_modern(meta):
                fast = parse_modern(meta)
                if isinstance(fast, ErrorData):
                    raise McpError(fast)
            else:
                fast = self._handshake_envelope(method, meta)
            result = await self._call(request, params, fast, channel, entry[1])
            return server.finish_modern(result) if fast.modern else result
        if entry is None and method not in _SPECIAL_PARAMS:
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")
        if method in REMOVED_IN_MODERN and request.params is not None:
            meta = getattr(decode_params(request.params, EmptyMeta), "meta", None)
            if is_modern(meta):
                raise McpError(
                    METHOD_NOT_FOUND, f"Method not found: {method} (removed in 2026-07-28)"
                )
        params_type = entry[0] if entry is not None else _SPECIAL_PARAMS[method]
        params = decode_params(request.params, params_type)
        meta = getattr(params, "meta", None)
        if is_modern(meta):
            envelope = parse_modern(meta)
            if isinstance(envelope, ErrorData):
                raise McpError(envelope)
        elif method == "server/discover":
            envelope = None
        elif method == "initialize":
            if server.middleware:
                return await self._initialize_through_middleware(request, params, channel)
            return self._initialize(params)
        else:
            envelope = self._handshake_envelope(method, meta)
        if method == "server/discover":
            if envelope is not None and server.middleware:
                return await self._discover_through_middleware(request, params, envelope, channel)
            return answers.discover_result(server)
        if method == "logging/setLevel":
            return self._set_level(params)
        if method in ("resources/subscribe", "resources/unsubscribe"):
            return self._subscribe(method, params)
        assert entry is not None and envelope is not None
        result = await self._call(request, params, envelope, channel, entry[1])
        return server.finish_modern(result) if envelope.modern else result

    def _call(
        self,
        request: Request,
        params: Any,
        envelope: Envelope,
        channel: Channel,
        handler: Callable[[ServerRequest, Any], Awaitable[Any]],
    ) -> Awaitable[Any]:
        """The handler's answer to `request` (through the middleware chain when the server or
        a mount it routes to has middleware): an awaitable, so that no coroutine frame is
        added on the way."""
        server = self.server
        served = ServerRequest(
            server, request.id, request.method, params, envelope, channel, self, request.params
        )
        if server.middleware or (
            server.tool_manager.mounts.items and routes_to_middleware(server, request.method)
        ):
            return _through_middleware(served, handler)
        return handler(served, params)

    def _handshake_envelope(self, method: str, meta: dict[str, Any] | None) -> Envelope:
        event = _PING if method == "ping" else _REQUEST
        refused = self.lifecycle.handle(event)
        if refused is not None:
            if not self.lifecycle.initialized and event is _REQUEST:
                raise McpError(
                    INVALID_PARAMS,
                    "params._meta must carry io.modelcontextprotocol/protocolVersion and "
                    "io.modelcontextprotocol/clientCapabilities (or send initialize first)",
                )
            raise McpError(refused)
        if meta is not None:
            return self._new_envelope(meta)
        # most requests carry no `_meta`: their envelope is the same until initialize or
        # logging/setLevel changes it
        envelope = self._bare_envelope
        if envelope is None:
            envelope = self._bare_envelope = self._new_envelope(None)
        return envelope

    def _new_envelope(self, meta: dict[str, Any] | None) -> Envelope:
        session = self._session_envelope or {}
        return handshake_envelope(
            protocol_version=session.get("protocolVersion", ASSUMED_HANDSHAKE_VERSION),
            client_capabilities=session.get("capabilities", {}),
            client_info=session.get("clientInfo"),
            log_level=self._log_level,
            meta=meta,
        )

    def _initialize(self, params: InitializeParams) -> InitializeResult:
        refused = self.lifecycle.handle(SessionEvent.INITIALIZE)
        if refused is not None:
            raise McpError(refused)
        version = negotiate_handshake(params.protocolVersion)
        self._session_envelope = {
            "protocolVersion": version,
            "capabilities": msgspec.to_builtins(params.capabilities),
            "clientInfo": msgspec.to_builtins(params.clientInfo),
        }
        self.protocol_version = version
        self._bare_envelope = None
        self._initialized = answers.initialize_result(self.server, version)
        return self._initialized

    async def _initialize_through_middleware(
        self, request: Request, params: InitializeParams, channel: Channel
    ) -> InitializeResult:
        """`initialize` inside the middleware chain (FastMCP's `on_initialize`); `call_next`
        gives the `InitializeResult`. The client is answered even if no hook called it."""
        envelope = handshake_envelope(
            protocol_version=params.protocolVersion,
            client_capabilities=msgspec.to_builtins(params.capabilities),
            client_info=msgspec.to_builtins(params.clientInfo),
            log_level=None,
            meta=params.meta,
        )
        self._initialized = None
        result = await self._introduce(request, InitializeRequest(params), envelope, channel)
        if isinstance(result, InitializeResult):
            return result
        return self._initialized or self._initialize(params)

    async def _discover_through_middleware(
        self, request: Request, params: Any, envelope: Envelope, channel: Channel
    ) -> Any:
        """A 2026-07-28 client's `server/discover` is where it introduces itself (that era
        has no `initialize`): `on_initialize` hooks see it as FastMCP's do, an
        `InitializeRequest` whose params come from the request's `_meta` (version,
        capabilities, client info); `call_next` gives the discover result. A hook may
        refuse the client by raising `McpError`. The client is answered even if no hook
        called `call_next`. The whole chain runs, as for `initialize`: `on_message` and
        `on_request` see the discovery as the request it is (a rate limit counts it, as
        FastMCP's counts an `initialize`), `context.method` being `"initialize"`."""
        try:
            introduced = msgspec.convert(
                {
                    "protocolVersion": envelope.protocol_version,
                    "capabilities": envelope.client_capabilities,
                    "clientInfo": envelope.client_info or {"name": "unknown", "version": ""},
                    "_meta": params.meta,
                },
                InitializeParams,
                strict=False,
            )
        except msgspec.ValidationError:  # capabilities or client info of an odd shape
            introduced = InitializeParams(protocolVersion=envelope.protocol_version)
        result = await self._introduce(request, InitializeRequest(introduced), envelope, channel)
        return (
            result if isinstance(result, DiscoverResult) else answers.discover_result(self.server)
        )

    async def _introduce(
        self, request: Request, message: InitializeRequest, envelope: Envelope, channel: Channel
    ) -> Any:
        """Run the server's chain for `initialize` around `message`."""
        server = self.server
        served = ServerRequest(
            server=server,
            id=request.id,
            method=request.method,
            params=message,
            envelope=envelope,
            channel=channel,
            session=self,
        )
        chain = _CHAINS.get(server.middleware, "initialize", _introduced)
        if chain is None:
            return await _introduced(
                MiddlewareContext(message=message, method="initialize"), served
            )
        ctx = served.context = Context(server, served)
        context = MiddlewareContext(message=message, method="initialize", fastmcp_context=ctx)
        token = enter_context(ctx)
        try:
            return await chain(context)
        finally:
            token.reset()

    def _set_level(self, params: SetLevelParams) -> Any:
        from trimcp.protocol.envelope import LOG_LEVEL_RANK
        from trimcp.types.misc import EmptyResult

        if params.level not in LOG_LEVEL_RANK:
            raise McpError(INVALID_PARAMS, f"Unknown log level: {params.level}")
        self._log_level = params.level
        self._bare_envelope = None
        return EmptyResult()

    def _subscribe(self, method: str, params: SubscribeParams) -> Any:
        from trimcp.types.misc import EmptyResult

        if method == "resources/subscribe":
            self.subscriptions.add(params.uri)
        else:
            self.subscriptions.discard(params.uri)
        return EmptyResult()

    def wants(self, method: str, params: Any) -> bool:
        """Whether a session-level notification concerns this session."""
        if method == "notifications/resources/updated":
            return isinstance(params, dict) and params.get("uri") in self.subscriptions
        return True

    async def handle_notification(
        self, notification: Notification, *, cancel: Callable[[RequestId], object], channel: Channel
    ) -> None:
        method = notification.method
        if method == "notifications/cancelled":
            try:
                params = decode_params(notification.params, CancelledParams)
            except McpError:
                return
            if params.requestId is not None:
                cancel(params.requestId)
        elif method == "notifications/initialized":
            self.lifecycle.handle(SessionEvent.INITIALIZED)
        elif method == "notifications/roots/list_changed":
            await self.server.roots_changed(channel)
        else:
            logger.debug("notification %s ignored", method)


_CHAINS = ChainCache()
"""The servers' chains, by middleware list and method (`trimcp.core.middleware`)."""


def _served(context: MiddlewareContext[Any]) -> Any:
    """The request a chain serves, from the context its last step is given: chains are
    shared by all calls of a method, so the request is never captured."""
    ctx = context.fastmcp_context
    served = getattr(ctx, "request_context", None)
    if served is None:  # a hook passed on a context of its own making
        from trimcp.utilities.context_slot import current_context

        served = getattr(current_context.get(), "request_context", None)
    return served


async def _introduced(context: MiddlewareContext[Any], served: Any = None) -> Any:
    """The last step of `initialize` (and of a 2026-07-28 `server/discover`): the answer."""
    served = served or _served(context)
    session = served.session
    if served.method == "server/discover":
        return answers.discover_result(served.server)
    return session._initialize(context.message.params)


async def _innermost(context: MiddlewareContext[Any]) -> Any:
    """The last step of a server's own chain: the method's handler (what FastMCP's
    `call_next` gives hooks: components, a `ToolResult`), through mounted servers'
    middleware when the request is routed to one that has some."""
    served = _served(context)
    message = served.params = context.message
    return await _step(served, message)


async def _step(served: ServerRequest, message: Any) -> Any:
    method = served.method
    steps = MIDDLEWARE_STEPS.get(method)
    call = HANDLERS[method][1] if steps is None else steps.inner
    server = served.server
    if server.tool_manager.mounts.items and routes_to_middleware(server, method):
        return await through_mounts(served, message, call)
    return await call(served, message)


async def _through_middleware(served: ServerRequest, handler: Any) -> Any:
    """Run the request inside the server's middleware chain (built once per method). The
    methods of `MIDDLEWARE_STEPS` run in two steps, so that hooks see what FastMCP's do
    (the components of a listing, a tool's `ToolResult`); the wire result is made of what
    the hooks return. A chain of pass-through middleware is no chain: the plain handler
    answers, unless a mounted server's middleware is on the way."""
    server = served.server
    method = served.method
    if method == "tools/call" and served.params.name not in server.tool_manager.named_in_listing:
        if _listing_is_seen(server):
            await _list_before_call(served)
    chain = _CHAINS.get(server.middleware, method, _innermost) if server.middleware else None
    if chain is None and not (
        server.tool_manager.mounts.items and routes_to_middleware(server, method)
    ):
        result = await handler(served, served.params)
    else:
        ctx = served.context = Context(server, served)
        token = enter_context(ctx)  # `get_context()` works in middleware, as in FastMCP
        try:
            if chain is None:
                result = await _step(served, served.params)
            else:
                context = MiddlewareContext(
                    message=served.params, method=method, fastmcp_context=ctx
                )
                result = await chain(context)
        finally:
            token.reset()
        steps = MIDDLEWARE_STEPS.get(method)
        if steps is not None:
            result = steps.finish(served, served.params, result)
    if method == "tools/list":  # (what a hook answered may be anything)
        listed = getattr(result, "tools", None) or ()
        names = {name for tool in listed if isinstance(name := getattr(tool, "name", None), str)}
        if getattr(served.params, "cursor", None) is None:  # a first page: a new cache
            server.tool_manager.named_in_listing = names
        else:
            server.tool_manager.named_in_listing |= names
    return result


def _listing_is_seen(server: Any) -> bool:
    """Whether a `tools/list` would pass a hook: one of the server's middleware, or a
    mounted server's on the way."""
    if server.middleware and _CHAINS.get(server.middleware, "tools/list", _innermost):
        return True
    return bool(server.tool_manager.mounts.items) and routes_to_middleware(server, "tools/list")


async def _list_before_call(served: ServerRequest) -> None:
    """FastMCP's `tools/call` of a tool its low-level server has not seen listed first
    lists the tools, through the middleware, to refresh its cache of their schemas: hooks
    see a `tools/list` no client sent (a rate limit counts it; the response cache stores
    it). trimcp does the same, so that middleware counts what FastMCP's counts; it costs a
    listing per tool name, the first time it is called, and only where a hook would see the
    listing (`_listing_is_seen`). Any `tools/list` served here refills the cache of names
    (its first page replaces it, as FastMCP's handler does). Its answer goes nowhere."""
    listing = ServerRequest(
        server=served.server,
        id=served.id,
        method="tools/list",
        params=PaginatedParams(),
        envelope=served.envelope,
        channel=served.channel,
        session=served.session,
    )
    await _through_middleware(listing, HANDLERS["tools/list"][1])


_SPECIAL_PARAMS: dict[str, type | None] = {
    "initialize": InitializeParams,
    "server/discover": EmptyMeta,
    "logging/setLevel": SetLevelParams,
    "resources/subscribe": SubscribeParams,
    "resources/unsubscribe": SubscribeParams,
}
