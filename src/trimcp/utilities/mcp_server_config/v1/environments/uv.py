"""The `uv` environment of `fastmcp.json`: a Python version, packages, a requirements file,
a project and editable installs, applied by running the server under `uv run`."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import Field

from trimcp.utilities.logging import get_logger
from trimcp.utilities.mcp_server_config.v1.environments.base import Environment

__all__ = ["UVEnvironment"]

logger = get_logger("cli.config")

_UV_MISSING = (
    "uv is not installed. Please install it with: curl -LsSf https://astral.sh/uv/install.sh | sh"
)


class UVEnvironment(Environment):
    """A Python environment made by `uv` (FastMCP's `UVEnvironment`)."""

    type: Literal["uv"] = "uv"
    python: str | None = Field(
        default=None, description="Python version constraint", examples=["3.11", "3.12"]
    )
    dependencies: list[str] | None = Field(
        default=None,
        description="Python packages to install with PEP 508 specifiers",
        examples=[["httpx", "pandas>=2.0"]],
    )
    requirements: Path | None = Field(
        default=None,
        description="Path to requirements.txt file",
        examples=["requirements.txt"],
    )
    project: Path | None = Field(
        default=None,
        description="Path to project directory containing pyproject.toml",
        examples=[".", "../my-project"],
    )
    editable: list[Path] | None = Field(
        default=None,
        description="Directories to install in editable mode",
        examples=[[".", "../my-package"]],
    )

    def needs_uv(self) -> bool:
        """Whether any setting asks for `uv run` (an empty config runs commands as they are)."""
        return any(
            value is not None
            for value in (
                self.python,
                self.dependencies,
                self.requirements,
                self.project,
                self.editable,
            )
        )

    def build_command(self, command: list[str]) -> list[str]:
        """`command` under `uv run` with this environment's options, or `command` itself
        when nothing is set.

        A project brings its own Python, so `python` is left out with `project`; packages,
        the requirements file and editable installs are added on top of either. Paths are
        made absolute; packages are sorted and given once.
        """
        if not self.needs_uv():
            return command
        args = ["uv", "run"]
        if self.project:
            args += ["--project", str(self.project.resolve())]
        elif self.python:
            args += ["--python", self.python]
        for dependency in sorted(set(self.dependencies or ())):
            args += ["--with", dependency]
        if self.requirements:
            args += ["--with-requirements", str(self.requirements.resolve())]
        for path in self.editable or ():
            args += ["--with-editable", str(path.resolve())]
        return [*args, *command]

    async def prepare(self, output_dir: Path | None = None) -> None:
        """Make a uv project holding this environment (in `output_dir`, or a temporary
        directory) and install it: the Python pin, the packages plus trimcp, the
        requirements file, the editable installs.

        Raises:
            RuntimeError: `uv` is not on `PATH`, or one of its steps failed (with its
                output).
        """
        if shutil.which("uv") is None:
            raise RuntimeError(_UV_MISSING)
        if not self.needs_uv():
            logger.debug("No environment settings configured, skipping preparation")
            return
        if output_dir is None:
            output_dir = Path(tempfile.mkdtemp(prefix="trimcp-env-"))
        output_dir = output_dir.resolve()
        logger.info("Creating environment in %s", output_dir)
        project = ["--project", str(output_dir)]
        await _uv(
            "initialize project",
            ["init", *project, "--name", "trimcp-env"],
            already_initialized_ok=True,
        )
        if self.python:
            await _uv("pin Python version", ["python", "pin", self.python, *project])
        packages = [*(self.dependencies or ()), "trimcp"]
        await _uv("add dependencies", ["add", *packages, "--no-sync", *project])
        if self.requirements:
            requirements = str(self.requirements.resolve())
            await _uv("add requirements", ["add", "-r", requirements, "--no-sync", *project])
        if self.editable:
            paths = [str(path.resolve()) for path in self.editable]
            await _uv("add editable packages", ["add", "--editable", *paths, "--no-sync", *project])
        await _uv("sync dependencies", ["sync", *project])
        logger.info("Environment prepared in %s", output_dir)


async def _uv(step: str, args: list[str], *, already_initialized_ok: bool = False) -> None:
    """Run `uv *args`; `RuntimeError` naming `step` when it fails (an already initialized
    project is fine when `already_initialized_ok`)."""
    import anyio

    try:
        await anyio.run_process(["uv", *args], check=True)
    except subprocess.CalledProcessError as exc:
        stderr = (exc.stderr or b"").decode(errors="replace")
        if already_initialized_ok and "already initialized" in stderr.lower():
            return
        raise RuntimeError(f"Failed to {step}: {stderr}") from exc
