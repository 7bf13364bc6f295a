"""The per-request envelope: everything a handler may need to know about who asked and how.

One envelope model serves both eras (shared/DESIGN.md §2). In the handshake era its fields
come from the session's `initialize`; in 2026-07-28 from the request's own `_meta`, which is
checked here (the modern validation ladder, without the HTTP header rung).
"""

from __future__ import annotations

from typing import Any, TypeGuard

from trimcp.protocol.errors import INVALID_PARAMS, UNSUPPORTED_PROTOCOL_VERSION, ErrorData
from trimcp.protocol.versions import MODERN_VERSIONS, Era

__all__ = [
    "CLIENT_CAPABILITIES_KEY",
    "CLIENT_INFO_KEY",
    "LOG_LEVELS",
    "LOG_LEVEL_KEY",
    "PROTOCOL_VERSION_KEY",
    "SERVER_INFO_KEY",
    "SUBSCRIPTION_ID_KEY",
    "Envelope",
    "is_modern",
    "parse_modern",
]

PREFIX = "io.modelcontextprotocol/"
PROTOCOL_VERSION_KEY = PREFIX + "protocolVersion"
CLIENT_CAPABILITIES_KEY = PREFIX + "clientCapabilities"
CLIENT_INFO_KEY = PREFIX + "clientInfo"
LOG_LEVEL_KEY = PREFIX + "logLevel"
SERVER_INFO_KEY = PREFIX + "serverInfo"
SUBSCRIPTION_ID_KEY = PREFIX + "subscriptionId"

# RFC 5424 severities, least severe first: the index orders them.
LOG_LEVELS: tuple[str, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)
LOG_LEVEL_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}


# enum members as module constants: `Era.MODERN` is a class attribute lookup through the
# enum machinery (~0.2 µs on CPython 3.11), and these are read on every request
_MODERN = Era.MODERN
_HANDSHAKE = Era.HANDSHAKE


class Envelope:
    """Who sent a request and what it asked for besides its params."""

    __slots__ = (
        "client_capabilities",
        "client_info",
        "era",
        "log_level",
        "meta",
        "modern",
        "progress_token",
        "protocol_version",
    )

    def __init__(
        self,
        era: Era,
        protocol_version: str,
        client_capabilities: dict[str, Any],
        client_info: dict[str, Any] | None = None,
        log_level: str | None = None,
        progress_token: str | int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        # positional too: one per request, and keywords cost ~0.5 µs
        self.era = era
        self.modern = era is _MODERN  # read on every request: a slot, not a property
        self.protocol_version = protocol_version
        self.client_capabilities = client_capabilities
        self.client_info = client_info
        self.log_level = log_level
        self.progress_token = progress_token
        self.meta = meta

    def wants_log(self, level: str) -> bool:
        """Whether a log message at `level` may be sent for this request."""
        if self.log_level is None:
            return self.era is _HANDSHAKE
        return LOG_LEVEL_RANK.get(level, 0) >= LOG_LEVEL_RANK[self.log_level]


def is_modern(meta: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """A request carrying the modern envelope is served statelessly (2026-07-28)."""
    return meta is not None and PROTOCOL_VERSION_KEY in meta


def _progress_token(meta: dict[str, Any] | None) -> str | int | None:
    if meta is None:
        return None
    token = meta.get("progressToken")
    if token is not None and isinstance(token, (str, int)) and not isinstance(token, bool):
        return token
    return None


def parse_modern(meta: dict[str, Any]) -> Envelope | ErrorData:
    """Check a modern `_meta` and build its envelope, or say what is wrong with it."""
    # the usual `_meta` in one test (a version of ours is a str; a log level, if any, one
    # of ours); anything else is sorted out by `_modern_error`, in its order
    version = meta.get(PROTOCOL_VERSION_KEY)
    capabilities = meta.get(CLIENT_CAPABILITIES_KEY)
    log_level = meta.get(LOG_LEVEL_KEY)
    if (
        version in MODERN_VERSIONS
        and isinstance(capabilities, dict)
        and (log_level is None or (isinstance(log_level, str) and log_level in LOG_LEVEL_RANK))
    ):
        client_info = meta.get(CLIENT_INFO_KEY)
        return Envelope(
            _MODERN,
            version,
            capabilities,
            client_info if isinstance(client_info, dict) else None,
            log_level,
            _progress_token(meta),
            meta,
        )
    return _modern_error(meta)


def _modern_error(meta: dict[str, Any]) -> ErrorData:
    """What is wrong with a `_meta` `parse_modern` did not accept, the first failure."""
    if PROTOCOL_VERSION_KEY not in meta or CLIENT_CAPABILITIES_KEY not in meta:
        missing = [
            key for key in (PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY) if key not in meta
        ]
        return ErrorData(
            INVALID_PARAMS, f"params._meta is missing the required key(s): {', '.join(missing)}"
        )
    version = meta[PROTOCOL_VERSION_KEY]
    if not isinstance(version, str):
        return ErrorData(INVALID_PARAMS, f"{PROTOCOL_VERSION_KEY} must be a string")
    if version not in MODERN_VERSIONS:
        return unsupported_version(version)
    capabilities = meta[CLIENT_CAPABILITIES_KEY]
    if not isinstance(capabilities, dict):
        return ErrorData(INVALID_PARAMS, f"{CLIENT_CAPABILITIES_KEY} must be an object")
    # the log level is what is left (`in` on a dict would raise TypeError for a list)
    return ErrorData(INVALID_PARAMS, f"{LOG_LEVEL_KEY} must be one of {', '.join(LOG_LEVELS)}")


def unsupported_version(requested: str) -> ErrorData:
    return ErrorData(
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported protocol version: {requested}",
        {"supported": list(MODERN_VERSIONS), "requested": requested},
    )


def handshake_envelope(
    *,
    protocol_version: str,
    client_capabilities: dict[str, Any],
    client_info: dict[str, Any] | None,
    log_level: str | None,
    meta: dict[str, Any] | None,
) -> Envelope:
    return Envelope(
        _HANDSHAKE,
        protocol_version,
        client_capabilities,
        client_info,
        log_level,
        _progress_token(meta),
        meta,
    )
