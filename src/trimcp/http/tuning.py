"""How trimcp tunes hypercorn: two pieces of its per-request machinery, replaced.

Both keep hypercorn's behaviour and only change what a request costs; `install(backend)`
puts them in place (`run_http` calls it, and so does the benchmark's bare ceiling, so that
the ceiling is what trimcp's own serving could reach). Measured on `tools/call` over 32
keep-alive connections (bench/http_bench.py, asyncio): the keep-alive timer took a bare
hypercorn app from about 3,640 to 4,015 req/s; one write per response gave trimcp about 6%.

**The keep-alive timer.** hypercorn gives every connection a "single task" that closes it
once it has been idle for `keep_alive_timeout`: the task is restarted after each response
and stopped when the next request begins. Its own implementation does that literally: every
request cancels a task (that sits in `wait_for`, itself a task) and every response spawns a
new one, about 40 µs of a hypercorn request's 270 µs on asyncio. `DeferredIdleTask` keeps
hypercorn's contract (`restart(task_group, action)`, `stop()`) but starts the action only
once the connection has stayed idle for `DEFER` seconds. A response then costs a clock read
and two attribute writes; a connection that gets its next request within `DEFER` never makes
a task at all. One watcher task per connection sleeps until the idle period is due and runs
the action in a cancel scope that `stop`/`restart` cancel. Differences, each bounded by
`DEFER`: the keep-alive timeout counts from `DEFER` after the response; at shutdown an idle
connection is closed up to `DEFER` later; a closed connection's task ends up to `DEFER` later
(its watcher wakes to find it closed: hypercorn's `stop()` does not say which of "a request
began" and "the connection closed" it means).

**One write per response.** hypercorn writes a response's head as soon as the app sends
`http.response.start`, and its body with the next message: two writes, two TCP segments, two
trips through the kernel's network stack (on loopback the costliest system call a request
makes). `CoalescingH11Protocol` holds the head of a response that declares its
`Content-Length` (the body is then complete, and follows at once) and writes it with the
first body chunk or the end of the message. Streamed responses (SSE, chunked) have no
`Content-Length`: their head goes out at once, as before, so a client sees a stream open
before its first event.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import h11
from hypercorn.events import RawData
from hypercorn.protocol.h11 import H11Protocol

__all__ = ["DEFER", "CoalescingH11Protocol", "DeferredIdleTask", "install"]

DEFER = 0.05  # seconds a connection stays idle before its keep-alive task starts


class DeferredIdleTask:
    """hypercorn's `SingleTask` protocol, for the keep-alive timer of one connection."""

    __slots__ = ("_action", "_scope", "_since", "_watching")

    def __init__(self) -> None:
        self._since: float | None = None  # monotonic time the connection went idle; None: busy
        self._action: Callable[[], Awaitable[Any]] | None = None
        self._scope: anyio.CancelScope | None = None  # around the running action
        self._watching = False

    async def restart(self, task_group: Any, action: Callable[[], Awaitable[Any]]) -> None:
        self._cancel_action()
        self._since = time.monotonic()
        self._action = action
        if not self._watching:
            self._watching = True
            task_group.spawn(self._watch)

    async def stop(self) -> None:
        self._since = None
        self._action = None  # the action is a bound method of the connection: no cycle kept
        self._cancel_action()

    def _cancel_action(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None

    async def _watch(self) -> None:
        try:
            while self._since is not None:
                wait = self._since + DEFER - time.monotonic()
                if wait > 0:  # restarted since this watcher last looked: idle for less
                    await anyio.sleep(wait)
                    continue
                action = self._action
                assert action is not None
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    await action()
                if self._scope is scope:
                    self._scope = None
                if not scope.cancelled_caught:
                    return  # the action ran its course (it closes the connection)
                # stopped or restarted while running: watch the next idle period, if any
        finally:
            self._watching = False


_COALESCE_LIMIT = 1 << 16  # a bigger first chunk is not copied to join its head


class CoalescingH11Protocol(H11Protocol):
    """hypercorn's HTTP/1.1 protocol, writing a `Content-Length` response's head together
    with its first body chunk (see the module's docstring)."""

    _held: bytes | None = None  # the head written by h11 and not yet sent

    async def _send_h11_event(self, event: Any) -> None:
        try:
            data = self.connection.send(event)
        except h11.LocalProtocolError:
            if self.connection.their_state != h11.ERROR:
                raise
            return  # as hypercorn: nothing to send to a client that broke the protocol
        held = self._held
        if type(event) is h11.Response and _has_content_length(event.headers):
            self._held = data
            return
        if held is not None:
            self._held = None
            if len(data) > _COALESCE_LIMIT:
                await self.send(RawData(data=held))
            else:
                data = held + data
        if data:  # the end of a Content-Length body is no bytes at all
            await self.send(RawData(data=data))


def _has_content_length(headers: Any) -> bool:
    for name, _ in headers:  # h11 lowercases header names
        if name == b"content-length":
            return True
    return False


def install(backend: str) -> None:
    """Make hypercorn's TCP connections on `backend` use `DeferredIdleTask` and
    `CoalescingH11Protocol`. Idempotent; a hypercorn whose modules lack the expected names
    keeps its own classes."""
    import hypercorn.protocol

    if backend == "trio":
        import hypercorn.trio.tcp_server as module

        name = "TrioSingleTask"
    else:
        import hypercorn.asyncio.tcp_server as module  # type: ignore[no-redef]

        name = "AsyncioSingleTask"
    if hasattr(module, name):
        setattr(module, name, DeferredIdleTask)
    if hasattr(hypercorn.protocol, "H11Protocol"):
        hypercorn.protocol.H11Protocol = CoalescingH11Protocol  # type: ignore[misc]
