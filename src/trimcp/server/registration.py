"""Functions to components and routes, as `FastMCP`'s decorators take them: the forms a
decorator is used in (`@mcp.tool`, `@mcp.tool()`, `@mcp.tool("name")`, `mcp.tool(fn, ...)`; the
same for prompts), the tool or prompt a function becomes (the server's default serializer),
which of a resource or a resource template a function under a URI becomes, how a completion
handler is called, and the Starlette `Route` of a custom route. `FastMCP.tool`, `resource`,
`prompt`, `completion` and `custom_route` keep FastMCP 2.13's signatures and call these.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trimcp.runtime.threads import run_sync as run_in_worker

if TYPE_CHECKING:
    from trimcp.prompts import Prompt
    from trimcp.resources import Resource, ResourceTemplate
    from trimcp.tools import Tool

__all__ = [
    "add_function_resource",
    "as_tool",
    "awaitable_handler",
    "decorator_forms",
    "keyword_options",
    "prompt_from_function",
    "resource_decorator",
    "route_decorator",
    "tool_from_function",
]


def keyword_options(arguments: dict[str, Any]) -> dict[str, Any]:
    """A decorator's options from its `locals()` taken first thing: its keyword parameters
    (every one, `None` included: the component's `from_function` has the same names), so
    FastMCP's signature is the one list of them."""
    return {
        key: value
        for key, value in arguments.items()
        if key not in ("self", "name_or_fn", "uri", "__class__")
    }


def _classmethod_refused(kind: str) -> ValueError:
    return ValueError(
        f"To decorate a classmethod, first define the method and then call {kind}() directly "
        "on the method instead of using it as a decorator (FastMCP's rule: a classmethod "
        "has no class to bind to yet)"
    )


def decorator_forms(
    name_or_fn: Any,
    name: str | None,
    options: dict[str, Any],
    register: Callable[..., object],
    *,
    kind: str,
) -> Any:
    """Call `register(fn, **options)` now when `name_or_fn` is the function, else return the
    decorator that does; a string `name_or_fn` is the component's name. Either way the
    result is what `register` returns (the component, as FastMCP 2.13's decorators return)."""
    if isinstance(name_or_fn, classmethod):
        raise _classmethod_refused(kind)
    if callable(name_or_fn) and not isinstance(name_or_fn, str):
        return register(name_or_fn, **options)
    if isinstance(name_or_fn, str):
        if name is not None:
            raise TypeError(
                "Cannot specify both a name as first argument and as keyword argument. "
                f"Use either @{kind}('{name_or_fn}') or @{kind}(name='{name}'), not both."
            )
        options["name"] = name_or_fn

    def decorator(fn: Callable[..., Any]) -> Any:
        if isinstance(fn, classmethod):
            raise _classmethod_refused(kind)
        return register(fn, **options)

    return decorator


def add_function_resource(
    fn: Callable[..., Any],
    uri: str,
    options: dict[str, Any],
    *,
    add_resource: Callable[[Resource], Resource],
    add_template: Callable[[ResourceTemplate], ResourceTemplate],
) -> Resource | ResourceTemplate:
    """Add `fn` under `uri` and return what was added: a template when `uri` has `{params}`
    or `fn` takes parameters, else a resource."""
    from trimcp.resources import Resource, ResourceTemplate
    from trimcp.resources.template import wants_template

    if wants_template(fn, uri):
        return add_template(ResourceTemplate.from_function(fn, uri, **options))
    return add_resource(Resource.from_function(fn, uri, **options))


def awaitable_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler` as an async function: a sync one runs in a worker thread, as sync tools do."""
    if inspect.iscoroutinefunction(handler):
        return handler
    return functools.partial(run_in_worker, handler)


def resource_decorator(
    uri: str,
    options: dict[str, Any],
    add_resource: Callable[[Resource], Resource],
    add_template: Callable[[ResourceTemplate], ResourceTemplate],
) -> Callable[[Callable[..., Any]], Resource | ResourceTemplate]:
    """`@mcp.resource(uri, ...)`: the decorator that adds its function under `uri`
    (`add_function_resource`) and returns the resource or template; `uri` must be given."""
    if callable(uri) and not isinstance(uri, str):
        raise TypeError(
            "The @resource decorator was used incorrectly. "
            "Did you forget to call it? Use @resource('uri') instead of @resource"
        )

    def decorator(fn: Callable[..., Any]) -> Resource | ResourceTemplate:
        if isinstance(fn, classmethod):
            raise _classmethod_refused("resource")
        return add_function_resource(
            fn, uri, options, add_resource=add_resource, add_template=add_template
        )

    return decorator


def route_decorator(
    routes: list[Any], path: str, methods: list[str], *, name: str | None, include_in_schema: bool
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`@mcp.custom_route(...)`: the decorator that appends a Starlette `Route` for its
    function to `routes` and returns it (Starlette imported only then: HTTP is optional)."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        from starlette.routing import Route

        routes.append(
            Route(path, fn, methods=methods, name=name, include_in_schema=include_in_schema)
        )
        return fn

    return decorator


def tool_from_function(
    fn: Callable[..., Any], options: dict[str, Any], default_serializer: Callable[[Any], str] | None
) -> Tool:
    """A tool made of `fn` with a decorator's `options` (the serializer defaults to the
    server's `tool_serializer`)."""
    from trimcp.tools import Tool

    if options.get("serializer") is None:
        options = {**options, "serializer": default_serializer}
    return Tool.from_function(fn, **options)


def as_tool(
    tool: Tool | Callable[..., Any], default_serializer: Callable[[Any], str] | None
) -> Tool:
    """`tool` itself if it is a `Tool`, else a tool made of the function as it is."""
    from trimcp.tools.tool import Tool

    if isinstance(tool, Tool):
        return tool
    return Tool.from_function(tool, serializer=default_serializer)


def prompt_from_function(fn: Callable[..., Any], options: dict[str, Any]) -> Prompt:
    """A prompt made of `fn` with a decorator's `options`."""
    from trimcp.prompts import Prompt

    return Prompt.from_function(fn, **options)
