"""`SharedConnection`: one transport connection, shared by every `async with client` block.

The connection lives in a runner task of the event loop itself (`spawn_detached`), not in the
task that opened it: blocks may be entered in one task and left in another (pytest-asyncio's
async fixtures set up and tear down in different tasks). Blocks are counted; the last one to
leave stops the runner and waits for it. A transport that keeps its server alive between
connections (stdio's `keep_alive`) is closed by the transport, not here.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio

from trimcp._backend import spawn_detached
from trimcp.client.session import ClientSession, Handlers
from trimcp.client.transports import ClientTransport

__all__ = ["SharedConnection"]

_CLOSE_BOUND = 60.0
"""How long the last `leave` waits for the connection to close (the transports bound their
own clean-up well below this) before cancelling it."""


class _Runner:
    """The task that opens one connection, holds it until `stop`, then closes it."""

    def __init__(self, owner: SharedConnection, context: contextvars.Context) -> None:
        self.owner = owner
        self.context = context
        self.scope = anyio.CancelScope()
        self.ready = anyio.Event()
        self.stop = anyio.Event()
        self.done = anyio.Event()
        self.session: ClientSession | None = None
        self.error: BaseException | None = None

    async def run(self) -> None:
        for var, value in self.context.items():  # the opener's context variables (trio's
            var.set(value)  # system tasks start from an empty context)
        try:
            with self.scope:
                await self._open_and_hold()
        except BaseException as exc:  # a detached task reports its outcome, never raises
            self.error = exc
        finally:
            self.ready.set()
            self.done.set()

    async def _open_and_hold(self) -> None:
        owner = self.owner
        transport = owner.transport
        stack = AsyncExitStack()
        try:
            stream = await stack.enter_async_context(transport.connect())
            previous = transport.carried if transport.continued else None
            keeping = transport.keeping  # its server outlives this connection
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)  # on exit, stop the session first
            owner.generation += 1
            session = ClientSession(
                stream,
                handlers=owner.handlers,
                client_info=owner.client_info,
                failure_hint=transport.failure_hint,
                # a continued connection may still carry answers to the previous session's
                # requests: our new ids must not meet them
                id_prefix="" if previous is None else f"c{owner.generation}-",
            )
            await tg.start(session.run)
            await owner.on_open(session, previous)
        except BaseException:
            # No new cancel scope around this: it would wrap the scopes being exited.
            await stack.aclose()
            raise
        self.session = session
        self.ready.set()
        try:
            await self.stop.wait()
        finally:
            if keeping:
                transport.carried = session  # for whoever continues the connection
            await stack.aclose()  # the transports shield their own clean-up

    async def finish(self) -> None:
        """Wait (shielded, bounded) until the runner has ended; cancel it past the bound."""
        with anyio.move_on_after(_CLOSE_BOUND, shield=True):
            await self.done.wait()
        if not self.done.is_set():
            self.scope.cancel()
            with anyio.move_on_after(5.0, shield=True):
                await self.done.wait()

    def failure(self) -> BaseException | None:
        """The runner's error, for the user's task (a cancellation of its own is none)."""
        error = self.error
        if error is None or isinstance(error, Exception):
            return error
        if isinstance(error, anyio.get_cancelled_exc_class()):
            return None
        return error


class SharedConnection:
    """Open, share and close one connection of a `Client`.

    Args:
        transport: What to connect through.
        handlers: The user's callbacks for the session.
        client_info: Sent as `clientInfo`.
        on_open: Awaited with the running session before anyone uses it (negotiation), and
            the previous session when the transport continued its connection (a kept-alive
            server: that session's negotiation holds); an exception there closes the
            connection and reaches the `async with`.
    """

    def __init__(
        self,
        transport: ClientTransport,
        *,
        handlers: Handlers,
        client_info: dict[str, Any],
        on_open: Callable[[ClientSession, ClientSession | None], Awaitable[None]],
    ) -> None:
        self.transport = transport
        self.handlers = handlers
        self.client_info = client_info
        self.on_open = on_open
        self.session: ClientSession | None = None
        self.generation = 0
        self._runner: _Runner | None = None
        self._users = 0
        self._lock: anyio.Lock | None = None

    def _get_lock(self) -> anyio.Lock:
        if self._lock is None:  # created lazily: the Client may be built outside any event loop
            self._lock = anyio.Lock()
        return self._lock

    async def enter(self) -> bool:
        """Join the open connection, or open one. True when this call opened it."""
        async with self._get_lock():
            if self.session is not None:
                self._users += 1
                return False
            runner = _Runner(self, contextvars.copy_context())
            spawn_detached(runner.run)
            try:
                await runner.ready.wait()
            except BaseException:  # cancelled while connecting: stop the runner too
                runner.scope.cancel()
                await runner.finish()
                raise
            if runner.session is None:
                await runner.finish()
                error = runner.failure()
                if error is None:
                    raise RuntimeError("the client's connection was cancelled") from runner.error
                raise error
            self.session, self._runner, self._users = runner.session, runner, 1
            return True

    async def leave(self) -> None:
        """Leave the connection; the last user to leave closes it, from whichever task."""
        self._users -= 1
        if self._users > 0:
            return
        runner, self._runner = self._runner, None
        self.session = None
        self._lock = None  # a later connection may run under another event loop
        if runner is None:
            return
        runner.stop.set()
        await runner.finish()
        error = runner.failure()
        if error is not None:
            raise error
