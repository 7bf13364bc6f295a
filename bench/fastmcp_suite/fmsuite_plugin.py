"""pytest plugin for `bench/fastmcp_suite.py`: applies the exclusion list and records outcomes.

Loaded with `-p fmsuite_plugin` (the script puts this folder on `PYTHONPATH`). Every process,
xdist controller or worker, appends JSON lines to `$FMSUITE_OUT/<process>.jsonl`:
`{"kind": "report", "nodeid", "when", "outcome", "xfail"}` (controller or plain run only),
`{"kind": "collect_error", "nodeid", "reason"}` and `{"kind": "excluded", "nodeid", "reason"}`.
The script de-duplicates by node id, since every xdist worker collects the same tests.
"""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Any

import pytest


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
    if "FMSUITE_OUT" in os.environ:
        config.pluginmanager.register(Recorder(config), "fmsuite_recorder")
