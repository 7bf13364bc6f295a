"""A mounted server's middleware, run for the calls routed to its components and for the
listings it contributes to.

As FastMCP's: a `tools/call`, `resources/read` or `prompts/get` that a mount answers passes
the parent's middleware, then the mounted server's (its hooks see the key as that server
knows it, its prefix removed), and so on down nested mounts, then the component. A listing
(`tools/list`, `resources/list`, `resources/templates/list`, `prompts/list`) asks each mount
for its components through that server's own chain, whose hooks see and return the
components under their keys there; the parent then applies its own filters and prefixes,
and its own hooks see the whole list. A server whose mounts (at any depth) have no
middleware never comes here (`trimcp.core.session` looks for mounted middleware only when
the server has mounts): its listings come from the catalogs' cached views.

Each mounted server's chain is built once per method (`ChainCache`) and shared by all calls;
what its last step needs (the request, the server below, the prefixes passed) is the
`_Level` of the descent, kept in a context variable for the time that server's chain runs.
"""

from __future__ import annotations

import copy
from contextvars import ContextVar
from typing import Any, NamedTuple

import msgspec

from trimcp.core.middleware import ChainCache, MiddlewareContext

__all__ = ["LISTED", "ROUTED", "ROUTES_THROUGH_MOUNTS", "routes_to_middleware", "through_mounts"]

ROUTED = {
    "tools/call": ("tool_manager", "name"),
    "prompts/get": ("prompt_manager", "name"),
    "resources/read": ("resource_manager", "uri"),
}
"""The methods routed to one component: the manager that finds it and the params' key field."""

LISTED = {
    "tools/list": ("tool_manager", "catalog"),
    "resources/list": ("resource_manager", "resource_catalog"),
    "resources/templates/list": ("resource_manager", "template_catalog"),
    "prompts/list": ("prompt_manager", "catalog"),
}
"""The listings: the manager and its catalog of the kind listed."""


class _Level(NamedTuple):
    """Where a mounted server's chain stands in a descent: the request, that server, the
    `(rules, prefix)` of each mount passed on the way (top down), and the component's call."""

    served: Any
    server: Any
    lifts: tuple[tuple[Any, str | None], ...]
    call: Any


_LEVEL: ContextVar[_Level] = ContextVar("trimcp_mount_level")
_CHAINS = ChainCache()


def _hop(server: Any, attribute: str, key: str) -> tuple[Any, Any, str] | None:
    """The mount of `server` whose server answers `key` (the way the managers' `find` picks
    it: latest mount first), as `(mount, rules, key there)`; None when `server` answers it
    itself or nobody does."""
    manager = getattr(server, attribute)
    if not manager.mounts.items:
        return None
    if attribute == "resource_manager":
        if manager.find_own(key) is not None:
            return None
        catalog = manager.resource_catalog
    else:
        if key in manager.registry:
            return None
        catalog = manager.catalog
    for mount, child_key in catalog.routes(key):
        if manager.manager_of(mount).find(child_key) is not None:
            return mount, manager.rules, child_key
    return None


def _with_key(message: Any, field: str, key: str) -> Any:
    """`message` with its key `field` set to `key` (a hook may have put an object of its own)."""
    if getattr(message, field) == key:
        return message
    if isinstance(message, msgspec.Struct):
        return msgspec.structs.replace(message, **{field: key})
    if hasattr(message, "model_copy"):
        return message.model_copy(update={field: key})
    message = copy.copy(message)
    setattr(message, field, key)
    return message


async def through_mounts(served: Any, params: Any, call: Any) -> Any:
    """`call(served, params)` inside the middleware of each mounted server on the way to the
    component `params` names (outermost first); for a listing, the components the server
    lists, each mount's through its own middleware. A hook's changes to the message go on
    down; the component is then found from the top again, under the key the changes lift to."""
    if served.method in LISTED:
        return [component for _key, component in await _listing(served, served.server, params)]
    return await _descend(_Level(served, served.server, (), call), params)


async def _in_chain(level: _Level, message: Any, terminal: Any) -> Any:
    """Run `level.server`'s chain for the request's method around `terminal`, or `terminal`
    alone when that server has no hook for it."""
    served = level.served
    server = level.server
    chain = _CHAINS.get(server.middleware, served.method, terminal) if server.middleware else None
    token = _LEVEL.set(level)
    try:
        if chain is None:
            return await terminal(MiddlewareContext(message=message, method=served.method))
        context = MiddlewareContext(
            message=message, method=served.method, fastmcp_context=served.context
        )
        return await chain(context)
    finally:
        _LEVEL.reset(token)


async def _descend(level: _Level, message: Any) -> Any:
    served = level.served
    attribute, field = ROUTED[served.method]
    hop = _hop(level.server, attribute, getattr(message, field))
    if hop is None:
        key = getattr(message, field)
        for rules, prefix in reversed(level.lifts):
            key = rules.add(key, prefix)
        return await level.call(served, _with_key(message, field, key))
    mount, rules, child_key = hop
    below = _Level(served, mount.server, (*level.lifts, (rules, mount.prefix)), level.call)
    message = _with_key(message, field, child_key)
    if not mount.server.middleware:
        return await _descend(below, message)
    return await _in_chain(below, message, _routed_below)


async def _routed_below(context: MiddlewareContext[Any]) -> Any:
    """The last step of a mounted server's chain for a routed call: on down."""
    return await _descend(_LEVEL.get(), context.message)


async def _listing(served: Any, server: Any, message: Any) -> list[tuple[str, Any]]:
    """`(key, component)` for each component `server` lists, in `Catalog.visible()`'s order
    and by its rules: its own first; then its mounts' (the latest mount first), each as the
    mount's chain returned them; a local key shadows a mounted one, the latest mount that
    lists a key wins it, and this server's filters then apply under the prefixed key."""
    manager, catalog_name = LISTED[served.method]
    catalog = getattr(getattr(server, manager), catalog_name)
    listed: list[tuple[str, Any]] = list(catalog.registry.visible())
    mounts = catalog.mounts.items
    if not mounts:
        return listed
    local = catalog.registry
    visible = catalog.visibility.visible
    rules = catalog.rules
    taken: set[str] = set()
    for mount in reversed(mounts):
        prefix = mount.prefix
        below = _Level(served, mount.server, (), None)
        if mount.server.middleware:
            children = [(c.key, c) for c in await _in_chain(below, message, _listed_below)]
        else:
            children = await _listing(served, mount.server, message)
        for child_key, component in children:
            key = rules.add(child_key, prefix)
            if key in local or key in taken:
                continue
            taken.add(key)
            if visible(key, component):
                listed.append((key, rules.copy(component, key, prefix)))
    return listed


async def _listed_below(context: MiddlewareContext[Any]) -> list[Any]:
    """The last step of a mounted server's chain for a listing: what that server lists."""
    level = _LEVEL.get()
    return [c for _key, c in await _listing(level.served, level.server, context.message)]


def routes_to_middleware(server: Any, method: str) -> bool:
    """Whether `method` is routed to one component or lists them, and a server mounted into
    `server` (at any depth) has middleware. Asked only of a server with mounts or middleware, so a plain
    server pays nothing; one flat loop, as it runs per call on a server with mounts."""
    if method not in ROUTES_THROUGH_MOUNTS:
        return False
    mounts = server.tool_manager.mounts.items
    if len(mounts) == 1:  # the usual case, without building a stack
        child = mounts[0].server
        if child.middleware:
            return True
        mounts = child.tool_manager.mounts.items
        if not mounts:
            return False
    stack = list(mounts)
    while stack:
        child = stack.pop().server
        if child.middleware:
            return True
        stack.extend(child.tool_manager.mounts.items)
    return False


ROUTES_THROUGH_MOUNTS = frozenset(
    (
        "tools/call",
        "prompts/get",
        "resources/read",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
    )
)
"""The methods a mounted server's middleware takes part in: the calls routed to one of its
components, and the listings (its hooks see its own components)."""
