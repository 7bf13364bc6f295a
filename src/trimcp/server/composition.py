"""Server composition: mounted servers and `import_server`.

A `FastMCP` owns one `Composition`, which owns the server's `Mounts` (the list of
`MountedServer`s) and runs the lifespans mounts need. What the mounts contribute, per kind, is
its managers' knowledge (`ToolManager`, `ResourceManager`, `PromptManager`, which read the same
`Mounts`; precedence and caching: `trimcp.utilities.registry.Catalog`):

- Lookups (the hot path: `tools/call`, `resources/read`, `prompts/get`) *delegate*: strip the
  mount's prefix, ask the child's manager (which applies the child's filters and, recursively,
  its own mounts), then apply the parent's `Visibility` to the component under its prefixed key.
- Listings use a cached *view* per kind of every candidate under its prefixed key.

Precedence (FastMCP's): a local component shadows mounted ones under the same key (even when
hidden); among mounts, the most recently mounted server that exposes the key wins; child
filters apply first, then the parent's.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from trimcp.resources.resource_manager import (
    PrefixFormat,
    add_resource_prefix,
    has_resource_prefix,
    remove_resource_prefix,
    resolve_prefix_format,
)
from trimcp.utilities.registry import Mounts, Registry

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = [
    "Composition",
    "MountedServer",
    "add_resource_prefix",
    "has_resource_prefix",
    "import_server",
    "prefix_format_of",
    "remove_resource_prefix",
]


logger = logging.getLogger("trimcp.server")

# FastMCP's warnings when a mounted server cannot list its components: programmatic listing
# (`get_tools()` & co.) says "get", a client's listing says "list" (wording kept, quirks too).
_NOT_GOT = ("tools", "resources", "resource templates", "prompts")
_NOT_LISTED = (
    "Failed to list tools from mounted server {name!r}: {exc}",
    "Failed to list resources from {name!r}: {exc}",
    "Failed to list resource templates from {name!r}: {exc}",
    "Failed to list prompts from mounted server {name!r}: {exc}",
)


_SEPARATORS = {
    "tool_separator": "The tool_separator parameter is deprecated and will be removed in a "
    "future version. Tools are now prefixed using 'prefix_toolname' format.",
    "resource_separator": "The resource_separator parameter is deprecated and ignored. Resource "
    "prefixes are now added using the protocol://prefix/path format.",
    "prompt_separator": "The prompt_separator parameter is deprecated and will be removed in a "
    "future version. Prompts are now prefixed using 'prefix_promptname' format.",
}


def _deprecated(message: str) -> None:
    from trimcp.settings import settings

    if getattr(settings, "deprecation_warnings", True):
        # blamed on the caller of `FastMCP.mount`/`import_server` (they call us)
        warnings.warn(message, DeprecationWarning, stacklevel=5)


def _old_order(server: Any, prefix: Any, verb: str) -> tuple[Any, Any]:
    """FastMCP 2.x's `mount("prefix", server)` order, accepted with FastMCP's warning."""
    from trimcp.server.server import FastMCP

    if isinstance(server, str) and isinstance(prefix, FastMCP):
        _deprecated(
            f"{verb.capitalize()} prefixes are now optional and the first positional argument "
            f"should be the server you want to {verb}."
        )
        return prefix, server
    return server, prefix


def warn_separators(**separators: str | None) -> None:
    """FastMCP 2.x's `tool_separator`, `resource_separator`, `prompt_separator` (of `mount`
    and `import_server`): ignored, with FastMCP's deprecation warnings."""
    for name, value in separators.items():
        if name not in _SEPARATORS:
            raise TypeError(f"unexpected keyword argument {name!r}")
        if value is not None:
            _deprecated(_SEPARATORS[name])


def prefix_format_of(server: FastMCP) -> PrefixFormat:
    """The server's own format, else the process-wide setting (read at use, so it may change)."""
    return resolve_prefix_format(server.resource_prefix_format)


class MountedServer:
    """One mount: the child server and its prefix (the HTTP app reads `.server`)."""

    __slots__ = ("original", "prefix", "runs_lifespan", "server")

    def __init__(
        self, server: FastMCP, prefix: str | None, *, runs_lifespan: bool, original: FastMCP
    ) -> None:
        self.server = server
        self.prefix = prefix or None
        self.runs_lifespan = runs_lifespan  # proxies: the parent's lifespan runs theirs
        self.original = original

    def __repr__(self) -> str:
        return f"MountedServer({self.server!r}, prefix={self.prefix!r})"


class Composition:
    """A server's mounts (shared with its managers as `mounts`) and their lifespans."""

    def __init__(self, owner: FastMCP) -> None:
        self.owner = owner
        self.mounts = Mounts()

    @property
    def mounted(self) -> list[MountedServer]:
        """The mounts, in mount order."""
        return self.mounts.items

    @mounted.setter
    def mounted(self, mounts: list[Any]) -> None:
        self.replace(mounts)

    # -- bookkeeping ---------------------------------------------------------------------

    def mount(
        self,
        server: Any,
        prefix: Any,
        *,
        as_proxy: bool | None,
        namespace: str | None,
        **separators: str | None,
    ) -> None:
        """`FastMCP.mount`: direct by default, through an in-memory client (a proxy, whose
        lifespan runs `server`'s) when asked or when `server` has a custom lifespan.
        FastMCP 2.x's argument order and `*_separator` keywords are accepted, with its
        deprecation warnings."""
        from trimcp.server.proxy import FastMCPProxy
        from trimcp.server.server import FastMCP

        server, prefix = _old_order(server, prefix, "mount")
        warn_separators(**separators)
        if not isinstance(server, FastMCP) or isinstance(prefix, FastMCP):
            raise TypeError("mount() needs a FastMCP server")
        if namespace is not None:
            if prefix is not None and prefix != namespace:
                raise TypeError("give prefix or namespace, not both")
            prefix = namespace
        original = server
        if isinstance(server, FastMCPProxy):
            runs_lifespan = True  # already a client of its backend: no second hop
        else:
            if as_proxy is None:
                as_proxy = server.has_custom_lifespan
            runs_lifespan = bool(as_proxy)
            if as_proxy:
                server = FastMCPProxy.for_server(server, name=server.name)
        self.add(MountedServer(server, prefix, runs_lifespan=runs_lifespan, original=original))

    def add(self, mounted: MountedServer) -> None:
        if mounted.server is self.owner or self.owner in _tree(mounted.server):
            raise ValueError("A server cannot be mounted into itself")
        self.mounts.items.append(mounted)
        self.changed()

    def replace(self, mounts: list[Any]) -> None:
        """Set the mounts at once (FastMCP's `_mounted_servers` assignment); entries that are
        not `MountedServer`s need `.server` (and may have `.prefix`)."""
        self.mounts.items[:] = [
            m
            if isinstance(m, MountedServer)
            else MountedServer(
                m.server, getattr(m, "prefix", None), runs_lifespan=False, original=m.server
            )
            for m in mounts
        ]
        self.changed()

    def changed(self) -> None:
        self.mounts.changed()

    async def refresh(self) -> None:
        """Bring the mounted servers' listings up to date (a mounted proxy lists its backend),
        depth first: what `get_tools()` & co. do first. A mount that cannot list is logged
        (FastMCP's warnings) and keeps its last listing."""
        for mount in list(self.mounted):
            try:
                await mount.server.refresh_components()
                await mount.server.composition.refresh()
            except Exception as exc:
                for kind in _NOT_GOT:
                    logger.warning(
                        "Failed to get %s from mounted server %r: %s", kind, mount.server.name, exc
                    )

    # -- lifespans -----------------------------------------------------------------------

    @asynccontextmanager
    async def lifespans(self) -> Any:
        """Run the lifespans mounts need (proxies connect their backends and list them),
        depth first through direct mounts; a direct mount's own user lifespan is not run.
        (The proxy module is not imported for it: a proxy exists only once it is loaded, and
        a server that mounts none then never loads it, nor the client under it.)"""
        proxy_module = sys.modules.get("trimcp.server.proxy")
        async with AsyncExitStack() as stack:
            for mount in self.mounted:
                server = mount.server
                if mount.runs_lifespan:
                    await stack.enter_async_context(server.lifespan_context())
                else:
                    await stack.enter_async_context(server.composition.lifespans())
                if (
                    proxy_module is not None
                    and isinstance(server, proxy_module.FastMCPProxy)
                    and server.listing_error is not None
                ):
                    for message in _NOT_LISTED:
                        logger.warning(message.format(name=server.name, exc=server.listing_error))
            yield


def _tree(server: FastMCP) -> Iterator[FastMCP]:
    yield server
    for mount in server.composition.mounted:
        yield from _tree(mount.server)


# -- import_server ---------------------------------------------------------------------------


async def import_server(
    owner: FastMCP, server: FastMCP, prefix: str | None, **separators: str | None
) -> None:
    """Copy `server`'s visible components (its mounts included) into `owner`, prefixed.

    A one-time copy: later changes to `server` are not reflected; its lifespan is not run.
    Later imports win (the copies replace what is there, without duplicate warnings).
    FastMCP 2.x's argument order and `*_separator` keywords are accepted, with its
    deprecation warnings.
    """
    server, prefix = _old_order(server, prefix, "import")
    warn_separators(**separators)
    await server.refresh_components()  # a proxy lists its backend first
    await server.composition.refresh()
    fmt = prefix_format_of(owner)
    tools, resources, prompts = owner.tool_manager, owner.resource_manager, owner.prompt_manager
    kinds: list[tuple[str, Registry[Any], Iterator[tuple[str, Any]]]] = [
        ("tools", tools.registry, server.tool_manager.iter_visible()),
        ("resources", resources.resource_registry, server.resource_manager.iter_resources()),
        ("templates", resources.template_registry, server.resource_manager.iter_templates()),
        ("prompts", prompts.registry, server.prompt_manager.iter_visible()),
    ]
    for kind, registry, components in kinds:
        for ckey, component in list(components):
            named = kind in ("tools", "prompts")
            if not prefix:
                key = ckey
            elif named:
                key = f"{prefix}_{ckey}"
            else:
                key = add_resource_prefix(ckey, prefix, fmt)
            # Tools and prompts keep their `name` (a proxy component calls its backend by it);
            # the key is what clients see. Templates match by their own pattern here, so the
            # copy's `uri_template` becomes the prefixed key.
            update: dict[str, Any] = {}
            if prefix and not named:
                update["name"] = f"{prefix}_{component.name}"
            if kind == "templates":
                update["uri_template"] = key
            copy_ = component.model_copy(key=key, update=update)
            if key in registry:
                registry.remove(key)  # the most recent import wins, silently
            registry.add(key, copy_)
