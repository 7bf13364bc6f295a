"""`trimcp._lazy.lazy_exports`, the lazy `__getattr__`/`__dir__` of trimcp's package facades:
every public name of each package loads from its module, is listed by `dir()`, and is kept
once loaded; an unknown name is an `AttributeError` naming the package."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from trimcp._lazy import lazy_exports

PACKAGES = [
    "trimcp",
    "trimcp.server",
    "trimcp.http",
    "trimcp.tools",
    "trimcp.resources",
    "trimcp.prompts",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_loads_and_is_listed(package: str) -> None:
    loaded = importlib.import_module(package)
    for name in loaded.__all__:
        assert getattr(loaded, name) is not None, f"{package}.{name}"
        assert name in dir(loaded), f"{package}.{name}"


@pytest.mark.parametrize("package", PACKAGES)
def test_an_unknown_name_is_an_attribute_error_naming_the_package(package: str) -> None:
    loaded = importlib.import_module(package)
    with pytest.raises(AttributeError, match=rf"^module '{package}' has no attribute 'nope'$"):
        loaded.nope  # noqa: B018


def test_a_loaded_name_is_kept_in_the_namespace() -> None:
    namespace: dict[str, object] = {"__name__": "fake"}
    getattr_, dir_ = lazy_exports(namespace, {"json": ("dumps", "loads")})
    assert dir_() == ["__name__", "dumps", "loads"]
    import json

    assert getattr_("dumps") is json.dumps
    assert namespace["dumps"] is json.dumps  # a module's later lookups find it directly
    assert "loads" not in namespace


def test_the_root_loads_nothing_until_a_name_is_used() -> None:
    code = (
        "import sys, trimcp\n"
        "print(sorted(m for m in sys.modules if m.startswith('trimcp')))\n"
        "trimcp.FastMCP\n"
        "print('trimcp.server.server' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["['trimcp', 'trimcp._lazy']", "True"]
