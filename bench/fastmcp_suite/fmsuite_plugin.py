"""pytest plugin for `bench/fastmcp_suite.py`: applies the exclusion list and records outcomes.

Loaded with `-p fmsuite_plugin` (the script puts this folder on `PYTHONPATH`). Every process,
xdist controller or worker, appends JSON lines to `$FMSUITE_OUT/<process>.jsonl`:
`{"kind": "report", "nodeid", "when", "outcome", "xfail"}` (controller or plain run only),
`{"kind": "collect_error", "nodeid", "reason"}` and `{"kind": "excluded", "nodeid", "reason"}`.
The script de-duplicates by node id, since every xdist worker collects the same tests.

With `FMSUITE_PRIVATE_PLACEHOLDERS=1` (the script's default against trimcp), a test file's
`from fastmcp.X import _private` binds a placeholder when trimcp lacks the private name, instead
of failing the whole file: the tests that use the name fail when they touch it (and are in
`excluded.txt`), the file's other tests run. trimcp's modules are not touched.
"""

from __future__ import annotations

import builtins
import fnmatch
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ALIAS = "fastmcp"


class OutOfScopePrivateName(NotImplementedError):
    """A FastMCP private name trimcp does not have (and will not grow) was used."""


class PrivatePlaceholder:
    """Stands for a missing FastMCP private name; any use raises `OutOfScopePrivateName`."""

    qualified: str

    def __init__(self, qualified: str) -> None:
        object.__setattr__(self, "qualified", qualified)

    def fail(self, *args: Any, **kwargs: Any) -> Any:
        raise OutOfScopePrivateName(f"FastMCP private name {self.qualified} (out of scope)")

    __call__ = fail
    __getattr__ = fail
    __setattr__ = fail
    __iter__ = fail
    __getitem__ = fail


class PlaceholderView:
    """What `from fastmcp.X import ...` reads names from when some private ones are missing."""

    def __init__(self, module: ModuleType, name: str) -> None:
        self.module = module
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        try:
            return getattr(self.module, attr)
        except AttributeError:
            if attr.startswith("_") and not attr.startswith("__"):
                return PrivatePlaceholder(f"{self.name}.{attr}")
            raise


def install_private_placeholders() -> None:
    original = builtins.__import__

    def import_with_placeholders(
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> Any:
        module = original(name, globals, locals, fromlist, level)
        if level or not fromlist or (name != ALIAS and not name.startswith(ALIAS + ".")):
            return module
        if any(
            n.startswith("_") and not n.startswith("__") and not hasattr(module, n)
            for n in fromlist
        ):
            return PlaceholderView(module, name)
        return module

    builtins.__import__ = import_with_placeholders


def load_exclusions(path: str) -> list[tuple[str, str]]:
    """`(pattern, reason)` pairs: one a line, `<node id or glob>  # <reason>`."""
    rules = []
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition("#")
        rules.append((pattern.strip(), reason.strip()))
    return rules


def matches(nodeid: str, pattern: str) -> bool:
    """A node id, its parametrized cases (`id[...]`), or a glob (`*`, `?`)."""
    if nodeid == pattern or (nodeid.startswith(pattern + "[") and nodeid.endswith("]")):
        return True
    return fnmatch.fnmatchcase(nodeid, pattern)


class Recorder:
    def __init__(self, config: pytest.Config) -> None:
        worker = getattr(config, "workerinput", None)
        self.is_worker = worker is not None
        name = worker["workerid"] if worker else f"main-{os.getpid()}"
        out = Path(os.environ["FMSUITE_OUT"])
        out.mkdir(parents=True, exist_ok=True)
        self.file = (out / f"{name}.jsonl").open("a")
        excluded = os.environ.get("FMSUITE_EXCLUDED")
        self.rules = load_exclusions(excluded) if excluded else []

    def write(self, **record: Any) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self.rules:
            return
        kept, dropped = [], []
        for item in items:
            reason = next((r for p, r in self.rules if matches(item.nodeid, p)), None)
            if reason is None:
                kept.append(item)
            else:
                dropped.append(item)
                self.write(kind="excluded", nodeid=item.nodeid, reason=reason)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            reason = ""
            if report.longrepr is not None:
                lines = [ln for ln in str(report.longrepr).splitlines() if ln.startswith("E ")]
                reason = lines[-1][1:].strip() if lines else str(report.longrepr)[-300:]
            self.write(kind="collect_error", nodeid=report.nodeid, reason=reason)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return  # the controller receives every worker's reports
        self.write(
            kind="report",
            nodeid=report.nodeid,
            when=report.when,
            outcome=report.outcome,
            xfail=hasattr(report, "wasxfail"),
        )


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("FMSUITE_PRIVATE_PLACEHOLDERS") == "1":
        install_private_placeholders()
    if "FMSUITE_OUT" in os.environ:
        config.pluginmanager.register(Recorder(config), "fmsuite_recorder")
