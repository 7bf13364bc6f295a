"""FastMCP's response-caching middleware path (`fastmcp.server.middleware.caching`).

FastMCP caches listings, tool results, resource reads and prompts in a key-value store
(`py-key-value`). trimcp does not implement it yet: the per-method settings types are here as
FastMCP spells them, and making a `ResponseCachingMiddleware` raises `NotImplementedError`,
rather than serving uncached while the user believes the answers are cached.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from trimcp.core.middleware import Middleware

__all__ = [
    "CachableReadResourceContents",
    "CachableToolResult",
    "CallToolSettings",
    "GetPromptSettings",
    "ListPromptsSettings",
    "ListResourcesSettings",
    "ListToolsSettings",
    "ReadResourceSettings",
    "ResponseCachingMiddleware",
    "ResponseCachingStatistics",
    "SharedMethodSettings",
]


class SharedMethodSettings(TypedDict):
    """The cache settings of one method: time to live (seconds), on or off."""

    ttl: NotRequired[int]
    enabled: NotRequired[bool]


class ListToolsSettings(SharedMethodSettings):
    """`tools/list` caching."""


class ListResourcesSettings(SharedMethodSettings):
    """`resources/list` caching."""


class ListPromptsSettings(SharedMethodSettings):
    """`prompts/list` caching."""


class CallToolSettings(SharedMethodSettings):
    """`tools/call` caching, for the tools named (or all but those named)."""

    included_tools: NotRequired[list[str]]
    excluded_tools: NotRequired[list[str]]


class ReadResourceSettings(SharedMethodSettings):
    """`resources/read` caching."""


class GetPromptSettings(SharedMethodSettings):
    """`prompts/get` caching."""


def _refuse(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"trimcp does not implement {name} yet (FastMCP's response cache over a key-value "
        "store); refusing to serve uncached answers as if cached"
    )


class ResponseCachingMiddleware(Middleware):
    """FastMCP's response cache: not implemented yet, refused when made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("ResponseCachingMiddleware")


class ResponseCachingStatistics:
    """The cache's hit and miss counts (FastMCP's): refused with the cache."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("ResponseCachingStatistics")


class CachableToolResult:
    """A tool result as the cache stores it (FastMCP's): refused with the cache."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("CachableToolResult")


class CachableReadResourceContents:
    """Resource contents as the cache stores them (FastMCP's): refused with the cache."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise _refuse("CachableReadResourceContents")
