"""Lazy exports (PEP 562) for trimcp's package facades: a package names the module each of its
public names lives in, and that module is imported on first use of the name, so importing the
package stays cheap (`import trimcp` loads no component, HTTP or client code).

The root package uses this module, so it imports nothing at load that `import trimcp` did not
already pay for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], where: Mapping[str, Iterable[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level `__getattr__` and `__dir__` of a package whose names load on first use.

    Usage, at the package's top level (with the names imported under `TYPE_CHECKING` for type
    checkers and listed in `__all__`):

        __getattr__, __dir__ = lazy_exports(globals(), {"trimcp.server.server": ("FastMCP",)})

    Args:
        namespace: the package's `globals()`. A loaded name is stored there, so later lookups
            find it without calling `__getattr__` again.
        where: each module -> the public names it defines that the package loads from it
            (the same pairs as the `TYPE_CHECKING` imports).

    Returns:
        `(__getattr__, __dir__)`: `__getattr__` raises `AttributeError` for a name not in
        `where`, as a module without one would; `__dir__` lists the package's globals and the
        names not loaded yet.
    """
    package = namespace["__name__"]
    home = {name: module for module, names in where.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # Imported here, not at load: a bare interpreter has not imported `importlib`, and
        # `import trimcp` should not pay for it.
        import importlib

        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(home))

    return __getattr__, __dir__
