"""Request bookkeeping of one JSON-RPC peer, sans I/O: what is in flight, what is awaited.

Theory of operation
-------------------
A peer serves the requests it receives and waits for the answers to the requests it sends.
Both need a table, and both tables are pure data: messages (or what a runtime did with them)
go in, decisions come out. Nothing here awaits, spawns, sleeps or reads a clock; the runtime
(`trimcp.runtime.engine.RequestEngine`) acts on the decisions.

**Inbound** (`InflightTable`): each request the peer admitted, keyed by its id (or by any
token unique to it, where ids are not unique: stateless HTTP). A request moves through

    admit()            start(handle)             answering()             finish()
    ------> QUEUED  ---------------->  RUNNING  ------------->  ANSWERING  -------> (gone)
              |                          |
              +------ cancel() ----------+----> CANCELLED (a `Cut`, with or without an answer)

`admit` refuses a request over the table's `limit` (or over a `SharedLimit` several tables
count against) with `SERVER_BUSY`, and a duplicate of an id still in the table with
`INVALID_REQUEST`; a refused request never enters. `start` records the runtime's handle for
it (a cancel scope, opaque here) and tells whether it was cancelled while queued.
`cancel` decides: an unknown, answered or already-cancelled request is left alone; a queued
one never starts; a running one's handle must be cancelled by the caller. Either way the
request becomes a `Cut` that remembers the error it is to be answered with (None: no answer,
as for `notifications/cancelled` on a stream). `answering` is asked once the handler is done
(returned or unwound): it says whether the request was cut (the cut wins over a result that
raced it) and otherwise marks it ANSWERING: too late to cancel, still in flight, so a
shutdown waiting for the table to empty waits for its answer to be written. `finish` removes
it. `clear` drops every entry at once (the connection is gone).

**Outbound** (`OutboundTable`): each request we sent, keyed by the id `next_id` made, mapped
to a waiter slot the runtime owns. `resolve` gives the slot an answer is for (None: a late
answer to a request we gave up on, or one we never sent); `fail_all` gives every slot, to be
failed, when the connection ends.

Errors say who is at fault: a refusal is the remote peer's (it sent too much, or reused an
id), carried as the `ErrorData` to answer it with.
"""

from __future__ import annotations

import enum
import itertools
import sys
from collections.abc import Hashable, Iterator
from typing import Any, Generic, NamedTuple, TypeVar

from trimcp.protocol.errors import INVALID_REQUEST, REQUEST_CANCELLED, SERVER_BUSY, ErrorData
from trimcp.protocol.jsonrpc import RequestId

__all__ = [
    "CUT_AT_SHUTDOWN",
    "DUPLICATE_ID",
    "CancelDecision",
    "Cut",
    "InflightTable",
    "OutboundTable",
    "RequestPhase",
    "SharedLimit",
    "busy_error",
]

DUPLICATE_ID = ErrorData(INVALID_REQUEST, "duplicate request id")
"""The answer to a request whose id is still in flight."""

CUT_AT_SHUTDOWN = ErrorData(REQUEST_CANCELLED, "Request cancelled: the server is shutting down")
"""The answer to a request still running when the grace period at shutdown ends (every
transport: the client is still there to read it)."""


def busy_error(where: str) -> ErrorData:
    """The answer to a request past a concurrency limit (-32000, `SERVER_BUSY`, in the range
    JSON-RPC 2.0 leaves to implementations; MCP defines no code for it)."""
    return ErrorData(SERVER_BUSY, f"Too many concurrent requests {where}; retry later")


class RequestPhase(enum.Enum):
    """Where an inbound request is (`InflightTable.phase`)."""

    QUEUED = "queued"
    RUNNING = "running"
    ANSWERING = "answering"
    CANCELLED = "cancelled"


class Cut:
    """A cancelled request, and the error it is answered with (None: it gets no answer)."""

    __slots__ = ("answer",)

    def __init__(self, answer: ErrorData | None) -> None:
        self.answer = answer

    def __repr__(self) -> str:
        return f"Cut({self.answer!r})"


_GONE = Cut(None)  # `answering` of a request the table no longer holds (cleared)


class _Answering:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ANSWERING"


_ANSWERING = _Answering()

H = TypeVar("H")
W = TypeVar("W")


class CancelDecision(NamedTuple, Generic[H]):
    """What `InflightTable.cancel` decided: whether the request is now cancelled, and the
    handle the runtime must cancel (None when it had not started)."""

    cancelled: bool
    handle: H | None


_NOT_CANCELLED: CancelDecision[Any] = CancelDecision(False, None)


class SharedLimit:
    """A limit several tables count against together (every session of an HTTP endpoint)."""

    __slots__ = ("count", "limit", "refusal")

    def __init__(self, limit: int | None, refusal: ErrorData) -> None:
        self.limit = sys.maxsize if limit is None else limit
        self.refusal = refusal
        self.count = 0

    def full(self) -> bool:
        return self.count >= self.limit


class InflightTable(Generic[H]):
    """The inbound requests in flight (see the module docstring).

    Args:
        limit: requests in flight at once (None: no limit); one more is refused with
            `refusal`.
        refusal: the error a request past `limit` gets.
        shared: a limit counted across tables, checked after this table's own.
    """

    __slots__ = ("_entries", "_limit", "_refusal", "_shared")

    def __init__(
        self,
        *,
        limit: int | None = None,
        refusal: ErrorData | None = None,
        shared: SharedLimit | None = None,
    ) -> None:
        # an entry is None (queued), the runtime's handle (running), `_ANSWERING`, or a `Cut`
        self._entries: dict[Hashable, Any] = {}
        self._limit = sys.maxsize if limit is None else limit
        self._refusal = refusal if refusal is not None else busy_error("for this session")
        self._shared = shared

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[Hashable]:
        return iter(list(self._entries))

    @property
    def refusal(self) -> ErrorData:
        """The error a request past this table's own limit gets."""
        return self._refusal

    def full(self) -> bool:
        """Whether one more request would be refused for a limit (this table's or shared)."""
        shared = self._shared
        return len(self._entries) >= self._limit or (shared is not None and shared.full())

    def admit(self, key: Hashable, handle: H | None = None) -> ErrorData | None:
        """Take in a new request (QUEUED; RUNNING under `handle` if given: `admit` and `start`
        at once); or the error it is refused with: over a limit (this table's first, then
        the shared one), or its key already in flight."""
        entries = self._entries
        if len(entries) >= self._limit:
            return self._refusal
        shared = self._shared
        if shared is not None:
            if shared.count >= shared.limit:
                return shared.refusal
            if key in entries:
                return DUPLICATE_ID
            shared.count += 1
        elif key in entries:
            return DUPLICATE_ID
        entries[key] = handle
        return None

    def start(self, key: Hashable, handle: H) -> Cut | None:
        """The request starts running under `handle`; or the `Cut` it became while queued
        (it must not run: answer the cut, then `finish`)."""
        entries = self._entries
        state = entries.get(key, _GONE)
        if state is None:
            entries[key] = handle
            return None
        return state if type(state) is Cut else _GONE

    def answering(self, key: Hashable) -> Cut | None:
        """The handler is done (returned or unwound): the `Cut` if the request was cancelled
        (or the table cleared), else None, and it is ANSWERING (no longer cancellable)."""
        entries = self._entries
        state = entries.get(key, _GONE)
        if type(state) is Cut:
            return state
        entries[key] = _ANSWERING
        return None

    def pop(self, key: Hashable) -> Cut | None:
        """The handler is done and its answer needs no writing after this (`answering` and
        `finish` at once): the `Cut` if it was cancelled (or the table cleared), else None."""
        state: object = self._entries.pop(key, _GONE)
        if state is _GONE:
            return _GONE
        if self._shared is not None:
            self._shared.count -= 1
        return state if type(state) is Cut else None

    def finish(self, key: Hashable) -> bool:
        """The request is over (its answer written, or none due); True when none is left."""
        entries = self._entries
        if entries.pop(key, _GONE) is not _GONE and self._shared is not None:
            self._shared.count -= 1
        return not entries

    def phase(self, key: Hashable) -> RequestPhase | None:
        """Where the request is; None when the table does not hold it."""
        state = self._entries.get(key, _GONE)
        if state is _GONE:
            return None
        if state is None:
            return RequestPhase.QUEUED
        if state is _ANSWERING:
            return RequestPhase.ANSWERING
        if type(state) is Cut:
            return RequestPhase.CANCELLED
        return RequestPhase.RUNNING

    def cancellable(self) -> list[Hashable]:
        """The keys of the requests that can still be cancelled (queued or running)."""
        return [
            key
            for key, state in self._entries.items()
            if state is not _ANSWERING and type(state) is not Cut
        ]

    def cancel(self, key: Hashable, answer: ErrorData | None = None) -> CancelDecision[H]:
        """Cancel a request: it becomes a `Cut` answered with `answer` (None: no answer).
        Unknown, answering and already cancelled requests are left alone."""
        entries = self._entries
        state = entries.get(key, _ANSWERING)
        if state is _ANSWERING or type(state) is Cut:
            return _NOT_CANCELLED
        entries[key] = Cut(answer)
        return CancelDecision(True, state)

    def cancel_all(self, answer: ErrorData | None = None) -> list[H]:
        """Cancel every request that can be; the handles of those that were running."""
        handles: list[H] = []
        for key in self.cancellable():
            decision = self.cancel(key, answer)
            if decision.handle is not None:
                handles.append(decision.handle)
        return handles

    def clear(self) -> None:
        """Forget every request (the connection is gone); later `finish` calls are no-ops."""
        if self._shared is not None:
            self._shared.count -= len(self._entries)
        self._entries.clear()


class OutboundTable(Generic[W]):
    """The requests we sent that still wait for their answer: id -> the runtime's waiter.

    Args:
        prefix: ids are `prefix` + a counter from 0 when given (`"s0"`, `"s1"`...), else
            integers from 0 (as the official SDK numbers).
    """

    __slots__ = ("_counter", "_prefix", "_waiting")

    def __init__(self, *, prefix: str = "") -> None:
        self._counter = itertools.count(0)
        self._prefix = prefix
        self._waiting: dict[RequestId, W] = {}

    def __len__(self) -> int:
        return len(self._waiting)

    def next_id(self) -> RequestId:
        n = next(self._counter)
        return f"{self._prefix}{n}" if self._prefix else n

    def expect(self, request_id: RequestId, waiter: W) -> None:
        """An answer to `request_id` is awaited by `waiter`."""
        self._waiting[request_id] = waiter

    def forget(self, request_id: RequestId) -> None:
        """Nobody waits for that answer any more (answered, timed out, cancelled)."""
        self._waiting.pop(request_id, None)

    def resolve(self, request_id: RequestId | None) -> W | None:
        """The waiter an answer with this id is for; None if nobody waits for it."""
        if request_id is None:
            return None
        return self._waiting.get(request_id)

    def fail_all(self) -> list[W]:
        """Every waiter, to be failed (the connection ended); the table is left empty."""
        waiters = list(self._waiting.values())
        self._waiting.clear()
        return waiters
