"""FastMCP 2.13's `fastmcp.json` model, `fastmcp.utilities.mcp_server_config` (issue 16):
the uv command it builds, the file source and how it finds the server, deployment settings,
loading from files and command-line options, the JSON schema."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anyio
import pydantic
import pytest

from trimcp.utilities.mcp_server_config import (
    Deployment,
    FileSystemSource,
    MCPServerConfig,
    UVEnvironment,
    generate_schema,
)
from trimcp.utilities.mcp_server_config.v1.mcp_server_config import FASTMCP_JSON_SCHEMA

COMMAND = ["trimcp", "run", "server.py"]


@pytest.fixture(autouse=True)
def restore_import_state() -> Iterator[None]:
    """Loading a server file puts its directory on `sys.path` and the module in
    `sys.modules`; undo both after each test."""
    path = list(sys.path)
    module = sys.modules.get("server_module")
    yield
    sys.path[:] = path
    if module is None:
        sys.modules.pop("server_module", None)
    else:
        sys.modules["server_module"] = module


def test_empty_environment_runs_the_command_as_it_is() -> None:
    env = UVEnvironment()
    assert env.needs_uv() is False
    assert env.build_command(COMMAND) == COMMAND
    assert UVEnvironment(dependencies=[]).needs_uv() is True  # given, even if empty


def test_uv_command_carries_every_setting() -> None:
    env = UVEnvironment(
        python="3.12",
        dependencies=["pandas", "numpy", "pandas"],
        requirements=Path("req.txt"),
        editable=[Path("pkg")],
    )
    assert env.build_command(COMMAND) == [
        "uv",
        "run",
        "--python",
        "3.12",
        "--with",
        "numpy",
        "--with",
        "pandas",
        "--with-requirements",
        str(Path("req.txt").resolve()),
        "--with-editable",
        str(Path("pkg").resolve()),
        *COMMAND,
    ]


def test_a_project_brings_its_own_python() -> None:
    env = UVEnvironment(project=Path("proj"), python="3.10", dependencies=["x"])
    assert env.build_command(COMMAND) == [
        "uv",
        "run",
        "--project",
        str(Path("proj").resolve()),
        "--with",
        "x",
        *COMMAND,
    ]


@pytest.mark.parametrize(
    ("given", "path", "entrypoint"),
    [
        ({"path": "server.py"}, "server.py", None),
        ({"path": "server.py:app"}, "server.py", "app"),
        ({"path": "server.py:app", "entrypoint": "other"}, "server.py", "other"),
        ({"path": "C:\\srv\\server.py"}, "C:\\srv\\server.py", None),
        ({"path": "C:\\srv\\server.py:mcp"}, "C:\\srv\\server.py", "mcp"),
    ],
)
def test_file_source_takes_the_object_name_from_the_path(
    given: dict[str, str], path: str, entrypoint: str | None
) -> None:
    source = FileSystemSource(**given)
    assert (source.type, source.path, source.entrypoint) == ("filesystem", path, entrypoint)


def test_config_from_file_and_its_defaults(tmp_path: Path) -> None:
    file = tmp_path / "fastmcp.json"
    file.write_text(
        json.dumps(
            {
                "$schema": FASTMCP_JSON_SCHEMA,
                "source": {"path": "src/server.py:app"},
                "environment": {"python": "3.12", "dependencies": ["httpx"]},
                "deployment": {"transport": "http", "port": 8000},
            }
        )
    )
    config = MCPServerConfig.from_file(file)
    assert (config.source.path, config.source.entrypoint) == ("src/server.py", "app")
    assert config.environment.dependencies == ["httpx"]
    assert (config.deployment.transport, config.deployment.port) == ("http", 8000)
    minimal = MCPServerConfig(source={"path": "server.py"})  # type: ignore[arg-type]
    assert minimal.environment == UVEnvironment()
    assert minimal.deployment == Deployment()
    assert minimal.schema_ == FASTMCP_JSON_SCHEMA
    with pytest.raises(FileNotFoundError):
        MCPServerConfig.from_file(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "bad",
    [
        {"source": {"path": "s.py"}, "deployment": {"transport": "carrier-pigeon"}},
        {"source": {"path": "s.py"}, "deployment": {"log_level": "LOUD"}},
        {"environment": {"python": "3.12"}},
    ],
)
def test_invalid_configs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        MCPServerConfig.model_validate(bad)


def test_find_config_looks_in_one_directory(tmp_path: Path) -> None:
    assert MCPServerConfig.find_config(tmp_path) is None
    (tmp_path / "fastmcp.json").write_text("{}")
    assert MCPServerConfig.find_config(tmp_path) == tmp_path / "fastmcp.json"
    child = tmp_path / "child"
    child.mkdir()
    assert MCPServerConfig.find_config(child) is None


def test_from_cli_args_fills_only_given_sections() -> None:
    source = FileSystemSource(path="server.py")
    bare = MCPServerConfig.from_cli_args(source)
    assert bare.environment == UVEnvironment() and bare.deployment == Deployment()
    full = MCPServerConfig.from_cli_args(
        source, transport="streamable-http", port=9000, python="3.12", editable="."
    )
    assert (full.deployment.transport, full.deployment.port) == ("http", 9000)
    assert full.environment.python == "3.12"
    assert full.environment.editable == [Path(".")]


def test_runtime_settings_interpolate_and_change_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    for name in ("API_URL", "KEPT"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "work").mkdir()
    deployment = Deployment(
        env={"API_URL": "https://${STAGE}.example.com", "KEPT": "a_${NOT_SET_ANYWHERE}_b"},
        cwd="work",
    )
    deployment.apply_runtime_settings(tmp_path / "fastmcp.json")
    assert os.environ["API_URL"] == "https://prod.example.com"
    assert os.environ["KEPT"] == "a_${NOT_SET_ANYWHERE}_b"
    assert Path.cwd() == (tmp_path / "work").resolve()


def test_generate_schema_returns_or_writes_it(tmp_path: Path) -> None:
    schema = generate_schema()
    assert schema is not None
    assert schema["$id"] == FASTMCP_JSON_SCHEMA
    assert "source" in schema["required"]
    assert {"source", "environment", "deployment", "$schema"} <= schema["properties"].keys()
    target = tmp_path / "out" / "schema.json"
    assert generate_schema(target) is None
    assert json.loads(target.read_text()) == schema


SERVER_FILE = """
from trimcp import FastMCP

mcp = FastMCP("by-name")
other = FastMCP("by-entrypoint")

def build():
    return FastMCP("from-factory")

async def build_async():
    return FastMCP("from-async-factory")

def not_a_server():
    return 42
"""


@pytest.fixture
def server_file(tmp_path: Path) -> Path:
    file = tmp_path / "my_server.py"
    file.write_text(SERVER_FILE)
    return file


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("suffix", "name"),
    [
        ("", "by-name"),
        (":other", "by-entrypoint"),
        (":build", "from-factory"),
        (":build_async", "from-async-factory"),
    ],
)
async def test_load_server_finds_the_server(server_file: Path, suffix: str, name: str) -> None:
    with anyio.fail_after(10):
        server = await FileSystemSource(path=f"{server_file}{suffix}").load_server()
    assert server.name == name


@pytest.mark.anyio
async def test_load_server_says_what_is_wrong(server_file: Path, tmp_path: Path) -> None:
    with anyio.fail_after(10):
        with pytest.raises(FileNotFoundError, match="File not found"):
            await FileSystemSource(path=str(tmp_path / "nope.py")).load_server()
        with pytest.raises(ValueError, match="Not a file"):
            await FileSystemSource(path=str(tmp_path)).load_server()
        with pytest.raises(ValueError, match="'missing' not found"):
            await FileSystemSource(path=f"{server_file}:missing").load_server()
        with pytest.raises(ValueError, match="must return a FastMCP server instance, got int"):
            await FileSystemSource(path=f"{server_file}:not_a_server").load_server()
        empty = tmp_path / "empty.py"
        empty.write_text("x = 1\n")
        with pytest.raises(ValueError, match="No server object found"):
            await FileSystemSource(path=str(empty)).load_server()


@pytest.mark.anyio
async def test_run_server_passes_the_deployment_to_run_async(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "recording_server.py"
    file.write_text(
        textwrap.dedent(
            """
            calls = []

            class Server:
                name = "recorder"

                async def run_async(self, **options):
                    calls.append(options)

            app = Server()
            """
        )
    )
    config = MCPServerConfig.model_validate(
        {
            "source": {"path": str(file)},
            "deployment": {"transport": "http", "port": 8123, "log_level": "DEBUG"},
        }
    )
    with anyio.fail_after(10):
        await config.run_server(port=9000)
    calls = sys.modules["server_module"].calls
    assert calls == [{"transport": "http", "port": 9000, "log_level": "DEBUG"}]


@pytest.mark.anyio
async def test_prepare_needs_uv_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with anyio.fail_after(10):
        with pytest.raises(RuntimeError, match="uv is not installed"):
            await UVEnvironment(python="3.12").prepare(tmp_path / "env")
