"""Server specs: what `trimcp run|inspect|install|list|call` are pointed at, and how it becomes
a `FastMCP` server.

| spec                          | meaning                                                     |
|-------------------------------|-------------------------------------------------------------|
| `server.py`                   | the object named `mcp`, `server` or `app` in that file      |
| `server.py:obj`               | the object `obj` (a dotted path is allowed: `obj.attr`)     |
| `server.py:create_server`     | a factory: called (awaited if async), must return a server  |
| `package.module[:obj]`, `-m package.module[:obj]` | the same, for an importable module      |
| `http(s)://host/mcp`          | a proxy of that remote server                               |
| `servers.json`                | a proxy of the servers of an MCPConfig file (`mcpServers`)  |

A file is imported under a module name of its own (its stem), never as `__main__`, so its
`if __name__ == "__main__":` block does not run. Its directory goes first on `sys.path`, as
`python file.py` would put it, so sibling imports work; for a module spec the working
directory does, as `python -m` would.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from trimcp.cli._common import CommandError

__all__ = ["DEFAULT_NAMES", "ServerSpec", "import_server", "load_server", "parse_server_spec"]

DEFAULT_NAMES = ("mcp", "server", "app")

NO_PROXY_YET = "proxying a remote server arrives with the composition issue"


@dataclass(frozen=True)
class ServerSpec:
    """A parsed spec. `kind` says which of `path`, `module`, `url`, `config` is set."""

    kind: Literal["file", "module", "url", "config"]
    text: str
    path: Path | None = None
    module: str | None = None
    obj: str | None = None
    url: str | None = None
    config: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def watch_dir(self) -> Path:
        """The directory `--reload` watches."""
        if self.path is not None:
            return self.path.parent
        return Path.cwd()

    @property
    def display(self) -> str:
        return self.text

    def absolute(self) -> str:
        """The spec with an absolute file path (for configs run from another directory)."""
        if self.kind in ("file", "config") and self.path is not None:
            return str(self.path) + (f":{self.obj}" if self.obj else "")
        return self.text

    @property
    def default_name(self) -> str:
        """A name for the server when it is not loaded: the file's stem or the module."""
        if self.path is not None:
            return self.path.stem
        if self.module is not None:
            return self.module.rsplit(".", 1)[-1]
        return "trimcp-proxy"


def _looks_dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def parse_server_spec(text: str | None, *, module: str | None = None) -> ServerSpec:
    """Parse a spec (or `-m module[:obj]`) without importing anything.

    Raises:
        CommandError: the spec names no file, module or URL.
    """
    if module is not None:
        if text is not None:
            raise CommandError("give either a server spec or -m MODULE, not both")
        name, _, attribute = module.partition(":")
        if not _looks_dotted(name) or (attribute and not _looks_dotted(attribute)):
            raise CommandError(f"bad module spec {module!r}: expected package.module[:object]")
        return ServerSpec("module", module, module=name, obj=attribute or None)
    if not text:
        raise CommandError("no server spec: give a file (server.py[:obj]), a module or a URL")
    if text.startswith(("http://", "https://")):
        return ServerSpec("url", text, url=text)

    file_part: str = text
    obj: str | None = None
    head, sep, tail = text.rpartition(":")
    # `server.py:obj`, but not `C:\server.py` (a drive letter) nor a path with no object
    if sep and _looks_dotted(tail) and len(head) > 1:
        file_part, obj = head, tail
    path = Path(file_part).expanduser()
    if path.suffix == ".json":
        if obj is not None:
            raise CommandError(f"bad spec {text!r}: an MCPConfig file takes no ':object'")
        return ServerSpec("config", text, path=_existing(path), config=_read_config(path))
    if path.suffix == ".py" or path.is_file() or os.sep in file_part or "/" in file_part:
        path = _existing(path)
        if path.is_dir():
            raise CommandError(f"{file_part!r} is a directory, not a Python file")
        return ServerSpec("file", text, path=path, obj=obj)
    if _looks_dotted(file_part):
        return ServerSpec("module", text, module=file_part, obj=obj)
    raise CommandError(
        f"bad server spec {text!r}: expected file.py[:object], package.module[:object], "
        "-m module, an http(s):// URL or an MCPConfig .json file"
    )


def _existing(path: Path) -> Path:
    if not path.exists():
        raise CommandError(f"no such file: {str(path)!r}")
    return path.resolve()


def _read_config(path: Path) -> dict[str, Any]:
    path = _existing(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read MCPConfig file {str(path)!r}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise CommandError(f'{str(path)!r} is not an MCPConfig file: it has no "mcpServers" object')
    return data


# -- loading ---------------------------------------------------------------------------------


ServerBuilder = Callable[[], Awaitable[Any]]


async def load_server(spec: ServerSpec, *, server_args: list[str] | None = None) -> Any:
    """`import_server` then the build: the server a spec names, ready to run."""
    return await import_server(spec, server_args=server_args)()


def import_server(spec: ServerSpec, *, server_args: list[str] | None = None) -> ServerBuilder:
    """Import the module a spec names and find its server, outside any event loop (so a
    module may use `asyncio.run` at import time, as under `python server.py`). Returns an
    async function giving the server: the object found, a factory's (awaited) result, or a
    proxy for a URL or MCPConfig.

    `server_args` become `sys.argv[1:]` before the import, so a server's own argparse or
    click reads them.

    Raises:
        CommandError: nothing usable was found; the message names the candidates.
    """
    if spec.kind == "url":
        return functools.partial(_proxy, spec.url)
    if spec.kind == "config":
        return functools.partial(_proxy, spec.config)

    from trimcp.server.server import FastMCP

    if spec.kind == "file":
        assert spec.path is not None
        sys.argv = [str(spec.path), *(server_args or [])]
        module = _import_file(spec.path)
        where = spec.path.name
    else:
        assert spec.module is not None
        sys.argv = [spec.module, *(server_args or [])]
        module = _import_module(spec.module)
        where = spec.module

    if spec.obj is not None:
        target = _attribute(module, spec.obj, where)
        return functools.partial(_as_server, target, f"{where}:{spec.obj}", FastMCP)

    for name in DEFAULT_NAMES:
        value = getattr(module, name, None)
        if isinstance(value, FastMCP):
            return functools.partial(_as_server, value, f"{where}:{name}", FastMCP)
    candidates = sorted(name for name, value in vars(module).items() if isinstance(value, FastMCP))
    if candidates:
        listed = ", ".join(candidates)
        raise CommandError(
            f"no server named {' / '.join(DEFAULT_NAMES)} in {where}; FastMCP servers found: "
            f"{listed} (use {where}:{candidates[0]})"
        )
    factories = sorted(
        name
        for name, value in vars(module).items()
        if inspect.isfunction(value)
        and value.__module__ == module.__name__
        and (name.startswith(("create", "make", "build")) or name.endswith("server"))
    )
    hint = f"; a factory? use {where}:{factories[0]}" if factories else ""
    raise CommandError(
        f"no FastMCP server found in {where} (looked for {', '.join(DEFAULT_NAMES)}){hint}"
    )


def _module_name_for(path: Path) -> str:
    stem = path.stem
    taken = stem in sys.modules or stem in sys.stdlib_module_names or stem == "trimcp"
    if stem.isidentifier() and not taken:
        return stem
    return "_trimcp_server_" + "".join(c if c.isalnum() else "_" for c in stem)


def _import_file(path: Path) -> Any:
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    name = _module_name_for(path)
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise CommandError(f"cannot import {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if isinstance(exc, Exception):
            raise _import_failed(path.name, exc) from exc
        raise  # SystemExit from the server's own argparse, KeyboardInterrupt
    return module


def _import_module(name: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise CommandError(f"no module named {name!r} (from {cwd})") from exc
        raise _import_failed(name, exc) from exc
    except Exception as exc:
        raise _import_failed(name, exc) from exc


def _import_failed(where: str, exc: Exception) -> CommandError:
    """A server that fails to import: its own traceback matters, then one line from us."""
    import traceback

    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return CommandError(
            f"importing {where} failed: no module named {exc.name!r}"
            f" (add it to the environment, e.g. `--with {exc.name.split('.')[0]}`)"
        )
    frames = [  # the server's frames, not the import machinery's
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename != __file__ and not frame.filename.startswith("<frozen")
    ]
    details = (
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(frames))
        + "".join(traceback.format_exception_only(exc))
    ).rstrip()
    return CommandError(f"importing {where} failed: {type(exc).__name__}: {exc}", details=details)


def _attribute(module: Any, dotted: str, where: str) -> Any:
    value = module
    for part in dotted.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise CommandError(f"{where} has no object {dotted!r}") from None
    return value


async def _as_server(target: Any, label: str, server_type: type) -> Any:
    if isinstance(target, server_type):
        return target
    if isinstance(target, type) or not callable(target):
        raise CommandError(
            f"{label} is not a FastMCP server or a factory returning one"
            f" (it is a {type(target).__name__})"
        )
    result = target()
    if inspect.isawaitable(result):
        result = await result
    if not isinstance(result, server_type):
        raise CommandError(
            f"the factory {label} did not return a FastMCP server (it returned"
            f" a {type(result).__name__})"
        )
    return result


async def _proxy(target: Any) -> Any:
    """The seam for proxies: `trimcp.server.proxy.create_proxy(target)` once it exists."""
    if importlib.util.find_spec("trimcp.server.proxy") is None:
        raise CommandError(NO_PROXY_YET)
    create_proxy = getattr(importlib.import_module("trimcp.server.proxy"), "create_proxy", None)
    if create_proxy is None:
        raise CommandError(NO_PROXY_YET)
    server = create_proxy(target)
    if inspect.isawaitable(server):
        server = await server
    return server
