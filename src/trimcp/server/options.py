"""The checks of `FastMCP`'s constructor options that are not simply stored: the FastMCP 2.13
options trimcp refuses (rather than ignoring them) and FastMCP 2.x's deprecated transport
settings, kept as the dict `FastMCP.settings` that `run_http` and `create_app` read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["TRANSPORT_SETTINGS", "refuse_unimplemented", "transport_settings"]


def refuse_unimplemented(
    *, auth: Any, tool_transformations: Mapping[str, Any] | None, include_fastmcp_meta: bool | None
) -> None:
    """Refuse the FastMCP 2.13 constructor options trimcp does not implement yet: serving
    without what the user asked for (authorization above all) is worse than not starting.

    `auth` not given (`...`) means what it means to FastMCP 2.13: the provider named by the
    `server_auth` setting (`FASTMCP_SERVER_AUTH`), if set; `auth=None` means none."""
    if auth is ...:
        from trimcp.settings import settings  # at call time: the module's current object

        if settings.server_auth:
            where = settings.source("server_auth") or "trimcp.settings.server_auth"
            raise NotImplementedError(
                f"trimcp does not implement authorization yet ({where}="
                f"{settings.server_auth!r}); refusing to serve without it "
                "(pass auth=None to serve without authorization regardless)"
            )
    elif auth is not None:
        raise NotImplementedError(
            f"trimcp does not implement authorization yet (auth={auth!r}); "
            "refusing to serve without it"
        )
    if tool_transformations:
        raise NotImplementedError(
            "trimcp does not implement tool transformations yet (tool_transformations=...)"
        )
    if include_fastmcp_meta is False:
        raise NotImplementedError(
            "trimcp does not implement include_fastmcp_meta=False yet (it always sends the "
            "_meta.fastmcp tags)"
        )


TRANSPORT_SETTINGS = (
    "log_level",
    "debug",  # Starlette's debug pages: trimcp has none, nothing to switch on
    "host",
    "port",
    "sse_path",
    "message_path",
    "streamable_http_path",
    "json_response",
    "stateless_http",
)
"""FastMCP 2.x's transport settings, constructor keywords deprecated there in favour of
`run`/`http_app` arguments."""


def transport_settings(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The `TRANSPORT_SETTINGS` among a constructor's `arguments` that were given (not
    `None`), in that order: `FastMCP.settings`, which `run_http` and `create_app` read."""
    return {name: arguments[name] for name in TRANSPORT_SETTINGS if arguments.get(name) is not None}
