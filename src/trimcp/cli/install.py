"""`trimcp install CLIENT SPEC`: register a server with an MCP client application.

| client           | what happens                                                           |
|------------------|------------------------------------------------------------------------|
| `claude-desktop` | merge into `claude_desktop_config.json` (`TRIMCP_CLAUDE_DESKTOP_CONFIG`)|
| `cursor`         | merge into `~/.cursor/mcp.json` (`--workspace DIR`, `TRIMCP_CURSOR_CONFIG`) |
| `claude-code`    | `claude mcp add NAME ... -- COMMAND ARGS` (the `claude` CLI must be on PATH) |
| `mcp-json`       | print `{NAME: ENTRY}` for any client that takes the `mcpServers` format |

An entry is `{"command": ..., "args": [...], "env": {...}}` that runs `trimcp run <absolute
spec>`: with this Python (`python -m trimcp run ...`), or through `uv run --with ...` when
`--with`, `--with-requirements`, `--python` or `--project` is given. An existing config file is
copied to `<file>.bak` first, and only the entry of this server name is added or replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trimcp.cli._common import (
    CommandError,
    add_uv_options,
    dump_json,
    parse_env_file,
    parse_key_values,
    uv_run_prefix,
    wants_uv,
)

if TYPE_CHECKING:
    from trimcp.cli.spec import ServerSpec

__all__ = ["CLIENTS", "build_entry", "command", "configure", "merge_server_entry"]

CLIENTS = ("claude-desktop", "claude-code", "cursor", "mcp-json")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("client", choices=CLIENTS, help="the application to configure")
    parser.add_argument(
        "spec", metavar="SERVER-SPEC", help="file.py[:obj], package.module[:obj] or a URL"
    )
    parser.add_argument(
        "-n", "--name", help="the server's name in the client (default: the server's own name)"
    )
    parser.add_argument(
        "-e",
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an environment variable for the server (repeatable)",
    )
    parser.add_argument("--env-file", metavar="FILE", help="variables from a dotenv file")
    parser.add_argument(
        "--config-path",
        metavar="FILE",
        help="the config file to merge into (claude-desktop, cursor), overriding the default",
    )
    parser.add_argument(
        "--workspace", metavar="DIR", help="cursor: write DIR/.cursor/mcp.json instead"
    )
    parser.add_argument(
        "--scope",
        choices=("local", "user", "project"),
        default="local",
        help="claude-code: where `claude mcp add` records the server (default local)",
    )
    add_uv_options(parser)


def command(args: argparse.Namespace) -> int:
    from trimcp.cli.spec import parse_server_spec

    spec = parse_server_spec(args.spec)
    if spec.kind == "config":
        raise CommandError("install takes one server, not an MCPConfig file")
    env: dict[str, str] = {}
    if args.env_file:
        env.update(parse_env_file(args.env_file))
    env.update(parse_key_values(args.env, what="--env"))
    if spec.kind == "module":
        # the client starts the server from a directory of its choosing
        env.setdefault("PYTHONPATH", os.getcwd())
    name = args.name or _server_name(spec, args.server_args)
    entry = build_entry(spec.absolute(), args, env=env, server_args=args.server_args)

    if args.client == "mcp-json":
        dump_json({name: entry})
        return 0
    if args.client == "claude-code":
        return _claude_code(name, entry, scope=args.scope)
    path = _config_path(args)
    backup, replaced = merge_server_entry(path, name, entry)
    verb = "updated" if replaced else "added"
    note = f" (previous file saved as {backup})" if backup else ""
    print(f"{verb} server {name!r} in {path}{note}", file=sys.stderr)
    if args.client == "claude-desktop":
        print("restart Claude Desktop to load it", file=sys.stderr)
    return 0


def build_entry(
    spec: str, args: argparse.Namespace, *, env: dict[str, str], server_args: list[str]
) -> dict[str, Any]:
    """The `mcpServers` entry that runs `trimcp run spec -- server_args`."""
    run = ["trimcp", "run", spec]
    if server_args:
        run += ["--", *server_args]
    if wants_uv(args):
        prefix = uv_run_prefix(args, absolute_paths=True)
        entry: dict[str, Any] = {"command": prefix[0], "args": [*prefix[1:], *run]}
    else:
        entry = {"command": sys.executable, "args": ["-m", *run]}
    if env:
        entry["env"] = env
    return entry


def _server_name(spec: ServerSpec, server_args: list[str]) -> str:
    """The server's own name if it loads here; otherwise the file stem or module name."""
    import contextlib

    import anyio

    from trimcp.cli.spec import import_server

    if spec.kind == "url":
        return spec.default_name
    saved_argv, saved_path = list(sys.argv), list(sys.path)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # keep stdout for mcp-json
            server = anyio.run(import_server(spec, server_args=server_args))
        return str(server.name)
    except (Exception, SystemExit) as exc:
        print(
            f"note: could not load the server to read its name ({exc}); "
            f"using {spec.default_name!r} (see --name)",
            file=sys.stderr,
        )
        return spec.default_name
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def _claude_desktop_config() -> Path:
    override = os.environ.get("TRIMCP_CLAUDE_DESKTOP_CONFIG")
    if override:
        return Path(override).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "Claude"
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "Claude"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "Claude"
    if not base.is_dir():
        raise CommandError(
            f"Claude Desktop's config directory {base} does not exist: is Claude Desktop "
            "installed? (--config-path or TRIMCP_CLAUDE_DESKTOP_CONFIG writes elsewhere)"
        )
    return base / "claude_desktop_config.json"


def _config_path(args: argparse.Namespace) -> Path:
    if args.config_path:
        return Path(args.config_path).expanduser()
    if args.client == "claude-desktop":
        return _claude_desktop_config()
    if args.workspace:
        workspace = Path(args.workspace).expanduser()
        if not workspace.is_dir():
            raise CommandError(f"--workspace {args.workspace!r} is not a directory")
        return workspace / ".cursor" / "mcp.json"
    override = os.environ.get("TRIMCP_CURSOR_CONFIG")
    return Path(override).expanduser() if override else Path.home() / ".cursor" / "mcp.json"


def merge_server_entry(path: Path, name: str, entry: dict[str, Any]) -> tuple[Path | None, bool]:
    """Put `entry` under `mcpServers[name]` in the JSON file at `path`, keeping everything else.

    Returns:
        The backup of the previous file (None if there was none) and whether `name` was
        already there.

    Raises:
        CommandError: the file exists but is not a JSON object with an `mcpServers` object
            (it is left untouched).
    """
    data: dict[str, Any] = {}
    backup: Path | None = None
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
            loaded = json.loads(text) if text.strip() else {}
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {path} ({exc}); left it untouched") from exc
        if not isinstance(loaded, dict) or not isinstance(loaded.get("mcpServers", {}), dict):
            raise CommandError(f"{path} is not an MCP client config (no mcpServers object)")
        data = loaded
        backup = path.with_name(path.name + ".bak")
        shutil.copy2(path, backup)
    servers = data.setdefault("mcpServers", {})
    replaced = name in servers
    servers[name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.trimcp-tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)  # a reader never sees a half-written file
    return backup, replaced


def _claude_code(name: str, entry: dict[str, Any], *, scope: str) -> int:
    claude = shutil.which("claude")
    if claude is None:
        raise CommandError(
            "the `claude` command (Claude Code) is not on PATH; install Claude Code, or use "
            "`trimcp install mcp-json` and add the entry by hand"
        )
    command = [claude, "mcp", "add", name, "--scope", scope]
    for key, value in entry.get("env", {}).items():
        command += ["-e", f"{key}={value}"]
    command += ["--", entry["command"], *entry["args"]]
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise CommandError(f"`claude mcp add` failed with exit code {completed.returncode}")
    print(f"added server {name!r} to Claude Code ({scope} scope)", file=sys.stderr)
    return 0
