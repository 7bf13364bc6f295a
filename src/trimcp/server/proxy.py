"""Proxies: a `FastMCP` server that forwards to another MCP server through a `Client`.

```
FastMCPProxy (a FastMCP)            its clients see the backend's components as its own
├── ProxyToolManager, ProxyResourceManager, ProxyPromptManager
│                                   its managers: a name they do not know is forwarded anyway
│                                   (`trimcp.server.proxy_managers`, re-exported here)
└── ProxyBackend                    owns the backend sessions and the component cache
    ├── sessions                    from the proxy's `client_factory` (see below); the pool
    │                               and the holding: `trimcp.server.proxy_sessions`
    └── ProxyTool / ProxyResource / ProxyTemplate / ProxyPrompt   in the managers' registries
                                    (`trimcp.server.proxy_components`, re-exported here)
```

Session strategy (FastMCP's `client_factory`, called for each backend operation):

- `FastMCP.as_proxy(backend)` (and the deprecated `FastMCPProxy(client=...)`) give a
  `ClientTemplate`: a pool of client sessions like the template, opened by the proxy's
  *lifespan* (a stdio backend is one process per concurrently active request, kept for the
  lifespan, all shut down and reaped when it ends; sequential traffic uses one session).
  Outside the lifespan (say, `await proxy.get_tools()` in a script) a temporary session is
  opened per operation. A template that is already connected is shared as is (FastMCP's
  session reuse), with its own handlers.
- Any other factory (sync or async) is called per operation; a client it returns connected is
  used as is, one it returns unconnected is connected for that operation only.

A held session (the pool's, a `StatefulProxyClient`'s) that the backend ends (a stdio server
that exits) is closed and its process reaped at once; the next operation opens a new one.
`ProxyBackend.statistics()` counts the sessions held.

Each backend request has its session to itself, which is how the server-to-client traffic the
backend sends (logs, progress, sampling, elicitation, roots) is relayed to the right request of
the proxy's own client (`trimcp.server.proxy_client`).

Components. The backend's tools, resources, templates and prompts are listed when the lifespan
starts, again whenever the backend says a list changed, on each list request (as FastMCP's
proxy does: `LiveListing`, the proxy's first middleware) and on each `await proxy.get_*()`
(so calls made before any listing find them with their schema). They live in the proxy's registries as *mirrored* proxy components, so tag
filters, mounting and importing treat them like local ones (enabling or disabling one is
refused: `copy()` it and add the copy). A local component added to the proxy shadows a remote one. A call for a tool,
prompt or resource the cache does not know yet is forwarded anyway: the proxy's managers
(FastMCP's `ProxyToolManager` & co., installed through `FastMCP`'s `new_*_manager` hooks) fall
back to a proxy component for it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
import msgspec

from trimcp.client import Client
from trimcp.client.transports import FastMCPTransport, infer_transport
from trimcp.exceptions import McpError, NotFoundError
from trimcp.prompts.prompt_manager import PromptManager
from trimcp.resources.resource_manager import ResourceManager
from trimcp.server.proxy_client import (
    ProxyClient,
    Relay,
    StatefulProxyClient,
    default_proxy_roots_handler,
    factory_session,
    like_client,
    relay_client,
    serving,
)
from trimcp.server.proxy_components import (
    ProxyPrompt,
    ProxyResource,
    ProxyTemplate,
    ProxyTool,
    is_mirrored,
)
from trimcp.server.proxy_components import expand_template as expand_template
from trimcp.server.proxy_managers import (
    LiveListing,
    ProxyPromptManager,
    ProxyResourceManager,
    ProxyToolManager,
)
from trimcp.server.proxy_sessions import BackendStatistics, SessionPool, hold_session
from trimcp.server.server import FastMCP
from trimcp.tools.tool_manager import ToolManager
from trimcp.types.misc import Completion

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.tools import Tool
    from trimcp.utilities.registry import Registry

__all__ = [
    "BackendStatistics",
    "ClientFactoryT",
    "ClientTemplate",
    "FastMCPProxy",
    "LiveListing",
    "ProxyBackend",
    "ProxyClient",
    "ProxyPrompt",
    "ProxyPromptManager",
    "ProxyResource",
    "ProxyResourceManager",
    "ProxyTemplate",
    "ProxyTool",
    "ProxyToolManager",
    "StatefulProxyClient",
    "create_proxy",
    "default_proxy_roots_handler",
]

logger = logging.getLogger("trimcp.proxy")

KINDS = ("tools", "resources", "templates", "prompts")
"""The kinds of components a proxy lists (`ProxyBackend.refresh`)."""

ClientFactoryT: TypeAlias = Callable[[], Client] | Callable[[], Awaitable[Client]]
"""What `FastMCPProxy(client_factory=...)` takes (FastMCP's name)."""


class ClientTemplate:
    """The client factory `as_proxy` gives a proxy: new clients like `client` (FastMCP's
    `client.new()`), or `client` itself while it is connected. The proxy keeps a pool of
    sessions like it rather than calling it per operation (see the module docstring)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def __call__(self) -> Client:
        return self.client if self.client.is_connected() else like_client(self.client)

    def __repr__(self) -> str:
        return f"ClientTemplate({self.client!r})"


class ProxyBackend:
    """The proxy's connection to the remote server: its sessions, and the cache."""

    def __init__(self, proxy: FastMCPProxy, factory: ClientFactoryT) -> None:
        self.proxy = proxy
        self.factory = factory
        template = factory.client if isinstance(factory, ClientTemplate) else None
        self._template = template
        self._shared = template if template is not None and template.is_connected() else None
        self._pool: SessionPool | None = None
        self._remote: dict[str, set[str]] = {k: set() for k in KINDS}
        self._refresh_pending = False
        self._transformed: dict[str, Any] = {}  # backend tools registered transformed, by key
        self._held = 0  # sessions `_hold` keeps open, or is closing
        self.listing_error: Exception | None = None
        """Why the lifespan's first listing failed (None: it did not)."""

    def _new_session(self, pool: SessionPool | None) -> tuple[Client, Relay]:
        assert self._template is not None
        relay = Relay(self)
        # One session of the lifespan's pool listens for the backend's list changes in
        # 2026-07-28 (a handshake-era session receives them anyway); another takes over
        # when the backend ends it.
        listen = pool is not None and pool.listener is None
        client = relay_client(self._template.transport, relay, self._template, listen=listen)
        if listen and pool is not None:
            pool.listener = client
        return client, relay

    def statistics(self) -> BackendStatistics:
        """How many backend sessions the proxy holds now (see `BackendStatistics`)."""
        pool = self._pool
        return BackendStatistics(
            held_sessions=self._held, idle_sessions=len(pool.idle) if pool is not None else 0
        )

    # -- lifespan --------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Hold the backend sessions for the proxy's lifespan; list the backend once.

        Runs may overlap (a new one starting while an ended one still waits for its lent
        sessions); each keeps its own pool, and operations borrow from the newest."""
        async with anyio.create_task_group() as tg:
            pool = self._pool = SessionPool(tg)
            self.listing_error = None
            try:
                await self.refresh()
            except Exception as exc:
                self.listing_error = exc
                logger.warning("Could not list the backend of %r: %s", self.proxy, exc)
            try:
                yield
            finally:
                if self._pool is pool:
                    self._pool = None
                await pool.drain()
                if self._pool is None and self._template is not None and self._shared is None:
                    # the last run: a kept-alive stdio backend stops with the proxy
                    await self._template.transport.close()

    async def _hold(
        self,
        client: Client,
        *stops: anyio.Event,
        pool: SessionPool | None = None,
        released: anyio.Event | None = None,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """`hold_session`, counted (`statistics()`); once the session is closed, `pool`
        forgets `client` and `released` is set."""
        self._held += 1
        try:
            await hold_session(client, *stops, task_status=task_status)
        finally:
            self._held -= 1
            if pool is not None:
                pool.forget(client)
            if released is not None:
                released.set()

    async def _hold_bound(self, client: StatefulProxyClient) -> None:
        """Connect `client`, bound to a client session, unless it is: held by the lifespan
        until that session ends (or the lifespan does). A session the backend ended is
        replaced, once its hold has closed it."""
        pool = self._pool
        assert client.ended is not None and client.hold_lock is not None
        if pool is None:
            raise RuntimeError("a session-bound backend client needs the proxy's lifespan")
        async with client.hold_lock:
            if client.is_connected() or client.ended.is_set():
                return
            if client.released is not None:
                await client.released.wait()  # the previous session's hold lets go first
            client.released = anyio.Event()
            await pool.tasks.start(
                functools.partial(self._hold, released=client.released),
                client,
                client.ended,
                pool.stop,
            )

    @asynccontextmanager
    async def session(self, ctx: Context | None = None) -> AsyncIterator[Client]:
        """A connected backend session for one operation on behalf of `ctx`'s request."""
        if self._shared is not None:
            yield self._shared
        elif self._template is None:
            async with factory_session(self.factory, ctx, hold=self._hold_bound) as client:
                yield client
        else:
            async with self._borrow() as (client, relay), serving(relay, ctx):
                yield client

    @asynccontextmanager
    async def _borrow(self) -> AsyncIterator[tuple[Client, Relay]]:
        pool = self._pool
        if pool is None:  # no lifespan: a session for this operation only
            client, relay = self._new_session(None)
            async with client:
                yield client, relay
            return
        pool.lent += 1
        try:
            while pool.idle:
                client, relay = pool.idle.pop()
                if client.is_connected():
                    break
            else:  # none idle, or the backend ended them: their holds let them go
                client, relay = self._new_session(pool)
                await pool.tasks.start(functools.partial(self._hold, pool=pool), client, pool.stop)
        except BaseException:
            pool.give_back(None, None)
            raise
        try:
            yield client, relay
        finally:
            pool.give_back(client, relay)

    # -- the component cache ---------------------------------------------------------------

    def backend_changed(self, via: Client | None = None) -> None:
        """A backend session said a list changed: list again, on that session (a stdio
        backend is a process per session, and the change may be that process's own)."""
        pool = self._pool
        if pool is not None and not self._refresh_pending:
            self._refresh_pending = True
            pool.tasks.start_soon(self._refresh_soon, via)

    async def _refresh_soon(self, via: Client | None) -> None:
        self._refresh_pending = False
        try:
            await self.refresh(via)
        except Exception:
            logger.exception("could not refresh the backend's components")

    async def refresh(self, via: Client | None = None, kinds: tuple[str, ...] = KINDS) -> None:
        """List the backend's `kinds` of components (all by default) and install them in
        the proxy's registries."""
        if via is not None and via.is_connected():
            await self._install_all(via, kinds)  # listing needs no relay: sharing is fine
        else:
            async with self.session() as client:
                await self._install_all(client, kinds)

    async def refresh_listing(self, kinds: tuple[str, ...] = KINDS) -> None:
        """`refresh`, for introspection (`get_tools()` & co.): a failure is a `NotFoundError`
        whose text hides the backend's unless the proxy's `mask_error_details` is off."""
        try:
            await self.refresh(kinds=kinds)
        except Exception as exc:
            # a NotFoundError's text always reaches the client: the backend's only unmasked
            detail = "" if self.proxy.mask_error_details else f": {exc}"
            raise NotFoundError(f"Could not list the proxied server{detail}") from exc

    async def _install_all(self, client: Client, kinds: tuple[str, ...]) -> None:
        caps = client.server_capabilities
        proxy = self.proxy
        resources = proxy.resource_manager
        sources: dict[str, tuple[Callable[[], Any], str, Registry[Any], Any]] = {
            "tools": (client.list_tools, "tools", proxy.tool_manager.registry, ProxyTool),
            "resources": (
                client.list_resources,
                "resources",
                resources.resource_registry,
                ProxyResource,
            ),
            "templates": (
                client.list_resource_templates,
                "resources",
                resources.template_registry,
                ProxyTemplate,
            ),
            "prompts": (client.list_prompts, "prompts", proxy.prompt_manager.registry, ProxyPrompt),
        }
        for kind in kinds:
            fetch, capability, registry, component = sources[kind]
            listed = await _list(fetch, caps, capability)
            self._install(kind, registry, [component.from_mcp(self, c) for c in listed])

    def _install(self, kind: str, registry: Registry[Any], components: list[Any]) -> None:
        # Replaces the mirrored entries in bulk (one change, one list-changed notification);
        # `Registry.add` would warn on each replacement. Local entries (copies of mirrored
        # ones included) are left alone.
        remote = self._remote[kind]
        fresh = {c.key: c for c in components}
        if kind == "tools":
            self._install_transformed(fresh)  # takes out the tools the proxy transforms
        gone = [key for key in remote - fresh.keys() if is_mirrored(registry.get_any(key))]
        put: dict[str, Any] = {}
        for key, component in fresh.items():
            current = registry.get_any(key)
            if current is not None and not is_mirrored(current):
                continue  # a local component shadows the remote one
            if current is None or not current.same_listing(component):
                put[key] = component
        self._remote[kind] = set(fresh)
        registry.update(put, delete=gone)

    def _install_transformed(self, fresh: dict[str, Any]) -> None:
        """The backend's tools the proxy has a transformation for (`add_tool_transformation`,
        `tool_transformations=`) go through its `ToolManager`, which registers them
        transformed; taken out of `fresh`. A changed listing replaces the tool."""
        manager = self.proxy.tool_manager
        transformed = self._transformed
        for key in [k for k in transformed if k not in fresh or k not in manager.transformations]:
            with contextlib.suppress(NotFoundError):
                manager.remove_tool(key)
            del transformed[key]
        for key in [k for k in fresh if k in manager.transformations]:
            component = fresh.pop(key)
            if key in transformed and transformed[key].same_listing(component):
                continue
            with contextlib.suppress(NotFoundError):
                manager.remove_tool(key)  # the previous listing's, or one transformed raw
            manager.add_tool(component)
            transformed[key] = component


async def _list(fetch: Callable[[], Any], caps: Any, capability: str) -> list[Any]:
    if caps is not None and getattr(caps, capability, None) is None:
        return []
    try:
        return list(await fetch())
    except McpError as exc:
        logger.debug("backend listing failed: %s", exc)
        return []


# -- the proxy server ------------------------------------------------------------------------


class FastMCPProxy(FastMCP):
    """A `FastMCP` server whose components are another server's (see the module docstring).

    Args:
        client: Deprecated (as in FastMCP): the backend `Client`, as `as_proxy` takes it.
        client_factory: A callable returning a `Client` (or an awaitable of one), called for
            each backend operation; `FastMCP.as_proxy` makes one that pools sessions.
        **settings: As for `FastMCP` (name, include_tags, lifespan, ...).

    Raises:
        ValueError: Both `client` and `client_factory` given, or neither.
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        client_factory: ClientFactoryT | None = None,
        **settings: Any,
    ) -> None:
        if client is not None and client_factory is not None:
            raise ValueError("Cannot specify both 'client' and 'client_factory'")
        if client is not None:
            from trimcp.settings import settings as global_settings

            if getattr(global_settings, "deprecation_warnings", True):
                warnings.warn(
                    "Passing 'client' to FastMCPProxy is deprecated. Use 'client_factory' "
                    "instead for explicit session management. For automatic session strategy, "
                    "use FastMCP.as_proxy().",
                    DeprecationWarning,
                    stacklevel=2,
                )
            client_factory = ClientTemplate(client)
        elif client_factory is None:
            raise ValueError("Must specify 'client_factory'")
        self.client_factory: ClientFactoryT = client_factory
        """Makes the clients of the backend sessions (FastMCP's attribute)."""
        # Before `FastMCP.__init__`: its manager hooks below hand the backend to the managers.
        self._backend = ProxyBackend(self, client_factory)
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
        self.middleware.insert(0, LiveListing(backend))

    def new_tool_manager(self, **options: Any) -> ToolManager:
        return ProxyToolManager(self._backend, **options)

    def new_resource_manager(self, **options: Any) -> ResourceManager:
        return ProxyResourceManager(self._backend, **options)

    def new_prompt_manager(self, **options: Any) -> PromptManager:
        return ProxyPromptManager(self._backend, **options)

    @classmethod
    def for_server(cls, server: FastMCP, **settings: Any) -> FastMCPProxy:
        """A proxy of an in-process server (`as_proxy`, proxy mounting); it serves that
        server's routes."""
        template = ProxyClient(FastMCPTransport(server))
        proxy = cls(client_factory=ClientTemplate(template), **settings)
        proxy.serve_routes_of(server)
        return proxy

    async def get_tool(self, name: str) -> Tool:
        """The tool `name` as listed (see `ProxyToolManager.get_tool`)."""
        try:
            return await self.tool_manager.get_tool(name)
        except NotFoundError:
            raise NotFoundError(f"Unknown tool: {name}") from None  # as `FastMCP.get_tool`

    @property
    def backend(self) -> ProxyBackend:
        """The backend sessions and the component cache (internal API)."""
        return self._backend

    @property
    def listing_error(self) -> Exception | None:
        """Why listing the backend failed when the lifespan started (None: it did not)."""
        return self._backend.listing_error

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
        """List the backend into the managers' registries (before `import_server` copies,
        and when a server this proxy is mounted in lists its mounts)."""
        await self._backend.refresh_listing()


# -- create_proxy ----------------------------------------------------------------------------


def create_proxy(target: Any, **settings: Any) -> FastMCP:
    """A proxy server for `target` (`FastMCP.as_proxy`): a `Client` (connected: its session is
    shared; not connected: a template for the proxy's sessions), a transport, a URL, a `.py`
    path, a `FastMCP` instance, or an MCPConfig dict. An MCPConfig of several servers gives a
    server that mounts one proxy per entry, prefixed with the entry's name."""
    from trimcp.mcp_config import MCPConfig, is_mcp_config

    if isinstance(target, MCPConfig) or is_mcp_config(target):
        config = target if isinstance(target, MCPConfig) else MCPConfig.from_dict(target)
        transports = config.transports()
        if len(transports) == 1:
            (transport,) = transports.values()
            return FastMCPProxy(client_factory=ClientTemplate(ProxyClient(transport)), **settings)
        settings.setdefault("name", "MCPConfig proxy")
        composite = FastMCP(**settings)
        for name, transport in transports.items():
            proxy = FastMCPProxy(client_factory=ClientTemplate(ProxyClient(transport)), name=name)
            composite.mount(proxy, prefix=name)
        return composite
    if isinstance(target, FastMCP):
        return FastMCPProxy.for_server(target, **settings)
    client = target if isinstance(target, Client) else ProxyClient(infer_transport(target))
    return FastMCPProxy(client_factory=ClientTemplate(client), **settings)
