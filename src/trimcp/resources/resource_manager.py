"""`ResourceManager`: a server's resources and resource templates, as FastMCP 2.13's
`fastmcp.resources.resource_manager` names it.

A `FastMCP` owns one (`server._resource_manager`, public spelling `server.resource_manager`)
and its resource methods delegate to it. The manager owns the server's two registries
(resources by URI, templates by URI template), reads the server's `Visibility` and `Mounts`,
and is the only place that knows how a URI is answered through mounted servers (`find`) and how
a mount prefixes URIs (`UriPrefix`: `resource://prefix/path` or `prefix+resource://path`).
What it shares with the tool and prompt managers (options, duplicate policy, error masking) is
`ComponentManager`'s, in `trimcp.utilities.managers`.

FastMCP's methods (`get_resources`, `get_resource_templates`, `has_resource`, `get_resource`,
`read_resource`, `add_resource`, `add_template`, the deprecated `add_*_from_fn`) answer for the
server as its clients see it: visible components, mounted ones under their prefixed keys
(FastMCP 2.13's manager holds its own only; the raw inventory here is `resource_registry` and
`template_registry`, or `_resources` and `_templates` as FastMCP spells them). The serving path
is `find(uri)` + `read(found, uri, context)` (`resources/read`) and `iter_resources()`,
`iter_templates()` (the lists).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, Unpack

import msgspec

from trimcp.exceptions import NotFoundError, ResourceError
from trimcp.utilities.managers import ComponentManager, ManagerOptions, warn_deprecated

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.resources.resource import ReadResourceContents, Resource
    from trimcp.resources.template import ResourceTemplate
    from trimcp.resources.uri_template import UriTemplate
    from trimcp.utilities.registry import Catalog, DuplicateBehavior, Registry

__all__ = [
    "Found",
    "PrefixFormat",
    "ResourceManager",
    "UriPrefix",
    "add_resource_prefix",
    "has_resource_prefix",
    "remove_resource_prefix",
    "resolve_prefix_format",
]

PrefixFormat = Literal["path", "protocol"]

Found = tuple[Any, "dict[str, str] | None", str, str]
"""What answers a URI: `(resource or template, the template's parameters or None, the URI as
the component's own server knows it, its key at the level of the server asked)`."""

_URI = re.compile(r"^([^:]+://)(.*)$", re.DOTALL)


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


def resolve_prefix_format(fmt: str | None) -> PrefixFormat:
    """`fmt`, or when None the process-wide `resource_prefix_format` setting (read at each
    use, so it may change)."""
    if fmt is None:
        # The module, not `trimcp.settings` the attribute (the Settings object): tests and
        # users may replace `trimcp.settings.settings`.
        fmt = importlib.import_module("trimcp.settings").settings.resource_prefix_format
    if fmt not in ("path", "protocol"):
        raise ValueError(f"resource_prefix_format must be 'path' or 'protocol', not {fmt!r}")
    return fmt  # type: ignore[return-value]


class UriPrefix:
    """How a mount prefixes resource URIs and template keys (the format is read at each use)
    and the names of their listed copies (`{prefix}_{name}`)."""

    def __init__(self, prefix_format: Callable[[], PrefixFormat]) -> None:
        self.prefix_format = prefix_format

    def add(self, key: str, prefix: str | None) -> str:
        return add_resource_prefix(key, prefix, self.prefix_format())

    def strip(self, key: str, prefix: str | None) -> str | None:
        return remove_resource_prefix(key, prefix, self.prefix_format())

    def copy(self, component: Any, key: str, prefix: str | None) -> Any:
        if prefix:
            return component.model_copy(key=key, update={"name": f"{prefix}_{component.name}"})
        return component.model_copy(key=key)

    def state(self) -> object:
        return self.prefix_format()


# -- the manager -----------------------------------------------------------------------------


class ResourceManager(ComponentManager["Resource"]):
    """A server's resources and templates: registration, lookup through mounts, listing, reads.

    Args:
        duplicate_behavior: What adding under a URI already taken does: `"warn"` (default),
            `"error"`, `"replace"`, `"ignore"`.
        mask_error_details: `read_resource` and `get_resource` hide the text of unexpected
            exceptions.
        prefix_format: The server's `resource_prefix_format` (default: the setting's).
        **options: The server's `visibility`, `mounts` and list-changed `on_change`
            (`ManagerOptions`; a manager alone has its own visibility and no mounts).
    """

    kind = "resource"
    attribute = "resource_manager"

    def __init__(
        self,
        duplicate_behavior: DuplicateBehavior | None = None,
        mask_error_details: bool | None = None,
        *,
        prefix_format: Callable[[], PrefixFormat] | None = None,
        **options: Unpack[ManagerOptions],
    ) -> None:
        # Set first: the base builds the resource catalog with these rules.
        self.rules = UriPrefix(prefix_format or (lambda: resolve_prefix_format(None)))
        super().__init__(duplicate_behavior, mask_error_details, **options)
        self.resource_registry: Registry[Resource] = self.registry
        self.resource_catalog: Catalog[Resource] = self.catalog
        self.template_registry: Registry[ResourceTemplate] = self.new_registry(
            "template", duplicate_behavior
        )
        self.template_catalog: Catalog[ResourceTemplate] = self.new_catalog(
            self.template_registry, "template_catalog"
        )
        self._key_patterns: dict[str, UriTemplate] = {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.resource_registry)} resources, "
            f"{len(self.template_registry)} templates, {len(self.mounts.items)} mounts)"
        )

    @property
    def _resources(self) -> dict[str, Resource]:
        """FastMCP's name for the raw URI -> resource map (this server's own only)."""
        return self.resource_registry.items

    @property
    def _templates(self) -> dict[str, ResourceTemplate]:
        """FastMCP's name for the raw key -> template map (this server's own only)."""
        return self.template_registry.items

    # -- the serving path ------------------------------------------------------------------

    def find(self, uri: str) -> Found | None:
        """What answers `uri` for clients (see `Found`): a visible local resource, a visible
        local template matching it, then what the mounts answer (latest mount first)."""
        resource = self.resource_registry.get(uri)
        if resource is not None:
            return resource, None, uri, uri
        for key, template in self.template_registry.visible():
            params = self._match(key, template, uri)
            if params is not None:
                return template, params, uri, key
        if not self.mounts.items or uri in self.resource_registry:
            return None
        for mount, child_uri in self.resource_catalog.routes(uri):
            found = self.manager_of(mount).find(child_uri)
            if found is not None:
                component, params, source_uri, child_key = found
                key = self.rules.add(child_key, mount.prefix)
                if not self.visibility.visible(key, component):
                    return None
                return component, params, source_uri, key
        return None

    def find_own(self, uri: str) -> Found | None:
        """What answers `uri` among this manager's own resources and templates, hidden ones
        included, or None."""
        resource = self.resource_registry.get_any(uri)
        if resource is not None:
            return resource, None, uri, uri
        for key, template in self.template_registry.items.items():
            params = self._match(key, template, uri)
            if params is not None:
                return template, params, uri, key
        return None

    def _match(self, key: str, template: ResourceTemplate, uri: str) -> dict[str, str] | None:
        if key == template.uri_template:
            return template.matches(uri)
        return self._key_pattern(key).match(uri)  # under a key of its own: FastMCP matches it

    def _key_pattern(self, key: str) -> UriTemplate:
        pattern = self._key_patterns.get(key)
        if pattern is None:
            from trimcp.resources.uri_template import UriTemplate

            pattern = self._key_patterns[key] = UriTemplate(key)
        return pattern

    def require(self, uri: str) -> Found:
        """`find(uri)`, or `not_found(uri)` raised."""
        found = self.find(uri)
        if found is None:
            raise self.not_found(uri)
        return found

    async def read(self, found: Found, uri: str, context: Context | None = None) -> list[Any]:
        """Read what `find(uri)` found: its `resources/read` contents, reported under `uri`."""
        component, params, source_uri, _key = found
        contents: list[Any]
        if params is None:
            contents = await component.read_contents(source_uri, context)
        else:
            contents = await component.read_contents(source_uri, params, context)
        if source_uri != uri:  # report the URI the client asked for
            contents = [
                msgspec.structs.replace(c, uri=uri) if getattr(c, "uri", None) == source_uri else c
                for c in contents
            ]
        return contents

    async def read_contents(self, uri: str, context: Context | None = None) -> list[Any]:
        """`find` + `read`, for callers without a handler of their own (`Context.read_resource`).

        Raises:
            NotFoundError: Nothing visible answers `uri`.
        """
        return await self.read(self.require(uri), uri, context)

    async def read_resource_contents(
        self, uri: str, context: Context | None = None
    ) -> list[ReadResourceContents]:
        """`read_contents` as FastMCP's `Context.read_resource()` returns it: one
        `ReadResourceContents` (`.content`: text or bytes, `.mime_type`) per content.

        Raises:
            NotFoundError: Nothing visible answers `uri`.
        """
        from trimcp.resources.resource import to_read_contents

        return to_read_contents(await self.read_contents(uri, context))

    def iter_resources(self) -> Iterator[tuple[str, Resource]]:
        """`(uri, resource)` for each resource clients see (`resources/list` order)."""
        return self.resource_catalog.visible()

    def iter_templates(self) -> Iterator[tuple[str, ResourceTemplate]]:
        """`(key, template)` for each template clients see."""
        return self.template_catalog.visible()

    def completion_owner(self, uri: str) -> tuple[Any, str] | None:
        """Whose completion handler answers for the template `uri`: `(None, uri)` when this
        server has it, `(server, uri there)` for a mounted server's, None when nobody has it
        (mounts searched the way `find` searches them)."""
        return self.template_catalog.owner(uri)

    # -- FastMCP's methods -----------------------------------------------------------------

    async def visible_resources(self) -> dict[str, Resource]:
        """The resources clients see, by URI (mounted ones as prefixed copies)."""
        return dict(self.iter_resources())

    async def visible_templates(self) -> dict[str, ResourceTemplate]:
        """The templates clients see, by key (mounted ones as prefixed copies)."""
        return dict(self.iter_templates())

    async def get_resources(self) -> dict[str, Resource]:
        """The resources clients see, by URI (mounted ones as prefixed copies)."""
        return dict(self.iter_resources())

    async def get_resource_templates(self) -> dict[str, ResourceTemplate]:
        """The templates clients see, by key (mounted ones as prefixed copies)."""
        return dict(self.iter_templates())

    async def has_resource(self, uri: Any) -> bool:
        return self.find(str(uri)) is not None

    async def get_resource(self, uri: Any) -> Resource:
        """The resource clients read at `uri`; for a template, a concrete resource made from it.

        Raises:
            NotFoundError: Nothing visible answers `uri`.
            ResourceError: The template raised it making the resource.
            ValueError: The template failed otherwise (its text hidden under masking).
        """
        uri = str(uri)
        component, params, _source_uri, _key = self.require(uri)
        if params is None:
            found_resource: Resource = component
            return found_resource if component.key == uri else component.model_copy(key=uri)
        message = "Error creating resource from template"
        with self.wrap_errors(ValueError, message, passing=(ResourceError,)):
            resource: Resource = await component.create_resource(uri, params)
        return resource

    async def read_resource(self, uri: Any, *, context: Context | None = None) -> Any:
        """What the resource at `uri` holds (`str`, `bytes`, or what its function returned).

        `ResourceError` passes through; any other exception becomes a `ResourceError`
        ("Error reading resource 'uri'", its text appended unless `mask_error_details`).

        Raises:
            NotFoundError: Nothing visible answers `uri`.
        """
        uri = str(uri)
        found = self.find(uri)
        if found is None:
            raise NotFoundError(f"Resource {uri!r} not found.")
        component, params, source_uri, _key = found
        message = f"Error reading resource {uri!r}"
        with self.wrap_errors(ResourceError, message, passing=(ResourceError,)):
            if params is not None:
                component = await component.create_resource(source_uri, params, context)
            return await _read_value(component, context)

    def add_resource(self, resource: Resource) -> Resource:
        """Register `resource` under its `key` (its URI unless set), per the duplicate policy."""
        return self.resource_registry.add(resource.key, resource)

    def add_template(self, template: ResourceTemplate) -> ResourceTemplate:
        """Register `template` under its `key` (its URI template unless set)."""
        return self.template_registry.add(template.key, template)

    def remove_resource(self, uri: str) -> None:
        """Remove this server's own resource or template `uri`.

        Raises:
            NotFoundError: This server has neither under `uri`.
        """
        if uri in self.resource_registry:
            self.resource_registry.remove(uri)
        elif uri in self.template_registry:
            self.template_registry.remove(uri)
        else:
            raise self.not_found(uri)

    def add_resource_or_template_from_fn(
        self,
        fn: Callable[..., Any],
        uri: str,
        name: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        tags: set[str] | None = None,
    ) -> Resource | ResourceTemplate:
        """A template when `uri` has `{params}` or `fn` takes parameters (a `Context` aside),
        else a resource."""
        from trimcp.resources.template import wants_template

        if wants_template(fn, uri):
            return self.add_template_from_fn(fn, uri, name, description, mime_type, tags)
        return self.add_resource_from_fn(fn, uri, name, description, mime_type, tags)

    def add_resource_from_fn(
        self,
        fn: Callable[..., Any],
        uri: str,
        name: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        tags: set[str] | None = None,
    ) -> Resource:
        """Deprecated (FastMCP 2.7): `add_resource(Resource.from_function(fn, uri, ...))`."""
        warn_deprecated("add_resource_from_fn", "Resource.from_function() and call add_resource()")
        from trimcp.resources.resource import Resource

        return self.add_resource(
            Resource.from_function(
                fn, uri, name=name, description=description, mime_type=mime_type, tags=tags
            )
        )

    def add_template_from_fn(
        self,
        fn: Callable[..., Any],
        uri_template: str,
        name: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        tags: set[str] | None = None,
    ) -> ResourceTemplate:
        """Deprecated (FastMCP 2.7): `add_template(ResourceTemplate.from_function(...))`."""
        warn_deprecated(
            "add_template_from_fn", "ResourceTemplate.from_function() and call add_template()"
        )
        from trimcp.resources.template import ResourceTemplate

        return self.add_template(
            ResourceTemplate.from_function(
                fn,
                uri_template,
                name=name,
                description=description,
                mime_type=mime_type,
                tags=tags,
            )
        )


async def _read_value(resource: Resource, context: Context | None) -> Any:
    from trimcp.resources.resource import accepts_context

    if accepts_context(type(resource).read):
        return await resource.read(context=context)
    return await resource.read()  # FastMCP's subclasses spell it `read(self)`
