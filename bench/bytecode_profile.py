#!/usr/bin/env python3
"""Where trimcp's work on one request goes: bytecodes executed, by function and by line.

Time on this 2-core box swings too much to tell where a request's 20 µs go, function by
function (a sampling profiler at that scale mostly sees its own noise), and callgrind
(`instructions_bench.py`) counts machine instructions without naming Python functions on
Python 3.11. Bytecodes are the third view: the same code on the same input executes the same
bytecodes, and each is attributed to the function and line that ran it. A bytecode is not a
unit of time (one may call into msgspec, another only loads a local), but a function that runs
many of them does much work, and a change that removes some removes work.

What runs is `asgi_inprocess_bench.py`'s driver (the same `mcp.http_app()`, scopes and bodies,
`tools/call add(a, b)` of a trivial async tool): a warm-up, then one request traced with
`sys.settrace` and `f_trace_opcodes`. Everything the request runs in Python is counted, the
driver's own `receive` and `send` included (they are shown: `bare` is the driver alone). The
count is exact while the traced request never suspends (the json and modern paths, and sse
with the in-memory store): had it waited, what the loop ran meanwhile would be counted too.

Usage:
  python bench/bytecode_profile.py [--path json|sse|modern|bare] [--backend asyncio|trio]
      [--top 40] [--lines FUNCTION ...]

`--lines dispatch _post`: per-line counts, with the source, of each function whose qualified
name ends with one of these.
"""

from __future__ import annotations

import argparse
import collections
import linecache
import sys
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import asgi_inprocess_bench as driver_module  # noqa: E402  (the driver lives beside this file)

Site = tuple[str, str]  # (file, qualified name)


def short(filename: str) -> str:
    for marker in ("site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return Path(filename).name


async def trace_one(path: str) -> tuple[collections.Counter[Site], collections.Counter[Any]]:
    """Bytecodes of one request on `path` (after a warm-up), by function and by line."""
    driver = driver_module.Driver(path)
    by_function: collections.Counter[Site] = collections.Counter()
    by_line: collections.Counter[tuple[str, str, int]] = collections.Counter()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode":
            code = frame.f_code
            by_function[(code.co_filename, code.co_qualname)] += 1
            if frame.f_lineno is not None:
                by_line[(code.co_filename, code.co_qualname, frame.f_lineno)] += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return local

    async with driver.serve_path():
        if path in ("json", "sse"):
            await driver.handshake()
        warm = driver.prepare(300)
        sink = driver_module.Sink()
        await driver.run(warm, sink)
        driver.check(warm, sink)
        ((scope, receive, _),) = prepared = driver.prepare(1)
        sink = driver_module.Sink()
        sys.settrace(tracer)
        try:
            await driver.app(scope, receive, sink)
        finally:
            sys.settrace(None)
        driver.check(prepared, sink)  # the traced request was answered as it should be
    return by_function, by_line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--path", choices=("json", "sse", "modern", "bare"), default="json")
    ap.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    ap.add_argument("--top", type=int, default=40, help="functions listed (default 40)")
    ap.add_argument("--lines", nargs="*", default=[], metavar="FUNCTION")
    args = ap.parse_args()

    import anyio

    by_function, by_line = anyio.run(trace_one, args.path, backend=args.backend)
    total = sum(by_function.values())
    print(f"{args.path} on {args.backend}: {total:,} bytecodes in {len(by_function)} functions")
    for (filename, name), count in by_function.most_common(args.top):
        print(f"{count:6,} {count / total:6.1%}  {short(filename)}:{name}")
    for wanted in args.lines:
        functions = sorted(
            {(f, n) for f, n, _ in by_line if n == wanted or n.endswith("." + wanted)}
        )
        for filename, name in functions:
            print(f"\n== {short(filename)}:{name}")
            for (f, n, line), count in sorted(by_line.items(), key=lambda item: item[0][2]):
                if (f, n) == (filename, name):
                    source = linecache.getline(filename, line).rstrip()
                    print(f"{count:6,} {line:5d} {source}")


if __name__ == "__main__":
    main()
