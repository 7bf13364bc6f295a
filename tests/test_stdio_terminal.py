"""A stdio server started in a terminal (the README's first command): it answers what is typed,
and Ctrl-C ends it at once, quietly, with status 130, on both backends (issue 16).

The server runs as a real subprocess on a pseudo-terminal; SIGINT is what the terminal sends
on Ctrl-C. Under asyncio a worker thread blocked in `os.read` on the terminal used to hold
interpreter exit; under trio, Ctrl-C printed an ExceptionGroup.
"""

from __future__ import annotations

import json
import os
import pathlib
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.wire import INITIALIZE

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "server.py"
BOUND = 20.0  # seconds; every wait below is bounded by it


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    seen = b""
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} from the server; got {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end closed
                break
            seen += chunk
    return seen


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ctrl_c_ends_a_stdio_server_in_a_terminal(backend: str) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--backend", backend],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(slave)
    try:
        deadline = time.monotonic() + BOUND
        os.write(master, json.dumps(INITIALIZE).encode() + b"\n")
        seen = _read_until(master, b'"serverInfo"', deadline)  # the answer, not the echo
        assert b'"result"' in seen

        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=BOUND)
        elapsed = time.monotonic() - started
        stderr = proc.stderr.read().decode() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        if proc.stderr:
            proc.stderr.close()
    assert status == 130, stderr
    assert elapsed < 5.0, f"took {elapsed:.1f} s to stop"
    assert "Traceback" not in stderr and "Exception" not in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 1, stderr  # the banner at most
