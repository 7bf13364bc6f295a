"""The file source of `fastmcp.json`: a Python file and the name of the server in it (or of a
function that builds it).

`path` may carry the name itself, `server.py:app` (a Windows drive letter is not taken for
one). Without a name, the file's `mcp`, `server` or `app` is used, the first that is a
server. A function (sync or async) found under the name is called with no arguments and must
return a server.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import Field, model_validator

from trimcp.utilities.logging import get_logger
from trimcp.utilities.mcp_server_config.v1.sources.base import Source

__all__ = ["FileSystemSource"]

logger = get_logger("cli.config")

_STANDARD_NAMES = ("mcp", "server", "app")
_MODULE_NAME = "server_module"  # the name the file is imported under, as FastMCP's


def _split_object(path: str) -> tuple[str, str | None]:
    """`"server.py:app"` -> `("server.py", "app")`; a drive letter (`C:\\x.py`) is no name."""
    rest = path[2:] if len(path) > 1 and path[1] == ":" else path
    if ":" not in rest:
        return path, None
    file, name = path.rsplit(":", 1)
    return file, name


def is_server(obj: Any) -> bool:
    """A trimcp `FastMCP` (anything served by `run_async`) or the official SDK's FastMCP 1.x
    server, recognised without importing either."""
    sdk = sys.modules.get("mcp.server.fastmcp")
    if sdk is not None and isinstance(obj, sdk.FastMCP):
        return True
    return not isinstance(obj, type) and callable(getattr(obj, "run_async", None))


class FileSystemSource(Source):
    """A server in a local Python file (FastMCP's `FileSystemSource`)."""

    type: Literal["filesystem"] = "filesystem"
    path: str = Field(description="Path to Python file containing the server")
    entrypoint: str | None = Field(
        default=None,
        description=(
            "Name of server instance or factory function "
            "(a no-arg function that returns a FastMCP server)"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _take_object_from_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("path"), str):
            file, name = _split_object(data["path"])
            if name is not None:
                data = {**data, "path": file}
                if data.get("entrypoint") is None:
                    data["entrypoint"] = name
        return data

    async def load_server(self) -> Any:
        """Import the file and return its server.

        Raises:
            FileNotFoundError: the file does not exist.
            ValueError: it is not a file, holds no server under the name (or the standard
                names), or a factory did not return a server.
        """
        file, module = _import_file(self.path)
        if self.entrypoint:
            obj = _named_object(module, self.entrypoint)
            if obj is None:
                raise ValueError(f"Server object {self.entrypoint!r} not found in {file}")
            return await _resolve(obj, self.entrypoint, file)
        for name in _STANDARD_NAMES:
            obj = getattr(module, name, None)
            if obj is not None and is_server(obj):
                return await _resolve(obj, name, file)
        raise ValueError(
            f"No server object found in {file}. Please either:\n"
            "1. Use a standard variable name (mcp, server, or app)\n"
            "2. Specify the entrypoint name in fastmcp.json or use `file.py:object` syntax "
            "as your path."
        )


def _import_file(path: str) -> tuple[Path, ModuleType]:
    file = Path(path).expanduser().resolve()
    if not file.exists():
        raise FileNotFoundError(f"File not found: {file}")
    if not file.is_file():
        raise ValueError(f"Not a file: {file}")
    # The file's directory goes on `sys.path` so the file's own imports of its neighbours work.
    directory = str(file.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, file)
    if spec is None or spec.loader is None:
        raise ValueError(f"Could not load module from {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return file, module


def _named_object(module: ModuleType, entrypoint: str) -> Any:
    if ":" in entrypoint:  # `package.module:object`, FastMCP's older spelling
        module_name, name = entrypoint.split(":", 1)
        return getattr(importlib.import_module(module_name), name, None)
    return getattr(module, entrypoint, None)


async def _resolve(obj: Any, name: str, file: Path) -> Any:
    """`obj`, or what calling it returns when it is a factory function."""
    if not (inspect.isfunction(obj) or inspect.iscoroutinefunction(obj)):
        return obj
    logger.debug("Calling factory function %r in %s", name, file)
    server = obj()
    if inspect.isawaitable(server):
        server = await server
    if not is_server(server):
        raise ValueError(
            f"Factory function {name!r} must return a FastMCP server instance, "
            f"got {type(server).__name__}"
        )
    return server
