"""The `fastmcp.json` file, version 1: `MCPServerConfig` with its `source` (where the server
is), `environment` (the Python environment, through `uv`) and `deployment` (transport,
address, log level, working directory, environment variables, server arguments).

```json
{
  "$schema": "https://gofastmcp.com/public/schemas/fastmcp.json/v1.json",
  "source": {"path": "server.py", "entrypoint": "mcp"},
  "environment": {"python": "3.12", "dependencies": ["httpx"]},
  "deployment": {"transport": "http", "port": 8000, "env": {"API_URL": "${BASE}/v1"}}
}
```

The models are pydantic's (FastMCP's are): an invalid file raises `pydantic.ValidationError`,
and `generate_schema()` gives the JSON schema editors use.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from trimcp.utilities.logging import get_logger
from trimcp.utilities.mcp_server_config.v1.environments.uv import UVEnvironment
from trimcp.utilities.mcp_server_config.v1.sources.filesystem import FileSystemSource

__all__ = ["FASTMCP_JSON_SCHEMA", "Deployment", "MCPServerConfig", "generate_schema"]

logger = get_logger("cli.config")

FASTMCP_JSON_SCHEMA = "https://gofastmcp.com/public/schemas/fastmcp.json/v1.json"
CONFIG_FILE_NAME = "fastmcp.json"

Transport = Literal["stdio", "http", "sse", "streamable-http"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def interpolate_env_vars(value: str) -> str:
    """`value` with each `${NAME}` replaced by the environment variable `NAME`; an unset
    one is left as written."""
    return _VARIABLE.sub(lambda match: os.environ.get(match.group(1), match.group(0)), value)


class Deployment(BaseModel):
    """How the server is run (FastMCP's `Deployment`)."""

    transport: Transport | None = Field(default=None, description="Transport protocol to use")
    host: str | None = Field(
        default=None,
        description="Host to bind to when using HTTP transport",
        examples=["127.0.0.1", "0.0.0.0"],
    )
    port: int | None = Field(
        default=None, description="Port to bind to when using HTTP transport", examples=[8000]
    )
    path: str | None = Field(
        default=None, description="URL path for the server endpoint", examples=["/mcp/"]
    )
    log_level: LogLevel | None = Field(default=None, description="Log level for the server")
    cwd: str | None = Field(
        default=None, description="Working directory for the server process", examples=["."]
    )
    env: dict[str, str] | None = Field(
        default=None,
        description="Environment variables to set when running the server",
        examples=[{"API_KEY": "secret"}],
    )
    args: list[str] | None = Field(
        default=None,
        description="Arguments to pass to the server (after --)",
        examples=[["--config", "config.json"]],
    )

    def apply_runtime_settings(self, config_path: Path | None = None) -> None:
        """Set `env` in `os.environ` (`${NAME}` interpolated) and change to `cwd` (a
        relative one is taken from the directory of `config_path`, when given)."""
        for key, value in (self.env or {}).items():
            os.environ[key] = interpolate_env_vars(value)
        if self.cwd:
            cwd = Path(self.cwd)
            if not cwd.is_absolute() and config_path is not None:
                cwd = (config_path.parent / cwd).resolve()
            os.chdir(cwd)


class MCPServerConfig(BaseModel):
    """A `fastmcp.json` file (FastMCP's `MCPServerConfig`)."""

    schema_: str | None = Field(
        default=FASTMCP_JSON_SCHEMA,
        alias="$schema",
        description="JSON schema for IDE support and validation",
    )
    source: FileSystemSource = Field(
        description="Source configuration for the server",
        examples=[{"path": "server.py"}, {"path": "server.py", "entrypoint": "app"}],
    )
    environment: UVEnvironment = Field(
        default_factory=UVEnvironment, description="Python environment setup configuration"
    )
    deployment: Deployment = Field(
        default_factory=Deployment, description="Server deployment and runtime settings"
    )

    @field_validator("environment", "deployment", mode="before")
    @classmethod
    def _absent_section_is_default(cls, value: Any, info: Any) -> Any:
        # `from_cli_args` passes None for a section no option touched.
        if value is None:
            return UVEnvironment() if info.field_name == "environment" else Deployment()
        return value

    @classmethod
    def from_file(cls, file_path: Path) -> MCPServerConfig:
        """The configuration in `file_path`.

        Raises:
            FileNotFoundError: no such file.
            json.JSONDecodeError: it is not JSON.
            pydantic.ValidationError: it is not a valid configuration.
        """
        if not file_path.exists():
            raise FileNotFoundError(f"Configuration file not found: {file_path}")
        with file_path.open(encoding="utf-8") as f:
            return cls.model_validate(json.load(f))

    @classmethod
    def from_cli_args(
        cls,
        source: FileSystemSource,
        *,
        transport: Transport | None = None,
        host: str | None = None,
        port: int | None = None,
        path: str | None = None,
        log_level: LogLevel | None = None,
        python: str | None = None,
        dependencies: list[str] | None = None,
        requirements: str | None = None,
        project: str | None = None,
        editable: str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        args: list[str] | None = None,
    ) -> MCPServerConfig:
        """The configuration command-line options describe (`streamable-http` is `http`)."""
        environment = None
        if any((python, dependencies, requirements, project, editable)):
            environment = UVEnvironment(
                python=python,
                dependencies=dependencies,
                requirements=Path(requirements) if requirements else None,
                project=Path(project) if project else None,
                editable=[Path(editable)] if editable else None,
            )
        deployment = None
        if any((transport, host, port, path, log_level, env, cwd, args)):
            deployment = Deployment(
                transport="http" if transport == "streamable-http" else transport,
                host=host,
                port=port,
                path=path,
                log_level=log_level,
                env=env,
                cwd=cwd,
                args=args,
            )
        return cls.model_validate(
            {"source": source, "environment": environment, "deployment": deployment}
        )

    @classmethod
    def find_config(cls, start_path: Path | None = None) -> Path | None:
        """`fastmcp.json` in `start_path` (the current directory by default), if there is
        one; parent directories are not searched."""
        candidate = (start_path if start_path is not None else Path.cwd()) / CONFIG_FILE_NAME
        if candidate.exists():
            logger.debug("Found configuration file: %s", candidate)
            return candidate
        return None

    async def prepare(self, *, skip_source: bool = False, output_dir: Path | None = None) -> None:
        """Prepare the environment (a uv project in `output_dir` when given), then the
        source unless `skip_source`."""
        await self.prepare_environment(output_dir=output_dir)
        if not skip_source:
            await self.prepare_source()

    async def prepare_environment(self, output_dir: Path | None = None) -> None:
        await self.environment.prepare(output_dir=output_dir)

    async def prepare_source(self) -> None:
        await self.source.prepare()

    async def run_server(self, **kwargs: Any) -> None:
        """Apply the deployment's environment and directory, load the server and run it with
        the deployment's transport, host, port, path and log level (`kwargs` win)."""
        self.deployment.apply_runtime_settings()
        server = await self.source.load_server()
        options = {
            name: value
            for name in ("transport", "host", "port", "path", "log_level")
            if (value := getattr(self.deployment, name))
        }
        options.update(kwargs)
        await server.run_async(**options)


def generate_schema(output_path: Path | str | None = None) -> dict[str, Any] | None:
    """The JSON schema of `fastmcp.json`; written to `output_path` (and `None` returned)
    when one is given."""
    schema = MCPServerConfig.model_json_schema()
    schema["$id"] = FASTMCP_JSON_SCHEMA
    schema["title"] = "FastMCP Configuration"
    schema["description"] = "Configuration file for FastMCP servers"
    if output_path is None:
        return schema
    output = Path(output_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return None
