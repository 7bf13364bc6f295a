"""`trimcp run --reload`: a supervisor that restarts the server process when files change.

The supervisor is this process; the server is a child `trimcp run` without `--reload`. Every
`interval` seconds the supervisor takes a snapshot (path -> mtime, size) of the source files
under the watched directory, and when it differs it stops the child (SIGTERM, then SIGKILL
after a grace period) and starts a new one. Polling keeps it dependency-free and works the
same on every platform; it is a development tool, so a half-second delay is fine.

A child that exits on its own (a syntax error, say) is not restarted until the next change.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["WATCHED_SUFFIXES", "snapshot", "supervise"]

WATCHED_SUFFIXES = frozenset({".py", ".json", ".toml", ".yaml", ".yml", ".env", ".cfg", ".ini"})
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist"})
_STOP_GRACE = 5.0

Snapshot = dict[str, tuple[int, int]]


class _Stop(Exception):
    """SIGTERM reached the supervisor: stop the child, then exit."""


def snapshot(root: Path) -> Snapshot:
    """Modification time and size of every watched file under `root` (hidden directories,
    caches and virtual environments skipped)."""
    found: Snapshot = {}
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [
            d
            for d in subdirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
        ]
        for name in files:
            if os.path.splitext(name)[1] not in WATCHED_SUFFIXES:
                continue
            path = os.path.join(directory, name)
            try:
                stat = os.stat(path)
            except OSError:  # deleted between listing and stat: the next snapshot sees it
                continue
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


def _changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def _say(message: str) -> None:
    print(f"trimcp --reload: {message}", file=sys.stderr, flush=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def supervise(child_argv: list[str], *, watch_dir: Path, interval: float = 0.5) -> int:
    """Run `child_argv`, restarting it whenever a file under `watch_dir` changes, until
    interrupted (Ctrl-C or SIGTERM). Returns the exit status for the supervisor."""

    def on_sigterm(signum: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    _say(f"watching {watch_dir}")
    state = snapshot(watch_dir)
    process: subprocess.Popen[bytes] | None = None
    try:
        while True:
            if process is None:
                process = subprocess.Popen(child_argv)
            try:
                code = process.wait(timeout=interval)  # the polling tick
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:
                _say(f"the server exited with code {code}; waiting for a change to restart it")
                state = _wait_for_change(watch_dir, state, interval)
                process = None
                continue
            current = snapshot(watch_dir)
            changed = _changed(state, current)
            if changed:
                state = current
                _say(f"{os.path.relpath(changed[0], watch_dir)} changed, restarting")
                _stop(process)
                process = None
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        if process is not None:
            _stop(process)
        signal.signal(signal.SIGTERM, previous)


def _wait_for_change(watch_dir: Path, state: Snapshot, interval: float) -> Snapshot:
    import time

    while True:
        time.sleep(interval)
        current = snapshot(watch_dir)
        if _changed(state, current):
            return current
