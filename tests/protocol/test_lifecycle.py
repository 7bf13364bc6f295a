"""The handshake-era lifecycle table and the modern envelope ladder, with no event loop."""

from __future__ import annotations

import pytest

from trimcp.protocol.envelope import (
    CLIENT_CAPABILITIES_KEY,
    LOG_LEVEL_KEY,
    PROTOCOL_VERSION_KEY,
    Envelope,
    is_modern,
    parse_modern,
)
from trimcp.protocol.errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorData,
)
from trimcp.protocol.lifecycle import TRANSITIONS, Lifecycle, SessionEvent, SessionState
from trimcp.protocol.versions import MODERN_VERSIONS, at_least, negotiate_handshake


def test_every_state_event_pair_has_an_entry():
    for state in SessionState:
        for event in SessionEvent:
            assert (state, event) in TRANSITIONS


def test_requests_before_initialize_are_refused_but_ping_is_not():
    life = Lifecycle()
    assert life.handle(SessionEvent.PING) is None
    refused = life.handle(SessionEvent.REQUEST)
    assert refused is not None and refused.code == INVALID_REQUEST
    assert life.state is SessionState.AWAITING_INIT


def test_initialize_then_initialized_reaches_operating():
    life = Lifecycle()
    assert life.handle(SessionEvent.INITIALIZE) is None
    assert life.state is SessionState.INITIALIZING
    assert life.handle(SessionEvent.REQUEST) is None  # pipelined before `initialized`
    assert life.handle(SessionEvent.INITIALIZED) is None
    assert life.state is SessionState.OPERATING


def test_second_initialize_is_refused():
    life = Lifecycle()
    life.handle(SessionEvent.INITIALIZE)
    assert life.handle(SessionEvent.INITIALIZE) is not None


def test_closed_refuses_everything():
    life = Lifecycle()
    life.handle(SessionEvent.INITIALIZE)
    life.handle(SessionEvent.CLOSE)
    assert all(life.handle(e) is not None for e in (SessionEvent.REQUEST, SessionEvent.PING))


@pytest.mark.parametrize(
    ("requested", "answer"),
    [
        ("2024-11-05", "2024-11-05"),
        ("2025-06-18", "2025-06-18"),
        ("2026-07-28", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
        (5, "2025-11-25"),
    ],
)
def test_initialize_never_announces_a_modern_version(requested, answer):
    assert negotiate_handshake(requested) == answer


def test_versions_compare_as_an_enumerated_set():
    assert at_least("2025-11-25", "2025-06-18")
    assert not at_least("zzzz", "2025-06-18")


def modern_meta(**extra):
    return {PROTOCOL_VERSION_KEY: MODERN_VERSIONS[0], CLIENT_CAPABILITIES_KEY: {}, **extra}


def test_modern_envelope_parses():
    envelope = parse_modern(modern_meta(progressToken="t"))
    assert isinstance(envelope, Envelope) and envelope.modern and envelope.progress_token == "t"
    assert is_modern(modern_meta()) and not is_modern({"progressToken": 1}) and not is_modern(None)


def test_missing_client_capabilities_is_invalid_params():
    error = parse_modern({PROTOCOL_VERSION_KEY: MODERN_VERSIONS[0]})
    assert isinstance(error, ErrorData) and error.code == INVALID_PARAMS


def test_missing_client_info_is_served():
    assert isinstance(parse_modern(modern_meta()), Envelope)


def test_unsupported_version_names_supported_and_requested():
    error = parse_modern({PROTOCOL_VERSION_KEY: "v999", CLIENT_CAPABILITIES_KEY: {}})
    assert isinstance(error, ErrorData) and error.code == UNSUPPORTED_PROTOCOL_VERSION
    assert error.data == {"supported": list(MODERN_VERSIONS), "requested": "v999"}


def test_unknown_log_level_is_invalid_params():
    error = parse_modern(modern_meta(**{LOG_LEVEL_KEY: "loud"}))
    assert isinstance(error, ErrorData) and error.code == INVALID_PARAMS


def test_modern_logs_only_when_asked_and_at_or_above_the_level():
    quiet = parse_modern(modern_meta())
    assert isinstance(quiet, Envelope) and not quiet.wants_log("emergency")
    warn = parse_modern(modern_meta(**{LOG_LEVEL_KEY: "warning"}))
    assert isinstance(warn, Envelope)
    assert warn.wants_log("error") and warn.wants_log("warning") and not warn.wants_log("info")
