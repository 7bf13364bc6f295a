"""stdio transports that start a server through a launcher (FastMCP's names): Node.js, `uv run`,
`uvx`, `npx`; and `WSTransport`, which trimcp refuses.

```
StdioTransport
├── NodeStdioTransport    node script.js ...
├── UvStdioTransport      uv run [--python V] [--directory D] [--with P]... [--module] command ...
├── UvxStdioTransport     uvx [--python V] [--from P] [--with P]... tool ...
└── NpxStdioTransport     npx [--prefer-offline] package ...
```

Each only builds the command line; the process, its environment (a minimal default plus
`env`/`env_vars`, as for every `StdioTransport`) and `keep_alive` are `StdioTransport`'s.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from trimcp.client.transports import ClientTransport, StdioTransport, script_file

__all__ = [
    "NodeStdioTransport",
    "NpxStdioTransport",
    "UvStdioTransport",
    "UvxStdioTransport",
    "WSTransport",
]


def _existing_directory(path: str | os.PathLike[str] | None) -> str | None:
    if path is None:
        return None
    if not Path(path).exists():
        raise NotADirectoryError(f"Project directory not found: {path}")
    return os.fspath(path)


class NodeStdioTransport(StdioTransport):
    """Run a Node.js script as a stdio server (`node_cmd script_path *args`)."""

    def __init__(
        self,
        script_path: str | os.PathLike[str],
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        node_cmd: str = "node",
        keep_alive: bool | None = None,
        log_file: str | os.PathLike[str] | IO[Any] | None = None,
    ) -> None:
        self.script_path = script_file(script_path, ".js", "JavaScript")
        super().__init__(
            node_cmd,
            [str(self.script_path), *(args or [])],
            env=env,
            cwd=cwd,
            keep_alive=keep_alive,
            log_file=log_file,
        )


class UvStdioTransport(StdioTransport):
    """Run a command (or, with `module=True`, a module) in a uv-managed environment.

    Args:
        command: The script, command or module to run.
        args: Its arguments.
        module: Run `command` as a module (`uv run --module`).
        project_directory: The uv project to run in (`--directory`).
        python_version: The Python to use (`--python`).
        with_packages: Extra packages (`--with`, one each).
        with_requirements: A requirements file (`--with-requirements`).
        env_vars: Variables added to the server's environment.
        keep_alive: See `StdioTransport`.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] | None = None,
        module: bool = False,
        project_directory: str | os.PathLike[str] | None = None,
        python_version: str | None = None,
        with_packages: Sequence[str] | None = None,
        with_requirements: str | os.PathLike[str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        keep_alive: bool | None = None,
    ) -> None:
        directory = _existing_directory(project_directory)
        uv_args = ["run"]
        if python_version:
            uv_args += ["--python", python_version]
        if directory:
            uv_args += ["--directory", directory]
        for package in with_packages or ():
            uv_args += ["--with", package]
        if with_requirements:
            uv_args += ["--with-requirements", os.fspath(with_requirements)]
        if module:
            uv_args.append("--module")
        env = dict(env_vars or {})
        if directory:
            env["UV_PROJECT_DIR"] = directory
        super().__init__(
            "uv", [*uv_args, command, *(args or [])], env=env or None, keep_alive=keep_alive
        )


class UvxStdioTransport(StdioTransport):
    """Run a tool published as a Python package with `uvx`.

    Args:
        tool_name: The tool to run.
        tool_args: Its arguments.
        project_directory: Working directory of the process.
        python_version: The Python to use (`--python`).
        with_packages: Extra packages (`--with`, one each).
        from_package: The package the tool comes from (`--from`).
        env_vars: Variables added to the server's environment.
        keep_alive: See `StdioTransport`.
    """

    def __init__(
        self,
        tool_name: str,
        tool_args: Sequence[str] | None = None,
        project_directory: str | os.PathLike[str] | None = None,
        python_version: str | None = None,
        with_packages: Sequence[str] | None = None,
        from_package: str | None = None,
        env_vars: Mapping[str, str] | None = None,
        keep_alive: bool | None = None,
    ) -> None:
        directory = _existing_directory(project_directory)
        uvx_args: list[str] = []
        if python_version:
            uvx_args += ["--python", python_version]
        if from_package:
            uvx_args += ["--from", from_package]
        for package in with_packages or ():
            uvx_args += ["--with", package]
        self.tool_name = tool_name
        super().__init__(
            "uvx",
            [*uvx_args, tool_name, *(tool_args or [])],
            env=dict(env_vars) if env_vars else None,
            cwd=directory,
            keep_alive=keep_alive,
        )


class NpxStdioTransport(StdioTransport):
    """Run an npm package's server with `npx`.

    Args:
        package: The npm package.
        args: Its arguments.
        project_directory: Working directory of the process (with its `package.json`).
        env_vars: Variables added to the server's environment.
        use_package_lock: Prefer what is installed already (`--prefer-offline`).
        keep_alive: See `StdioTransport`.

    Raises:
        ValueError: `npx` is not on the `PATH`.
    """

    def __init__(
        self,
        package: str,
        args: Sequence[str] | None = None,
        project_directory: str | os.PathLike[str] | None = None,
        env_vars: Mapping[str, str] | None = None,
        use_package_lock: bool = True,
        keep_alive: bool | None = None,
    ) -> None:
        if shutil.which("npx") is None:
            raise ValueError("Command 'npx' not found")
        directory = _existing_directory(project_directory)
        npx_args = ["--prefer-offline"] if use_package_lock else []
        self.package = package
        super().__init__(
            "npx",
            [*npx_args, package, *(args or [])],
            env=dict(env_vars) if env_vars else None,
            cwd=directory,
            keep_alive=keep_alive,
        )


class WSTransport(ClientTransport):
    """FastMCP's deprecated WebSocket transport: trimcp does not implement it."""

    def __init__(self, url: Any) -> None:
        raise NotImplementedError(
            "trimcp has no WebSocket client transport (FastMCP deprecated WSTransport): "
            "connect with StreamableHttpTransport (an http(s):// URL) instead"
        )
