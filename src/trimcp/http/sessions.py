"""Handshake-era streamable HTTP sessions.

An `HttpSession` is created by `initialize` (no modern `_meta`) and lives until DELETE, idle
reaping or server shutdown. It owns the `ServerSession` (MCP state), the standalone GET
stream's outbox, its `RequestEngine` (`trimcp.runtime.engine`: its requests in flight and the
server-to-client requests waiting for an answer), and (when resumable) the ids of its SSE
streams in the event store.
`SessionManager` keeps them by id, under a cap that evicts an idle session to make room for a
new one (one that never completed the handshake first, then the least recently used), and
reaps idle ones (those that never completed the handshake sooner), without ever touching a
session that has a request in flight or a stream open. A GET stream's reader that does not
keep up loses messages past its outbox's `stream_buffer`; each stall is logged once, then
with its count.

The SSE responses themselves (`SSEStream`, `SSE_HEADERS`) and the handling of an event store
that fails live in `trimcp.http.sse_response`; both names are still importable from here.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import anyio

from trimcp.http.sse_response import SSE_HEADERS, SSEStream, forget_streams
from trimcp.protocol import jsonrpc
from trimcp.protocol.versions import ASSUMED_HANDSHAKE_VERSION, at_least
from trimcp.runtime.engine import RequestEngine

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from trimcp.core.session import ServerSession
    from trimcp.http.event_store import EventStoreProtocol

__all__ = ["SSE_HEADERS", "HttpSession", "SSEStream", "SessionManager", "new_session_id"]

logger = logging.getLogger("trimcp.http")

STREAM_BUFFER = 256  # messages a GET stream's outbox holds for a slow reader


def new_session_id() -> str:
    """A session id: 128 random bits as hex (visible ASCII, 0x21-0x7E, as the spec asks)."""
    return secrets.token_hex(16)


class HttpSession:
    """One handshake-era session (`Mcp-Session-Id`)."""

    transport = "streamable-http"

    __slots__ = (
        "__weakref__",
        "_active",
        "_manager",
        "_next_stream",
        "_outbox",
        "_stall_drops",
        "_stored_dropped",
        "closed",
        "confirmed",
        "engine",
        "id",
        "last_active",
        "mcp",
        "store",
        "streams",
    )

    def __init__(
        self,
        session_id: str,
        mcp: ServerSession,
        *,
        store: EventStoreProtocol | None,
        engine: RequestEngine,
    ) -> None:
        self.id = session_id
        self.mcp = mcp
        self.engine = engine
        """Serves the session's requests and correlates its server-to-client requests."""
        self.store = store
        self.last_active = time.monotonic()
        self._active = 0  # requests in flight plus open streams
        self._manager: SessionManager | None = None  # set while the manager keeps it
        self.confirmed = False  # the client came back after `initialize` (see SessionManager)
        self.closed = False
        self._outbox: MemoryObjectSendStream[bytes] | None = None  # the GET stream's
        self._stall_drops = 0  # messages dropped since the GET stream stopped keeping up
        self.streams: dict[str, SSEStream] | None = None  # resumable POST streams still live
        self._next_stream = 0
        self._stored_dropped = False

    # -- facts ---------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        return self.id

    @property
    def resumable(self) -> bool:
        """Priming events, event ids and replay: only from 2025-11-25 (SEP-1699)."""
        version = self.mcp.protocol_version
        return self.store is not None and version is not None and at_least(version, "2025-11-25")

    @property
    def accepts_batches(self) -> bool:
        return self.mcp.protocol_version == ASSUMED_HANDSHAKE_VERSION

    @property
    def active(self) -> int:
        """Requests in flight plus open streams: while above 0 the session is never reaped
        nor evicted."""
        return self._active

    @active.setter
    def active(self, count: int) -> None:
        was = self._active
        self._active = count
        manager = self._manager
        if manager is not None and (was == 0) != (count == 0):
            manager.busy += 1 if count else -1
        if not count:
            self.touch()

    def touch(self) -> None:
        """Used now: stamped, and last in its manager's order of use."""
        self.last_active = time.monotonic()
        if self._manager is not None:
            self._manager._order_of(self).move_to_end(self.id)

    def request_started(self) -> None:
        """A request of this session is being served: `active += 1`, without the property
        (the session keeps its place in the order of use: reaping and eviction skip it while
        it is active)."""
        self._active += 1
        if self._active == 1 and self._manager is not None:
            self._manager.busy += 1

    def request_done(self) -> None:
        """The request is answered: `active -= 1` and `touch()` in one step."""
        self._active -= 1
        self.last_active = time.monotonic()
        manager = self._manager
        if manager is not None:
            if not self._active:
                manager.busy -= 1
            # `_order_of` inline: the hot path
            order = manager._confirmed if self.confirmed else manager._unconfirmed
            order.move_to_end(self.id)

    def new_stream_id(self, *, standalone: bool = False) -> str:
        if standalone:
            return f"{self.id}.0"
        self._next_stream += 1
        return f"{self.id}.{self._next_stream}"

    # -- the standalone (GET) stream --------------------------------------------------------

    @property
    def outbox(self) -> MemoryObjectSendStream[bytes] | None:
        """Where messages for the GET stream go; None while no GET stream is open."""
        return self._outbox

    @outbox.setter
    def outbox(self, outbox: MemoryObjectSendStream[bytes] | None) -> None:
        if self._stall_drops:
            self._end_stall("closed")
        self._outbox = outbox

    def open_outbox(self, buffer: int | None = None) -> MemoryObjectReceiveStream[bytes]:
        """Open the GET stream's outbox, holding at most `buffer` messages (default: the
        manager's `stream_buffer`); returns the end the GET stream reads."""
        if buffer is None:
            buffer = self._manager.stream_buffer if self._manager is not None else STREAM_BUFFER
        outbox, inbox = anyio.create_memory_object_stream[bytes](buffer)
        self.outbox = outbox
        return inbox

    def post_message(self, message: bytes) -> bool:
        """Queue a message for the GET stream; False when it is dropped: no GET stream is
        open, or its reader has not kept up and the outbox holds `stream_buffer` messages
        already. The stream stays open (its reader may catch up); a stall is logged once,
        when it begins, and again with the count of dropped messages when the stream
        catches up or closes."""
        outbox = self._outbox
        if outbox is None:
            return False
        try:
            outbox.send_nowait(message)
        except anyio.WouldBlock:
            if not self._stall_drops:
                logger.warning(
                    "session %s: GET stream is not keeping up; dropping messages until it "
                    "catches up",
                    self.id,
                )
            self._stall_drops += 1
            return False
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False
        if self._stall_drops:
            self._end_stall("caught up")
        return True

    def _end_stall(self, how: str) -> None:
        logger.warning(
            "session %s: GET stream %s; %d message(s) were dropped", self.id, how, self._stall_drops
        )
        self._stall_drops = 0

    def post_notification(self, method: str, params: Any = None) -> None:
        """A session-level notification (list changed...) from the server; on the GET stream."""
        if self.closed or not self.mcp.lifecycle.initialized or not self.mcp.wants(method, params):
            return
        self.post_message(jsonrpc.encode_notification(method, params))

    # -- ending ------------------------------------------------------------------------------

    def close_now(self) -> None:
        """Free everything but the stored events: cancel requests, end streams, wake
        waiters. The session refuses everything from now on."""
        if self.closed:
            return
        self.closed = True
        self.mcp.close()
        self.engine.close("session ended")
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None
        self.streams = None

    async def close(self) -> None:
        """Free everything: `close_now()`, then drop the stored events of its streams."""
        self.close_now()
        if self.store is not None and not self._stored_dropped:
            self._stored_dropped = True
            streams = [f"{self.id}.{n}" for n in range(self._next_stream + 1)]
            with anyio.CancelScope(shield=True):
                await forget_streams(self.store, streams)


class SessionManager:
    """Live sessions by id, at most `max_sessions`; idle ones reaped after their timeout, or
    evicted to make room for a new client.

    A session is *unconfirmed* from `initialize` until its client comes back with the
    session id (any request, notification or GET: `get()`); a client that never does has
    not completed the handshake. An unconfirmed session is reaped after
    `handshake_timeout` seconds idle, a confirmed one after `idle_timeout`.

    At the cap, `add()` makes room rather than refusing the new client: it ends the oldest
    idle unconfirmed session, else the least recently used idle one. A session with a
    request in flight or a stream open (`active`) is never reaped nor evicted; only when
    every session is active is the server `full()`. An evicted session is gone like a
    deleted one: its id gets 404 and its client starts a new session (2025-11-25
    basic/transports.mdx, Session Management 4).

    Sessions sit in two `OrderedDict`s (unconfirmed; confirmed), least recently used first,
    active ones too: a request costs O(1) (its end moves the session to the end, its start
    nothing; `busy` counts the active sessions), reaping stops at the first session still
    within its timeout and skips active ones, and eviction takes the first idle one.

    Args:
        idle_timeout: seconds idle before a confirmed session is reaped (None: never).
        max_sessions: the cap on live sessions (None: no cap).
        handshake_timeout: seconds idle before an unconfirmed session is reaped (None:
            never; only evicted at the cap).
        stream_buffer: messages a GET stream's outbox holds for a slow reader; past that,
            messages are dropped and counted (`HttpSession.post_message`).
    """

    def __init__(
        self,
        *,
        idle_timeout: float | None,
        max_sessions: int | None,
        handshake_timeout: float | None = 60.0,
        stream_buffer: int = STREAM_BUFFER,
    ) -> None:
        self.idle_timeout = idle_timeout
        self.stream_buffer = stream_buffer
        self.handshake_timeout = handshake_timeout
        self.max_sessions = max_sessions
        self.sessions: dict[str, HttpSession] = {}
        # every session in one of the two, least recently used first (active ones too)
        self._unconfirmed: OrderedDict[str, HttpSession] = OrderedDict()
        self._confirmed: OrderedDict[str, HttpSession] = OrderedDict()
        self.busy = 0
        """Sessions active now (a request in flight or a stream open)."""
        self._forget: list[HttpSession] = []  # evicted: stored events still to drop
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.sessions)

    def get(self, session_id: str) -> HttpSession | None:
        """The session a client's request names (None: unknown or ended). The client came
        back with the id, so the session is confirmed."""
        session = self.sessions.get(session_id)
        if session is not None and not session.confirmed:
            session.confirmed = True
            if self._unconfirmed.pop(session_id, None) is not None:
                session.last_active = time.monotonic()  # joins the LRU order at its end
                self._confirmed[session_id] = session
        return session

    def full(self) -> bool:
        """At the cap with every session active: no room can be made for a new one."""
        return (
            self.max_sessions is not None
            and len(self.sessions) >= self.max_sessions
            and self.busy >= len(self.sessions)
        )

    def add(self, session: HttpSession) -> None:
        """Keep a new session; at the cap, evict an idle one first (see the class)."""
        if self.max_sessions is not None:
            while len(self.sessions) >= self.max_sessions and self._evict_one():
                pass
        self.sessions[session.id] = session
        session._manager = self
        if session.active:
            self.busy += 1
        self._order_of(session)[session.id] = session

    async def end(self, session_id: str) -> bool:
        session = self._remove(session_id)
        if self._forget:
            await self._drop_evicted()
        if session is None:
            return False
        await session.close()
        return True

    async def _drop_evicted(self) -> None:
        """Drop the stored events of evicted sessions (`add()` cannot wait for the store)."""
        while self._forget:
            await self._forget.pop().close()

    def _remove(self, session_id: str) -> HttpSession | None:
        session = self.sessions.pop(session_id, None)
        if session is not None:
            session._manager = None
            if session.active:
                self.busy -= 1
            self._unconfirmed.pop(session_id, None)
            self._confirmed.pop(session_id, None)
        return session

    def _evict_one(self) -> bool:
        """End the oldest idle unconfirmed session, else the least recently used idle one;
        False when every session is active."""
        session_id = self._first_idle()
        if session_id is None:
            return False
        session = self._remove(session_id)
        assert session is not None
        self.evicted += 1
        logger.debug("session %s evicted to make room for a new one", session_id)
        # idle, so nothing in flight, no stream, nobody waiting: only stored events (async)
        # remain, dropped by the next `reap_idle()` or `end()`
        session.close_now()
        if session.store is not None:
            self._forget.append(session)
        return True

    def _order_of(self, session: HttpSession) -> OrderedDict[str, HttpSession]:
        return self._confirmed if session.confirmed else self._unconfirmed

    def _first_idle(self) -> str | None:
        """The oldest idle unconfirmed session, else the least recently used idle one (the
        active ones before it are skipped: at most as many as requests and streams open)."""
        if self.busy >= len(self.sessions):
            return None
        for order in (self._unconfirmed, self._confirmed):
            for session_id, session in order.items():
                if not session._active:
                    return session_id
        return None

    def idle(self, now: float | None = None) -> list[HttpSession]:
        """Sessions past their idle timeout (unconfirmed ones: `handshake_timeout`) with
        nothing in flight and no stream open, oldest first."""
        now = time.monotonic() if now is None else now
        expired: list[HttpSession] = []
        for sessions, timeout in (
            (self._unconfirmed, self.handshake_timeout),
            (self._confirmed, self.idle_timeout),
        ):
            if timeout is None:
                continue
            limit = now - timeout
            for session in sessions.values():
                if session.last_active > limit:
                    break  # the rest were used more recently
                if not session._active:
                    expired.append(session)
        return expired

    async def reap_idle(self, now: float | None = None) -> int:
        """End idle sessions past their timeout; never one with an active request. How many
        ended."""
        await self._drop_evicted()
        reaped = 0
        for session in self.idle(now):
            if session.active == 0 and not session.closed:  # ending one may have yielded
                await self.end(session.id)
                reaped += 1
        return reaped

    def reap_interval(self) -> float:
        timeouts = [t for t in (self.idle_timeout, self.handshake_timeout) if t is not None]
        if not timeouts:
            return math.inf
        return max(0.05, min(min(timeouts) / 4, 30.0))

    async def close_all(self) -> None:
        for session_id in list(self.sessions):
            await self.end(session_id)
        await self._drop_evicted()
