"""A mounted server's middleware, run for the calls routed to its components.

As FastMCP's: a `tools/call`, `resources/read` or `prompts/get` that a mount answers passes
the parent's middleware, then the mounted server's (its hooks see the key as that server
knows it, its prefix removed), and so on down nested mounts, then the component. A server
whose mounts (at any depth) have no middleware never comes here (`trimcp.core.session`
looks for mounted middleware only when the server has mounts).
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec

from trimcp.core.middleware import MiddlewareContext, run_middleware

__all__ = ["ROUTED", "through_mounts"]

ROUTED = {
    "tools/call": ("tool_manager", "name"),
    "prompts/get": ("prompt_manager", "name"),
    "resources/read": ("resource_manager", "uri"),
}
"""The methods routed to one component: the manager that finds it and the params' key field."""


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
    component `params` names (outermost first). A hook's changes to the message go on down;
    the component is then found from the top again, under the key the changes lift to."""
    attribute, field = ROUTED[served.method]
    lifts: list[tuple[Any, str | None]] = []  # (rules, prefix) of each mount passed, top down

    async def level(server: Any, message: Any) -> Any:
        hop = _hop(server, attribute, getattr(message, field))
        if hop is None:
            key = getattr(message, field)
            for rules, prefix in reversed(lifts):
                key = rules.add(key, prefix)
            return await call(served, _with_key(message, field, key))
        mount, rules, child_key = hop
        lifts.append((rules, mount.prefix))
        child = mount.server
        message = _with_key(message, field, child_key)
        if not child.middleware:
            return await level(child, message)

        async def inner(context: MiddlewareContext[Any]) -> Any:
            return await level(child, context.message)

        context = MiddlewareContext(
            message=message, method=served.method, fastmcp_context=served.context
        )
        return await run_middleware(child.middleware, context, inner)

    return await level(served.server, params)
