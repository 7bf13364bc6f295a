"""The middleware chain: `Middleware` hooks, `MiddlewareContext`, and the chains that run them.

A request passes `on_message`, then `on_request` (or `on_notification`), then the hook named
after its method (`on_call_tool`, `on_list_tools`, ...), outermost middleware first; each hook
calls `call_next(context)` to continue. `context.message` is the request's params (for
`tools/call`: `.name`, `.arguments`); `call_next` returns the method's result. A server
without middleware pays nothing: the chain is only built when there is some.

Theory of operation. A chain is built once per middleware list and method (`compose`, kept by
`ChainCache`) and shared by every call of that method: it is a linked list of `Link`s, each
calling one hook with the rest of the chain as its `call_next`, so a call allocates no
closure and no coroutine of its own per step. Building it asks each `Middleware` which hooks
its class (or the instance) overrides for that method and links only those: a pass-through
middleware costs nothing, and a list of them yields no chain at all (`compose` returns None).
A middleware that overrides `__call__`, or any other callable, is linked as itself and
called as `mw(context, call_next)`: its dispatch is its own, as in FastMCP. The terminal step
is shared too, so it takes everything it needs from the context it is given.

A chain is found again by the identity of the list and of its items (`ChainCache.get`), so
`add_middleware`, `mcp.middleware.append(...)`, or a list assigned anew take effect at the next
request. A hook rebound on an instance after the chain was built is not seen (it is looked up
when the chain is built, as a hook's override is).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from operator import is_
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

__all__ = [
    "CallNext",
    "ChainCache",
    "InitializeRequest",
    "Middleware",
    "MiddlewareContext",
    "compose",
    "make_middleware_wrapper",
    "run_middleware",
]


T = TypeVar("T")
R = TypeVar("R", covariant=True)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True, init=False)
class MiddlewareContext(Generic[T]):
    """What a middleware hook sees of the message it wraps; generic in the message's type
    (`MiddlewareContext[CallToolRequestParams]`), as FastMCP's is. Frozen: a hook passes
    changes on with `context.copy(message=...)`."""

    message: T
    method: str | None = None
    source: Literal["client", "server"] = "client"
    type: Literal["request", "notification"] = "request"
    timestamp: datetime = field(default_factory=_utc_now)
    fastmcp_context: Any = None

    # Written by hand for the request path: the generated `__init__` of a frozen dataclass
    # sets each field through `object.__setattr__`, and `datetime.now()` costs as much
    # again; this fills `__dict__` at once and makes the timestamp when first read (from
    # the time taken here), which most requests never do.
    def __init__(
        self,
        *,
        message: T,
        method: str | None = None,
        source: Literal["client", "server"] = "client",
        type: Literal["request", "notification"] = "request",
        timestamp: datetime | None = None,
        fastmcp_context: Any = None,
    ) -> None:
        fields = self.__dict__
        fields["message"] = message
        fields["method"] = method
        fields["source"] = source
        fields["type"] = type
        fields["fastmcp_context"] = fastmcp_context
        if timestamp is None:
            fields["_created"] = time.time()
        else:
            fields["timestamp"] = timestamp

    def __getattr__(self, name: str) -> Any:
        if name == "timestamp" and "_created" in self.__dict__:
            stamp = datetime.fromtimestamp(self.__dict__["_created"], UTC)
            self.__dict__["timestamp"] = stamp
            return stamp
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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
        """The entry FastMCP calls: the hooks for `context`'s method and type around
        `call_next`. Chains built by trimcp call the overridden hooks directly, unless a
        subclass overrides this method; a subclass that does and calls `super().__call__`
        comes here."""
        chain: CallNext[Any, Any] = call_next
        for hook in reversed(hooks_of(self, context.method, context.type)):
            chain = Link(hook, chain)
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


_BASE_HOOKS = {
    name: getattr(Middleware, name)
    for name in ("on_message", "on_request", "on_notification", *_HOOKS.values())
}


def hooks_of(mw: Middleware, method: str | None, kind: str = "request") -> list[Any]:
    """The hooks of `mw` a message of `method` and `kind` passes, outermost first, each one
    the class (or the instance) overrides: `on_message`, `on_request` or `on_notification`,
    then the method's own. Default hooks only call `call_next`, so they are left out."""
    names = ["on_message", "on_request" if kind == "request" else "on_notification"]
    specific = _HOOKS.get(method or "")
    if specific is not None:
        names.append(specific)
    hooks = []
    for name in names:
        hook = getattr(mw, name)
        if getattr(hook, "__func__", None) is not _BASE_HOOKS[name]:
            hooks.append(hook)
    return hooks


class Link:
    """One step of a chain: `hook(context, call_next)`, the rest of the chain as `call_next`.

    Calling it returns the hook's awaitable as it is: a step adds no coroutine of its own."""

    __slots__ = ("call_next", "hook")

    def __init__(self, hook: Callable[..., Awaitable[Any]], call_next: CallNext[Any, Any]) -> None:
        self.hook = hook
        self.call_next = call_next

    def __call__(self, context: MiddlewareContext[Any]) -> Awaitable[Any]:
        return self.hook(context, self.call_next)

    def __repr__(self) -> str:
        return f"Link({self.hook!r})"


def compose(
    middleware: Sequence[Any],
    method: str | None,
    terminal: CallNext[Any, Any],
    *,
    kind: str = "request",
) -> CallNext[Any, Any] | None:
    """The chain of `middleware` (the first outermost) for messages of `method`, ending in
    `terminal`; None when no middleware has a hook for it (nothing to run but `terminal`).

    A `Middleware` whose class keeps FastMCP's `__call__` is linked hook by hook (only the
    hooks it overrides); any other middleware, a `__call__` override included, is linked as
    itself."""
    chain: CallNext[Any, Any] = terminal
    for mw in reversed(middleware):
        if isinstance(mw, Middleware) and type(mw).__call__ is Middleware.__call__:
            for hook in reversed(hooks_of(mw, method, kind)):
                chain = Link(hook, chain)
        else:
            chain = Link(mw, chain)
    return None if chain is terminal else chain


class ChainCache:
    """Chains built by `compose`, found again by the middleware list they were built from.

    `get` checks the list's items by identity, so a list changed in place (`append`,
    `insert`, `remove`) or replaced gets a new chain at its next request. A terminal is part
    of the key: the same list may end in different steps (a server's own requests, a mounted
    server's part of them). At most `limit` chains are kept (all dropped when full): a
    process that makes many servers, as a test run does, keeps no dead ones for long."""

    __slots__ = ("_chains", "limit")

    def __init__(self, *, limit: int = 512) -> None:
        self._chains: dict[tuple[int, str | None, object, str], tuple[tuple[Any, ...], Any]] = {}
        self.limit = limit

    def get(
        self,
        middleware: Sequence[Any],
        method: str | None,
        terminal: CallNext[Any, Any],
        *,
        kind: str = "request",
    ) -> CallNext[Any, Any] | None:
        """The chain of `middleware` for `method` ending in `terminal` (None: no hook)."""
        key = (id(middleware), method, terminal, kind)
        found = self._chains.get(key)
        if found is not None:
            items, chain = found
            if len(items) == len(middleware) and all(map(is_, items, middleware)):
                return chain  # type: ignore[no-any-return]
        chain = compose(middleware, method, terminal, kind=kind)
        if len(self._chains) >= self.limit:
            self._chains.clear()
        self._chains[key] = (tuple(middleware), chain)
        return chain

    def __len__(self) -> int:
        return len(self._chains)


def make_middleware_wrapper(middleware: Any, call_next: CallNext[Any, Any]) -> CallNext[Any, Any]:
    """`middleware` with `call_next` bound: a `call_next` for another hook (FastMCP's)."""
    return Link(middleware, call_next)


async def run_middleware(
    middleware: Sequence[Any], context: MiddlewareContext[Any], handler: CallNext[Any, Any]
) -> Any:
    """Run `handler` inside `middleware`, the first in the list outermost, building the
    chain for this one call (servers keep theirs: `ChainCache`)."""
    chain = compose(middleware, context.method, handler, kind=context.type)
    return await (handler if chain is None else chain)(context)
