"""`trimcp.settings`: every option's environment variables (`TRIMCP_*` before FastMCP's
`FASTMCP_*`), bad values named, `Settings.resolve`'s precedence, and values assigned at run
time seen by the next app or run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

import trimcp.settings as settings_module
from tests.wire import INITIALIZE, serving
from trimcp import FastMCP
from trimcp.core.mrtr import MrtrKeys
from trimcp.settings import OPTIONS, Settings, settings

# option -> (a value as the environment spells it, what it becomes)
SAMPLES: dict[str, tuple[str, Any]] = {
    "host": ("0.0.0.0", "0.0.0.0"),
    "home": ("/srv/mcp-home", Path("/srv/mcp-home")),
    "port": ("9001", 9001),
    "sse_path": ("/events", "/events"),
    "message_path": ("/post/", "/post/"),
    "streamable_http_path": ("/rpc", "/rpc"),
    "json_response": ("true", True),
    "stateless_http": ("1", True),
    "log_level": ("debug", "DEBUG"),
    "log_enabled": ("false", False),
    "enable_rich_tracebacks": ("0", False),
    "mask_error_details": ("yes", True),
    "strict_input_validation": ("on", True),
    "include_fastmcp_meta": ("false", False),
    "server_auth": ("fastmcp.server.auth.providers.jwt.JWTVerifier", None),
    "resource_prefix_format": ("protocol", "protocol"),
    "client_init_timeout": ("2.5", 2.5),
    "show_cli_banner": ("0", False),
    "deprecation_warnings": ("off", False),
    "backend": ("trio", "trio"),
    "stdio_max_line": ("4096", 4096),
    "client_request_timeout": ("12", 12.0),
    "max_session_requests": ("7", 7),
    "max_server_requests": ("70", 70),
    "mrtr_keys": ("k1,k2", ["k1", "k2"]),
    "http_gc_threshold": ("0", 0),
}
SAMPLES["server_auth"] = (SAMPLES["server_auth"][0], SAMPLES["server_auth"][0])

FASTMCP_DEFAULTS = {  # FastMCP 2.13's fastmcp/settings.py, where trimcp keeps its default
    "host": "127.0.0.1",
    "port": 8000,
    "sse_path": "/sse",
    "message_path": "/messages/",
    "streamable_http_path": "/mcp",
    "json_response": False,
    "stateless_http": False,
    "log_enabled": True,
    "enable_rich_tracebacks": True,
    "mask_error_details": False,
    "strict_input_validation": False,
    "include_fastmcp_meta": True,
    "server_auth": None,
    "resource_prefix_format": "path",
    "show_cli_banner": True,
}


class Configured:
    """A server as `resolve` sees one: FastMCP 2.x constructor settings in `.settings`."""

    def __init__(self, **values: Any) -> None:
        self.settings = values


def test_every_option_has_a_sample() -> None:
    assert set(SAMPLES) == set(OPTIONS)


def test_defaults_without_the_environment_are_fastmcps() -> None:
    defaults = Settings(environ={})
    for name, value in FASTMCP_DEFAULTS.items():
        assert getattr(defaults, name) == value, name
    assert defaults.log_level is None  # run_http leaves logging alone: hypercorn warns only
    assert (defaults.max_session_requests, defaults.max_server_requests) == (10_000, 10_000)
    assert defaults.mrtr_keys is None
    assert defaults.http_gc_threshold == 2000
    assert all(defaults.source(name) is None for name in OPTIONS)


@pytest.mark.parametrize(
    ("name", "variable"),
    [(name, variable) for name, option in OPTIONS.items() for variable in option.variables],
)
def test_each_option_reads_its_trimcp_and_fastmcp_variables(name: str, variable: str) -> None:
    raw, expected = SAMPLES[name]
    configured = Settings(environ={variable: raw})
    assert getattr(configured, name) == expected
    assert configured.source(name) == variable


def test_the_variables_are_fastmcps_names_trimcp_first() -> None:
    assert OPTIONS["port"].variables == ("TRIMCP_PORT", "FASTMCP_PORT")
    assert OPTIONS["show_cli_banner"].variables == (
        "TRIMCP_SHOW_CLI_BANNER",
        "TRIMCP_SHOW_SERVER_BANNER",
        "FASTMCP_SHOW_CLI_BANNER",
        "FASTMCP_SHOW_SERVER_BANNER",
    )


# option -> a FASTMCP_ value unlike its sample, so the winner shows
OTHERS = {
    "port": "1",
    "json_response": "false",
    "stateless_http": "0",
    "log_level": "ERROR",
    "log_enabled": "true",
    "enable_rich_tracebacks": "1",
    "mask_error_details": "no",
    "strict_input_validation": "off",
    "include_fastmcp_meta": "true",
    "resource_prefix_format": "path",
    "client_init_timeout": "1",
    "show_cli_banner": "1",
    "deprecation_warnings": "on",
    "backend": "asyncio",
    "stdio_max_line": "1",
    "client_request_timeout": "1",
    "max_session_requests": "1",
    "max_server_requests": "1",
    "mrtr_keys": "other",
    "http_gc_threshold": "1",
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_trimcp_variable_beats_fastmcp_variable(name: str) -> None:
    raw, expected = SAMPLES[name]
    other = OTHERS.get(name, "/other")
    assert getattr(Settings(environ={f"FASTMCP_{name.upper()}": other}), name) != expected
    configured = Settings(environ={f"TRIMCP_{name.upper()}": raw, f"FASTMCP_{name.upper()}": other})
    assert getattr(configured, name) == expected
    assert configured.source(name) == f"TRIMCP_{name.upper()}"


def test_an_empty_variable_counts_as_unset() -> None:
    configured = Settings(environ={"TRIMCP_PORT": "", "FASTMCP_PORT": "9002", "TRIMCP_HOST": ""})
    assert (configured.host, configured.port) == ("127.0.0.1", 9002)


@pytest.mark.parametrize(
    ("variable", "raw", "complaint"),
    [
        ("FASTMCP_PORT", "eighty", "not an integer"),
        ("TRIMCP_STDIO_MAX_LINE", "4k", "not an integer"),
        ("TRIMCP_CLIENT_REQUEST_TIMEOUT", "soon", "not a number"),
        ("FASTMCP_JSON_RESPONSE", "maybe", "not a boolean"),
        ("FASTMCP_LOG_LEVEL", "loud", "not one of DEBUG"),
        ("FASTMCP_RESOURCE_PREFIX_FORMAT", "url", "not one of path, protocol"),
        ("TRIMCP_BACKEND", "curio", "not one of asyncio, trio"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(
    variable: str, raw: str, complaint: str
) -> None:
    with pytest.raises(ValueError, match=f"^{variable}='{raw}': {complaint}"):
        Settings(environ={variable: raw})


def test_a_bad_value_fails_the_import_with_the_variable_named() -> None:
    """As FastMCP's pydantic settings do: a process started with a broken variable says so."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import trimcp.settings"],
        env={"FASTMCP_PORT": "eighty", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ValueError: FASTMCP_PORT='eighty': not an integer" in result.stderr


def test_settings_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTMCP_HOST", "10.0.0.1")
    monkeypatch.delenv("TRIMCP_HOST", raising=False)
    monkeypatch.setenv("FASTMCP_PORT", "0")
    monkeypatch.delenv("TRIMCP_PORT", raising=False)
    assert (Settings().host, Settings().port) == ("10.0.0.1", 0)
    monkeypatch.setenv("TRIMCP_HOST", "10.0.0.2")
    assert Settings().host == "10.0.0.2"


def test_show_server_banner_is_an_alias_of_show_cli_banner() -> None:
    configured = Settings(environ={"FASTMCP_SHOW_SERVER_BANNER": "false"})
    assert configured.show_cli_banner is False and configured.show_server_banner is False
    configured.show_server_banner = True
    assert configured.show_cli_banner is True
    configured.show_cli_banner = False
    assert configured.show_server_banner is False


def test_source_forgets_a_value_assigned_since() -> None:
    configured = Settings(environ={"FASTMCP_PORT": "9003"})
    assert configured.source("port") == "FASTMCP_PORT"
    configured.port = 9004
    assert configured.source("port") is None


def test_repr_shows_whether_mrtr_keys_are_set_never_the_keys() -> None:
    text = repr(Settings(environ={"TRIMCP_MRTR_KEYS": "s3cret-key"}))
    assert "s3cret" not in text and "mrtr_keys='<set>'" in text
    assert "port=8000" in text


def test_the_module_reads_and_writes_the_options_as_fastmcp_settings_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`trimcp.settings` is the module once imported (FastMCP's `fastmcp.settings` is the
    object): `trimcp.settings.mask_error_details = True` must still reach the servers."""
    import trimcp

    package_settings: Any = vars(trimcp)["settings"]  # what `trimcp.settings` is at run time
    monkeypatch.setattr(settings, "mask_error_details", False)  # restored after the test
    package_settings.mask_error_details = True
    assert settings.mask_error_details is True and "mask_error_details" not in vars(settings_module)
    assert FastMCP("s").mask_error_details is True
    assert package_settings.port == settings.port
    assert package_settings.resolve("port", 1) == 1
    with pytest.raises(AttributeError, match="prot"):
        package_settings.prot  # noqa: B018
    assert package_settings is settings_module


def test_get_setting_and_set_setting_are_fastmcps_spellings() -> None:
    configured = Settings(environ={})
    configured.set_setting("port", 9010)
    assert configured.get_setting("port") == 9010 == configured.port
    with pytest.raises(AttributeError, match="Setting prot does not exist"):
        configured.set_setting("prot", 1)


# -- resolve: explicit > the server's constructor setting > the caller's fallback > settings ---


def test_resolve_takes_the_first_that_is_set() -> None:
    configured = Settings(environ={"FASTMCP_PORT": "9005"})
    server = Configured(port=9006)
    assert configured.resolve("port", 9007, server=server, fallback=9008) == 9007
    assert configured.resolve("port", None, server=server, fallback=9008) == 9006
    assert configured.resolve("port", None, server=Configured(), fallback=9008) == 9008
    assert configured.resolve("port", None, server=Configured()) == 9005
    assert configured.resolve("port") == 9005
    assert configured.resolve("port", 0) == 0  # 0 and False are values, not "unset"
    assert configured.resolve("json_response", False, server=Configured(json_response=True)) is (
        False
    )


def test_resolve_parses_strings_from_the_server_and_the_fallback() -> None:
    configured = Settings(environ={})
    assert configured.resolve("port", server=Configured(port="0")) == 0
    assert configured.resolve("port", fallback="8123") == 8123
    assert configured.resolve("log_level", fallback="trace") == "TRACE"
    with pytest.raises(ValueError, match="not an integer"):
        configured.resolve("port", fallback="eighty")


def test_resolve_ignores_a_server_without_constructor_settings() -> None:
    configured = Settings(environ={"TRIMCP_SSE_PATH": "/events"})
    assert configured.resolve("sse_path", server=object()) == "/events"
    assert configured.resolve("sse_path", server=FastMCP("s")) == "/events"
    assert configured.resolve("sse_path", server=FastMCP("s", sse_path="/s")) == "/s"


def test_resolve_refuses_an_unknown_option() -> None:
    with pytest.raises(KeyError, match="prot"):
        Settings(environ={}).resolve("prot")


# -- assigned at run time, seen by the next server, app or run ---------------------------------


def test_mask_error_details_and_strict_input_validation_follow_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "mask_error_details", True)
    monkeypatch.setattr(settings, "strict_input_validation", True)
    server = FastMCP("s")
    assert server.mask_error_details is True and server.strict_input_validation is True
    explicit = FastMCP("s", mask_error_details=False, strict_input_validation=False)
    assert explicit.mask_error_details is False and explicit.strict_input_validation is False


def test_server_auth_set_at_run_time_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "server_auth", "mycompany.auth.Provider")
    with pytest.raises(NotImplementedError, match=r"trimcp\.settings\.server_auth="):
        FastMCP("x")
    assert FastMCP("x", auth=None).auth is None


def test_server_auth_from_the_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read = Settings(environ={"FASTMCP_SERVER_AUTH": "mycompany.auth.Provider"})
    monkeypatch.setattr(settings_module, "settings", read)
    with pytest.raises(NotImplementedError, match="FASTMCP_SERVER_AUTH='mycompany"):
        FastMCP("x")


def test_mrtr_keys_from_the_settings_seal_what_the_same_keys_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "mrtr_keys", ["shared-key"])
    token = MrtrKeys().seal(b"state")
    assert MrtrKeys(["shared-key"]).open(token) == b"state"
    assert MrtrKeys(["another"]).open(token) is None


def test_http_app_paths_follow_the_settings_assigned_at_run_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "streamable_http_path", "/rpc")
    assert FastMCP("s").http_app().state.path == "/rpc"
    assert FastMCP("s", streamable_http_path="/own").http_app().state.path == "/own"
    assert FastMCP("s").http_app("/given").state.path == "/given"
    monkeypatch.setattr(settings, "sse_path", "/events")
    monkeypatch.setattr(settings, "message_path", "/post/")
    legacy = FastMCP("s").http_app(transport="sse")
    assert legacy.state.path == "/events"
    assert {"/events", "/post/"} <= {getattr(route, "path", None) for route in legacy.routes}


HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.mark.anyio
async def test_run_http_serves_where_the_settings_assigned_at_run_time_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "host", "127.0.0.1")
    monkeypatch.setattr(settings, "streamable_http_path", "/rpc")
    monkeypatch.setattr(settings, "stateless_http", True)
    async with serving(FastMCP("s")) as (address, client):
        assert address.host == "127.0.0.1" and address.url.endswith("/rpc")
        with anyio.fail_after(10):
            answer = await client.post("/rpc", json=INITIALIZE, headers=HEADERS)
        assert answer.status_code == 200
        assert "mcp-session-id" not in answer.headers  # stateless, as the settings said
    monkeypatch.setattr(settings, "stateless_http", False)
    async with serving(FastMCP("s")) as (_, client):
        with anyio.fail_after(10):
            answer = await client.post("/rpc", json=INITIALIZE, headers=HEADERS)
        assert answer.status_code == 200 and answer.headers["mcp-session-id"]
