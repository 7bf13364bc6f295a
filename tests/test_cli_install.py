"""`trimcp install`: config entries written, merged and backed up; `claude mcp add`; mcp-json."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.test_cli_support import CLI_PYTHON, SERVER_SOURCE, cli_env, run_cli, write

EXISTING = {
    "globalShortcut": "Ctrl+Space",
    "mcpServers": {
        "weather": {"command": "uvx", "args": ["weather-mcp"], "env": {"KEY": "secret"}},
    },
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, "server.py", SERVER_SOURCE)
    return tmp_path


def expected_entry(project: Path, *extra_args: str) -> dict[str, object]:
    return {
        "command": CLI_PYTHON,
        "args": ["-m", "trimcp", "run", str(project / "server.py"), *extra_args],
    }


def test_claude_desktop_merges_into_an_existing_config_and_backs_it_up(project: Path) -> None:
    config = project / "claude" / "claude_desktop_config.json"
    config.parent.mkdir()
    original = json.dumps(EXISTING, indent=4)
    config.write_text(original)
    env = cli_env(TRIMCP_CLAUDE_DESKTOP_CONFIG=str(config))
    result = run_cli(
        "install",
        "claude-desktop",
        "server.py",
        "--env",
        "API_KEY=abc",
        "--env",
        "MODE=a=b",
        cwd=project,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert f"added server 'Demo' in {config}" in result.stderr
    assert (project / "claude" / "claude_desktop_config.json.bak").read_text() == original
    data = json.loads(config.read_text())
    assert data["globalShortcut"] == "Ctrl+Space"
    assert data["mcpServers"]["weather"] == EXISTING["mcpServers"]["weather"]
    assert data["mcpServers"]["Demo"] == {
        **expected_entry(project),
        "env": {"API_KEY": "abc", "MODE": "a=b"},
    }

    again = run_cli("install", "claude-desktop", "server.py", cwd=project, env=env)
    assert again.returncode == 0 and "updated server 'Demo'" in again.stderr
    assert json.loads(config.read_text())["mcpServers"]["Demo"] == expected_entry(project)
    assert len(json.loads(config.read_text())["mcpServers"]) == 2


def test_install_creates_a_missing_config_file(project: Path) -> None:
    config = project / "new" / "mcp.json"
    result = run_cli(
        "install",
        "cursor",
        "server.py:mcp",
        "--name",
        "demo",
        "--config-path",
        str(config),
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    assert not (project / "new" / "mcp.json.bak").exists()
    entry = expected_entry(project)
    entry["args"][-1] += ":mcp"  # type: ignore[index]
    assert json.loads(config.read_text()) == {"mcpServers": {"demo": entry}}


def test_cursor_workspace_and_env_override(project: Path) -> None:
    result = run_cli("install", "cursor", "server.py", "--workspace", str(project), cwd=project)
    assert result.returncode == 0, result.stderr
    assert "Demo" in json.loads((project / ".cursor" / "mcp.json").read_text())["mcpServers"]
    override = project / "cursor-home.json"
    env = cli_env(TRIMCP_CURSOR_CONFIG=str(override))
    assert run_cli("install", "cursor", "server.py", cwd=project, env=env).returncode == 0
    assert "Demo" in json.loads(override.read_text())["mcpServers"]


def test_a_malformed_config_is_left_untouched(project: Path) -> None:
    config = project / "broken.json"
    config.write_text("{not json")
    result = run_cli("install", "cursor", "server.py", "--config-path", str(config), cwd=project)
    assert result.returncode == 1
    assert "left it untouched" in result.stderr
    assert config.read_text() == "{not json"
    config.write_text('{"mcpServers": []}')
    result = run_cli("install", "cursor", "server.py", "--config-path", str(config), cwd=project)
    assert result.returncode == 1 and "no mcpServers object" in result.stderr


def test_mcp_json_prints_the_entry_with_env_file_and_server_args(project: Path) -> None:
    (project / ".env").write_text("# settings\nexport TOKEN='t0k'\nDEBUG=1\n\n")
    result = run_cli(
        "install",
        "mcp-json",
        "server.py",
        "--env-file",
        ".env",
        "--env",
        "DEBUG=0",
        "--",
        "--greeting",
        "Hi",
        cwd=project,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "Demo": {
            **expected_entry(project, "--", "--greeting", "Hi"),
            "env": {"TOKEN": "t0k", "DEBUG": "0"},
        }
    }


def test_the_name_falls_back_to_the_file_stem_when_the_server_cannot_load(project: Path) -> None:
    write(project, "needs_dep.py", "import surely_not_installed_pkg\n")
    result = run_cli("install", "mcp-json", "needs_dep.py", cwd=project)
    assert result.returncode == 0, result.stderr
    assert list(json.loads(result.stdout)) == ["needs_dep"]
    assert "see --name" in result.stderr


def test_module_specs_get_the_working_directory_on_pythonpath(project: Path) -> None:
    write(project, "pkg/__init__.py", "")
    write(project, "pkg/srv.py", "from trimcp import FastMCP\nmcp = FastMCP('Pkg')\n")
    result = run_cli("install", "mcp-json", "pkg.srv:mcp", cwd=project)
    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stdout)["Pkg"]
    assert entry["args"][-1] == "pkg.srv:mcp"
    assert entry["env"] == {"PYTHONPATH": str(project)}


def _fake(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.skipif(sys.platform == "win32", reason="shebang scripts stand in for uv and claude")
def test_with_packages_make_a_uv_entry(project: Path) -> None:
    _fake(project / "bin", "uv", "")
    env = cli_env(PATH=f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = run_cli(
        "install",
        "mcp-json",
        "server.py",
        "--with",
        "httpx",
        "--python",
        "3.12",
        "--name",
        "d",
        cwd=project,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["d"] == {
        "command": str(project / "bin" / "uv"),
        "args": [
            "run",
            "--python",
            "3.12",
            "--with",
            "trimcp",
            "--with",
            "httpx",
            "trimcp",
            "run",
            str(project / "server.py"),
        ],
    }


@pytest.mark.skipif(sys.platform == "win32", reason="shebang scripts stand in for uv and claude")
def test_claude_code_runs_claude_mcp_add(project: Path) -> None:
    record = project / "claude-args.json"
    _fake(
        project / "bin",
        "claude",
        f"import json, sys\nopen({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n",
    )
    env = cli_env(PATH=f"{project / 'bin'}{os.pathsep}{os.environ['PATH']}")
    result = run_cli(
        "install", "claude-code", "server.py", "-e", "A=1", "--scope", "user", cwd=project, env=env
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(record.read_text()) == [
        "mcp",
        "add",
        "Demo",
        "--scope",
        "user",
        "-e",
        "A=1",
        "--",
        CLI_PYTHON,
        "-m",
        "trimcp",
        "run",
        str(project / "server.py"),
    ]


def test_claude_code_without_claude_says_so(project: Path) -> None:
    (project / "empty").mkdir()
    result = run_cli(
        "install", "claude-code", "server.py", cwd=project, env=cli_env(PATH=str(project / "empty"))
    )
    assert result.returncode == 1
    assert "the `claude` command (Claude Code) is not on PATH" in result.stderr


def test_bad_env_option_is_refused(project: Path) -> None:
    result = run_cli("install", "mcp-json", "server.py", "--env", "NOEQUALS", cwd=project)
    assert result.returncode == 1 and "bad --env 'NOEQUALS'" in result.stderr


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the Linux default location")
def test_claude_desktop_without_its_config_directory_says_so(project: Path) -> None:
    home = project / "home"
    home.mkdir()
    env = cli_env(HOME=str(home))
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("TRIMCP_CLAUDE_DESKTOP_CONFIG", None)
    result = run_cli("install", "claude-desktop", "server.py", cwd=project, env=env)
    assert result.returncode == 1
    assert "is Claude Desktop installed?" in result.stderr
    (home / ".config" / "Claude").mkdir(parents=True)
    assert run_cli("install", "claude-desktop", "server.py", cwd=project, env=env).returncode == 0
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    assert "Demo" in json.loads(config.read_text())["mcpServers"]
