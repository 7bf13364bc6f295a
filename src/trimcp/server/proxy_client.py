"""The proxy's clients: how the backend's server-to-client traffic reaches the proxy's client.

A backend server may, while serving a proxied request, log, report progress, or ask for
sampling, elicitation or roots. The proxy relays each to the client of the proxy request being
served (FastMCP's `ProxyClient` behaviour). The wire carries no correlation for it, so a
backend session is used by one proxied operation at a time, inside `serving(relay, ctx)`:
the relays of that session reach `ctx`'s request. A relay finds its request by its own
binding (the pool binds its sessions' relays per loan), else through the operation its
session was connected in (a context variable the session's tasks inherit), else through
`get_context()`.

- `Relay`: the handlers of one backend session; `serving` binds one for an operation.
- `ProxyClient`: a `Client` whose default handlers are relays (FastMCP's name), and FastMCP's
  `default_*_handler`s / `default_proxy_roots_handler` for a plain `Client`.
- `StatefulProxyClient`: FastMCP's backend client per client session of the proxy.
- `like_client`: a new, unconnected client made like another (FastMCP's `client.new()`).
- `factory_session`: a session from a `client_factory`, for one operation.
- `relay_client`: a backend session for the proxy's own pool.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import msgspec

from trimcp.client import Client
from trimcp.client.elicitation import ElicitResult
from trimcp.client.session import MESSAGE_HOOKS, call_handler
from trimcp.core.mrtr import InputRequired
from trimcp.exceptions import McpError
from trimcp.protocol.errors import INTERNAL_ERROR, MISSING_REQUIRED_CLIENT_CAPABILITY

if TYPE_CHECKING:
    from trimcp.client.transports import ClientTransport
    from trimcp.core.context import Context

__all__ = [
    "ProxyClient",
    "Relay",
    "StatefulProxyClient",
    "default_proxy_roots_handler",
    "factory_session",
    "like_client",
    "relay_client",
    "serve_nothing",
    "serving",
]

logger = logging.getLogger("trimcp.proxy")

_RELAYED = ("sampling", "elicitation", "roots", "log", "progress")

_SERVING: ContextVar[Relay | None] = ContextVar("trimcp_proxy_serving", default=None)
"""The relay of the backend operation being served, seen by the tasks of a backend session
connected inside it: how a relay that is not its own (a plain `Client`'s FastMCP handlers,
an unbound `ProxyClient`) finds the request, and the scope to cancel."""


class Relay:
    """Handlers for one backend session, forwarding to the proxied request it serves (see
    the module docstring for how it finds it). `listener` is told of the backend's list
    changes."""

    def __init__(self, listener: Any = None) -> None:
        self.listener = listener
        self.ctx: Context | None = None
        self.user_message: Any = None
        self.scope: anyio.CancelScope | None = None
        self.interrupted: BaseException | None = None
        self.client: Client | None = None

    def _holder(self) -> Relay | None:
        """The relay bound to the request being served: this one, or the operation's."""
        return self if self.ctx is not None or self.scope is not None else _SERVING.get()

    def context(self) -> Context | None:
        holder = self._holder()
        if holder is not None and holder.ctx is not None:
            return holder.ctx
        from trimcp.core.context import get_context

        try:
            return get_context()
        except RuntimeError:
            return None

    async def _ask(self, method: str, params: Any, capability: str) -> Any:
        ctx = self.context()
        if ctx is None or ctx.request_context is None:
            raise McpError(-32601, "No client request to relay this to")
        data = _builtins(params)
        try:  # both eras (MRTR in 2026-07-28), the capability checked
            return await ctx.ask_client(method, data or {}, capability)
        except (InputRequired, McpError) as exc:
            if isinstance(exc, McpError) and exc.error.code != MISSING_REQUIRED_CLIENT_CAPABILITY:
                raise
            holder = self._holder()
            if holder is None or holder.scope is None:  # nobody to hand the answer to
                raise McpError(
                    INTERNAL_ERROR, f"The proxy's client cannot answer {method}"
                ) from exc
            # The proxy's request must end here (with an input_required result, or -32021),
            # not the backend's: hand it over to the task serving it (see `serving`), and
            # answer the backend with an error; its request is being cancelled anyway.
            if holder.interrupted is None:
                holder.interrupted = exc
            holder.scope.cancel()
            raise McpError(
                INTERNAL_ERROR, f"The proxy's client has to answer {method} first"
            ) from None

    async def log(self, message: Any) -> None:
        ctx = self.context()
        data: Any = message.data
        extra = None
        if isinstance(message.data, dict) and "msg" in message.data:  # FastMCP 2.13's shape
            data, extra = message.data["msg"], message.data.get("extra")
        if ctx is None or ctx.request_context is None:
            logger.info("backend: %s", data)
            return
        await ctx.log(data, message.level, message.logger, extra=extra)

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        ctx = self.context()
        if ctx is not None and ctx.request_context is not None:
            await ctx.report_progress(progress, total, message)

    async def sampling(self, messages: Any, params: Any, context: Any) -> Any:
        return await self._ask("sampling/createMessage", params, "sampling")

    async def elicitation(self, message: str, response_type: Any, params: Any, context: Any) -> Any:
        answer = await self._ask("elicitation/create", params, "elicitation")
        return ElicitResult(action=answer.get("action", "cancel"), content=answer.get("content"))

    async def roots(self, context: Any) -> Any:
        return (await self._ask("roots/list", None, "roots")).get("roots", [])

    async def message(self, notification: Any) -> None:
        if self.listener is not None and notification.method.endswith("/list_changed"):
            self.listener.backend_changed(self.client)
        user = self.user_message
        if user is not None:
            hook = getattr(user, MESSAGE_HOOKS.get(notification.method, ""), None)
            if hook is not None:
                await call_handler(hook, notification)
            elif callable(user):
                await call_handler(user, notification)


def serve_nothing() -> None:
    """The current task serves no operation: backend sessions connected from it (held for a
    lifespan or a client session) must not inherit the relay, nor the request `Context`, of
    the operation that spawned it."""
    from trimcp.utilities.context_slot import current_context

    _SERVING.set(None)
    current_context.set(None)


@asynccontextmanager
async def serving(relay: Relay, ctx: Context | None) -> AsyncIterator[None]:
    """`relay` relays to `ctx`'s request while the block runs (and so do the relays of
    backend sessions connected inside the block).

    A relay that must end the proxy's request rather than answer the backend (2026-07-28
    input the proxy's client has yet to give) cancels the block, and its reason is raised
    here, in the task serving the request."""
    relay.ctx, relay.interrupted = ctx, None
    token = _SERVING.set(relay)
    try:
        with anyio.CancelScope() as relay.scope:
            yield
    except Exception:
        if relay.interrupted is None:
            raise
    finally:
        _SERVING.reset(token)
        relay.ctx = relay.scope = None
    if relay.interrupted is not None:
        raise relay.interrupted


@asynccontextmanager
async def factory_session(
    factory: Callable[[], Client] | Callable[[], Awaitable[Client]],
    ctx: Context | None,
    *,
    hold: Callable[[StatefulProxyClient], Awaitable[None]] | None = None,
) -> AsyncIterator[Client]:
    """A session of the client `factory` returns (sync or async), for one operation on behalf
    of `ctx`'s request.

    A client bound to a client session (`StatefulProxyClient.new_stateful`) is connected and
    held by `hold` first. A connected client is used as is, a `ProxyClient`'s relay bound to
    the request for the operation (unless another operation has it); an unconnected one is
    connected for the operation, inside `serving`, so its relays (a `ProxyClient`'s, FastMCP's
    default handlers on a plain `Client`) reach the request."""
    client = factory()
    if inspect.isawaitable(client):
        client = await client
    if not isinstance(client, Client):
        raise TypeError(f"client_factory returned {client!r}, not a Client")
    if isinstance(client, StatefulProxyClient) and client.bound and hold is not None:
        await hold(client)
    if client.is_connected():
        relay = client.relay if isinstance(client, ProxyClient) else None
        if relay is None or relay.ctx is not None:
            yield client
        else:
            async with serving(relay, ctx):
                yield client
        return
    async with serving(Relay(), ctx), client:
        yield client


def _builtins(params: Any) -> Any:
    if params is None:
        return None
    if hasattr(params, "model_dump"):  # an `mcp.types` model from a user's handler types
        # JSON mode: SDK 1.x models hold `AnyUrl`s (and the like) in Python mode
        data = params.model_dump(mode="json", by_alias=True, exclude_none=True)
    else:
        data = msgspec.to_builtins(params)
    if isinstance(data, dict):
        data.pop("_meta", None)  # the backend's request metadata is not ours to forward
    return data


_UNBOUND = Relay()  # holds no request: relays to `get_context()`, as FastMCP's handlers do


async def default_proxy_roots_handler(context: Any) -> Any:
    """FastMCP's roots handler of a proxy's backend client: the proxy client's roots."""
    return await _UNBOUND.roots(context)


class ProxyClient(Client):
    """A `Client` whose handlers relay the backend's logs, progress, sampling, elicitation
    and roots to the client of the proxy request being served (FastMCP's `ProxyClient`);
    handlers given explicitly are used instead. FastMCP's `default_*_handler` classmethods
    relay to the request of `get_context()`."""

    @classmethod
    async def default_sampling_handler(cls, messages: Any, params: Any, context: Any) -> Any:
        return await _UNBOUND.sampling(messages, params, context)

    @classmethod
    async def default_elicitation_handler(
        cls, message: str, response_type: Any, params: Any, context: Any
    ) -> Any:
        return await _UNBOUND.elicitation(message, response_type, params, context)

    @classmethod
    async def default_log_handler(cls, message: Any) -> None:
        await _UNBOUND.log(message)

    @classmethod
    async def default_progress_handler(
        cls, progress: float, total: float | None, message: str | None
    ) -> None:
        await _UNBOUND.progress(progress, total, message)

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        relay = Relay()
        kwargs.setdefault("sampling_handler", relay.sampling)
        kwargs.setdefault("elicitation_handler", relay.elicitation)
        kwargs.setdefault("roots", relay.roots)
        kwargs.setdefault("log_handler", relay.log)
        kwargs.setdefault("progress_handler", relay.progress)
        super().__init__(transport, **kwargs)
        self._relay = relay
        relay.client = self

    @property
    def relay(self) -> Relay:
        """The relay behind this client's default handlers."""
        return self._relay


class StatefulProxyClient(ProxyClient):
    """FastMCP's `StatefulProxyClient`: `FastMCPProxy(client_factory=client.new_stateful)`
    gives each client session of the proxy a backend session of its own, for a stateful
    backend (a browser, a shell).

    `new_stateful()` returns, for the client session of the request being served
    (`ctx.session`), a client like this one, *bound* to it: the proxy connects it on first
    use and holds it, in its lifespan, until that session ends (`ctx.session.at_close`) or
    `clear()`. A request that has no client session (stateless HTTP, 2026-07-28 over HTTP)
    and a call outside any request (the proxy listing its backend as it starts) get an
    unbound client, connected for the operation only."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        super().__init__(transport, **kwargs)
        self._bound: dict[Any, StatefulProxyClient] = {}
        self.ended: anyio.Event | None = None
        """Set when the client session this client is bound to ends (None: not bound)."""
        self.hold_lock: anyio.Lock | None = None
        """Taken while the proxy connects this bound client (one connection per session)."""
        self.released: anyio.Event | None = None
        """Set when the proxy's hold of this bound client's latest session has ended (the
        session closed): a new one may be opened."""

    @property
    def bound(self) -> bool:
        """Whether this client belongs to one client session (made by `new_stateful`)."""
        return self.ended is not None

    def new_stateful(self) -> Client:
        """The backend client of the current request's client session (see the class)."""
        from trimcp.core.context import get_context

        try:
            ctx = get_context()
        except RuntimeError:
            return like_client(self)
        if ctx.request_context is None or (
            ctx.transport == "streamable-http" and not _in_http_session()
        ):
            return like_client(self)
        session = ctx.session
        client = self._bound.get(session)
        if client is None:
            made = like_client(self)
            assert isinstance(made, StatefulProxyClient)
            client = made
            client.ended, client.hold_lock = anyio.Event(), anyio.Lock()
            self._bound[session] = client
            session.at_close(functools.partial(self._release, session))
        return client

    def _release(self, session: Any) -> None:
        client = self._bound.pop(session, None)
        if client is not None and client.ended is not None:
            client.ended.set()

    async def clear(self) -> None:
        """Let go of every bound client now (the proxy disconnects them)."""
        while self._bound:
            session, _client = next(iter(self._bound.items()))
            self._release(session)
        await anyio.lowlevel.checkpoint()


def _in_http_session() -> bool:
    """Whether the HTTP request being served belongs to an HTTP session (it carries an
    `Mcp-Session-Id`): stateless HTTP requests and 2026-07-28 ones have none (their
    `ctx.session` is shared, and `ctx.session_id` may be one made up for it)."""
    from trimcp.server.dependencies import get_http_request

    try:
        return "mcp-session-id" in get_http_request().headers
    except RuntimeError:
        return False


def _handlers_of(client: Client) -> dict[str, Any]:
    """The handlers `client` was given (a `ProxyClient`'s own relays left out)."""
    handlers = client.options.handlers
    own = client._relay if isinstance(client, ProxyClient) else None
    given: dict[str, Any] = {}
    for name in (*_RELAYED, "message"):
        handler = getattr(handlers, name, None)
        if handler is None or (own is not None and getattr(handler, "__self__", None) is own):
            continue
        given[name] = handler
    return given


_KEYWORDS = {
    "sampling": "sampling_handler",
    "elicitation": "elicitation_handler",
    "roots": "roots",
    "log": "log_handler",
    "progress": "progress_handler",
    "message": "message_handler",
}


def like_client(client: Client) -> Client:
    """A new, unconnected client of the same class, transport and options as `client` (FastMCP's
    `client.new()`); a `ProxyClient`'s relays are its own."""
    options = client.options
    kwargs = {_KEYWORDS[name]: handler for name, handler in _handlers_of(client).items()}
    return type(client)(
        client.transport,
        name=client.name,
        timeout=options.timeout,
        client_info=options.client_info,
        protocol=options.protocol,
        **kwargs,
    )


def relay_client(
    transport: ClientTransport, relay: Relay, template: Client | None, *, listen: bool
) -> Client:
    """A new backend session for the proxy's pool: the template's own handlers where it has
    them, `relay`'s elsewhere; every notification passes through `relay` first."""
    given = _handlers_of(template) if template is not None else {}
    options = template.options if template is not None else None
    relay.user_message = given.get("message")
    relay.client = Client(
        transport,
        sampling_handler=given.get("sampling", relay.sampling),
        elicitation_handler=given.get("elicitation", relay.elicitation),
        roots=given.get("roots", relay.roots),
        log_handler=given.get("log", relay.log),
        progress_handler=given.get("progress"),  # `ProxyTool.run` relays per call
        message_handler=relay.message,
        timeout=options.timeout if options is not None else None,
        client_info=options.client_info if options is not None else None,
        protocol=options.protocol if options is not None else "auto",
        listen=listen,
    )
    return relay.client
