"""Cache hit vs miss latency per store, trimcp beside FastMCP 2.13.3, in one run (issue 17).

For each store (memory, disk, Redis) and each side (trimcp on asyncio, trimcp on trio, FastMCP
2.13.3 with py-key-value 0.3.0 on asyncio):

1. **raw store**: `put` of a new key, `get` of a present key (hit) and of an absent key (miss),
   each timed alone; the median over `--ops` operations (`--memory-ops` for the memory store).
2. **tools/call**: an in-process `tools/call` of a small `async` tool (`square(x: int) ->
   int`) through each framework's in-memory `Client(server)` (`call_tool_mcp`, the protocol
   result), with `ResponseCachingMiddleware(cache_storage=store)` on the server: served from
   the cache (hit: the same argument every call) and computed and stored (miss: a new argument
   every call); the same tool on a server without middleware is the baseline. Median µs per
   call over `--calls` calls per case, the cases interleaved in `--batches` batches. The
   cache's own cost is miss - no cache, its saving no cache - hit. Every answer is checked, and
   so are the middleware's own hit and miss counts (`statistics()`).

The tool is registered with `output_schema=None` (a text result): with an output schema,
FastMCP 2.13.3's client (the MCP SDK's `ClientSession`) validates every result's structured
content with `jsonschema`, ~2 ms of its ~2.6 ms per call on this box, which would bury the
cache's figures. `--structured` keeps the schema, to see that too.

Redis is measured twice: `redis` is the store entered (`async with store:`) around its use,
`redis (not entered)` the store as a user passes it to the middleware. Both trimcp's
`RedisStore` and py-key-value's (redis-py) keep a connection pool either way.
The disk store is entered on both sides (it keeps its one connection open either way).

One run: the script starts its own `redis-server` on 127.0.0.1 (a free port, no persistence),
then for `--rounds` rounds runs each side as a fresh subprocess (the order reversed every other
round, so drift on a shared machine hits all sides alike), each printing its figures as JSON;
FastMCP's side runs this same script in the reference venv (`--fastmcp-python`), so both sides
are measured by the same code. It prints, per figure, the median over rounds of each round's
median and the median over rounds of the paired ratio trimcp/FastMCP (never best-of).

    python bench/cache_bench.py                          # 5 rounds, ~2 min on the 2-core box
    python bench/cache_bench.py --rounds 9 --calls 600   # steadier
    python bench/cache_bench.py --json                   # + bench/results/cache_<date>.json
    python bench/cache_bench.py --json --label issue17   # + bench/results/cache_issue17.json
    python bench/cache_bench.py --stores redis --sides trimcp-asyncio,fastmcp

`python` must have trimcp (with coredis) installed: the repo venv. The reference venv is
`bench/.venvs/fastmcp-suite-reference` (`bench/fastmcp_suite.py --reference` builds it); its
`RedisStore` needs redis-py (`pip install redis` in that venv); without it the reference Redis
figures are reported as unavailable.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import CHILDREN, BenchError, kill_children

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PYTHON = ROOT / "bench/.venvs/fastmcp-suite-reference/bin/python"
RESULTS = ROOT / "bench/results"
MARKER = "CACHEBENCH "
"""A worker prints its JSON on one line after this marker (anything else on stdout is noise)."""

SIDES: dict[str, tuple[str, str]] = {
    "trimcp-asyncio": ("trimcp", "asyncio"),
    "trimcp-trio": ("trimcp", "trio"),
    "fastmcp": ("fastmcp", "asyncio"),
}
STORES = ["memory", "disk", "redis", "redis (not entered)"]
RAW_OPS = ["get hit", "get miss", "put"]
CALL_CASES = ["hit", "miss"]
VALUE = {"content": [{"type": "text", "text": "1764"}], "structuredContent": {"result": 1764}}
"""What the raw stores hold: about what the middleware stores for a small tool result."""
TARGET_REDIS_HIT_US = 500.0


# -- the worker: one side, one round ------------------------------------------------------------


IMPORTS: dict[str, dict[str, str]] = {
    "trimcp": {
        "Client": "trimcp",
        "FastMCP": "trimcp",
        "ResponseCachingMiddleware": "trimcp.server.middleware.caching",
        "MemoryStore": "trimcp.storage",
        "DiskStore": "trimcp.storage",
        "RedisStore": "trimcp.storage.redis",
    },
    "fastmcp": {
        "Client": "fastmcp",
        "FastMCP": "fastmcp",
        "ResponseCachingMiddleware": "fastmcp.server.middleware.caching",
        "MemoryStore": "key_value.aio.stores.memory",
        "DiskStore": "key_value.aio.stores.disk",
        "RedisStore": "key_value.aio.stores.redis",
    },
}
"""Where each name the worker uses comes from, per framework."""


class Framework:
    """What the worker needs from one framework, imported on demand (the reference venv has
    no trimcp, the trimcp venv no FastMCP). Only the Redis store may be missing (FastMCP's
    needs redis-py, trimcp's coredis): then `redis_error` says why."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.version: str = getattr(importlib.import_module(name), "__version__", "?")
        self.redis_error: str | None = None
        names: dict[str, Any] = {}
        for attr, module in IMPORTS[name].items():
            try:
                names[attr] = getattr(importlib.import_module(module), attr)
            except ImportError as exc:
                if attr != "RedisStore":
                    raise
                names[attr], self.redis_error = None, f"{type(exc).__name__}: {exc}"
        self.Client: Any = names["Client"]
        self.FastMCP: Any = names["FastMCP"]
        self.ResponseCachingMiddleware: Any = names["ResponseCachingMiddleware"]
        self.MemoryStore: Any = names["MemoryStore"]
        self.DiskStore: Any = names["DiskStore"]
        self.RedisStore: Any = names["RedisStore"]

    def make_store(self, kind: str, directory: Path, redis_url: str) -> Any:
        if kind == "memory":
            return self.MemoryStore()
        if kind == "disk":
            return self.DiskStore(directory=directory)
        return self.RedisStore(url=redis_url)

    def make_server(self, store: Any, *, structured: bool) -> tuple[Any, Any]:
        """A server with the tool `square`, and its caching middleware (None: no cache)."""
        mcp = self.FastMCP("cache-bench")

        async def square(x: int) -> int:  # async: no worker thread to blur the figures
            return x * x

        if structured:
            mcp.tool(square)
        else:
            mcp.tool(square, output_schema=None)
        middleware = None
        if store is not None:
            middleware = self.ResponseCachingMiddleware(cache_storage=store)
            mcp.add_middleware(middleware)
        return mcp, middleware


def _median_us(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / 1000


def _p90_us(samples_ns: list[int]) -> float:
    return statistics.quantiles(samples_ns, n=10)[-1] / 1000 if len(samples_ns) > 1 else 0.0


async def raw_store(store: Any, ops: int, tag: str) -> dict[str, dict[str, float]]:
    """Median (and p90) µs of `put` of a new key, then `get` of a present and of an absent key
    alternately, each operation timed alone."""
    clock = time.perf_counter_ns
    collection = "bench-raw"
    for i in range(20):  # warm-up: connections, the SQLite file, the first allocations
        await store.put(f"{tag}:warm{i}", VALUE, collection=collection, ttl=3600)
        await store.get(f"{tag}:warm{i}", collection=collection)
        await store.get(f"{tag}:cold{i}", collection=collection)
    samples: dict[str, list[int]] = {op: [] for op in RAW_OPS}
    gc.collect()
    for i in range(ops):
        start = clock()
        await store.put(f"{tag}:k{i}", VALUE, collection=collection, ttl=3600)
        samples["put"].append(clock() - start)
    for i in range(ops):
        start = clock()
        found = await store.get(f"{tag}:k{i}", collection=collection)
        samples["get hit"].append(clock() - start)
        if found != VALUE:
            raise BenchError(f"get of a stored key returned {found!r}")
        start = clock()
        found = await store.get(f"{tag}:absent{i}", collection=collection)
        samples["get miss"].append(clock() - start)
        if found is not None:
            raise BenchError(f"get of an absent key returned {found!r}")
    return {op: {"median_us": _median_us(s), "p90_us": _p90_us(s)} for op, s in samples.items()}


def _check(result: Any, x: int) -> None:
    if getattr(result, "isError", False):
        raise BenchError(f"square({x}) failed: {result!r}")
    structured = getattr(result, "structuredContent", None)
    got = structured.get("result") if structured else None
    if got is None:
        content = getattr(result, "content", None) or []
        got = int(getattr(content[0], "text", "nan")) if content else None
    if got != x * x:
        raise BenchError(f"square({x}) answered {got!r}")


async def calls(
    clients: dict[str, Any], n_calls: int, batches: int, offset: int
) -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Median µs per `tools/call` of each case (`no cache`, `<store> hit`, `<store> miss`),
    the cases interleaved batch by batch; and how many hits and misses each case expects."""
    clock = time.perf_counter_ns
    counter = iter(range(offset, offset + 9_000_000))  # a new argument for every miss
    hit_arg = {name: offset + 9_000_000 + i for i, name in enumerate(clients)}
    cases = [("no cache", "no cache", "miss")] + [
        (f"{name} {case}", name, case)
        for name in clients
        if name != "no cache"
        for case in CALL_CASES
    ]
    samples: dict[str, list[int]] = {label: [] for label, _, _ in cases}
    expected = {
        f"{name} {case}": 0 for name in clients if name != "no cache" for case in CALL_CASES
    }

    async def one(label: str, name: str, case: str) -> int:
        x = hit_arg[name] if case == "hit" else next(counter)
        start = clock()
        result = await clients[name].call_tool_mcp("square", {"x": x})
        elapsed = clock() - start
        _check(result, x)
        if label in expected:
            expected[label] += 1
        return elapsed

    for label, name, case in cases:  # warm-up; the hit cases' first call stores their entry
        for _ in range(20):
            await one(label, name, case)
    per_batch = max(1, n_calls // batches)
    for _ in range(batches):
        for label, name, case in cases:
            gc.collect()
            bucket = samples[label]
            for _ in range(per_batch):
                bucket.append(await one(label, name, case))
    figures = {
        label: {"median_us": _median_us(s), "p90_us": _p90_us(s)} for label, s in samples.items()
    }
    return figures, expected


async def worker(options: argparse.Namespace) -> dict[str, Any]:
    fw = Framework(options.worker)
    stores = [s for s in options.stores.split(",") if s]
    out: dict[str, Any] = {
        "framework": fw.name,
        "version": fw.version,
        "backend": options.backend,
        "python": sys.version.split()[0],
        "raw": {},
        "calls": {},
        "unavailable": {},
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
        async with AsyncExitStack() as stack:
            live: dict[str, Any] = {}
            for kind in stores:
                if kind.startswith("redis") and fw.RedisStore is None:
                    out["unavailable"][kind] = fw.redis_error
                    continue
                store = fw.make_store(kind, Path(tmp) / "disk", options.redis_url)
                if kind in ("disk", "redis"):  # "redis (not entered)" is used as it is
                    await stack.enter_async_context(store)
                live[kind] = store
            for i, (kind, store) in enumerate(live.items()):
                ops = options.memory_ops if kind == "memory" else options.ops
                out["raw"][kind] = await raw_store(store, ops, f"{options.offset + i}")
            middleware: dict[str, Any] = {}
            clients: dict[str, Any] = {}
            for name, store in [("no cache", None), *live.items()]:
                server, middleware[name] = fw.make_server(store, structured=options.structured)
                clients[name] = await stack.enter_async_context(fw.Client(server))
            figures, expected = await calls(clients, options.calls, options.batches, options.offset)
            out["calls"] = figures
            # the middleware's own counts: every hit case served from the cache, no miss case
            for name, mw in middleware.items():
                if mw is None:
                    continue
                stats = mw.statistics().call_tool
                hits, misses = stats.get.hit, stats.get.miss
                # warm-up: the hit case's first call misses
                want_hits = expected[f"{name} hit"] - 1
                want_misses = expected[f"{name} miss"] + 1
                if (hits, misses) != (want_hits, want_misses):
                    raise BenchError(
                        f"{fw.name} {name}: the middleware counted {hits} hits, {misses} misses;"
                        f" expected {want_hits} and {want_misses}"
                    )
    out["seconds"] = time.perf_counter() - started
    return out


def run_worker(options: argparse.Namespace) -> None:
    import anyio

    result = anyio.run(worker, options, backend=options.backend)
    sys.stdout.write(MARKER + json.dumps(result) + "\n")


# -- the harness --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(binary: str, pin: list[str], timeout: float) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    argv = [
        *pin,
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--loglevel", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    CHILDREN.add(proc)
    deadline = time.monotonic() + timeout
    while not _redis_ping(port):
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise BenchError(f"redis-server exited with {proc.returncode}: {err[-800:]}")
        if time.monotonic() > deadline:
            raise BenchError(f"redis-server did not answer PING within {timeout} s")
        time.sleep(0.05)  # polling a child process's readiness, bounded by the deadline
    return proc, port


def stop_redis(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    CHILDREN.discard(proc)


def _clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE")
    return {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("FASTMCP_", "TRIMCP_"))
    }


def run_side(
    python: str,
    framework: str,
    backend: str,
    options: argparse.Namespace,
    redis_url: str,
    offset: int,
    pin: list[str],
) -> dict[str, Any]:
    argv = [
        *pin,
        python,
        str(Path(__file__).resolve()),
        "--worker", framework,
        "--backend", backend,
        "--redis-url", redis_url,
        "--offset", str(offset),
        "--stores", options.stores,
        "--ops", str(options.ops),
        "--memory-ops", str(options.memory_ops),
        "--calls", str(options.calls),
        "--batches", str(options.batches),
        *(["--structured"] if options.structured else []),
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_clean_env(), cwd=ROOT
    )
    CHILDREN.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=options.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        raise BenchError(
            f"{framework}/{backend} did not finish within {options.timeout} s: "
            f"{stderr.decode(errors='replace')[-1500:]}"
        ) from None
    finally:
        CHILDREN.discard(proc)
    lines = [ln for ln in stdout.decode(errors="replace").splitlines() if ln.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        raise BenchError(
            f"{framework}/{backend} failed (exit {proc.returncode}): "
            f"{stderr.decode(errors='replace')[-1500:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    return result


def _figure(result: dict[str, Any], section: str, store: str, row: str) -> float | None:
    """One figure of a worker's result: a raw op, a call case, or a derived cost/saving."""
    if section == "raw":
        entry = result["raw"].get(store, {}).get(row)
        return None if entry is None else float(entry["median_us"])
    calls_ = result["calls"]
    base = calls_.get("no cache", {}).get("median_us")
    if store == "no cache":
        return None if base is None else float(base)
    hit = calls_.get(f"{store} hit", {}).get("median_us")
    miss = calls_.get(f"{store} miss", {}).get("median_us")
    value = {
        "hit": hit,
        "miss": miss,
        "cost (miss - no cache)": None if miss is None or base is None else miss - base,
        "saving (no cache - hit)": None if hit is None or base is None else base - hit,
    }[row]
    return None if value is None else float(value)


def summarize(
    rounds: list[dict[str, Any]], sides: list[str], stores: list[str]
) -> list[dict[str, Any]]:
    """Per figure: each side's median over rounds, and the median over rounds of the paired
    ratio trimcp side / FastMCP (only rounds where both sides have the figure)."""
    rows: list[tuple[str, str, str]] = [("raw", store, op) for store in stores for op in RAW_OPS]
    rows.append(("calls", "no cache", "call"))
    call_rows = ["hit", "miss", "cost (miss - no cache)", "saving (no cache - hit)"]
    rows += [("calls", store, row) for store in stores for row in call_rows]
    summary = []
    for section, store, row in rows:
        per_side: dict[str, list[float]] = {side: [] for side in sides}
        ratios: dict[str, list[float]] = {side: [] for side in sides if side != "fastmcp"}
        for rnd in rounds:
            values = {
                side: _figure(rnd["results"][side], section, store, row)
                for side in sides
                if side in rnd["results"]
            }
            for side, value in values.items():
                if value is not None:
                    per_side[side].append(value)
            ref = values.get("fastmcp")
            derived = row.startswith(("cost", "saving"))
            for side in ratios:
                mine = values.get(side)
                if not derived and mine is not None and ref:
                    ratios[side].append(mine / ref)
        summary.append(
            {
                "section": section,
                "store": store,
                "row": row,
                "median_us": {s: statistics.median(v) if v else None for s, v in per_side.items()},
                "per_round_us": per_side,
                "ratio_vs_fastmcp": {
                    s: statistics.median(v) if v else None for s, v in ratios.items()
                },
            }
        )
    return summary


def _fmt(value: float | None, width: int, *, ratio: bool = False) -> str:
    if value is None:
        return f"{'—':>{width}}"
    if ratio:
        return f"{value:>{width - 1}.2f}x"
    return f"{value:>{width},.1f}" if abs(value) < 100_000 else f"{value:>{width},.0f}"


def print_tables(summary: list[dict[str, Any]], sides: list[str]) -> None:
    ratio_sides = [s for s in sides if s != "fastmcp"] if "fastmcp" in sides else []
    head = f"{'store':<21} {'':<24}" + "".join(f"{s:>16}" for s in sides)
    head += "".join(f"{s.replace('trimcp-', '') + '/fm':>12}" for s in ratio_sides)
    for section, title in [
        ("raw", "Raw store latency, median µs per operation"),
        (
            "calls",
            "tools/call through ResponseCachingMiddleware, median µs per call (in-memory Client)",
        ),
    ]:
        print(f"\n{title}")
        print(head)
        print("-" * len(head))
        last_store = None
        for entry in summary:
            if entry["section"] != section:
                continue
            store = entry["store"] if entry["store"] != last_store else ""
            if entry["store"] != last_store and last_store is not None and section == "calls":
                print()
            last_store = entry["store"]
            line = f"{store:<21} {entry['row']:<24}"
            line += "".join(_fmt(entry["median_us"].get(s), 16) for s in sides)
            line += "".join(
                _fmt(entry["ratio_vs_fastmcp"].get(s), 12, ratio=True) for s in ratio_sides
            )
            print(line)


def targets(summary: list[dict[str, Any]], sides: list[str]) -> list[dict[str, Any]]:
    """The issue's target, a Redis hit under 0.5 ms on loopback, for every trimcp side, store
    entered and not, as a raw `get` and as a `tools/call` served from the cache."""
    found = []
    for entry in summary:
        if not entry["store"].startswith("redis"):
            continue
        if (entry["section"], entry["row"]) not in (("raw", "get hit"), ("calls", "hit")):
            continue
        for side in sides:
            value = entry["median_us"].get(side)
            what = "raw get hit" if entry["section"] == "raw" else "tools/call hit"
            found.append(
                {
                    "side": side,
                    "store": entry["store"],
                    "what": what,
                    "median_us": value,
                    "target_us": TARGET_REDIS_HIT_US,
                    "met": None if value is None else value < TARGET_REDIS_HIT_US,
                }
            )
    return found


def _source_state() -> str:
    """The commit the bench runs trimcp from, and whether `src/` differs from it (other work
    in progress in the same tree changes what is measured)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
            timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True,
            cwd=ROOT, timeout=10, check=True,
        ).stdout.split("\n")  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    files = [line[3:] for line in changed if line.strip()]
    return f"{head}" + (f" + uncommitted changes in {', '.join(files)}" if files else "")


def _last_line(error: str) -> str:
    """An error's first line (which side, which round) and its last (the exception)."""
    lines = [line for line in error.splitlines() if line.strip()]
    return lines[0] if len(lines) < 2 else f"{lines[0].split(':')[0]}: ... {lines[-1].strip()}"


def _load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def harness(options: argparse.Namespace) -> int:
    sides = [s for s in options.sides.split(",") if s]
    stores = [s for s in options.stores.split(",") if s]
    for side in sides:
        if side not in SIDES:
            raise SystemExit(f"unknown side {side!r}; one of {', '.join(SIDES)}")
    for store in stores:
        if store not in STORES:
            raise SystemExit(f"unknown store {store!r}; one of {', '.join(STORES)}")
    pythons = {"trimcp": options.trimcp_python, "fastmcp": options.fastmcp_python}
    skipped: dict[str, str] = {}
    if "fastmcp" in sides and not Path(options.fastmcp_python).exists():
        skipped["fastmcp"] = f"no interpreter at {options.fastmcp_python}"
        sides.remove("fastmcp")

    pin_worker: list[str] = []
    pin_redis: list[str] = []
    pinning = "none"
    if not options.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        pin_worker, pin_redis = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
        pinning = "worker (client + server in one process) on CPU 0, redis-server on CPU 1"

    source = source_at_start = _source_state()
    load_before = _load()
    print(f"trimcp source: {source}")
    print(
        f"cache bench: {options.rounds} rounds x sides {', '.join(sides)}; stores "
        f"{', '.join(stores)}; {options.ops} raw ops ({options.memory_ops} memory), "
        f"{options.calls} calls per case; pinning: {pinning}"
    )
    for side, why in skipped.items():
        print(f"SKIPPED {side}: {why}")
    print(f"load average (1 min) before: {load_before:.2f}" if load_before is not None else "")

    redis_proc = None
    redis_url = "redis://127.0.0.1:1/0"
    if any(s.startswith("redis") for s in stores):
        redis_proc, port = start_redis(options.redis_server, pin_redis, options.timeout)
        redis_url = f"redis://127.0.0.1:{port}/0"
    rounds: list[dict[str, Any]] = []
    errors: list[str] = []
    started = time.perf_counter()
    try:
        for r in range(options.rounds):
            order = sides if r % 2 == 0 else sides[::-1]
            rnd: dict[str, Any] = {"round": r + 1, "order": order, "load": _load(), "results": {}}
            rnd["trimcp_source"] = _source_state()
            if rnd["trimcp_source"] != source:  # the tree is shared: say what this round ran
                print(f"round {r + 1}: trimcp source now {rnd['trimcp_source']}")
                source = rnd["trimcp_source"]
            for side in order:
                framework, backend = SIDES[side]
                offset = (r * len(SIDES) + list(SIDES).index(side)) * 10_000_000
                try:
                    rnd["results"][side] = run_side(
                        pythons[framework], framework, backend, options, redis_url, offset,
                        pin_worker,
                    )  # fmt: skip
                except BenchError as exc:
                    errors.append(f"round {r + 1} {side}: {exc}")
                    print(f"ERROR round {r + 1} {side}: {exc}", file=sys.stderr)
            took = {s: f"{v['seconds']:.1f}s" for s, v in rnd["results"].items()}
            print(f"round {r + 1}/{options.rounds}: load {rnd['load']:.2f}; {took}", flush=True)
            rounds.append(rnd)
    finally:
        if redis_proc is not None:
            stop_redis(redis_proc)
        kill_children()
    load_after = _load()
    elapsed = time.perf_counter() - started

    summary = summarize(rounds, sides, stores)
    print_tables(summary, sides)
    for side in sides:
        gone = {
            store: why
            for rnd in rounds
            for store, why in rnd["results"].get(side, {}).get("unavailable", {}).items()
        }
        for store, why in gone.items():
            print(f"\n{side}: {store} unavailable ({why})")
    found = targets(summary, sides)
    print(f"\nTarget: a Redis hit under {TARGET_REDIS_HIT_US:.0f} µs on loopback")
    for t in found:
        mark = "—" if t["met"] is None else ("met" if t["met"] else "NOT met")
        print(
            f"  {t['side']:<16} {t['store']:<21} {t['what']:<16} {_fmt(t['median_us'], 9)} µs  {mark}"
        )
    loads = [rnd["load"] for rnd in rounds if rnd["load"] is not None]
    print(
        f"\n{len(rounds)} rounds in {elapsed:.0f} s; load average (1 min): before "
        f"{load_before:.2f}, at each round {', '.join(f'{x:.2f}' for x in loads)}, "
        f"after {load_after:.2f}"
        if load_before is not None and load_after is not None
        else ""
    )
    if load_before is not None and load_before > 0.5:
        print(
            f"WARNING: the 1-min load average was {load_before:.2f} before the run: other work "
            "shares the CPUs, so absolute figures are noisy; the paired ratios are steadier."
        )
    if errors:
        # the whole stderr tail went to stderr as it happened, and goes to the JSON
        print("\nProblems:\n  " + "\n  ".join(_last_line(e) for e in errors))

    if options.json is not None:
        path = Path(options.json) if options.json else None
        if path is None:
            label = options.label or datetime.now(tz=UTC).strftime("%Y%m%d-%H%M")
            path = RESULTS / f"cache_{label}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "meta": {
                "argv": sys.argv,
                "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
                "sides": sides,
                "skipped": skipped,
                "stores": stores,
                "rounds": options.rounds,
                "ops": options.ops,
                "memory_ops": options.memory_ops,
                "calls": options.calls,
                "batches": options.batches,
                "pinning": pinning,
                "redis_server": options.redis_server,
                "trimcp_source": source_at_start,
                "structured": options.structured,
                "loadavg_1min_before": load_before,
                "loadavg_1min_after": load_after,
                "cpus": os.cpu_count(),
                "seconds": elapsed,
            },
            "rounds": rounds,
            "summary": summary,
            "targets": found,
            "errors": errors,
        }
        path.write_text(json.dumps(document, indent=1) + "\n")
        print(f"\nJSON: {path}")
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of all sides (5)")
    parser.add_argument("--ops", type=int, default=300, help="raw ops of each kind (300)")
    parser.add_argument("--memory-ops", type=int, default=3000, help="for the memory store (3000)")
    parser.add_argument("--calls", type=int, default=300, help="tools/call per case (300)")
    parser.add_argument("--batches", type=int, default=3, help="interleaved batches (3)")
    parser.add_argument("--sides", default=",".join(SIDES), help=f"({','.join(SIDES)})")
    parser.add_argument("--stores", default=",".join(STORES), help=f"({','.join(STORES)})")
    parser.add_argument("--trimcp-python", default=sys.executable)
    parser.add_argument("--fastmcp-python", default=str(REFERENCE_PYTHON))
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per side (300)")
    parser.add_argument("--no-pin", action="store_true", help="no taskset pinning")
    parser.add_argument(
        "--structured", action="store_true",
        help="the tool keeps its output schema (structured content; see the module docstring)",
    )  # fmt: skip
    parser.add_argument(
        "--json", nargs="?", const="", default=None, metavar="PATH",
        help="write JSON (default path bench/results/cache_<--label or UTC date>.json)",
    )  # fmt: skip
    parser.add_argument("--label", default=None, help="names the default JSON file")
    # the worker (run by the harness, once per side and round)
    parser.add_argument("--worker", choices=["trimcp", "fastmcp"], help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="asyncio", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        run_worker(options)
        return 0
    try:
        return harness(options)
    except BenchError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
