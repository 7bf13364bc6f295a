"""The middleware chain: `Middleware` hooks, `MiddlewareContext`, and the fold that runs them.

A request passes `on_message`, then `on_request` (or `on_notification`), then the hook named
after its method (`on_call_tool`, `on_list_tools`, ...), outermost middleware first; each hook
calls `call_next(context)` to continue. `context.message` is the request's params (for
`tools/call`: `.name`, `.arguments`); `call_next` returns the method's result. A server
without middleware pays nothing: the chain is only built when there is some.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

__all__ = ["CallNext", "InitializeRequest", "Middleware", "MiddlewareContext", "run_middleware"]


T = TypeVar("T")
R = TypeVar("R", covariant=True)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class MiddlewareContext(Generic[T]):
    """What a middleware hook sees of the message it wraps; generic in the message's type
    (`MiddlewareContext[CallToolRequestParams]`), as FastMCP's is."""

    message: T
    method: str | None = None
    source: Literal["client", "server"] = "client"
    type: Literal["request", "notification"] = "request"
    timestamp: datetime = field(default_factory=_utc_now)
    fastmcp_context: Any = None

    def copy(self, **changes: Any) -> MiddlewareContext[T]:
        return replace(self, **changes)


@dataclass(frozen=True)
class InitializeRequest:
    """A handshake-era `initialize` as `on_initialize` hooks see it (`context.message`), in
    the shape of FastMCP's `mcp.types.InitializeRequest`: `.params.clientInfo.name`, ...
    A hook may refuse the client by raising `McpError`."""

    params: Any
    method: Literal["initialize"] = "initialize"


@runtime_checkable
class CallNext(Protocol[T, R]):
    """The rest of the chain, as a hook receives it: `await call_next(context)` (generic in
    the message and the result, `CallNext[CallToolRequestParams, ToolResult]`, as FastMCP's)."""

    def __call__(self, context: MiddlewareContext[T]) -> Awaitable[R]: ...


_HOOKS = {
    "tools/call": "on_call_tool",
    "tools/list": "on_list_tools",
    "resources/read": "on_read_resource",
    "resources/list": "on_list_resources",
    "resources/templates/list": "on_list_resource_templates",
    "prompts/get": "on_get_prompt",
    "prompts/list": "on_list_prompts",
    "initialize": "on_initialize",
}


class Middleware:
    """Subclass and override the hooks you need; each must `return await call_next(context)`
    (or return a result of its own to short-circuit, or raise)."""

    async def __call__(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        chain = call_next
        hook = _HOOKS.get(context.method or "")
        if hook is not None:
            chain = _bind(getattr(self, hook), chain)
        chain = _bind(self.on_request if context.type == "request" else self.on_notification, chain)
        chain = _bind(self.on_message, chain)
        return await chain(context)

    async def on_message(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_notification(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_initialize(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_get_prompt(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_list_resources(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_list_resource_templates(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)

    async def on_list_prompts(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await call_next(context)


def _bind(
    hook: Callable[[MiddlewareContext[Any], CallNext[Any, Any]], Awaitable[Any]],
    call_next: CallNext[Any, Any],
) -> CallNext[Any, Any]:
    async def step(context: MiddlewareContext[Any]) -> Any:
        return await hook(context, call_next)

    return step


async def run_middleware(
    middleware: Sequence[Any], context: MiddlewareContext[Any], handler: CallNext[Any, Any]
) -> Any:
    """Run `handler` inside `middleware`, the first in the list outermost (a reversed fold)."""
    chain = handler
    for mw in reversed(middleware):
        chain = _bind(mw, chain)
    return await chain(context)
