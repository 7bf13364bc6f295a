#!/usr/bin/env python3
"""trimcp's own work per request, in process: no sockets, no HTTP server.

`mcp.http_app()` (the app hypercorn or uvicorn would be handed, its lifespan entered) is called
directly with ASGI `scope`/`receive`/`send`, one request at a time in one task, for
`tools/call add(a, b)` of a trivial async tool. What it measures is everything trimcp (and the
Starlette app class, anyio and msgspec under it) does between the server handing over a request
and the last `http.response.body`: no socket, no HTTP parsing.

Paths (`--paths`, comma list):
  json    handshake era, stateful session, json_response=True: `initialize` and
          `notifications/initialized` once, then calls with `Mcp-Session-Id` and
          `MCP-Protocol-Version: 2025-11-25`
  sse     the same session with json_response=False, the tool reporting progress once and the
          request carrying `_meta.progressToken`, so every answer is a real SSE response (a
          progress event, then the result; the default in-memory event store keeps them)
  modern  2026-07-28: no session, the `_meta` envelope (protocolVersion, clientCapabilities,
          clientInfo) and the routing headers `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`
  lazy    (opt-in) json_response=False, plain `add`: lazy SSE answers JSON
  bare    (opt-in, also the floor every run prints) a bare ASGI app that reads the body and sends
          a canned JSON answer: what this driver costs by itself

`--fresh-task`: each request runs in a new task (asyncio `create_task`, a trio nursery task),
as hypercorn and uvicorn run them; the bare floor is measured the same way, so what a task's
first cancel scope costs trimcp (anyio keeps per-task state) shows in trimcp's figure.

Timing: each round runs `--requests` requests back to back (scopes, bodies and `receive`
callables are built before the clock starts); µs per request is the round's CPU time (this
thread's, `time.thread_time_ns`: the work is all in one thread, and CPU time is what a box
shared with other work leaves least noisy) over the count. The answers are checked after each round (status 200, the request's id, a + b). Median
over `--rounds` rounds, after `--warmup` requests.

Allocations: a separate untimed pass of `--alloc-requests` requests with a counting allocator
installed (a tiny C extension built once into bench/.cache/allocount with the system compiler):
every `PyObject_Malloc`/`PyMem_Malloc` (and calloc) call in the object and mem domains counts
(gross blocks allocated per request, freed or not; reallocs counted apart). Without a compiler,
`sys.getallocatedblocks()` deltas (net blocks still alive per request: a leak indicator, ~0 when
steady) are all that is printed; the net figure is printed in any case.

`--baseline-python PATH`: an interpreter with an earlier trimcp installed runs the same
measurement, side by side: both run as long-lived worker processes (this script with
`--worker`), each round of each path and backend runs on both, in alternating order; the ratio
baseline/current is computed per round (paired) and its median reported.

Usage:
  python bench/asgi_inprocess_bench.py [--paths json,sse,modern] [--backends asyncio,trio]
      [--rounds 9] [--requests 2000] [--baseline-python /path/to/python] [--json out.json]
  python bench/asgi_inprocess_bench.py --profile json --backend asyncio --seconds 20
      (one worker loop for a profiler: py-spy record -- python bench/asgi_inprocess_bench.py ...)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "allocount"
HANDSHAKE = "2025-11-25"
MODERN = "2026-07-28"
MCP_PATH = "/mcp"
ACCEPT = b"application/json, text/event-stream"
ALL_PATHS = ("json", "sse", "modern", "lazy", "bare")
DEFAULT_PATHS = "json,sse,modern"

# --------------------------------------------------------------------------------------------
# the counting allocator (gross allocations), built once
# --------------------------------------------------------------------------------------------

ALLOCOUNT_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyMemAllocatorEx orig_obj, orig_mem;
static unsigned long long n_alloc = 0, n_realloc = 0;
static int installed = 0;

static void *c_malloc(void *ctx, size_t size) {
    n_alloc++;
    return ((PyMemAllocatorEx *)ctx)->malloc(((PyMemAllocatorEx *)ctx)->ctx, size);
}
static void *c_calloc(void *ctx, size_t nelem, size_t elsize) {
    n_alloc++;
    return ((PyMemAllocatorEx *)ctx)->calloc(((PyMemAllocatorEx *)ctx)->ctx, nelem, elsize);
}
static void *c_realloc(void *ctx, void *ptr, size_t size) {
    n_realloc++;
    return ((PyMemAllocatorEx *)ctx)->realloc(((PyMemAllocatorEx *)ctx)->ctx, ptr, size);
}
static void c_free(void *ctx, void *ptr) {
    ((PyMemAllocatorEx *)ctx)->free(((PyMemAllocatorEx *)ctx)->ctx, ptr);
}

static PyObject *install(PyObject *self, PyObject *args) {
    if (!installed) {
        PyMemAllocatorEx a;
        PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &orig_obj);
        PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &orig_mem);
        a.malloc = c_malloc; a.calloc = c_calloc; a.realloc = c_realloc; a.free = c_free;
        a.ctx = &orig_obj;
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &a);
        a.ctx = &orig_mem;
        PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &a);
        installed = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *counts(PyObject *self, PyObject *args) {
    return Py_BuildValue("KK", n_alloc, n_realloc);
}

static PyMethodDef methods[] = {
    {"install", install, METH_NOARGS, "count allocations from now on"},
    {"counts", counts, METH_NOARGS, "(allocations, reallocations) so far"},
    {NULL, NULL, 0, NULL},
};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "allocount", NULL, -1, methods};
PyMODINIT_FUNC PyInit_allocount(void) { return PyModule_Create(&mod); }
"""


def load_allocount() -> Any:
    """The counting allocator module, built on first use; None without a C compiler."""
    import importlib.util
    import sysconfig

    tag = f"{sys.implementation.cache_tag}-{platform.machine()}"
    so = CACHE / f"allocount-{tag}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}"
    if not so.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        src = CACHE / "allocount.c"
        src.write_text(ALLOCOUNT_C)
        cc = os.environ.get("CC", "cc")
        include = sysconfig.get_paths()["include"]
        tmp = so.with_suffix(f".{os.getpid()}.tmp")
        try:
            r = subprocess.run(
                [cc, "-O2", "-shared", "-fPIC", f"-I{include}", str(src), "-o", str(tmp)],
                capture_output=True,
                timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if r.returncode != 0:
            return None
        tmp.replace(so)
    spec = importlib.util.spec_from_file_location("allocount", so)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------
# the worker: one interpreter, one trimcp
# --------------------------------------------------------------------------------------------


class Receive:
    """The `receive` of one request: its body once, then nothing until cancelled (a client
    that stays connected)."""

    __slots__ = ("message", "sent")

    def __init__(self, body: bytes) -> None:
        self.message = {"type": "http.request", "body": body, "more_body": False}
        self.sent = False

    async def __call__(self) -> dict[str, Any]:
        if not self.sent:
            self.sent = True
            return self.message
        import anyio

        await anyio.sleep_forever()
        raise AssertionError("unreachable")


class Sink:
    """`send` for every request: keeps the messages, checked after the round."""

    __slots__ = ("messages",)

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


def make_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": MCP_PATH,
        "raw_path": MCP_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
        "state": {},
    }


def base_headers(body_len: int) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"accept", ACCEPT),
        (b"content-length", str(body_len).encode()),
    ]


def call_body(path: str, rid: int) -> bytes:
    a, b = rid, rid % 997
    tool = "add_progress" if path == "sse" else "add"
    params: dict[str, Any] = {"name": tool, "arguments": {"a": a, "b": b}}
    if path == "sse":
        params["_meta"] = {"progressToken": rid}
    elif path == "modern":
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
        }
    return json.dumps(
        {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params},
        separators=(",", ":"),
    ).encode()


def call_headers(path: str, body: bytes, session_id: bytes | None) -> list[tuple[bytes, bytes]]:
    headers = base_headers(len(body))
    if path == "modern":
        headers += [
            (b"mcp-protocol-version", MODERN.encode()),
            (b"mcp-method", b"tools/call"),
            (b"mcp-name", b"add"),
        ]
    else:
        headers.append((b"mcp-protocol-version", HANDSHAKE.encode()))
        if session_id is not None:
            headers.append((b"mcp-session-id", session_id))
    return headers


def build_server() -> Any:
    from trimcp import Context, FastMCP

    mcp = FastMCP("inprocess-bench")

    @mcp.tool
    async def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool
    async def add_progress(a: int, b: int, ctx: Context) -> int:
        """Add two integers, reporting progress once."""
        await ctx.report_progress(1, 1)
        return a + b

    return mcp


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The floor: read the body, answer a canned JSON-RPC result."""
    message = await receive()
    body = message["body"]
    rid = body[body.index(b'"id":') + 5 : body.index(b',"method"')]
    reply = b'{"jsonrpc":"2.0","id":' + rid + b',"result":{}}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(reply)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": reply})


def decode_answer(messages: list[dict[str, Any]]) -> tuple[int, Any]:
    """(status, the JSON-RPC answer) of one response: its JSON body, or the SSE event that
    carries the answer."""
    start = messages[0]
    body = b"".join(m.get("body", b"") for m in messages[1:])
    headers = dict(start.get("headers", []))
    if headers.get(b"content-type", b"").startswith(b"text/event-stream"):
        answer = None
        for line in body.split(b"\n"):
            if line.startswith(b"data:") and b'"result"' in line:
                answer = json.loads(line[5:])
        return start["status"], answer
    return start["status"], json.loads(body) if body else None


class Driver:
    """Drives one app for one path: the session handshake, then rounds of calls."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.next_id = 1
        self.session_id: bytes | None = None
        self.app: Any = None
        self.mcp: Any = None

    def serve_path(self) -> Any:
        """Make the app of this path (`bare_app` for `bare`, else `build_server()`'s
        `http_app`) and return what enters its lifespan (nothing to enter for `bare`)."""
        if self.path == "bare":
            self.app = bare_app
            return contextlib.AsyncExitStack()
        self.mcp = build_server()
        self.app = self.mcp.http_app(json_response=self.path == "json")
        return self.app.lifespan(self.app)

    async def call_app(
        self, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> list[dict[str, Any]]:
        sink = Sink()
        await self.app(make_scope(headers), Receive(body), sink)
        return sink.messages

    async def handshake(self) -> None:
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": HANDSHAKE,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        }
        body = json.dumps(init).encode()
        messages = await self.call_app(body, base_headers(len(body)))
        status, answer = decode_answer(messages)
        if status != 200 or "result" not in (answer or {}):
            raise SystemExit(f"initialize failed: {status} {answer}")
        self.session_id = dict(messages[0]["headers"])[b"mcp-session-id"]
        body = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
        headers = [
            *base_headers(len(body)),
            (b"mcp-session-id", self.session_id),
            (b"mcp-protocol-version", HANDSHAKE.encode()),
        ]
        messages = await self.call_app(body, headers)
        if messages[0]["status"] != 202:
            raise SystemExit(f"notifications/initialized: {messages[0]['status']}")

    def prepare(self, n: int) -> list[tuple[dict[str, Any], Receive, int]]:
        out = []
        for _ in range(n):
            rid = self.next_id
            self.next_id += 1
            body = call_body(self.path, rid)
            out.append(
                (make_scope(call_headers(self.path, body, self.session_id)), Receive(body), rid)
            )
        return out

    fresh_task = False
    """Each request in a task of its own, as an HTTP server runs them (asyncio: a task made
    with `create_task`, as hypercorn and uvicorn do; trio: a nursery's task), instead of all
    in the driver's task: what a task's first cancel scope or context costs shows."""

    async def run(self, prepared: list[tuple[dict[str, Any], Receive, int]], sink: Sink) -> int:
        app = self.app
        clock = time.thread_time_ns
        if self.fresh_task:
            return await self._run_in_tasks(prepared, sink)
        t0 = clock()
        for scope, receive, _ in prepared:
            await app(scope, receive, sink)
        return clock() - t0

    async def _run_in_tasks(
        self, prepared: list[tuple[dict[str, Any], Receive, int]], sink: Sink
    ) -> int:
        app = self.app
        clock = time.thread_time_ns
        import sniffio

        if sniffio.current_async_library() == "trio":
            import trio

            t0 = clock()
            async with trio.open_nursery() as nursery:
                for scope, receive, _ in prepared:
                    done = trio.Event()

                    async def one(
                        scope: Any = scope, receive: Any = receive, done: Any = done
                    ) -> None:
                        await app(scope, receive, sink)
                        done.set()

                    nursery.start_soon(one)
                    await done.wait()
            return clock() - t0
        import asyncio

        loop = asyncio.get_running_loop()
        t0 = clock()
        for scope, receive, _ in prepared:
            await loop.create_task(app(scope, receive, sink))
        return clock() - t0

    def check(self, prepared: list[tuple[dict[str, Any], Receive, int]], sink: Sink) -> None:
        """Every answer: status 200, its id, a + b (the bare app: a result)."""
        messages = sink.messages
        i = 0
        for _, _, rid in prepared:
            j = i + 1
            while j < len(messages) and messages[j]["type"] != "http.response.start":
                j += 1
            status, answer = decode_answer(messages[i:j])
            i = j
            ok = status == 200 and isinstance(answer, dict) and answer.get("id") == rid
            if ok and self.path != "bare":
                result = answer.get("result") or {}
                ok = (result.get("structuredContent") or {}).get("result") == rid + rid % 997
            if not ok:
                raise SystemExit(f"{self.path}: bad answer to request {rid}: {status} {answer}")
        if i != len(messages):
            raise SystemExit(f"{self.path}: {len(messages) - i} stray messages")


async def measure(
    path: str,
    rounds: int,
    requests: int,
    warmup: int,
    alloc_requests: int,
    allocount: Any,
    fresh_task: bool = False,
) -> dict[str, Any]:

    driver = Driver(path)
    driver.fresh_task = fresh_task
    if path == "bare":
        driver.app = bare_app
        cm: Any = None
    else:
        driver.mcp = build_server()
        driver.app = driver.mcp.http_app(json_response=path == "json")
        cm = driver.app.lifespan(driver.app)
    result: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() if cm is None else cm:
        if path in ("json", "sse", "lazy"):
            await driver.handshake()
        prepared = driver.prepare(warmup)
        sink = Sink()
        await driver.run(prepared, sink)
        driver.check(prepared, sink)
        times = []
        for _ in range(rounds):
            prepared = driver.prepare(requests)
            sink = Sink()
            gc.collect()
            ns = await driver.run(prepared, sink)
            driver.check(prepared, sink)
            times.append(ns / requests / 1000)
        result["us"] = times
        # allocations: untimed
        prepared = driver.prepare(alloc_requests)
        sink = Sink()
        sink.messages = []
        gc.collect()
        gc.disable()
        try:
            before_blocks = sys.getallocatedblocks()
            before = allocount.counts() if allocount is not None else None
            await driver.run(prepared, sink)
            after = allocount.counts() if allocount is not None else None
            after_blocks = sys.getallocatedblocks()
        finally:
            gc.enable()
        driver.check(prepared, sink)
        # the sink keeps every message it was sent: not trimcp's, taken off the net figure
        kept = len(sink.messages)
        result["net_blocks"] = (after_blocks - before_blocks - kept) / alloc_requests
        if before is not None and after is not None:
            result["allocs"] = (after[0] - before[0]) / alloc_requests
            result["reallocs"] = (after[1] - before[1]) / alloc_requests
    return result


def trimcp_version() -> str:
    try:
        import trimcp

        where = Path(trimcp.__file__).resolve().parent.parent.parent
        rev = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return f"{where} @ {rev or '?'}{' + uncommitted src changes' if dirty else ''}"
    except Exception as e:  # informational only
        return f"unknown ({e})"


def worker_main() -> None:
    """Serve measurement commands, one JSON line in, one out, until stdin closes."""
    import anyio

    allocount = load_allocount()
    if allocount is not None:
        allocount.install()
    print(
        json.dumps({"ready": True, "trimcp": trimcp_version(), "allocount": allocount is not None}),
        flush=True,
    )
    for line in sys.stdin:
        cmd = json.loads(line)
        out = anyio.run(
            measure,
            cmd["path"],
            cmd["rounds"],
            cmd["requests"],
            cmd["warmup"],
            cmd["alloc_requests"],
            allocount,
            cmd.get("fresh_task", False),
            backend=cmd["backend"],
        )
        print(json.dumps(out), flush=True)


def profile_main(path: str, backend: str, seconds: float) -> None:
    """Run one path's calls for `seconds` (for a sampling profiler)."""
    import anyio

    async def loop() -> None:
        driver = Driver(path)
        driver.mcp = build_server()
        driver.app = driver.mcp.http_app(json_response=path == "json")
        async with driver.app.lifespan(driver.app):
            if path in ("json", "sse", "lazy"):
                await driver.handshake()
            deadline = time.monotonic() + seconds
            n = 0
            while time.monotonic() < deadline:
                prepared = driver.prepare(1000)
                sink = Sink()
                await driver.run(prepared, sink)
                driver.check(prepared, sink)
                n += 1000
        print(f"{path} {backend}: {n} requests in {seconds:.0f} s", file=sys.stderr)

    anyio.run(loop, backend=backend)


# --------------------------------------------------------------------------------------------
# the parent: workers side by side, paired rounds
# --------------------------------------------------------------------------------------------


class Worker:
    def __init__(self, python: str, label: str) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "TRIMCP_", "FASTMCP_"))
        }
        env["TRIMCP_OTEL"] = "0"  # no OpenTelemetry spans even when installed: trimcp's own work
        self.label = label
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        hello = self.read()
        self.trimcp = hello["trimcp"]
        self.allocount = hello["allocount"]

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.label} worker died (exit {self.proc.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def run(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--paths", default=DEFAULT_PATHS, help=f"comma list of {', '.join(ALL_PATHS)}")
    ap.add_argument("--backends", default="asyncio,trio")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--requests", type=int, default=2000, help="requests per round")
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--alloc-requests", type=int, default=500)
    ap.add_argument("--baseline-python", help="interpreter with an earlier trimcp: side by side")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the current trimcp")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--quick", action="store_true", help="3 rounds of 500")
    ap.add_argument(
        "--fresh-task",
        action="store_true",
        help="each request in a new task, as HTTP servers run them (default: one task)",
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile", choices=ALL_PATHS[:-1], help="run one path for a profiler")
    ap.add_argument("--backend", default="asyncio", help="with --profile")
    ap.add_argument("--seconds", type=float, default=20.0, help="with --profile")
    args = ap.parse_args()
    if args.worker:
        worker_main()
        return
    if args.profile:
        profile_main(args.profile, args.backend, args.seconds)
        return
    if args.quick:
        args.rounds, args.requests, args.warmup = 3, 500, 300
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if "bare" not in paths:
        paths.append("bare")
    for p in paths:
        if p not in ALL_PATHS:
            sys.exit(f"unknown path {p!r} (known: {', '.join(ALL_PATHS)})")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    workers = {"current": Worker(args.python, "current")}
    if args.baseline_python:
        workers["baseline"] = Worker(args.baseline_python, "baseline")
    for name, w in workers.items():
        print(
            f"{name:8}: {w.trimcp}  (allocations: {'gross, counted' if w.allocount else 'net only'})"
        )
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {args.rounds} rounds x "
        f"{args.requests} requests (+{args.warmup} warm-up), sequential, one task, CPU time; load "
        f"{os.getloadavg()[0]:.2f}"
    )
    # every round of a (path, backend) runs on each worker, alternating which goes first
    results: dict[str, dict[str, dict[str, Any]]] = {}
    order = list(workers)
    for path in paths:
        for backend in backends:
            key = f"{path}/{backend}"
            per: dict[str, dict[str, Any]] = {n: {"us": []} for n in workers}
            for r in range(args.rounds):
                for n in order if r % 2 == 0 else reversed(order):
                    out = workers[n].run(
                        path=path,
                        backend=backend,
                        rounds=1,
                        requests=args.requests,
                        warmup=args.warmup,
                        alloc_requests=args.alloc_requests if r == 0 else 1,
                        fresh_task=args.fresh_task,
                    )
                    per[n]["us"] += out["us"]
                    if r == 0:
                        per[n].update({k: v for k, v in out.items() if k != "us"})
            results[key] = per
            line = f"{key:16}"
            for n in workers:
                line += f"  {n} {statistics.median(per[n]['us']):7.1f} µs"
                if "allocs" in per[n]:
                    line += f" {per[n]['allocs']:6.0f} allocs"
                line += f" (net {per[n]['net_blocks']:+.2f})"
            if "baseline" in workers:
                ratios = [
                    b / c for b, c in zip(per["baseline"]["us"], per["current"]["us"], strict=True)
                ]
                per["ratio"] = {"paired": ratios, "median": statistics.median(ratios)}
                line += f"  baseline/current {statistics.median(ratios):.2f}x"
            print(line, flush=True)
    for w in workers.values():
        w.close()

    # trimcp's own work: each path's median minus the bare floor of the same backend and worker
    print("\ntrimcp's own µs per request (median minus the bare ASGI floor; medians of rounds)")
    summary: dict[str, Any] = {}
    for path in paths:
        if path == "bare":
            continue
        for backend in backends:
            key = f"{path}/{backend}"
            row: dict[str, Any] = {}
            line = f"{key:16}"
            for n in workers:
                floor = statistics.median(results[f"bare/{backend}"][n]["us"])
                own = statistics.median(results[key][n]["us"]) - floor
                row[n] = {"own_us": own, "allocs": results[key][n].get("allocs")}
                line += f"  {n} {own:7.1f} µs"
            if "baseline" in workers:
                # paired: each round's own work (minus that worker's median floor)
                fb = statistics.median(results[f"bare/{backend}"]["baseline"]["us"])
                fc = statistics.median(results[f"bare/{backend}"]["current"]["us"])
                pr = [
                    (b - fb) / (c - fc)
                    for b, c in zip(
                        results[key]["baseline"]["us"], results[key]["current"]["us"], strict=True
                    )
                ]
                row["own_ratio_paired_median"] = statistics.median(pr)
                line += f"  baseline/current {statistics.median(pr):.2f}x (paired rounds)"
            summary[key] = row
            print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "workers": {n: w.trimcp for n, w in workers.items()},
                    "rounds": args.rounds,
                    "requests": args.requests,
                    "results": results,
                    "own": summary,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
