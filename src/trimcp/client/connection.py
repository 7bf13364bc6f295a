"""`SharedConnection`: one transport connection, shared by every `async with client` block.

The task that opens it owns it: its session runs in a task group that lives exactly as long as
that task's outermost block. Blocks entered meanwhile (nested in the owner, or in other tasks)
share it; the owner closes it once the others have left. A transport that keeps its server
alive between connections (stdio's `keep_alive`) is closed by the transport, not here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio

from trimcp.client.session import ClientSession, Handlers
from trimcp.client.transports import ClientTransport

__all__ = ["SharedConnection"]


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
        self._stack: AsyncExitStack | None = None
        self._owner: Any = None
        self._owner_depth = 0
        self._guests = 0
        self._idle: anyio.Event | None = None
        self._lock: anyio.Lock | None = None
        self._generation = 0
        self._keeping = False

    def _get_lock(self) -> anyio.Lock:
        if self._lock is None:  # created lazily: the Client may be built outside any event loop
            self._lock = anyio.Lock()
        return self._lock

    async def enter(self) -> bool:
        """Join the open connection, or open one. True when this call opened it."""
        me = anyio.get_current_task().id
        async with self._get_lock():
            if self.session is not None:
                if me == self._owner:
                    self._owner_depth += 1
                else:
                    self._guests += 1
                return False
            stack = AsyncExitStack()
            try:
                stream = await stack.enter_async_context(self.transport.connect())
                previous = self.transport.carried if self.transport.continued else None
                keeping = self.transport.keeping  # its server outlives this connection
                tg = await stack.enter_async_context(anyio.create_task_group())
                stack.callback(tg.cancel_scope.cancel)  # on exit, stop the session first
                self._generation += 1
                session = ClientSession(
                    stream,
                    handlers=self.handlers,
                    client_info=self.client_info,
                    failure_hint=self.transport.failure_hint,
                    # a continued connection may still carry answers to the previous
                    # session's requests: our new ids must not meet them
                    id_prefix="" if previous is None else f"c{self._generation}-",
                )
                await tg.start(session.run)
                await self.on_open(session, previous)
            except BaseException:
                # No new cancel scope around this: it would wrap the scopes being exited.
                await stack.aclose()
                raise
            self.session, self._stack, self._keeping = session, stack, keeping
            self._owner, self._owner_depth, self._guests = me, 1, 0
            self._idle = anyio.Event()
            return True

    async def leave(self) -> None:
        """Leave the connection; the owner's last `leave` closes it (after the guests left)."""
        if anyio.get_current_task().id != self._owner:
            self._guests -= 1
            if self._guests == 0 and self._idle is not None:
                self._idle.set()
            return
        self._owner_depth -= 1
        if self._owner_depth > 0:
            return
        # The task group belongs to the task that opened it: wait for the other users to leave.
        if self._guests > 0 and self._idle is not None:
            await self._idle.wait()
        stack, self._stack, self._owner = self._stack, None, None
        if self._keeping:
            self.transport.carried = self.session  # for whoever continues the connection
        self.session = None
        self._lock = None  # a later connection may run under another event loop
        if stack is not None:
            await stack.aclose()  # the transports shield their own clean-up
