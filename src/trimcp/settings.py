"""Settings with environment overrides: `TRIMCP_*`, and the `FASTMCP_*` names users already
have where they mean the same."""

from __future__ import annotations

import os

__all__ = ["Settings", "settings"]


def _env(name: str, default: str | None = None) -> str | None:
    for prefix in ("TRIMCP_", "FASTMCP_"):
        value = os.environ.get(prefix + name)
        if value is not None:
            return value
    return default


def _flag(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


class Settings:
    """Process-wide defaults; read once from the environment, assignable at run time."""

    def __init__(self) -> None:
        self.show_server_banner: bool = _flag("SHOW_SERVER_BANNER", True)
        self.mask_error_details: bool = _flag("MASK_ERROR_DETAILS", False)
        self.log_level: str = (_env("LOG_LEVEL", "INFO") or "INFO").upper()
        self.backend: str = _env("BACKEND", "asyncio") or "asyncio"
        self.resource_prefix_format: str = _env("RESOURCE_PREFIX_FORMAT", "path") or "path"
        self.stdio_max_line: int = int(_env("STDIO_MAX_LINE", str(16 * 1024 * 1024)) or 0)
        self.client_request_timeout: float = float(_env("CLIENT_REQUEST_TIMEOUT", "300") or 300)
        """Seconds a handshake-era server-to-client request (sampling, elicitation, roots) waits."""
        self.client_init_timeout: float = float(_env("CLIENT_INIT_TIMEOUT", "30") or 30)
        self.max_session_requests: int = int(_env("MAX_SESSION_REQUESTS", "10000") or 10000)
        """Requests one session (stdio, in-memory, legacy SSE or streamable HTTP) may have in
        flight; one more is refused with JSON-RPC error -32000 (HTTP 429). Generous: a stdio
        client may pipeline thousands of calls (each waiting one costs well under 1 KB)."""
        self.max_server_requests: int = int(_env("MAX_SERVER_REQUESTS", "10000") or 10000)
        """Requests one streamable HTTP endpoint may have in flight across its sessions and
        stateless (2026-07-28) requests; one more is refused with -32000 (HTTP 503)."""

    def __repr__(self) -> str:
        return f"Settings({vars(self)})"


settings = Settings()
