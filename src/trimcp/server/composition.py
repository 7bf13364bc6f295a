"""Server composition: mounted servers, prefixed names and URIs, and `import_server`.

Theory of operation. A `FastMCP` owns one `Composition`, which owns the list of
`MountedServer`s. The server's component-access methods (`_iter`, `_lookup_tool`, ...)
ask it for what the mounts contribute; nothing else in the server knows about mounts.

- Lookups (the hot path: `tools/call`, `resources/read`, `prompts/get`) *delegate*: strip the
  mount's prefix, ask the child's own component-access method (which applies the child's
  filters and, recursively, its own mounts), then apply the parent's `Visibility` to the
  component under its prefixed key. No copy is made per call; the cost per mount level is a
  prefix test and a dict lookup.
- Listings use a *view* per kind: every candidate a mount contributes under its prefixed key,
  as copies carrying the prefixed key (and, for resources and templates, the prefixed name),
  built lazily and cached until some registry, visibility rule or mount in the tree changes
  (`state()`). Visibility is evaluated at iteration time on the original components along the
  chain of servers, so `tool.disable()` on a child takes effect at once.

Precedence (FastMCP's): a local component shadows mounted ones under the same key (even when
hidden); among mounts, the most recently mounted server that exposes the key wins; child
filters apply first, then the parent's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from trimcp.server.registry import Visibility
    from trimcp.server.server import FastMCP

__all__ = [
    "Composition",
    "MountedServer",
    "add_resource_prefix",
    "has_resource_prefix",
    "import_server",
    "remove_resource_prefix",
]

PrefixFormat = Literal["path", "protocol"]

_URI = re.compile(r"^([^:]+://)(.*)$", re.DOTALL)

# A found resource: (component, template params or None, URI at the component's own server,
# key at the level of the server that answered).
Found = tuple[Any, "dict[str, str] | None", str, str]


# -- prefixing -------------------------------------------------------------------------------


def add_resource_prefix(uri: str, prefix: str | None, prefix_format: PrefixFormat) -> str:
    """`resource://path` -> `resource://prefix/path` ("path") or `prefix+resource://path`."""
    if not prefix:
        return uri
    if prefix_format == "protocol":
        return f"{prefix}+{uri}"
    match = _URI.match(uri)
    if match is None:
        raise ValueError(f"Invalid URI format: {uri}. Expected protocol://path format.")
    scheme, path = match.groups()
    return f"{scheme}{prefix}/{path}"


def remove_resource_prefix(uri: str, prefix: str | None, prefix_format: PrefixFormat) -> str | None:
    """The URI without `prefix`, or None when `uri` does not carry it."""
    if not prefix:
        return uri
    if prefix_format == "protocol":
        head = prefix + "+"
        return uri[len(head) :] if uri.startswith(head) else None
    match = _URI.match(uri)
    if match is None:
        return None
    scheme, path = match.groups()
    head = prefix + "/"
    return scheme + path[len(head) :] if path.startswith(head) else None


def has_resource_prefix(uri: str, prefix: str, prefix_format: PrefixFormat) -> bool:
    return remove_resource_prefix(uri, prefix, prefix_format) is not None


def prefix_format_of(server: FastMCP) -> PrefixFormat:
    """The server's own format, else the process-wide setting (read at use, so it may change)."""
    fmt = server.resource_prefix_format
    if fmt is None:
        import importlib

        # The module, not `trimcp.settings` the attribute (the Settings object): tests and
        # users may replace `trimcp.settings.settings`.
        fmt = importlib.import_module("trimcp.settings").settings.resource_prefix_format
    if fmt not in ("path", "protocol"):
        raise ValueError(f"resource_prefix_format must be 'path' or 'protocol', not {fmt!r}")
    return fmt  # type: ignore[return-value]


# -- kinds -----------------------------------------------------------------------------------

_KINDS = ("tools", "resources", "templates", "prompts")


def _registry(server: FastMCP, kind: str) -> Any:
    return getattr(server, "_" + kind)


def _prefixed_key(kind: str, key: str, prefix: str | None, fmt: PrefixFormat) -> str:
    if not prefix:
        return key
    if kind in ("tools", "prompts"):
        return f"{prefix}_{key}"
    return add_resource_prefix(key, prefix, fmt)


def _prefixed_copy(kind: str, component: Any, key: str, prefix: str | None) -> Any:
    if kind in ("resources", "templates") and prefix:
        return component.model_copy(key=key, update={"name": f"{prefix}_{component.name}"})
    return component.model_copy(key=key)


# Candidate: (copy under the key at this level, the original, the visibility checks it must
# pass below this level as (visibility, key at that level) pairs).
Candidate = tuple[Any, Any, tuple[tuple["Visibility", str], ...]]


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
    """A server's mounts and the prefixed views of what they contribute."""

    def __init__(self, owner: FastMCP) -> None:
        self.owner = owner
        self.mounted: list[MountedServer] = []
        self.version = 0
        self._views: dict[str, tuple[Any, dict[str, list[Candidate]]]] = {}

    # -- bookkeeping ---------------------------------------------------------------------

    def mount(
        self, server: Any, prefix: Any, *, as_proxy: bool | None, namespace: str | None
    ) -> None:
        """`FastMCP.mount`: direct by default, through an in-memory client (a proxy, whose
        lifespan runs `server`'s) when asked or when `server` has a custom lifespan."""
        from trimcp.server.proxy import FastMCPProxy
        from trimcp.server.server import FastMCP

        if isinstance(server, str) and isinstance(prefix, FastMCP):  # FastMCP 2.x's old order
            server, prefix = prefix, server
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
                as_proxy = not is_default_lifespan(server._lifespan)
            runs_lifespan = bool(as_proxy)
            if as_proxy:
                server = FastMCPProxy.for_server(server)
        self.add(MountedServer(server, prefix, runs_lifespan=runs_lifespan, original=original))

    def add(self, mounted: MountedServer) -> None:
        if mounted.server is self.owner or self.owner in _tree(mounted.server):
            raise ValueError("A server cannot be mounted into itself")
        self.mounted.append(mounted)
        self.changed()

    def changed(self) -> None:
        self.version += 1
        self._views.clear()

    def state(self) -> Any:
        """Changes whenever membership or visibility anywhere in the tree may have changed."""
        owner = self.owner
        local = (
            owner._tools.state(),
            owner._resources.state(),
            owner._templates.state(),
            owner._prompts.state(),
            self.version,
            owner.resource_prefix_format,
        )
        if not self.mounted:
            return local
        return (local, tuple(m.server._composition.state() for m in self.mounted))

    # -- listing -------------------------------------------------------------------------

    def candidates(self, kind: str) -> dict[str, list[Candidate]]:
        """Every key this server exposes for `kind` (local first), with its candidates in
        priority order; visibility of this server itself is not applied yet."""
        registry = _registry(self.owner, kind)
        vis = self.owner._visibility
        out: dict[str, list[Candidate]] = {
            key: [(comp, comp, ((vis, key),))] for key, comp in registry.all().items()
        }
        for key, cands in self._view(kind).items():
            if key not in out:  # a local key shadows mounted ones, even when hidden
                out[key] = [(c, o, (*chain, (vis, key))) for c, o, chain in cands]
        return out

    def _view(self, kind: str) -> dict[str, list[Candidate]]:
        """What the mounts contribute, under prefixed keys (cached; see module docstring)."""
        if not self.mounted:
            return {}
        state = self.state()
        cached = self._views.get(kind)
        if cached is not None and cached[0] == state:
            return cached[1]
        fmt = prefix_format_of(self.owner)
        view: dict[str, list[Candidate]] = {}
        for mount in reversed(self.mounted):  # most recent first: it wins
            prefix = mount.prefix
            for ckey, cands in mount.server._composition.candidates(kind).items():
                key = _prefixed_key(kind, ckey, prefix, fmt)
                slot = view.setdefault(key, [])
                for copy_, original, chain in cands:
                    slot.append((_prefixed_copy(kind, copy_, key, prefix), original, chain))
        self._views[kind] = (state, view)
        return view

    def iter_mounted(self, kind: str) -> Iterator[tuple[str, Any]]:
        """Visible mounted components not shadowed by a local key, as (key, prefixed copy)."""
        view = self._view(kind)
        if not view:
            return
        registry = _registry(self.owner, kind)
        visible = self.owner._visibility.visible
        for key, cands in view.items():
            if key in registry:
                continue
            for copy_, original, chain in cands:
                if all(vis.visible(k, original) for vis, k in chain):
                    if visible(key, original):
                        yield key, copy_
                    break

    # -- lookups (delegation, no copies) -------------------------------------------------

    def routes_named(self, name: str) -> Iterator[tuple[MountedServer, str]]:
        """The mounts a tool or prompt `name` may come from, latest first, each with the
        name as that server knows it (its prefix removed)."""
        for mount in reversed(self.mounted):
            prefix = mount.prefix
            if prefix is None:
                yield mount, name
            elif name.startswith(prefix) and name[len(prefix) : len(prefix) + 1] == "_":
                yield mount, name[len(prefix) + 1 :]

    def routes_resource(self, uri: str) -> Iterator[tuple[MountedServer, str]]:
        """The mounts a resource or template `uri` may come from, latest first, each with
        the URI as that server knows it."""
        fmt = prefix_format_of(self.owner)
        for mount in reversed(self.mounted):
            child_uri = remove_resource_prefix(uri, mount.prefix, fmt)
            if child_uri is not None:
                yield mount, child_uri

    def lookup_named(self, kind: str, name: str) -> Any:
        """A mounted tool or prompt for `name`, before the owner's own visibility check."""
        for mount, child_name in self.routes_named(name):
            child = mount.server
            found = (
                child._lookup_tool(child_name)
                if kind == "tools"
                else child._lookup_prompt(child_name)
            )
            if found is not None:
                return found
        return None

    def lookup_resource(self, uri: str) -> Found | None:
        """A mounted resource or template for `uri`, with the key at this server's level."""
        for mount, child_uri in self.routes_resource(uri):
            found = mount.server._lookup_resource(child_uri)
            if found is not None:
                component, params, source_uri, ckey = found
                fmt = prefix_format_of(self.owner)
                return component, params, source_uri, add_resource_prefix(ckey, mount.prefix, fmt)
        return None

    # -- lifespans -----------------------------------------------------------------------

    @asynccontextmanager
    async def lifespans(self) -> Any:
        """Run the lifespans mounts need (proxies connect their backends), depth first
        through direct mounts; a direct mount's own user lifespan is not run."""
        async with AsyncExitStack() as stack:
            for mount in self.mounted:
                if mount.runs_lifespan:
                    await stack.enter_async_context(mount.server._lifespan_manager())
                else:
                    await stack.enter_async_context(mount.server._composition.lifespans())
            yield


def _tree(server: FastMCP) -> Iterator[FastMCP]:
    yield server
    for mount in server._composition.mounted:
        yield from _tree(mount.server)


# -- import_server ---------------------------------------------------------------------------


def is_default_lifespan(lifespan: Any) -> bool:
    return getattr(lifespan, "_trimcp_default", False)


async def import_server(owner: FastMCP, server: FastMCP, prefix: str | None) -> None:
    """Copy `server`'s visible components (its mounts included) into `owner`, prefixed.

    A one-time copy: later changes to `server` are not reflected; its lifespan is not run.
    Later imports win (the copies replace what is there, without duplicate warnings).
    """
    from trimcp.server.server import FastMCP

    if isinstance(server, str) and isinstance(prefix, FastMCP):  # FastMCP 2.x's old order
        server, prefix = prefix, server
    refresh = getattr(server, "_refresh_from_backend", None)
    if refresh is not None:  # a proxy: list its backend first
        await refresh()
    fmt = prefix_format_of(owner)
    for kind in _KINDS:
        registry = _registry(owner, kind)
        for ckey, component in list(server._iter(kind)):
            key = _prefixed_key(kind, ckey, prefix, fmt)
            # Tools and prompts keep their `name` (a proxy component calls its backend by it);
            # the key is what clients see. Templates match by their own pattern here, so the
            # copy's `uri_template` becomes the prefixed key.
            update: dict[str, Any] = {}
            if prefix and kind in ("resources", "templates"):
                update["name"] = f"{prefix}_{component.name}"
            if kind == "templates":
                update["uri_template"] = key
            copy_ = component.model_copy(key=key, update=update)
            if key in registry:
                registry.remove(key)  # the most recent import wins, silently
            registry.add(key, copy_)
