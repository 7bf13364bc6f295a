"""Proxies: a `FastMCP` server that forwards to another MCP server through a `Client`.

```
FastMCPProxy (a FastMCP)            its clients see the backend's components as its own
├── ProxyToolManager, ProxyResourceManager, ProxyPromptManager
│                                   its managers: a name they do not know is forwarded anyway
└── ProxyBackend                    owns the backend sessions and the component cache
    ├── session pool                Clients, one per concurrent request, held for the lifespan
    └── ProxyTool / ProxyResource / ProxyTemplate / ProxyPrompt   in the managers' registries
                                    (`trimcp.server.proxy_components`, re-exported here)
```

Session strategy. The backend is reached through a pool of client sessions opened by the
proxy's *lifespan* (so a stdio backend is one process per concurrently active request, kept for
the lifespan, all shut down and reaped when it ends; sequential traffic uses one session). Each
backend request borrows a session exclusively, which is how server-to-client traffic the
backend sends (logs, sampling, elicitation, roots) is relayed to the right request of the
proxy's own client: the wire carries no request correlation for it. Outside the lifespan (say,
`await proxy.get_tools()` in a script) a temporary session is opened per operation. A `Client`
that is already connected when handed over is used as is, shared, with its own handlers.

Components. The backend's tools, resources, templates and prompts are listed when the lifespan
starts, again whenever the backend says a list changed, and on each `await proxy.get_*()`; they
live in the proxy's registries as proxy components, so tag filters, enable/disable, mounting and
importing treat them like local ones. A local component added to the proxy shadows a remote
one. A call for a tool, prompt or resource the cache does not know yet is forwarded anyway:
the proxy's managers (FastMCP's `ProxyToolManager` & co., installed through `FastMCP`'s
`new_*_manager` hooks) fall back to a proxy component for it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import msgspec

from trimcp.client import Client
from trimcp.client.elicitation import ElicitResult
from trimcp.client.session import MESSAGE_HOOKS
from trimcp.client.transports import ClientTransport, FastMCPTransport, infer_transport
from trimcp.core.mrtr import InputRequired
from trimcp.exceptions import McpError, NotFoundError
from trimcp.prompts.prompt_manager import PromptManager
from trimcp.protocol.errors import INTERNAL_ERROR, MISSING_REQUIRED_CLIENT_CAPABILITY, PARSE_ERROR
from trimcp.protocol.jsonrpc import DECODE_ERRORS
from trimcp.resources.resource_manager import ResourceManager
from trimcp.server.proxy_components import (
    ProxyPrompt,
    ProxyResource,
    ProxyTemplate,
    ProxyTool,
    RemoteComponent,
)
from trimcp.server.proxy_components import expand_template as expand_template
from trimcp.server.server import FastMCP
from trimcp.tools.tool_manager import ToolManager
from trimcp.types.misc import Completion

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.prompts import Prompt
    from trimcp.resources import Resource, ResourceTemplate
    from trimcp.resources.resource_manager import Found
    from trimcp.tools import Tool
    from trimcp.utilities.registry import Registry

__all__ = [
    "FastMCPProxy",
    "ProxyBackend",
    "ProxyClient",
    "ProxyPrompt",
    "ProxyPromptManager",
    "ProxyResource",
    "ProxyResourceManager",
    "ProxyTemplate",
    "ProxyTool",
    "ProxyToolManager",
    "create_proxy",
]

logger = logging.getLogger("trimcp.proxy")


# -- relaying to the proxy's own client ------------------------------------------------------


class _Relay:
    """Handlers for one backend session, forwarding to whichever request has borrowed it."""

    def __init__(self, backend: ProxyBackend | None) -> None:
        self.backend = backend
        self.ctx: Context | None = None
        self.user_message: Any = None
        self.scope: anyio.CancelScope | None = None
        self.interrupted: BaseException | None = None
        self.client: Client | None = None

    def _request(self) -> Any:
        ctx = self.ctx
        if ctx is None or ctx.request_context is None:
            raise McpError(-32601, "No client request to relay this to")
        return ctx.request_context

    async def _ask(self, method: str, params: Any, capability: str) -> Any:
        ctx = self.ctx
        request = self._request()
        data = _builtins(params)
        client_input = getattr(ctx, "ask_client", None)
        if client_input is not None:  # both eras (MRTR in 2026-07-28), capability checked
            try:
                return await client_input(method, data or {}, capability)
            except (InputRequired, McpError) as exc:
                if (
                    isinstance(exc, McpError)
                    and exc.error.code != MISSING_REQUIRED_CLIENT_CAPABILITY
                ):
                    raise
                # The proxy's request must end here (with an input_required result, or -32021),
                # not the backend's: hand it over to the task serving it (see `session`), and
                # answer the backend with an error; its request is being cancelled anyway.
                self._interrupt(exc)
                raise McpError(
                    INTERNAL_ERROR, f"The proxy's client has to answer {method} first"
                ) from None
        raw = await request.channel.request(
            method, data, related_request_id=request.id, timeout=None
        )
        try:
            return msgspec.json.decode(raw)
        except DECODE_ERRORS as exc:  # the client's bytes: invalid UTF-8 is not caught earlier
            raise McpError(PARSE_ERROR, f"the client's answer to {method} is not JSON") from exc

    def _interrupt(self, exc: BaseException) -> None:
        if self.interrupted is None:
            self.interrupted = exc
        if self.scope is not None:
            self.scope.cancel()

    async def log(self, message: Any) -> None:
        if self.ctx is None:
            logger.log(logging.INFO, "backend: %s", message.data)
            return
        await self.ctx.log(message.data, message.level, message.logger)

    async def sampling(self, messages: Any, params: Any, context: Any) -> Any:
        return await self._ask("sampling/createMessage", params, "sampling")

    async def elicitation(self, message: str, response_type: Any, params: Any, context: Any) -> Any:
        answer = await self._ask("elicitation/create", params, "elicitation")
        return ElicitResult(action=answer.get("action", "cancel"), content=answer.get("content"))

    async def roots(self, context: Any) -> Any:
        return (await self._ask("roots/list", None, "roots")).get("roots", [])

    async def message(self, notification: Any) -> None:
        if self.backend is not None and notification.method.endswith("/list_changed"):
            self.backend.backend_changed(self.client)
        user = self.user_message
        if user is not None:
            from trimcp.client.session import call_handler

            hook = getattr(user, MESSAGE_HOOKS.get(notification.method, ""), None)
            if hook is not None:
                await call_handler(hook, notification)
            elif callable(user):
                await call_handler(user, notification)


def _builtins(params: Any) -> Any:
    if params is None:
        return None
    data = msgspec.to_builtins(params)
    if isinstance(data, dict):
        data.pop("_meta", None)  # the backend's request metadata is not ours to forward
    return data


def _relay_client(
    transport: ClientTransport, relay: _Relay, template: Client | None, listen: bool
) -> Client:
    """A new backend session; the user's handlers win over the relays where given."""
    options = template.options if template is not None else None
    handlers = options.handlers if options is not None else None
    own_relay = getattr(template, "_relay", None)  # a ProxyClient's defaults are relays too

    def pick(name: str, default: Any) -> Any:
        given = getattr(handlers, name, None) if handlers is not None else None
        if given is None or (
            own_relay is not None and getattr(given, "__self__", None) is own_relay
        ):
            return default
        return given

    relay.user_message = getattr(handlers, "message", None)
    return Client(
        transport,
        sampling_handler=pick("sampling", relay.sampling),
        elicitation_handler=pick("elicitation", relay.elicitation),
        roots=pick("roots", relay.roots),
        log_handler=pick("log", relay.log),
        message_handler=relay.message,
        timeout=options.timeout if options is not None else None,
        client_info=options.client_info if options is not None else None,
        protocol=options.protocol if options is not None else "auto",
        listen=listen,
    )


class ProxyClient(Client):
    """A `Client` whose handlers relay the backend's logs, sampling, elicitation and roots to
    the client of the proxy request being served (FastMCP's `ProxyClient`)."""

    def __init__(self, transport: Any, **kwargs: Any) -> None:
        relay = _Relay(None)
        kwargs.setdefault("sampling_handler", relay.sampling)
        kwargs.setdefault("elicitation_handler", relay.elicitation)
        kwargs.setdefault("roots", relay.roots)
        kwargs.setdefault("log_handler", relay.log)
        super().__init__(transport, **kwargs)
        self._relay = relay


# -- the backend -----------------------------------------------------------------------------


class ProxyBackend:
    """The proxy's connection to the remote server: a pool of sessions, and the cache."""

    def __init__(self, proxy: FastMCPProxy, client: Client) -> None:
        self.proxy = proxy
        self._template = client
        self._shared = client if client.is_connected() else None
        self._idle: list[tuple[Client, _Relay]] = []
        self._task_group: anyio.abc.TaskGroup | None = None
        self._stop: anyio.Event | None = None
        self._remote: dict[str, set[str]] = {k: set() for k in _KINDS}
        self._refresh_pending = False
        self._listening = False

    def _new_session(self) -> tuple[Client, _Relay]:
        relay = _Relay(self)
        # One session of the lifespan's pool listens for the backend's list changes in
        # 2026-07-28 (a handshake-era session receives them anyway).
        listen = self._task_group is not None and not self._listening
        self._listening = self._listening or listen
        relay.client = _relay_client(self._template.transport, relay, self._template, listen)
        return relay.client, relay

    # -- lifespan --------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Hold the backend sessions for the proxy's lifespan; list the backend once."""
        self._stop = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                try:
                    await self.refresh()
                except Exception:
                    logger.exception("could not list the backend of %r", self.proxy)
                try:
                    yield
                finally:
                    self._task_group = None
                    self._stop.set()
        finally:
            self._idle.clear()
            self._stop = None
            self._listening = False

    async def _hold(
        self, client: Client, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        stop = self._stop
        async with client:
            task_status.started()
            assert stop is not None
            await stop.wait()

    @asynccontextmanager
    async def session(self, ctx: Context | None = None) -> AsyncIterator[Client]:
        """A connected backend session, exclusively ours while the block runs.

        A relay that must end the proxy's request rather than answer the backend (2026-07-28
        input the proxy's client has yet to give) cancels the block and its reason is raised
        here, in the task serving the request."""
        if self._shared is not None:
            yield self._shared
            return
        async with self._borrow() as (client, relay):
            relay.ctx, relay.interrupted = ctx, None
            try:
                with anyio.CancelScope() as relay.scope:
                    yield client
            except Exception:
                if relay.interrupted is None:
                    raise
            finally:
                relay.ctx = relay.scope = None
            if relay.interrupted is not None:
                raise relay.interrupted

    @asynccontextmanager
    async def _borrow(self) -> AsyncIterator[tuple[Client, _Relay]]:
        tg = self._task_group
        if tg is None:  # no lifespan: a session for this operation only
            client, relay = self._new_session()
            async with client:
                yield client, relay
            return
        while self._idle:
            client, relay = self._idle.pop()
            if client.is_connected():
                break
        else:
            client, relay = self._new_session()
            await tg.start(self._hold, client)
        try:
            yield client, relay
        finally:
            if self._task_group is not None and client.is_connected():
                self._idle.append((client, relay))

    # -- the component cache ---------------------------------------------------------------

    def backend_changed(self, via: Client | None = None) -> None:
        """A backend session said a list changed: list again, on that session (a stdio
        backend is a process per session, and the change may be that process's own)."""
        tg = self._task_group
        if tg is not None and not self._refresh_pending:
            self._refresh_pending = True
            tg.start_soon(self._refresh_soon, via)

    async def _refresh_soon(self, via: Client | None) -> None:
        self._refresh_pending = False
        try:
            await self.refresh(via)
        except Exception:
            logger.exception("could not refresh the backend's components")

    async def refresh(self, via: Client | None = None) -> None:
        """List everything the backend has and install it in the proxy's registries."""
        if via is not None and via.is_connected():
            await self._install_all(via)  # listing needs no relay: sharing the session is fine
        else:
            async with self.session() as client:
                await self._install_all(client)

    async def refresh_listing(self) -> None:
        """`refresh`, for introspection (`get_tools()` & co.): a failure is a `NotFoundError`
        whose text hides the backend's unless the proxy's `mask_error_details` is off."""
        try:
            await self.refresh()
        except Exception as exc:
            # a NotFoundError's text always reaches the client: the backend's only unmasked
            detail = "" if self.proxy.mask_error_details else f": {exc}"
            raise NotFoundError(f"Could not list the proxied server{detail}") from exc

    async def _install_all(self, client: Client) -> None:
        caps = client.server_capabilities
        tools = await _list(client.list_tools, caps, "tools")
        resources = await _list(client.list_resources, caps, "resources")
        templates = await _list(client.list_resource_templates, caps, "resources")
        prompts = await _list(client.list_prompts, caps, "prompts")
        proxy = self.proxy
        tool_registry = proxy.tool_manager.registry
        self._install("tools", tool_registry, [ProxyTool.from_mcp(self, t) for t in tools])
        resource_manager = proxy.resource_manager
        self._install(
            "resources",
            resource_manager.resource_registry,
            [ProxyResource.from_mcp(self, r) for r in resources],
        )
        self._install(
            "templates",
            resource_manager.template_registry,
            [ProxyTemplate.from_mcp(self, t) for t in templates],
        )
        prompt_registry = proxy.prompt_manager.registry
        self._install("prompts", prompt_registry, [ProxyPrompt.from_mcp(self, p) for p in prompts])

    def _install(self, kind: str, registry: Registry[Any], components: list[Any]) -> None:
        # Replaces the remote entries in bulk (one change, one list-changed notification);
        # `Registry.add` would warn on each replacement. Local entries are left alone.
        remote = self._remote[kind]
        fresh = {c.key: c for c in components}
        gone = [
            key
            for key in remote - fresh.keys()
            if isinstance(registry.get_any(key), RemoteComponent)
        ]
        put: dict[str, Any] = {}
        for key, component in fresh.items():
            current = registry.get_any(key)
            if current is not None and not isinstance(current, RemoteComponent):
                continue  # a local component shadows the remote one
            if current is None or not current.same_listing(component):
                put[key] = component
        self._remote[kind] = set(fresh)
        registry.update(put, delete=gone)


_KINDS = ("tools", "resources", "templates", "prompts")


async def _list(fetch: Callable[[], Any], caps: Any, capability: str) -> list[Any]:
    if caps is not None and getattr(caps, capability, None) is None:
        return []
    try:
        return list(await fetch())
    except McpError as exc:
        logger.debug("backend listing failed: %s", exc)
        return []


# -- the proxy's managers --------------------------------------------------------------------


class ProxyToolManager(ToolManager):
    """A proxy's tools: the backend's (listed into the registry) and local ones; a name
    nobody lists is forwarded to the backend anyway (its answer decides)."""

    def __init__(self, backend: ProxyBackend, **options: Any) -> None:
        super().__init__(**options)
        self.backend = backend

    def find(self, key: str) -> Tool | None:
        tool = super().find(key)
        if tool is None and key not in self.registry:
            fallback = ProxyTool(self.backend, None, name=key, parameters={"type": "object"})
            if self.visibility.visible(key, fallback):
                return fallback
        return tool

    async def get_tools(self) -> dict[str, Tool]:
        """The backend's tools (listed now) and the local ones, as clients see them."""
        await self.backend.refresh_listing()
        return await super().get_tools()


class ProxyResourceManager(ResourceManager):
    """A proxy's resources and templates; a URI nobody answers is forwarded anyway."""

    def __init__(self, backend: ProxyBackend, **options: Any) -> None:
        super().__init__(**options)
        self.backend = backend

    def find(self, uri: str) -> Found | None:
        found = super().find(uri)
        if found is None and uri not in self.resource_registry and "://" in uri:
            fallback = ProxyResource(self.backend, None, uri=uri)
            if self.visibility.visible(uri, fallback):
                return fallback, None, uri, uri
        return found

    async def get_resources(self) -> dict[str, Resource]:
        await self.backend.refresh_listing()
        return await super().get_resources()

    async def get_resource_templates(self) -> dict[str, ResourceTemplate]:
        await self.backend.refresh_listing()
        return await super().get_resource_templates()


class ProxyPromptManager(PromptManager):
    """A proxy's prompts; a name nobody lists is forwarded anyway."""

    def __init__(self, backend: ProxyBackend, **options: Any) -> None:
        super().__init__(**options)
        self.backend = backend

    def find(self, key: str) -> Prompt | None:
        prompt = super().find(key)
        if prompt is None and key not in self.registry:
            fallback = ProxyPrompt(self.backend, None, name=key)
            if self.visibility.visible(key, fallback):
                return fallback
        return prompt

    async def get_prompts(self) -> dict[str, Prompt]:
        await self.backend.refresh_listing()
        return await super().get_prompts()


# -- the proxy server ------------------------------------------------------------------------


class FastMCPProxy(FastMCP):
    """A `FastMCP` server whose components are another server's (see the module docstring).

    Args:
        client: The backend `Client` (connected: shared as is; not connected: a template for
            the proxy's own sessions, its transport reused, its handlers preferred).
        client_factory: FastMCP's spelling: a callable returning such a `Client`.
        **settings: As for `FastMCP` (name, include_tags, lifespan, ...).
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        client_factory: Callable[[], Client] | None = None,
        **settings: Any,
    ) -> None:
        if client is None:
            if client_factory is None:
                raise TypeError("FastMCPProxy needs a client or a client_factory")
            client = client_factory()
        # Before `FastMCP.__init__`: its manager hooks below hand the backend to the managers.
        self._backend = ProxyBackend(self, client)
        user_lifespan = settings.pop("lifespan", None)
        backend = self._backend

        @asynccontextmanager
        async def proxy_lifespan(server: FastMCP) -> AsyncIterator[Any]:
            async with backend.running():
                if user_lifespan is None:
                    yield {}
                else:
                    async with user_lifespan(server) as state:
                        yield state

        super().__init__(lifespan=proxy_lifespan, **settings)
        self.completion(self._complete)

    def new_tool_manager(self, **options: Any) -> ToolManager:
        return ProxyToolManager(self._backend, **options)

    def new_resource_manager(self, **options: Any) -> ResourceManager:
        return ProxyResourceManager(self._backend, **options)

    def new_prompt_manager(self, **options: Any) -> PromptManager:
        return ProxyPromptManager(self._backend, **options)

    @classmethod
    def for_server(cls, server: FastMCP, **settings: Any) -> FastMCPProxy:
        """A proxy of an in-process server (proxy mounting); it serves that server's routes."""
        settings.setdefault("name", server.name)
        proxy = cls(Client(FastMCPTransport(server)), **settings)
        proxy.serve_routes_of(server)
        return proxy

    @property
    def client(self) -> Client:
        return self._backend._template

    # -- completion ------------------------------------------------------------------------

    async def _complete(self, ref: Any, argument: Any, context: Any) -> Completion:
        from trimcp.core.context import get_context

        try:
            ctx = get_context()
        except RuntimeError:
            ctx = None
        arguments = (context or {}).get("arguments") if isinstance(context, dict) else None
        async with self._backend.session(ctx) as client:
            return await client.complete(
                msgspec.to_builtins(ref), msgspec.to_builtins(argument), arguments
            )

    async def refresh_components(self) -> None:
        """List the backend into the managers' registries (before `import_server` copies)."""
        await self._backend.refresh_listing()


# -- create_proxy ----------------------------------------------------------------------------


def create_proxy(target: Any, **settings: Any) -> FastMCP:
    """A proxy server for `target`: a `Client`, a transport, a URL, a `.py` path, a
    `FastMCP` instance, or an MCPConfig dict. An MCPConfig of several servers gives a server
    that mounts one proxy per entry, prefixed with the entry's name."""
    from trimcp.mcp_config import MCPConfig, is_mcp_config

    if isinstance(target, MCPConfig) or is_mcp_config(target):
        config = target if isinstance(target, MCPConfig) else MCPConfig.from_dict(target)
        transports = config.transports()
        if len(transports) == 1:
            (transport,) = transports.values()
            return FastMCPProxy(ProxyClient(transport), **settings)
        settings.setdefault("name", "MCPConfig proxy")
        composite = FastMCP(**settings)
        for name, transport in transports.items():
            composite.mount(FastMCPProxy(ProxyClient(transport), name=name), prefix=name)
        return composite
    if isinstance(target, Client):
        client = target
    elif isinstance(target, FastMCP):
        settings.setdefault("name", f"Proxy of {target.name}")
        return FastMCPProxy.for_server(target, **settings)
    else:
        client = ProxyClient(infer_transport(target))
    settings.setdefault("name", "FastMCPProxy")
    return FastMCPProxy(client, **settings)
