"""What `FastMCP`'s constructor does with the options it does not simply store: the FastMCP
2.13 options trimcp refuses (rather than ignoring them), the flags `trimcp.settings` resolves,
its visibility rules and the options its three component managers are built with, and FastMCP 2.x's deprecated transport
settings, kept as the dict `FastMCP.transport_settings` that `run_http` and `create_app` read.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn

from trimcp.server.composition import prefix_format_of
from trimcp.utilities.registry import Visibility

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = [
    "TRANSPORT_SETTINGS",
    "check_prefix_format",
    "from_fastapi",
    "from_openapi",
    "generated_name",
    "manager_options",
    "refuse_openapi",
    "refuse_unimplemented",
    "resolve_flag",
    "transport_settings",
    "visibility_of",
]


def refuse_openapi(what: str) -> NoReturn:
    """Refuse to build a server from an OpenAPI document (`what`: the entry point used)."""
    raise NotImplementedError(
        f"trimcp does not implement OpenAPI servers yet ({what}): FastMCP's from_openapi, "
        "from_fastapi and FastMCPOpenAPI (legacy and experimental) are planned; until then "
        "write the tools that call your HTTP API with @mcp.tool"
    )


def from_openapi(
    cls: type[Any], /, openapi_spec: dict[str, Any], client: Any, **options: Any
) -> Any:
    """`FastMCP.from_openapi`: a server made of an OpenAPI document; not implemented yet."""
    refuse_openapi("FastMCP.from_openapi")


def from_fastapi(cls: type[Any], /, app: Any, name: str | None = None, **options: Any) -> Any:
    """`FastMCP.from_fastapi`: a server made of a FastAPI app; not implemented yet."""
    refuse_openapi("FastMCP.from_fastapi")


def generated_name(class_name: str, name: str | None) -> str:
    """FastMCP's generated server name: `<class>-<4 hex>` (`<class>-<name>-<4 hex>`)."""
    token = os.urandom(2).hex()  # `secrets.token_hex(2)` without importing secrets (~5 ms)
    return f"{class_name}-{token}" if name is None else f"{class_name}-{name}-{token}"


def refuse_unimplemented(arguments: Mapping[str, Any]) -> None:
    """Refuse the FastMCP 2.13 constructor options trimcp does not implement yet (among the
    constructor's `arguments`): serving without what the user asked for (authorization above
    all) is worse than not starting.

    `auth` not given (`...`) means what it means to FastMCP 2.13: the provider named by the
    `server_auth` setting (`FASTMCP_SERVER_AUTH`), if set; `auth=None` means none."""
    auth = arguments.get("auth", ...)
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


TRANSPORT_SETTINGS = (
    "log_level",
    "debug",  # Starlette's debug mode of the HTTP app (tracebacks in custom routes' 500s)
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
    `None`), in that order: `FastMCP.transport_settings`, which `run_http` and `create_app`
    read. Each one given warns, as FastMCP 2.13 does (deprecated since 2.8), and so does
    `dependencies` (deprecated since 2.11.4)."""
    from trimcp.settings import settings  # at call time: the module's current object

    given = {
        name: arguments[name] for name in TRANSPORT_SETTINGS if arguments.get(name) is not None
    }
    if settings.deprecation_warnings:
        for name in given:
            warnings.warn(
                f"Providing `{name}` when creating a server is deprecated. Provide it when "
                "calling `run` or as a global setting instead.",
                DeprecationWarning,
                stacklevel=3,
            )
    if arguments.get("dependencies") is not None:
        warnings.warn(
            "The 'dependencies' parameter is deprecated as of FastMCP 2.11.4 and will be "
            "removed in a future version. Please specify dependencies in a fastmcp.json "
            "configuration file instead.",
            DeprecationWarning,
            stacklevel=3,
        )
    return given


def resolve_flag(name: str, value: bool | None) -> bool:
    """The boolean setting `name`: `value` if given, else `trimcp.settings`' (environment)."""
    from trimcp.settings import settings  # at call time: the module's current object

    return bool(settings.resolve(name, value))


def check_prefix_format(value: Any) -> Literal["path", "protocol"] | None:
    """`resource_prefix_format` as given (`None`: the process-wide setting, read at use)."""
    if value not in (None, "path", "protocol"):
        raise ValueError("resource_prefix_format must be 'path' or 'protocol'")
    return value  # type: ignore[no-any-return]


def visibility_of(arguments: Mapping[str, Any]) -> Visibility:
    """The visibility rules a server starts with: its `include_tags` and `exclude_tags`."""
    include, exclude = arguments.get("include_tags"), arguments.get("exclude_tags")
    return Visibility(set(include) if include else None, set(exclude) if exclude else None)


def manager_options(server: FastMCP, arguments: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The options `server`'s tool, resource and prompt managers are built with (by kind):
    the duplicate policy (`on_duplicate_<kind>`, else `on_duplicate`, else warn), the change
    hook (the list-changed notification of the kind), and what all three share: error
    masking, the server's visibility and its mounts."""
    shared: dict[str, Any] = {
        "mask_error_details": server.mask_error_details,
        "visibility": server.visibility,
        "mounts": server.composition.mounts,
    }
    options = {
        kind: {
            "duplicate_behavior": arguments.get(f"on_duplicate_{kind}")
            or arguments.get("on_duplicate")
            or "warn",
            "on_change": server.fanout.notifier(f"notifications/{kind}/list_changed"),
            **shared,
        }
        for kind in ("tools", "resources", "prompts")
    }
    options["tools"]["transformations"] = arguments.get("tool_transformations")
    options["resources"]["prefix_format"] = lambda: prefix_format_of(server)
    return options
