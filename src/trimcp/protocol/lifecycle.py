"""The handshake-era session lifecycle, as a transition table.

Theory of operation: a handshake-era session starts AWAITING_INIT. The client's `initialize`
request moves it to INITIALIZING once answered; `notifications/initialized` moves it to
OPERATING. Requests other than `ping` before `initialize` are refused; requests after the
`initialize` answer are served even if `notifications/initialized` has not arrived yet (clients
pipeline them). A second `initialize` is refused. CLOSED refuses everything.

Modern (2026-07-28) requests never consult this table: they carry their own envelope and are
served in any state (shared/SPEC-NOTES.md, omission 2).
"""

from __future__ import annotations

from enum import Enum

from trimcp.protocol.errors import INVALID_REQUEST, ErrorData

__all__ = ["Lifecycle", "SessionEvent", "SessionState"]


class SessionState(Enum):
    __hash__ = object.__hash__  # members are singletons: hash by identity, in C (Enum's is Python)

    AWAITING_INIT = "awaiting_init"
    INITIALIZING = "initializing"
    OPERATING = "operating"
    CLOSED = "closed"


class SessionEvent(Enum):
    __hash__ = object.__hash__

    INITIALIZE = "initialize"  # the initialize request was answered
    INITIALIZED = "initialized"  # notifications/initialized arrived
    REQUEST = "request"  # any other request
    PING = "ping"
    CLOSE = "close"


_S, _E = SessionState, SessionEvent
_NOT_YET = "session not initialized: send initialize first"
_TWICE = "session already initialized"
_CLOSED = "session closed"

# (state, event) -> next state, or the error refusing the event (the state stays).
TRANSITIONS: dict[tuple[SessionState, SessionEvent], SessionState | str] = {
    (_S.AWAITING_INIT, _E.INITIALIZE): _S.INITIALIZING,
    (_S.AWAITING_INIT, _E.INITIALIZED): _NOT_YET,
    (_S.AWAITING_INIT, _E.REQUEST): _NOT_YET,
    (_S.AWAITING_INIT, _E.PING): _S.AWAITING_INIT,
    (_S.INITIALIZING, _E.INITIALIZE): _TWICE,
    (_S.INITIALIZING, _E.INITIALIZED): _S.OPERATING,
    (_S.INITIALIZING, _E.REQUEST): _S.INITIALIZING,
    (_S.INITIALIZING, _E.PING): _S.INITIALIZING,
    (_S.OPERATING, _E.INITIALIZE): _TWICE,
    (_S.OPERATING, _E.INITIALIZED): _S.OPERATING,
    (_S.OPERATING, _E.REQUEST): _S.OPERATING,
    (_S.OPERATING, _E.PING): _S.OPERATING,
    (_S.CLOSED, _E.INITIALIZE): _CLOSED,
    (_S.CLOSED, _E.INITIALIZED): _CLOSED,
    (_S.CLOSED, _E.REQUEST): _CLOSED,
    (_S.CLOSED, _E.PING): _CLOSED,
}
for _state in SessionState:
    TRANSITIONS[(_state, _E.CLOSE)] = _S.CLOSED


_INITIALIZED_STATES = (SessionState.INITIALIZING, SessionState.OPERATING)


class Lifecycle:
    """The state of one handshake-era session; no I/O, no clock."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = SessionState.AWAITING_INIT

    def handle(self, event: SessionEvent) -> ErrorData | None:
        """Apply `event`; return the error to answer with if the state refuses it."""
        outcome = TRANSITIONS[(self.state, event)]
        if isinstance(outcome, str):
            return ErrorData(INVALID_REQUEST, outcome)
        self.state = outcome
        return None

    @property
    def initialized(self) -> bool:
        return self.state in _INITIALIZED_STATES
