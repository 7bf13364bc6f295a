"""Initialization (handshake era), discovery (2026-07-28) and capabilities."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Implementation, Payload
from trimcp.types.results import CacheableResult, Result

__all__ = [
    "ClientCapabilities",
    "DiscoverResult",
    "InitializeParams",
    "InitializeResult",
    "ServerCapabilities",
]


class ClientCapabilities(Payload, kw_only=True):
    experimental: dict[str, Any] | None = None
    roots: dict[str, Any] | None = None
    sampling: dict[str, Any] | None = None
    elicitation: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


class ServerCapabilities(Payload, kw_only=True):
    experimental: dict[str, Any] | None = None
    logging: dict[str, Any] | None = None
    completions: dict[str, Any] | None = None
    prompts: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    tools: dict[str, Any] | None = None
    extensions: dict[str, Any] | None = None


class InitializeParams(Payload, kw_only=True):
    protocolVersion: str
    capabilities: ClientCapabilities = msgspec.field(default_factory=ClientCapabilities)
    clientInfo: Implementation = msgspec.field(
        default_factory=lambda: Implementation(name="unknown", version="")
    )
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class InitializeResult(Result, kw_only=True):
    protocolVersion: str
    capabilities: ServerCapabilities
    serverInfo: Implementation
    instructions: str | None = None


class DiscoverResult(CacheableResult, kw_only=True):
    supportedVersions: list[str]
    capabilities: ServerCapabilities
    instructions: str | None = None
