#!/usr/bin/env python3
"""trimcp's own work per request in machine instructions: a figure the box's noise cannot move.

Time on this 2-core box swings by 10-30% between runs (other tenants, frequency, caches), so
a 3% change is invisible to `asgi_inprocess_bench.py` without many paired rounds. Instructions
are not: valgrind's callgrind counts every instruction a process executes, and the same code
on the same input executes the same instructions (with `PYTHONHASHSEED=0`, set here: string
hashes, hence dict layouts and collisions, otherwise change from run to run, ~±2%).

What runs is `asgi_inprocess_bench.py`'s driver (the same `mcp.http_app()`, scopes, bodies and
`tools/call add(a, b)` of a trivial async tool, one request at a time in one task, GC off while
measuring), under `valgrind --tool=callgrind`, twice per path: once serving `--requests` requests
and once preparing them without serving. The difference over the count is what serving costs
per request; the `bare` path (an ASGI app that reads the body and sends a canned answer) is
the driver's own floor, subtracted from each path's figure as trimcp's own instructions.

The answers are not checked here (the checking would be counted): `asgi_inprocess_bench.py`
checks the same requests. Instructions are not time (a cache miss costs more than an add),
but a cut in instructions is a cut in work, and two versions compare exactly.

Usage:
  python bench/instructions_bench.py [--paths json,sse,modern] [--backends asyncio]
      [--requests 1000] [--baseline-src /path/to/old/src] [--jobs 2]

`--baseline-src`: the `src` directory of an earlier trimcp (a `git worktree`), run with the same
interpreter (`PYTHONPATH`): before and after side by side. Needs `valgrind` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
COLLECTED = re.compile(rb"Collected : (\d+)")


def worker(path: str, backend: str, count: int, serve: bool) -> None:
    """Inside valgrind: prepare `count` requests, and serve them if `serve`."""
    import gc

    import anyio

    sys.path.insert(0, str(HERE))
    import asgi_inprocess_bench as driver

    async def run() -> None:
        d = driver.Driver(path)
        async with d.serve_path():  # `bare`: the driver alone, as asgi_inprocess_bench.py has it
            if path in ("json", "sse", "lazy"):
                await d.handshake()
            warm = d.prepare(300)
            await d.run(warm, driver.Sink())
            prepared = d.prepare(count)
            gc.collect()
            gc.disable()
            if serve:
                await d.run(prepared, driver.Sink())
            gc.enable()

    anyio.run(run, backend=backend)


def instructions(
    python: str, src: str | None, path: str, backend: str, count: int, serve: bool
) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same dict layouts on every run
    if src is not None:
        env["PYTHONPATH"] = src
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        python,
        __file__,
        "--worker",
        path,
        backend,
        str(count),
        "serve" if serve else "prepare",
    ]
    done = subprocess.run(command, env=env, capture_output=True, timeout=1800)
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{path}/{backend} failed ({done.returncode}):\n{tail}")
    return int(found.group(1))


def per_request(python: str, src: str | None, path: str, backend: str, count: int) -> float:
    with ThreadPoolExecutor(2) as pool:
        served = pool.submit(instructions, python, src, path, backend, count, True)
        prepared = pool.submit(instructions, python, src, path, backend, count, False)
        return (served.result() - prepared.result()) / count


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, path, backend, count, mode = sys.argv
        worker(path, backend, int(count), mode == "serve")
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--paths", default="json,sse,modern")
    ap.add_argument("--backends", default="asyncio")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--baseline-src", help="src/ of an earlier trimcp, run with PYTHONPATH")
    ap.add_argument("--python", default=sys.executable, help="interpreter (default: this one)")
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt install valgrind): nothing measured")
    sides: list[tuple[str, str | None]] = [("current", None)]
    if a.baseline_src:
        sides.append(("baseline", a.baseline_src))
    paths = [p for p in a.paths.split(",") if p and p != "bare"]
    print(f"instructions per request, {a.requests} requests served vs prepared (callgrind)")
    for backend in a.backends.split(","):
        floor = {
            name: per_request(a.python, src, "bare", backend, a.requests) for name, src in sides
        }
        for name, value in floor.items():
            print(f"bare/{backend:8} {name:8} {value:10,.0f}  (the driver's floor)")
        for path in paths:
            own = {
                name: per_request(a.python, src, path, backend, a.requests) - floor[name]
                for name, src in sides
            }
            line = f"{path}/{backend:8} current  {own['current']:10,.0f}  trimcp's own"
            if "baseline" in own:
                ratio = own["baseline"] / own["current"]
                line += f"   baseline {own['baseline']:10,.0f}   baseline/current {ratio:.2f}x"
            print(line, flush=True)


if __name__ == "__main__":
    main()
