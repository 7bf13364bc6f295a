"""Server features asked for from inside a request (`ctx.read_resource`, `ctx.get_prompt`,
`ctx.list_resources`, `ctx.list_prompts`), run inside the server's middleware chain as FastMCP
2.13 runs them (`serve_nested`)."""

from __future__ import annotations

from typing import Any

from trimcp.core.context import Context, enter_context
from trimcp.core.handlers import MIDDLEWARE_STEPS
from trimcp.core.middleware import ChainCache, MiddlewareContext
from trimcp.core.mount_middleware import routes_to_middleware, through_mounts

__all__ = ["serve_nested"]

_CHAINS = ChainCache()
"""The nested calls' chains, by middleware list and method."""


async def serve_nested(ctx: Context, method: str, params: Any) -> Any:
    """A server feature asked for from inside a request (`ctx.read_resource`,
    `ctx.get_prompt`, `ctx.list_resources`, `ctx.list_prompts`), run inside the server's
    middleware chain as FastMCP 2.13 runs it: the hooks of `method` (`on_message`,
    `on_request`, `on_read_resource`, ...) see `params` as `context.message` and `ctx`, the
    fresh `Context` made for the call, as `context.fastmcp_context`; a mounted server's
    middleware takes part as it does in a client's request. Returns what the hooks return:
    `ReadResourceContents`, a `GetPromptResult`, the listed components.

    The chain is the one built for `method` around a terminal of its own (`ChainCache`),
    since what `call_next` gives here is what the `Context` method returns, not what the
    request's handler would: the component's exceptions as they are (`NotFoundError`...),
    and, in 2026-07-28, input asked of the client as part of the calling request's round.
    Nothing is held across the chain: a hook may ask for a nested call in turn (recursion
    is as deep as the hooks make it, as in FastMCP)."""
    server = ctx.fastmcp
    terminal = _NESTED_STEPS[method]
    chain = _CHAINS.get(server.middleware, method, terminal) if server.middleware else None
    context = MiddlewareContext(message=params, method=method, fastmcp_context=ctx)
    token = enter_context(ctx)
    try:
        return await (terminal if chain is None else chain)(context)
    finally:
        token.reset()


class _Nested:
    """What a nested call's last step hands the component's call (and `through_mounts`):
    the server, the method, the `Context` the call runs with."""

    __slots__ = ("context", "method", "server")

    def __init__(self, server: Any, method: str, context: Any) -> None:
        self.server = server
        self.method = method
        self.context = context


async def _nested_step(context: MiddlewareContext[Any], method: str, call: Any) -> Any:
    """The last step of a nested call's chain: `call` on the component, through mounted
    servers' middleware when the call is routed to one that has some. The `Context` is the
    one the hooks passed on (or, if they passed none, the current one)."""
    ctx = context.fastmcp_context
    if not isinstance(ctx, Context):
        from trimcp.utilities.context_slot import current_context

        ctx = current_context.get()
    server = ctx.fastmcp
    nested = _Nested(server, method, ctx)
    if server.tool_manager.mounts.items and routes_to_middleware(server, method):
        return await through_mounts(nested, context.message, call)
    return await call(nested, context.message)


async def _read_nested(nested: _Nested, params: Any) -> Any:
    return await nested.server.resource_manager.read_resource_contents(
        str(params.uri), nested.context
    )


async def _render_nested(nested: _Nested, params: Any) -> Any:
    prompt = nested.server.prompt_manager.require(params.name)
    return await prompt.render_result(params.arguments, nested.context)


async def _nested_read(context: MiddlewareContext[Any]) -> Any:
    return await _nested_step(context, "resources/read", _read_nested)


async def _nested_prompt(context: MiddlewareContext[Any]) -> Any:
    return await _nested_step(context, "prompts/get", _render_nested)


async def _nested_resources(context: MiddlewareContext[Any]) -> Any:
    return await _nested_step(context, "resources/list", MIDDLEWARE_STEPS["resources/list"].inner)


async def _nested_prompts(context: MiddlewareContext[Any]) -> Any:
    return await _nested_step(context, "prompts/list", MIDDLEWARE_STEPS["prompts/list"].inner)


_NESTED_STEPS = {
    "resources/read": _nested_read,
    "prompts/get": _nested_prompt,
    "resources/list": _nested_resources,
    "prompts/list": _nested_prompts,
}
"""The last step of a nested call's chain, by method: what FastMCP's `Context` methods route
through the middleware (and no more: it has no `ctx.call_tool`, `ctx.list_tools` or
`ctx.list_resource_templates`)."""
