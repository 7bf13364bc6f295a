"""Protocol revisions: an enumerated set, never compared as dates."""

from __future__ import annotations

from enum import Enum

__all__ = [
    "ASSUMED_HANDSHAKE_VERSION",
    "HANDSHAKE_VERSIONS",
    "LATEST_HANDSHAKE_VERSION",
    "LATEST_MODERN_VERSION",
    "MODERN_VERSIONS",
    "SUPPORTED_VERSIONS",
    "Era",
    "at_least",
    "era_of",
    "negotiate_handshake",
]

HANDSHAKE_VERSIONS: tuple[str, ...] = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS: tuple[str, ...] = ("2026-07-28",)
SUPPORTED_VERSIONS: tuple[str, ...] = HANDSHAKE_VERSIONS + MODERN_VERSIONS
LATEST_HANDSHAKE_VERSION = HANDSHAKE_VERSIONS[-1]
LATEST_MODERN_VERSION = MODERN_VERSIONS[-1]
ASSUMED_HANDSHAKE_VERSION = "2025-03-26"
"""What a handshake-era request that states no version is served at: "the server SHOULD assume
protocol version 2025-03-26" (2025-11-25 basic/transports.mdx, Protocol Version Header). Also
the one revision with JSON-RPC batches."""

_ORDER = {v: i for i, v in enumerate(SUPPORTED_VERSIONS)}


class Era(Enum):
    HANDSHAKE = "handshake"
    MODERN = "modern"


def era_of(version: str) -> Era:
    return Era.MODERN if version in MODERN_VERSIONS else Era.HANDSHAKE


def at_least(version: str, reference: str) -> bool:
    """Whether `version` is `reference` or a later known revision (unknown versions: False)."""
    index = _ORDER.get(version)
    return index is not None and index >= _ORDER[reference]


def negotiate_handshake(requested: object) -> str:
    """The version an `initialize` reply announces: the requested one if we speak it in the
    handshake era, otherwise the latest handshake version (never a modern one)."""
    if isinstance(requested, str) and requested in HANDSHAKE_VERSIONS:
        return requested
    return LATEST_HANDSHAKE_VERSION
