"""`ComponentAccess`: how a `FastMCP` finds its components, and how servers are composed.

It holds the component-access methods that handlers, transports and introspection go through
(`_iter`, `_lookup_tool`, `_lookup_resource`, `_read_found`, `_lookup_prompt`), which are the
only server code that knows about mounts (they ask the server's `Composition`), and the
composition API itself (`mount`, `import_server`, `as_proxy`, `_mounted_servers`).

It is a mixin of `FastMCP` rather than a helper object because these are `FastMCP`'s own
methods: subclasses override them (`FastMCPProxy` falls back to the backend in the lookups),
and `Composition` calls them on child servers. It has no state of its own; it uses the
registries, visibility and composition that `FastMCP.__init__` creates.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import msgspec

from trimcp.server.composition import MountedServer

if TYPE_CHECKING:
    from trimcp.prompts import Prompt
    from trimcp.resources import Resource, ResourceTemplate
    from trimcp.server.composition import Composition
    from trimcp.server.context import Context
    from trimcp.server.registry import Registry, Visibility
    from trimcp.server.server import FastMCP
    from trimcp.tools import Tool

__all__ = ["ComponentAccess"]


class ComponentAccess:
    """`FastMCP`'s component access and composition (a mixin: see the module docstring)."""

    if TYPE_CHECKING:  # set by `FastMCP.__init__`
        _composition: Composition
        _visibility: Visibility
        _tools: Registry[Tool]
        _resources: Registry[Resource]
        _templates: Registry[ResourceTemplate]
        _prompts: Registry[Prompt]

        def _notify_all(self, method: str, params: Any = None) -> None: ...

    # -- component access (handlers and introspection go through these) -------------------
    # Composition extends these to mounted servers; everything else stays unaware of mounts.

    def _iter(self, kind: str) -> Iterator[tuple[str, Any]]:
        """`(key, component)` for each visible component of `kind` ("tools", "resources",
        "templates", "prompts"): this server's first, then its mounted servers'."""
        local = getattr(self, "_" + kind).visible()
        if not self._composition.mounted:
            return local
        return itertools.chain(local, self._composition.iter_mounted(kind))

    def _lookup_named(self, kind: str, name: str) -> Any:
        """The visible tool or prompt called `name` (`kind`: "tools" or "prompts")."""
        registry = getattr(self, "_" + kind)
        found = registry.get(name)
        if found is not None or not self._composition.mounted or name in registry:
            return found
        found = self._composition.lookup_named(kind, name)
        return found if found is not None and self._visibility.visible(name, found) else None

    def _lookup_tool(self, name: str) -> Tool | None:
        found = self._tools.get(name)  # every tools/call: the local hit without `getattr`
        if found is not None or not self._composition.mounted:
            return found
        return self._lookup_named("tools", name)

    def _lookup_resource(self, uri: str) -> tuple[Any, dict[str, str] | None, str, str] | None:
        """What answers `uri`: `(component, template params or None, the URI at the
        component's own server, its key here)`; local resources, local templates, then mounts."""
        resource = self._resources.get(uri)
        if resource is not None:
            return resource, None, uri, uri
        for key, template in self._templates.visible():
            params = template.matches(uri)
            if params is not None:
                return template, params, uri, key
        if not self._composition.mounted or uri in self._resources:
            return None
        found = self._composition.lookup_resource(uri)
        if found is None or not self._visibility.visible(found[3], found[0]):
            return None
        return found

    async def _read_found(
        self, found: tuple[Any, dict[str, str] | None, str, str], uri: str, ctx: Context | None
    ) -> list[Any]:
        component, params, source_uri, _key = found
        if params is None:
            contents = await component.read_contents(source_uri, ctx)
        else:
            contents = await component.read_contents(source_uri, params, ctx)
        if source_uri != uri:  # report the URI the client asked for
            contents = [
                msgspec.structs.replace(c, uri=uri) if getattr(c, "uri", None) == source_uri else c
                for c in contents
            ]
        return contents

    def _lookup_prompt(self, name: str) -> Prompt | None:
        return self._lookup_named("prompts", name)

    # -- composition ---------------------------------------------------------------------

    @property
    def _mounted_servers(self) -> list[MountedServer]:
        """The mounts, in order (the HTTP app serves each one's custom routes)."""
        return self._composition.mounted

    @_mounted_servers.setter
    def _mounted_servers(self, mounts: list[Any]) -> None:
        self._composition.mounted = [
            m
            if isinstance(m, MountedServer)
            else MountedServer(
                m.server, getattr(m, "prefix", None), runs_lifespan=False, original=m.server
            )
            for m in mounts
        ]
        self._composition.changed()

    def mount(
        self,
        server: FastMCP | str | None = None,
        prefix: str | FastMCP | None = None,
        as_proxy: bool | None = None,
        *,
        namespace: str | None = None,
    ) -> None:
        """Link `server` live: its components appear here, prefixed (`{prefix}_{name}`,
        resource URIs per `resource_prefix_format`). `namespace` is the newer spelling of
        `prefix`. Mounting goes through an in-memory client (running `server`'s lifespan)
        when `as_proxy` is true or, by default, when `server` has a custom lifespan.
        `mount("prefix", server)` (FastMCP 2.x's old order) is accepted too."""
        self._composition.mount(server, prefix, as_proxy=as_proxy, namespace=namespace)
        for method in ("tools", "resources", "prompts"):
            self._notify_all(f"notifications/{method}/list_changed")

    async def import_server(self, server: FastMCP, prefix: str | None = None) -> None:
        """Copy `server`'s components here once, prefixed like `mount` (later imports win;
        later changes to `server` are not reflected; its lifespan is not run)."""
        from trimcp.server.composition import import_server

        await import_server(cast("FastMCP", self), server, prefix)

    @classmethod
    def as_proxy(cls, backend: Any, **settings: Any) -> Any:
        """A server that forwards everything to `backend` (a `Client`, URL, script path,
        `FastMCP` instance, transport, or MCPConfig dict): see `trimcp.server.proxy`."""
        from trimcp.server.proxy import create_proxy

        return create_proxy(backend, **settings)
