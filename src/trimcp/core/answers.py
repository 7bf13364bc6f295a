"""The server's protocol answers: capabilities, `initialize` and `server/discover` results,
and the dressing every 2026-07-28 result gets (`resultType`, `serverInfo`, caching hints)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from trimcp.protocol.envelope import SERVER_INFO_KEY
from trimcp.protocol.versions import MODERN_VERSIONS
from trimcp.types.base import Implementation
from trimcp.types.lifecycle import DiscoverResult, InitializeResult, ServerCapabilities
from trimcp.types.results import CacheableResult, Result

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = [
    "capabilities",
    "discover_result",
    "finish_modern",
    "implementation",
    "initialize_result",
    "server_info_meta",
]


R = TypeVar("R", bound=Result)


def capabilities(server: FastMCP) -> ServerCapabilities:
    """What the server serves: every method family it answers, exactly (SPEC-NOTES 14)."""
    return ServerCapabilities(
        tools={"listChanged": True},
        resources={"subscribe": True, "listChanged": True},
        prompts={"listChanged": True},
        logging={},
        completions={} if server.completion_handler is not None else None,
    )


def implementation(server: FastMCP) -> Implementation:
    return Implementation(
        name=server.name,
        version=server.version,
        websiteUrl=server.website_url,
        icons=server.icons or None,
    )


def initialize_result(server: FastMCP, version: str) -> InitializeResult:
    return InitializeResult(
        protocolVersion=version,
        capabilities=capabilities(server),
        serverInfo=implementation(server),
        instructions=server.instructions,
    )


def discover_result(server: FastMCP) -> DiscoverResult:
    return server.finish_modern(
        DiscoverResult(
            supportedVersions=list(MODERN_VERSIONS),
            capabilities=capabilities(server),
            instructions=server.instructions,
        ),
    )


def server_info_meta(server: FastMCP) -> dict[str, Any]:
    """The `serverInfo` a 2026-07-28 result carries in `_meta` (the server caches it)."""
    info: dict[str, Any] = msgspec.to_builtins(implementation(server))
    return info


def finish_modern(server: FastMCP, result: R) -> R:
    """Dress a result for 2026-07-28: `resultType`, `serverInfo` (`server.server_info_meta`) in
    `_meta`, and caching hints on complete cacheable results (never on `input_required` ones).
    `FastMCP.finish_modern` is this function."""
    info = server.server_info_meta
    meta = {**result.meta, SERVER_INFO_KEY: info} if result.meta else {SERVER_INFO_KEY: info}
    result_type = result.resultType or "complete"
    if isinstance(result, CacheableResult) and result_type == "complete":
        return msgspec.structs.replace(
            result,
            meta=meta,
            resultType=result_type,
            ttlMs=server.cache_ttl_ms if result.ttlMs is None else result.ttlMs,
            cacheScope=server.cache_scope if result.cacheScope is None else result.cacheScope,
        )
    return msgspec.structs.replace(result, meta=meta, resultType=result_type)
