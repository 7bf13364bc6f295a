"""What the bench scripts share: child-process bookkeeping (every server, wrk or probe started
is killed on exit, whatever happens), the error a failed measurement raises, a probe for
what an interpreter can import, and a process's CPU time. Imported by the scripts as a sibling
module."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
"""Clock ticks per second: the unit of the CPU times in /proc/PID/stat and /proc/stat."""

CHILDREN: set[subprocess.Popen[bytes]] = set()
"""Every live child process; add each one started, discard it once reaped."""


def kill_children() -> None:
    for p in list(CHILDREN):
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=2)
            except Exception:
                pass
        CHILDREN.discard(p)


def _on_signal(signum: int, _frame: Any) -> None:
    kill_children()
    sys.stderr.write(f"\ninterrupted by signal {signum}; children killed\n")
    os._exit(128 + signum)


atexit.register(kill_children)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


class BenchError(Exception):
    """A measurement failed; the message says why (the server's stderr tail is appended)."""


def python_can_import(python: str, module: str) -> bool:
    try:
        r = subprocess.run([python, "-c", f"import {module}"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, all threads, in seconds (Linux `/proc`; else None)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, ValueError, IndexError):
        return None
