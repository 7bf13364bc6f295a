"""Opt-in stand-in for `fastmcp.utilities.tests` while trimcp lacks `trimcp.utilities.tests`.

FastMCP's root `tests/conftest.py` imports `temporary_settings` from that module at module
level, so without it not one test of the suite is collected and the measure reads 0 for every
folder. `bench/fastmcp_suite.py --conftest-fallback` loads this plugin (`-p`, before conftests
load); it does nothing once trimcp has the real module. The stand-in holds only
`temporary_settings`, built on trimcp's public `settings` object (it skips names that object
lacks); tests that import anything else
from `fastmcp.utilities.tests` still fail to import, as they should. Figures taken with it are
marked `conftest_fallback` in the script's output.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any

if importlib.util.find_spec("trimcp.utilities.tests") is None:
    from trimcp.settings import settings

    @contextlib.contextmanager
    def temporary_settings(**overrides: Any) -> Iterator[Any]:
        # Names trimcp's settings lack (FastMCP's `home`, for its OAuth disk store) are left
        # out: setting them would fail every test in the autouse fixture, not the ones using them.
        known = {name: value for name, value in overrides.items() if hasattr(settings, name)}
        saved = {name: getattr(settings, name) for name in known}
        try:
            for name, value in known.items():
                setattr(settings, name, value)
            yield settings
        finally:
            for name, value in saved.items():
                setattr(settings, name, value)

    stand_in = types.ModuleType("fastmcp.utilities.tests", __doc__)
    stand_in.temporary_settings = temporary_settings  # type: ignore[attr-defined]
    sys.modules["fastmcp.utilities.tests"] = stand_in
