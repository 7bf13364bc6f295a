"""`FastMCP`: the server users write (the facade over `trimcp.core` and the transports).

It owns (has-a, no mixins) its component managers (`ToolManager`, `ResourceManager`,
`PromptManager`), its `Composition` (mounts), its `ServerLifespan` (`server.lifespan`), its
`ChangeFanout` (`core.subscriptions`), its middleware and run settings; its methods delegate to
them and to `server.options`, `server.registration`, `server.direct`, `server.deprecated`
(FastMCP 2.x's deprecated methods, bound here), `server.http_serving` (`http_app`,
`run_http_async`, `custom_route`, bound here) and `core.running` (`run`, `run_async`).

Internal API: other parts of trimcp reach a server through public spellings only, each
documented as internal where users have no use for it (`tool_manager`, `composition`,
`fanout`, `lifespan`, `lifespan_context()`, `finish_modern()`, ...). FastMCP's private
spellings that its users and tests touch (`_tool_manager`, `_mounted_servers`, `_tools`, ...)
stay, as `Alias`es of those.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal

from trimcp import __version__
from trimcp.core import answers, running
from trimcp.core.subscriptions import ChangeFanout
from trimcp.prompts.prompt_manager import PromptManager
from trimcp.resources.resource_manager import ResourceManager
from trimcp.server import dependencies, deprecated, direct, http_serving, registration
from trimcp.server.aliases import Alias
from trimcp.server.composition import Composition, MountedServer, import_server
from trimcp.server.lifespan import LifespanFn, ServerLifespan, default_lifespan
from trimcp.server.options import (
    check_prefix_format,
    from_fastapi,
    from_openapi,
    generated_name,
    manager_options,
    refuse_unimplemented,
    resolve_flag,
    transport_settings,
    visibility_of,
)
from trimcp.server.registration import awaitable_handler, decorator_forms, keyword_options
from trimcp.server.resource_prefix import (
    URI_PATTERN,
    add_resource_prefix,
    has_resource_prefix,
    remove_resource_prefix,
)
from trimcp.tools.tool_manager import ToolManager
from trimcp.types.base import Icon
from trimcp.types.codec import convert
from trimcp.utilities.registry import DuplicateBehavior, Registry

if TYPE_CHECKING:
    from trimcp.core.mrtr import MrtrKeys
    from trimcp.core.subscriptions import NotificationSink
    from trimcp.prompts import Prompt
    from trimcp.resources import Resource, ResourceTemplate
    from trimcp.runtime.peer import MessageStream
    from trimcp.tools import Tool
    from trimcp.tools.tool import ToolResult
    from trimcp.utilities.types import NotSetT

__all__ = [
    "URI_PATTERN",
    "FastMCP",
    "LifespanCallable",
    "Transport",
    "add_resource_prefix",
    "default_lifespan",
    "has_resource_prefix",
    "remove_resource_prefix",
]

logger = logging.getLogger("trimcp.server")

dependencies.serve_context_requests()  # the core's `Context.get_http_request()` asks it

Transport = Literal["stdio", "http", "sse", "streamable-http"]
LifespanCallable = LifespanFn  # FastMCP's name
Names = Collection[str] | None


class FastMCP:
    """An MCP server: register tools, resources and prompts, then `run()` it.

    The constructor takes FastMCP 2.13's keywords (its deprecated transport settings `host`,
    `port`, `log_level`, `json_response`, `debug` (Starlette's, for the HTTP app), ...) and
    trimcp's own; any other raises `TypeError`. FastMCP keywords trimcp does not implement
    yet raise `NotImplementedError` rather than being ignored: `auth=` other than `None` (and
    `FASTMCP_SERVER_AUTH` when `auth` is not given) and the OpenAPI constructors
    (`from_openapi`, `from_fastapi`).
    """

    def __init__(
        self,
        name: str | None = None,
        instructions: str | None = None,
        *,
        version: str | None = None,
        website_url: str | None = None,
        icons: list[Icon] | list[dict[str, Any]] | None = None,
        lifespan: LifespanFn | None = None,
        tools: Collection[Tool | Callable[..., Any]] | None = None,
        include_tags: Collection[str] | None = None,
        exclude_tags: Collection[str] | None = None,
        on_duplicate_tools: DuplicateBehavior | None = None,
        on_duplicate_resources: DuplicateBehavior | None = None,
        on_duplicate_prompts: DuplicateBehavior | None = None,
        on_duplicate: DuplicateBehavior | None = None,
        mask_error_details: bool | None = None,
        strict_input_validation: bool | None = None,
        dereference_schemas: bool = True,
        list_page_size: int | None = None,
        cache_ttl_ms: int = 0,
        cache_scope: Literal["private", "public"] = "private",
        tool_serializer: Callable[[Any], str] | None = None,
        resource_prefix_format: Literal["path", "protocol"] | None = None,
        middleware: Collection[Any] | None = None,
        sampling_handler: Callable[..., Any] | None = None,
        sampling_handler_behavior: Literal["fallback", "always"] | None = None,
        mrtr_keys: MrtrKeys | list[bytes] | list[str] | None = None,
        mrtr_max_rounds: int | None = None,
        auth: Any = ...,
        dependencies: list[str] | None = None,
        include_fastmcp_meta: bool | None = None,
        tool_transformations: Mapping[str, Any] | None = None,
        # FastMCP 2.x transport settings, deprecated there in favour of `run`/`http_app`
        # arguments; `run_http` and `create_app` read them from `self.transport_settings`.
        log_level: str | None = None,
        debug: bool | None = None,
        host: str | None = None,
        port: int | None = None,
        sse_path: str | None = None,
        message_path: str | None = None,
        streamable_http_path: str | None = None,
        json_response: bool | None = None,
        stateless_http: bool | None = None,
    ) -> None:
        arguments = dict(locals())  # the constructor's arguments, before any other local
        refuse_unimplemented(arguments)
        self.name = name or self.generate_name()
        self.auth = None  # no authorization provider: `refuse_unimplemented` saw to that
        self.instructions = instructions
        self.version = version or __version__
        self.website_url = website_url
        self.icons = [i if isinstance(i, Icon) else convert(i, Icon) for i in icons or []]
        self.lifespan = ServerLifespan(self, lifespan)
        """This server's lifespan and its mounts' (internal API; run by `lifespan_context`)."""
        self.mask_error_details = resolve_flag("mask_error_details", mask_error_details)
        self.strict_input_validation = resolve_flag(
            "strict_input_validation", strict_input_validation
        )
        self.include_fastmcp_meta = resolve_flag("include_fastmcp_meta", include_fastmcp_meta)
        """Whether listings carry FastMCP's `_meta._fastmcp` (tags) of each component."""
        self.dereference_schemas = dereference_schemas
        self.list_page_size = list_page_size
        self.cache_ttl_ms = cache_ttl_ms
        self.cache_scope = cache_scope
        self.tool_serializer = tool_serializer
        self.resource_prefix_format = check_prefix_format(resource_prefix_format)
        self.composition = Composition(self)
        """This server's mounts and their lifespans (internal API: composition walks the
        tree of mounted servers through it)."""
        self.dependencies = list(dependencies or ())  # FastMCP 2.x install metadata, unused
        self.transport_settings: dict[str, Any] = transport_settings(arguments)
        """FastMCP 2.x's constructor transport settings given (internal API: HTTP serving)."""
        self.fanout = ChangeFanout()
        """Where list-changed and resource-updated notifications go (internal API)."""
        self.visibility = visibility_of(arguments)
        """What `enable`/`disable` and the tag filters hide (internal API: the managers')."""
        shared = manager_options(self, arguments)
        self.tool_manager: ToolManager = self.new_tool_manager(**shared["tools"])
        self.resource_manager: ResourceManager = self.new_resource_manager(**shared["resources"])
        self.prompt_manager: PromptManager = self.new_prompt_manager(**shared["prompts"])
        self.completion_handler: Callable[..., Any] | None = None
        """The handler registered with `completion()` (internal API: the
        `completion/complete` handler and the capabilities read it)."""
        self.middleware: list[Any] = list(middleware or ())
        """MCP-level middleware, outermost first (FastMCP's attribute)."""
        self.sampling_handler = sampling_handler
        """Answers `ctx.sample` when the client cannot (or always, per the behaviour)."""
        self.sampling_handler_behavior = sampling_handler_behavior or "fallback"
        self.mrtr_keys: Any = mrtr_keys
        """The keys sealing 2026-07-28 `requestState` as given; `trimcp.core.mrtr` resolves
        them (or the environment's, or a random key) to `MrtrKeys` on first use."""
        self.mrtr_max_rounds = mrtr_max_rounds
        """Input rounds one 2026-07-28 request may take (`None`: `mrtr.MAX_ROUNDS`, 32)."""
        self.http_routes: list[Any] = []
        """The custom routes registered on this server (`custom_route`), in order: internal
        API (the HTTP app serves them, then those of the mounted servers)."""
        for tool in tools or ():
            self.add_tool(tool)

    def __repr__(self) -> str:
        return f"FastMCP({self.name!r})"

    @classmethod
    def generate_name(cls, name: str | None = None) -> str:
        """A server name unique enough to tell servers apart: `FastMCP-1a2b` (FastMCP's)."""
        return generated_name(cls.__name__, name)

    from_openapi = classmethod(from_openapi)  # refused: OpenAPI servers are not built yet
    from_fastapi = classmethod(from_fastapi)

    # -- the managers (FastMCP's `_tool_manager`, ...; hooks for subclasses) ----------------

    def new_tool_manager(self, **options: Any) -> ToolManager:
        """Hook, called once by `__init__`: the `ToolManager` this server owns, built with
        `options` (`FastMCPProxy` returns one that falls back to its backend)."""
        return ToolManager(**options)

    def new_resource_manager(self, **options: Any) -> ResourceManager:
        """Hook, called once by `__init__`: the `ResourceManager` this server owns."""
        return ResourceManager(**options)

    def new_prompt_manager(self, **options: Any) -> PromptManager:
        """Hook, called once by `__init__`: the `PromptManager` this server owns."""
        return PromptManager(**options)

    # `tool_manager`, ... are plain attributes (`tools/call` reads one on every request);
    # FastMCP's spellings (`_tool_manager`, ...) read and replace the same objects.

    _tool_manager = Alias[ToolManager]("tool_manager", writable=True)
    _resource_manager = Alias[ResourceManager]("resource_manager", writable=True)
    _prompt_manager = Alias[PromptManager]("prompt_manager", writable=True)
    _tools: Alias[Registry[Tool]] = Alias("tool_manager.registry")
    _additional_http_routes = Alias[list[Any]]("http_routes", writable=True)
    include_tags = Alias[set[str] | None]("visibility.include_tags", writable=True)
    exclude_tags = Alias[set[str] | None]("visibility.exclude_tags", writable=True)

    async def refresh_components(self) -> None:
        """Bring the component registries up to date before a one-time copy of them
        (`import_server`): nothing to do here; a proxy lists its backend (internal API)."""

    # -- tools ---------------------------------------------------------------------------

    def tool(
        self,
        name_or_fn: Any = None,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[Icon] | None = None,
        tags: set[str] | None = None,
        output_schema: dict[str, Any] | NotSetT | None = ...,
        annotations: Any = None,
        exclude_args: list[str] | None = None,
        meta: dict[str, Any] | None = None,
        enabled: bool | None = None,
        serializer: Callable[[Any], str] | None = None,
        run_in_thread: bool = True,
    ) -> Any:
        """Register a function as a tool: `@mcp.tool`, `@mcp.tool()`, `@mcp.tool("name")`,
        `@mcp.tool(name=..., description=..., tags=..., ...)` or `mcp.tool(fn, ...)`; the
        tool is returned (a `FunctionTool`, as FastMCP 2.13's). The options are FastMCP's (plus
        `serializer`, which defaults to the server's `tool_serializer`, and FastMCP 4's
        `run_in_thread`: False runs a sync function on the event loop's thread); an unknown
        one raises `TypeError` here, before any function is registered."""
        options = keyword_options(locals())
        return decorator_forms(name_or_fn, name, options, self._add_tool_fn, kind="tool")

    def _add_tool_fn(self, fn: Callable[..., Any], **kwargs: Any) -> Tool:
        return self.add_tool(registration.tool_from_function(fn, kwargs, self.tool_serializer))

    def add_tool(self, tool: Tool | Callable[..., Any]) -> Tool:
        return self.tool_manager.add_tool(registration.as_tool(tool, self.tool_serializer))

    def remove_tool(self, name: str) -> None:
        """Remove this server's own tool `name` (`NotFoundError` if it has none)."""
        self.tool_manager.remove_tool(name)

    async def get_tools(self) -> dict[str, Tool]:
        """Visible tools by key, mounted ones included (mounted proxies list their backend)."""
        await self.composition.refresh()
        return await self.tool_manager.get_tools()

    async def list_tools(self) -> list[Tool]:
        return [tool for _key, tool in self.tool_manager.iter_visible()]

    async def get_tool(self, name: str) -> Tool:
        """The tool clients call `name`, else this server's own if hidden (see `find_tool`)."""
        await self.composition.refresh()
        return direct.find_tool(self, name)

    def add_tool_transformation(self, tool_name: str, transformation: Any) -> None:
        """Serve tool `tool_name` transformed (a `ToolTransformConfig`), mounted ones too."""
        self.tool_manager.add_tool_transformation(tool_name, transformation)

    def remove_tool_transformation(self, tool_name: str) -> None:
        self.tool_manager.remove_tool_transformation(tool_name)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> ToolResult:
        """Call a tool without any transport (raises `ToolError`/`NotFoundError`)."""
        return await direct.call_tool(self, name, arguments)

    # -- resources -----------------------------------------------------------------------

    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[Icon] | None = None,
        mime_type: str | None = None,
        tags: set[str] | None = None,
        enabled: bool | None = None,
        annotations: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> Callable[[Callable[..., Any]], Resource | ResourceTemplate]:
        """Register a function as a resource (or a template when the URI has `{params}`
        or the function takes parameters). Returns the resource or template.

        The options are FastMCP 2.13's; an unknown one raises `TypeError` here."""
        return registration.resource_decorator(
            uri, keyword_options(locals()), self.add_resource, self.add_template
        )

    def add_resource(self, resource: Resource) -> Resource:
        return self.resource_manager.add_resource(resource)

    def add_template(self, template: ResourceTemplate) -> ResourceTemplate:
        return self.resource_manager.add_template(template)

    add_resource_template = add_template

    add_resource_fn = deprecated.add_resource_fn

    def remove_resource(self, uri: str) -> None:
        """Remove this server's own resource or template `uri` (`NotFoundError` if none)."""
        self.resource_manager.remove_resource(uri)

    async def get_resources(self) -> dict[str, Resource]:
        await self.composition.refresh()
        return await self.resource_manager.visible_resources()

    async def get_resource(self, key: str) -> Resource:
        """The listed resource `key`, else this server's own if hidden (templates unmatched)."""
        found = (await self.get_resources()).get(key)
        hidden = self.resource_manager.resource_registry.get_any(key)
        return direct.listed("resource", found or hidden, key)

    async def list_resources(self) -> list[Resource]:
        return [resource for _key, resource in self.resource_manager.iter_resources()]

    async def get_resource_templates(self) -> dict[str, ResourceTemplate]:
        await self.composition.refresh()
        return await self.resource_manager.visible_templates()

    async def get_resource_template(self, key: str) -> ResourceTemplate:
        """The listed template under `key`, else this server's own if hidden."""
        found = (await self.get_resource_templates()).get(key)
        hidden = self.resource_manager.template_registry.get_any(key)
        return direct.listed("resource template", found or hidden, key)

    async def list_resource_templates(self) -> list[ResourceTemplate]:
        return [template for _key, template in self.resource_manager.iter_templates()]

    async def read_resource(self, uri: str) -> list[Any]:
        """Read a resource without any transport: its contents (text or blob)."""
        return await direct.read_resource(self, uri)

    # -- prompts -------------------------------------------------------------------------

    def prompt(
        self,
        name_or_fn: Any = None,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[Icon] | None = None,
        tags: set[str] | None = None,
        enabled: bool | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Any:
        """Register a function as a prompt (same forms as `tool`; FastMCP 2.13's options, an
        unknown one raises `TypeError` here). Returns the prompt."""
        options = keyword_options(locals())
        return decorator_forms(name_or_fn, name, options, self._add_prompt_fn, kind="prompt")

    def _add_prompt_fn(self, fn: Callable[..., Any], **kwargs: Any) -> Prompt:
        return self.add_prompt(registration.prompt_from_function(fn, kwargs))

    def add_prompt(self, prompt: Prompt) -> Prompt:
        return self.prompt_manager.add_prompt(prompt)

    def remove_prompt(self, name: str) -> None:
        """Remove this server's own prompt `name` (`NotFoundError` if it has none)."""
        self.prompt_manager.remove_prompt(name)

    async def get_prompts(self) -> dict[str, Prompt]:
        await self.composition.refresh()
        return await self.prompt_manager.visible_prompts()

    async def get_prompt(self, key: str) -> Prompt:
        """The prompt clients get as `key`, else this server's own if hidden."""
        hidden = self.prompt_manager.registry.get_any(key)
        return hidden if hidden is not None else await self.prompt_manager.visible_prompt(key)

    async def list_prompts(self) -> list[Prompt]:
        return [prompt for _key, prompt in self.prompt_manager.iter_visible()]

    async def render_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Render a prompt without any transport: a `GetPromptResult`."""
        return await direct.render_prompt(self, name, arguments)

    # -- completion ----------------------------------------------------------------------

    def completion(self, fn: Callable[..., Any] | None = None) -> Any:
        """Register the completion handler: `fn(ref, argument, context)` returning a list of
        strings, a `Completion`, or None. Usable bare or called."""

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.completion_handler = awaitable_handler(handler)
            return handler

        return decorator(fn) if fn is not None else decorator

    # -- visibility ----------------------------------------------------------------------

    def enable(self, *, names: Names = None, keys: Names = None, tags: Names = None) -> None:
        """Show components again, by name/key or by tag (the latest rule wins)."""
        self._visibility_rule(enabled=True, names=names, keys=keys, tags=tags)

    def disable(self, *, names: Names = None, keys: Names = None, tags: Names = None) -> None:
        """Hide components by name/key (`"add"` or `"tool:add"`) or by tag: hidden components
        are neither listed nor callable."""
        self._visibility_rule(enabled=False, names=names, keys=keys, tags=tags)

    def _visibility_rule(self, **rule: Any) -> None:
        self.visibility.add_rule(**rule)
        self.fanout.lists_changed()

    # -- composition ---------------------------------------------------------------------

    def mount(
        self,
        server: FastMCP | str | None = None,
        prefix: str | FastMCP | None = None,
        as_proxy: bool | None = None,
        *,
        namespace: str | None = None,
        **separators: str | None,
    ) -> None:
        """Link `server` live: its components appear here, prefixed (`{prefix}_{name}`,
        resource URIs per `resource_prefix_format`). `namespace` is the newer spelling of
        `prefix`. Mounting goes through an in-memory client (running `server`'s lifespan)
        when `as_proxy` is true or, by default, when `server` has a custom lifespan.
        `mount("prefix", server)` and the `*_separator` keywords (FastMCP 2.x's) are
        accepted, with FastMCP's deprecation warnings."""
        self.composition.mount(server, prefix, as_proxy=as_proxy, namespace=namespace, **separators)
        self.fanout.lists_changed()

    async def import_server(
        self, server: FastMCP, prefix: str | None = None, **separators: str | None
    ) -> None:
        """Copy `server`'s components here once, prefixed like `mount` (later imports win;
        later changes to `server` are not reflected; its lifespan is not run)."""
        await import_server(self, server, prefix, **separators)

    from_client = classmethod(deprecated.from_client)

    @classmethod
    def as_proxy(cls, backend: Any, **settings: Any) -> Any:
        """A server that forwards everything to `backend` (a `Client`, URL, script path,
        `FastMCP` instance, transport, or MCPConfig dict): see `trimcp.server.proxy`."""
        from trimcp.server.proxy import create_proxy

        return create_proxy(backend, **settings)

    _mounted_servers = Alias[list[MountedServer]]("composition.mounted", writable=True)
    """The mounts, in order (FastMCP's attribute; the HTTP app serves each one's custom
    routes). Assigning a list of objects with `.server` (and `.prefix`) replaces them."""

    # -- middleware and notifications ----------------------------------------------------

    def add_middleware(self, middleware: Any) -> None:
        """Add MCP-level middleware (a `Middleware`); the first added runs outermost."""
        self.middleware.append(middleware)

    async def notify_resource_updated(self, uri: str) -> None:
        """Tell the clients subscribed to `uri` that it changed (`notifications/resources/updated`:
        handshake-era `resources/subscribe`, 2026-07-28 `subscriptions/listen`)."""
        self.fanout.notify("notifications/resources/updated", {"uri": str(uri)})

    def add_notification_sink(self, sink: NotificationSink) -> None:
        """Internal API for transports: `sink` (a connection, session or listener) receives
        this server's change notifications until `remove_notification_sink` (held weakly)."""
        self.fanout.add(sink)

    def remove_notification_sink(self, sink: NotificationSink) -> None:
        """Internal API for transports: the end of `add_notification_sink`."""
        self.fanout.discard(sink)

    def capture_event_loop(self) -> None:
        """Internal API for transports, called from the loop serving this server: a change made
        in a worker thread (a sync tool adding a component) notifies from this loop."""
        self.fanout.capture_event_loop()

    async def roots_changed(self, connection: Any) -> None:
        """Hook: the client connected through `connection` says its roots changed
        (`notifications/roots/list_changed`); nothing to do by default."""

    # `result` as a 2026-07-28 answer carries it (`resultType`, cache hints, server info in
    # `_meta`): internal API for the session and the transports (the function itself: a call
    # fewer on every 2026-07-28 request)
    finish_modern = answers.finish_modern

    @functools.cached_property
    def server_info_meta(self) -> dict[str, Any]:
        """The server info a 2026-07-28 result carries in `_meta`, made once (internal API)."""
        return answers.server_info_meta(self)

    # -- lifespan ------------------------------------------------------------------------

    def memory_connection(self) -> AbstractAsyncContextManager[MessageStream]:
        """Serve one client over a pair of memory streams, yielding the client's end (what
        `Client(mcp)` and `FastMCPTransport` connect through; the lifespan runs meanwhile)."""
        from trimcp.core.connection import serve_in_memory

        return serve_in_memory(self)

    def lifespan_context(self) -> AbstractAsyncContextManager[Any]:
        """Run the user's lifespan (and mounted servers') once however many transports share
        this server; every entry yields its result (internal API: transports, composition)."""
        return self.lifespan.enter()

    _lifespan_manager = lifespan_context  # FastMCP's spelling

    has_custom_lifespan = Alias[bool]("lifespan.is_custom")
    """Whether the server was given a lifespan of its own (internal API: mounting runs such
    a server through an in-memory client, so that its lifespan runs)."""

    lifespan_result = Alias[Any]("lifespan.result")
    """What the running lifespan yielded (internal API: `Context` serves it)."""
    _lifespan_result = lifespan_result  # FastMCP's spelling
    _lifespan = Alias[LifespanFn]("lifespan.function", writable=True)  # FastMCP's attribute

    # -- HTTP ----------------------------------------------------------------------------

    custom_route = http_serving.custom_route
    http_app = http_serving.http_app
    run_http_async = http_serving.run_http_async

    settings = property(deprecated.server_settings)
    # FastMCP 2.x's deprecated spellings of `http_app` and `run_http_async`
    sse_app = deprecated.sse_app
    streamable_http_app = deprecated.streamable_http_app
    run_sse_async = deprecated.run_sse_async
    run_streamable_http_async = deprecated.run_streamable_http_async

    def serve_routes_of(self, other: FastMCP) -> None:
        """Serve `other`'s custom routes as this server's own: the same live list, so routes
        `other` adds later are served too (internal API: a proxy of an in-process server)."""
        self.http_routes = other.http_routes

    # -- running (`trimcp.core.running` has them, with FastMCP's signatures) -------------

    run_async = running.run_async
    run = running.run
    run_stdio_async = running.run_stdio_async
