"""The one place trimcp's settings are resolved: every option, its environment variables, its
default, and the precedence rule (`Settings.resolve`) every transport and the server ask.

Each option reads `TRIMCP_<NAME>`, then FastMCP 2.13's `FASTMCP_<NAME>` (the names FastMCP
users already have; the field names are FastMCP's too), once, when this module is imported,
as FastMCP's pydantic settings are. An empty variable counts as unset. A value that does not
parse raises `ValueError` naming the variable. The attributes are assignable at run time
(`trimcp.settings.settings.port = 9000`, FastMCP's `trimcp.settings.port = 9000` and
`set_setting("port", 9000)`, or `monkeypatch.setattr` in tests); the next server, app or run
reads the new value.

| option | type, default | what it sets |
|---|---|---|
| `host`, `port` | `127.0.0.1`, `8000` | where `run_http` binds |
| `sse_path`, `message_path` | `/sse`, `/messages/` | the legacy HTTP+SSE endpoints |
| `streamable_http_path` | `/mcp` | the streamable HTTP endpoint |
| `json_response`, `stateless_http` | `False`, `False` | streamable HTTP answers JSON / no sessions |
| `log_level` | `None` | `run_http`'s `trimcp` logger and hypercorn's error log (`None`: untouched, hypercorn logs warnings) |
| `log_enabled` | `True` | `trimcp.utilities.logging.configure_logging` sets up the `trimcp` logger (off: leaves it alone) |
| `enable_rich_tracebacks` | `True` | that logging handler shows `rich` tracebacks |
| `home` | the user data directory (`~/.local/share/trimcp` on Linux) | where trimcp may keep a user's data (FastMCP's field; nothing stored there yet) |
| `mask_error_details` | `False` | unexpected exceptions reach clients without their message |
| `strict_input_validation` | `False` | tool arguments are not coerced (`"10"` is no integer) |
| `include_fastmcp_meta` | `True` | components' `_meta.fastmcp` (tags) |
| `server_auth` | `None` | an auth provider's import path: trimcp refuses to serve (no authorization yet) |
| `resource_prefix_format` | `path` | mounted resources: `resource://prefix/path` or `prefix+resource://path` |
| `client_init_timeout` | `30` | seconds a `Client` waits for `initialize` |
| `show_cli_banner` | `True` | the banner on stderr (alias `show_server_banner`, both env names) |
| `deprecation_warnings` | `True` | FastMCP 2.x's deprecated methods warn (`DeprecationWarning`) |
| `backend` | `asyncio` | the event loop `FastMCP.run` and `trimcp run` start (`asyncio`, `trio`) |
| `stdio_max_line` | 16 MiB | the longest stdio message line, both sides |
| `client_request_timeout` | `300` | seconds a server-to-client request (sampling, elicitation, roots) waits |
| `max_session_requests` | `10000` | requests in flight per session; one more gets -32000 (HTTP 429) |
| `max_server_requests` | `10000` | requests in flight per streamable HTTP endpoint; one more gets -32000 (503) |
| `mrtr_keys` | `None` (a random key) | comma-separated keys sealing 2026-07-28 `requestState` |

No pydantic: `import trimcp` must stay cheap, and this module is read by all of it.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["OPTIONS", "Option", "Settings", "settings"]


def _text(raw: str) -> str:
    return raw


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on", "t", "y"):
        return True
    if value in ("0", "false", "no", "off", "f", "n"):
        return False
    raise ValueError("not a boolean (true/false, 1/0, yes/no, on/off)")


def _integer(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("not an integer") from None


def _number(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError("not a number") from None


def _one_of(*choices: str, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip()
        if value not in choices:
            raise ValueError("not one of " + ", ".join(choices))
        return value

    return parse


def _path(raw: str) -> Path:
    return Path(raw.strip()).expanduser()


def _user_data_dir() -> Path:
    """Where a user's trimcp data lives by default (platformdirs' rule, without the import)."""
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "trimcp"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "trimcp"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "trimcp"


def _keys(raw: str) -> list[str]:
    return [key for key in raw.split(",") if key]


class Option(NamedTuple):
    """One setting: its name (FastMCP's where FastMCP has it), how a string becomes its
    value, its default, and the environment variables read for it, first found wins."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    aliases: tuple[str, ...] = ()

    @property
    def variables(self) -> tuple[str, ...]:
        names = (self.name, *self.aliases)
        return tuple(f"{prefix}{n.upper()}" for prefix in ("TRIMCP_", "FASTMCP_") for n in names)

    def convert(self, value: Any) -> Any:
        """A string (from a variable, `uvicorn_config`, ...) parsed; anything else as is."""
        return self.parse(value) if isinstance(value, str) else value


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "TRACE")  # TRACE: uvicorn's

OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        # HTTP (FastMCP 2.13's names and defaults)
        Option("host", _text, "127.0.0.1"),
        Option("port", _integer, 8000),
        Option("sse_path", _text, "/sse"),
        Option("message_path", _text, "/messages/"),
        Option("streamable_http_path", _text, "/mcp"),
        Option("json_response", _boolean, False),
        Option("stateless_http", _boolean, False),
        Option("log_level", _one_of(*_LOG_LEVELS, upper=True), None),
        Option("log_enabled", _boolean, True),
        Option("enable_rich_tracebacks", _boolean, True),
        # the server (FastMCP 2.13's)
        Option("home", _path, _user_data_dir()),
        Option("mask_error_details", _boolean, False),
        Option("strict_input_validation", _boolean, False),
        Option("include_fastmcp_meta", _boolean, True),
        Option("server_auth", _text, None),
        Option("resource_prefix_format", _one_of("path", "protocol"), "path"),
        Option("client_init_timeout", _number, 30.0),
        Option("show_cli_banner", _boolean, True, aliases=("show_server_banner",)),
        Option("deprecation_warnings", _boolean, True),
        # trimcp's own
        Option("backend", _one_of("asyncio", "trio"), "asyncio"),
        Option("stdio_max_line", _integer, 16 * 1024 * 1024),
        Option("client_request_timeout", _number, 300.0),
        Option("max_session_requests", _integer, 10_000),
        Option("max_server_requests", _integer, 10_000),
        Option("mrtr_keys", _keys, None),
        Option("http_gc_threshold", _integer, 2000),
    )
}


class Settings:
    """Process-wide defaults: read once from the environment (`environ`, default
    `os.environ`) when made, assignable at run time. `resolve` is the precedence rule."""

    host: str
    port: int
    sse_path: str
    message_path: str
    streamable_http_path: str
    json_response: bool
    stateless_http: bool
    log_level: str | None
    log_enabled: bool
    enable_rich_tracebacks: bool
    mask_error_details: bool
    strict_input_validation: bool
    include_fastmcp_meta: bool
    server_auth: str | None
    resource_prefix_format: str
    client_init_timeout: float
    show_cli_banner: bool
    deprecation_warnings: bool
    backend: str
    stdio_max_line: int
    client_request_timeout: float
    max_session_requests: int
    max_server_requests: int
    mrtr_keys: list[str] | None
    http_gc_threshold: int

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self._read: dict[str, tuple[str, Any]] = {}
        for option in OPTIONS.values():
            value = option.default
            for variable in option.variables:
                raw = environ.get(variable)
                if raw:
                    try:
                        value = option.parse(raw)
                    except ValueError as exc:
                        raise ValueError(f"{variable}={raw!r}: {exc}") from None
                    self._read[option.name] = (variable, value)
                    break
            else:
                value = self._read_deprecated(option, environ, value)
            setattr(self, option.name, value)

    def _read_deprecated(self, option: Option, environ: Mapping[str, str], value: Any) -> Any:
        """FastMCP 2.x's older prefix, `FASTMCP_SERVER_<NAME>`: honoured, with its warning."""
        variable = f"FASTMCP_SERVER_{option.name.upper()}"
        raw = environ.get(variable)
        if not raw:
            return value
        import logging

        logging.getLogger("trimcp.settings").warning(
            "Using `FASTMCP_SERVER_` environment variables is deprecated. Use `FASTMCP_` "
            "instead (%s).",
            variable,
        )
        try:
            value = option.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{variable}={raw!r}: {exc}") from None
        self._read[option.name] = (variable, value)
        return value

    @property
    def settings(self) -> Settings:
        """FastMCP 2.x's `fastmcp.settings.settings`, deprecated there: this object."""
        import logging

        logging.getLogger("trimcp.settings").warning(
            "Using fastmcp.settings.settings is deprecated. Use fastmcp.settings instead."
        )
        return self

    @property
    def show_server_banner(self) -> bool:
        """trimcp's older name of `show_cli_banner`."""
        return self.show_cli_banner

    @show_server_banner.setter
    def show_server_banner(self, value: bool) -> None:
        self.show_cli_banner = value

    def resolve(
        self, name: str, given: Any = None, *, server: Any = None, fallback: Any = None
    ) -> Any:
        """The value of option `name`, the first that is not `None` of: `given` (an explicit
        argument), the server's constructor setting (`server.transport_settings`, FastMCP 2.x's
        transport keywords), `fallback` (one the caller names, e.g. `uvicorn_config`'s
        host), this object's attribute (the environment or the default). Strings from the
        server or the fallback are parsed as the environment's are."""
        option = OPTIONS[name]
        if given is not None:
            return given
        configured = getattr(server, "transport_settings", None)
        if configured is None:  # not a FastMCP: any object with a dict `settings`
            configured = getattr(server, "settings", None)
        if isinstance(configured, Mapping):
            value = configured.get(name)
            if value is not None:
                return option.convert(value)
        if fallback is not None:
            return option.convert(fallback)
        return getattr(self, name)

    def source(self, name: str) -> str | None:
        """The environment variable option `name` holds the value of (`None`: its default,
        or assigned since)."""
        read = self._read.get(name)
        if read is None or getattr(self, name) != read[1]:
            return None
        return read[0]

    def get_setting(self, name: str) -> Any:
        """FastMCP's spelling of `getattr(settings, name)`."""
        if name not in _NAMES:
            raise AttributeError(f"Setting {name} does not exist.")
        return getattr(self, name)

    def set_setting(self, name: str, value: Any) -> None:
        """FastMCP's spelling of `setattr(settings, name, value)`; an unknown name raises."""
        if name not in _NAMES:
            raise AttributeError(f"Setting {name} does not exist.")
        setattr(self, name, value)

    def __repr__(self) -> str:
        values = []
        for name in OPTIONS:
            value = getattr(self, name)
            if name == "mrtr_keys" and value:
                value = "<set>"  # secrets: say whether there are any, never what they are
            values.append(f"{name}={value!r}")
        return f"Settings({', '.join(values)})"


_NAMES = frozenset(OPTIONS) | {"show_server_banner"}


class _SettingsModule(types.ModuleType):
    """This module, which reads and writes the options through `settings`.

    FastMCP users write `fastmcp.settings.mask_error_details = True`; in trimcp the package's
    `settings` attribute is this module once anything has imported it (Python sets a package's
    attribute to its submodule), so without this that line would set a module global that
    nothing reads: a setting silently ignored. Each option is a property of this class (a data
    descriptor, so `monkeypatch.setattr(trimcp.settings, ...)` restores it by assignment)."""

    def __getattr__(self, name: str) -> Any:  # only names the module itself lacks
        if name in ("resolve", "source", "get_setting", "set_setting"):
            return getattr(self.__dict__["settings"], name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


def _through_settings(name: str) -> property:
    def read(module: types.ModuleType) -> Any:
        return getattr(module.__dict__["settings"], name)

    def write(module: types.ModuleType, value: Any) -> None:
        setattr(module.__dict__["settings"], name, value)

    return property(read, write, doc=f"`settings.{name}`")


for _name in _NAMES:
    setattr(_SettingsModule, _name, _through_settings(_name))

settings = Settings()
sys.modules[__name__].__class__ = _SettingsModule
