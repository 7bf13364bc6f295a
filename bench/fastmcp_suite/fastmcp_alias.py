"""Import alias for the FastMCP-suite venv: every `fastmcp` / `fastmcp.X` is `trimcp` / `trimcp.X`.

Loaded at interpreter start by `fastmcp_alias.pth` (written by `bench/fastmcp_suite.py` into the
suite venv's site-packages; never installed anywhere else). The finder sits first on
`sys.meta_path`; for a `fastmcp...` name it imports the `trimcp...` module of the same dotted
path and hands that very object back, so `fastmcp.FastMCP is trimcp.FastMCP`. A module trimcp
lacks fails as `ModuleNotFoundError` naming `trimcp.X`, which is what the suite's report counts.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

ALIAS = "fastmcp"
TARGET = "trimcp"


class AliasLoader(importlib.abc.Loader):
    """Returns the already-imported `trimcp` module as the `fastmcp` one."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.real_spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamps the alias spec on the module it got from `create_module`;
        # put trimcp's own back so `trimcp.X.__spec__` (and reloads, pickling) stay trimcp's.
        module.__spec__ = self.real_spec


class AliasFinder(importlib.abc.MetaPathFinder):
    """Maps `fastmcp[.X]` to `trimcp[.X]`."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        real_name = TARGET + fullname[len(ALIAS) :]
        # Raises ModuleNotFoundError(name="trimcp.X") for a module trimcp does not have.
        module = importlib.import_module(real_name)
        is_package = hasattr(module, "__path__")
        return importlib.machinery.ModuleSpec(fullname, AliasLoader(module), is_package=is_package)


def install() -> None:
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())


install()
