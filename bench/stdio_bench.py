#!/usr/bin/env python3
"""Side-by-side stdio benchmark: trimcp vs the official MCP SDK (MCPServer) vs FastMCP.

Each server is a subprocess speaking newline-delimited JSON-RPC over its stdin/stdout; this
harness talks raw JSON-RPC to it (no client library) and measures, per server:

  1. pipelined tools/call per second  (N `add` calls written back to back, best of R rounds)
  2. ping-pong latency                (sequential `add` calls, p50/p99 in microseconds)
  3. spawn to first answer            (process spawn -> `initialize` response, median)
  4. import time                      (`python -c "import X"` minus `python -c pass`, median)

Run `bench/setup.sh` first (creates bench/.venvs/{sdk,fastmcp}); trimcp runs with the
interpreter running this script.  Usage: python bench/stdio_bench.py [--quick] [--json out.json]
A server that fails is reported (with its stderr tail) and the run continues with the others.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import CHILDREN as _CHILDREN
from _common import BenchError, cpu_seconds
from _common import kill_children as _kill_children
from _common import python_can_import as _python_can_import

HERE = Path(__file__).resolve().parent
SERVERS = HERE / "servers"
VENVS = HERE / ".venvs"
PROTOCOL_VERSION = "2025-06-18"

# Targets from the issue.
TARGET_PIPELINED_X_SDK = 20.0  # trimcp pipelined calls/s >= 20x SDK
TARGET_FIRST_ANSWER_X_SDK = 0.25  # trimcp spawn->initialize <= 0.25x SDK
TARGET_IMPORT_MS = 150.0  # `import trimcp` < 150 ms

# --------------------------------------------------------------------------------------------
# server definitions
# --------------------------------------------------------------------------------------------


@dataclass
class ServerSpec:
    key: str  # column name, e.g. "trimcp[asyncio]"
    kind: str  # "trimcp" | "sdk" | "fastmcp"
    python: str | None  # interpreter, None if unavailable
    script: Path
    args: list[str] = field(default_factory=list)
    import_stmt: str = ""  # what `import X` measures
    class_import_stmt: str = ""  # importing the server class
    skip_reason: str | None = None

    def argv(self, pin: list[str]) -> list[str]:
        assert self.python is not None
        return [*pin, self.python, str(self.script), *self.args]


def build_specs(args: argparse.Namespace) -> list[ServerSpec]:
    wanted = {s.strip() for s in args.servers.split(",") if s.strip()}
    specs: list[ServerSpec] = []

    if "trimcp" in wanted:
        py = args.trimcp_python or sys.executable
        ok = _python_can_import(py, "trimcp")
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            specs.append(
                ServerSpec(
                    key=f"trimcp[{backend}]",
                    kind="trimcp",
                    python=py if ok else None,
                    script=SERVERS / "trimcp_server.py",
                    args=["--backend", backend],
                    import_stmt="import trimcp",
                    class_import_stmt="from trimcp import FastMCP",
                    skip_reason=None
                    if ok
                    else f"`import trimcp` fails with {py} (pip install -e .)",
                )
            )

    if args.baseline_python:  # an earlier trimcp beside this one: before and after, one run
        ok = _python_can_import(args.baseline_python, "trimcp")
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            specs.append(
                ServerSpec(
                    key=f"base[{backend}]",
                    kind="base",
                    python=args.baseline_python if ok else None,
                    script=SERVERS / "trimcp_server.py",
                    args=["--backend", backend],
                    import_stmt="import trimcp",
                    class_import_stmt="from trimcp import FastMCP",
                    skip_reason=None
                    if ok
                    else f"`import trimcp` fails with {args.baseline_python}",
                )
            )

    if "sdk" in wanted:
        py = args.sdk_python
        reason = None
        if py is None:
            cand = VENVS / "sdk" / "bin" / "python"
            if cand.exists():
                py = str(cand)
            elif _python_can_import(sys.executable, "mcp.server.mcpserver"):
                py = sys.executable
                print(
                    f"note: {cand} missing (run bench/setup.sh); using {py} for the SDK",
                    file=sys.stderr,
                )
        if py is None:
            reason = "no SDK venv: run bench/setup.sh (creates bench/.venvs/sdk with mcp==2.3.0)"
        elif not _python_can_import(py, "mcp.server.mcpserver"):
            reason, py = f"`import mcp.server.mcpserver` fails with {py}", None
        specs.append(
            ServerSpec(
                key="sdk",
                kind="sdk",
                python=py,
                script=SERVERS / "sdk_server.py",
                import_stmt="import mcp.server.mcpserver",
                class_import_stmt="from mcp.server.mcpserver import MCPServer",
                skip_reason=reason,
            )
        )

    if "fastmcp" in wanted:
        py = args.fastmcp_python
        reason = None
        if py is None:
            cand = VENVS / "fastmcp" / "bin" / "python"
            py = str(cand) if cand.exists() else None
        if py is None:
            reason = "no FastMCP venv: run bench/setup.sh (FastMCP install skipped or failed)"
        elif not _python_can_import(py, "fastmcp"):
            reason, py = f"`import fastmcp` fails with {py}", None
        specs.append(
            ServerSpec(
                key="fastmcp",
                kind="fastmcp",
                python=py,
                script=SERVERS / "fastmcp_server.py",
                import_stmt="import fastmcp",
                class_import_stmt="from fastmcp import FastMCP",
                skip_reason=reason,
            )
        )
    if "baseline" in wanted:
        specs.append(
            ServerSpec(
                key="baseline",
                kind="baseline",
                python=sys.executable,
                script=SERVERS / "baseline_server.py",
                import_stmt="import json",
                class_import_stmt="import json",
            )
        )
    unknown = wanted - {"trimcp", "sdk", "fastmcp", "baseline"}
    if unknown:
        print(f"note: unknown server(s) ignored: {', '.join(sorted(unknown))}", file=sys.stderr)
    return specs


# --------------------------------------------------------------------------------------------
# the raw JSON-RPC stdio client
# --------------------------------------------------------------------------------------------


try:  # the harness must stay far faster than the servers: msgspec decodes ~3.5x faster than json
    import msgspec

    _loads: Any = msgspec.json.decode
    _DECODE_ERRORS: tuple[type[Exception], ...] = (ValueError, msgspec.DecodeError)
    DECODER = "msgspec"
except ImportError:  # pragma: no cover
    _loads = json.loads
    _DECODE_ERRORS = (ValueError,)
    DECODER = "json"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


class StdioServer:
    """One server subprocess; newline-delimited JSON-RPC on its pipes, every wait bounded."""

    def __init__(self, argv: list[str], *, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self._stderr = tempfile.TemporaryFile()
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            bufsize=0,
            env=env,
            cwd=str(HERE),
        )
        _CHILDREN.add(self.proc)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._buf = b""
        self._write_error: BaseException | None = None
        self.stray: list[str] = []  # notifications / requests from the server, not answers

    # -- diagnostics --------------------------------------------------------------------------
    def stderr_tail(self, n: int = 2000) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - n))
            return self._stderr.read().decode(errors="replace").strip()
        except Exception:
            return ""

    def fail(self, msg: str) -> BenchError:
        rc = self.proc.poll()
        tail = self.stderr_tail()
        parts = [msg]
        if rc is not None:
            parts.append(f"(server exited with code {rc})")
        if tail:
            parts.append("\n    stderr tail:\n      " + tail.replace("\n", "\n      "))
        return BenchError(" ".join(parts))

    # -- writing ------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        try:
            os.write(self._in, data) if len(data) < 65536 else self._write_all(data)
        except (BrokenPipeError, OSError) as e:
            raise self.fail(f"writing to the server's stdin failed: {e!r}") from None

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._in, view)
            view = view[n:]

    def write_in_thread(self, data: bytes) -> threading.Thread:
        """Write a big blob from a thread so that the pipes cannot deadlock."""

        def run() -> None:
            try:
                self._write_all(data)
            except BaseException as e:
                self._write_error = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    # -- reading ------------------------------------------------------------------------------
    def read_lines(self, deadline: float) -> list[bytes]:
        """Block until at least one full line is available (or the deadline passes)."""
        while b"\n" not in self._buf:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise self.fail("timed out waiting for the server's answer")
            r, _, _ = select.select([self._out], [], [], left)
            if not r:
                continue
            chunk = os.read(self._out, 1 << 20)
            if not chunk:
                raise self.fail("the server closed its stdout (EOF)")
            self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        return [ln for ln in lines if ln.strip()]

    def parse(self, line: bytes) -> dict[str, Any] | None:
        """A JSON-RPC answer, or None for a server notification/request (kept in `stray`)."""
        try:
            msg = _loads(line)
        except _DECODE_ERRORS:
            raise self.fail(f"non-JSON line on the server's stdout: {line[:200]!r}") from None
        if not isinstance(msg, dict):
            raise self.fail(f"unexpected JSON on stdout (batch?): {line[:200]!r}")
        if "method" in msg:
            self.stray.append(msg["method"])
            if "id" in msg:  # a server->client request: answer it with an error, never stall
                self.write(
                    _dumps(
                        {
                            "jsonrpc": "2.0",
                            "id": msg["id"],
                            "error": {"code": -32601, "message": "bench client"},
                        }
                    )
                )
            return None
        return msg

    def request(
        self, req_id: Any, method: str, params: dict[str, Any] | None, timeout: float
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.write(_dumps(msg))
        return self.wait_for(req_id, timeout)

    def wait_for(self, req_id: Any, timeout: float) -> dict[str, Any]:
        deadline = time.perf_counter() + timeout
        while True:
            for line in self.read_lines(deadline):
                msg = self.parse(line)
                if msg is None:
                    continue
                if msg.get("id") != req_id:
                    raise self.fail(
                        f"answer with unexpected id {msg.get('id')!r} (wanted {req_id!r}): {line[:200]!r}"
                    )
                return msg

    def handshake(self, timeout: float) -> dict[str, Any]:
        resp = self.request(
            0,
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "trimcp-stdio-bench", "version": "1"},
            },
            timeout,
        )
        if "result" not in resp:
            raise self.fail(f"initialize failed: {json.dumps(resp)[:300]}")
        self.write(_dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        return resp["result"]

    def close(self, timeout: float = 3.0) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        try:
            if self.proc.stdout:
                self.proc.stdout.close()
        except OSError:
            pass
        self._stderr.close()
        _CHILDREN.discard(self.proc)


# --------------------------------------------------------------------------------------------
# result checks
# --------------------------------------------------------------------------------------------


def check_tool_result(msg: dict[str, Any], expected: Any) -> str | None:
    """None if `msg` is a successful tools/call result equal to `expected`, else why not."""
    if "error" in msg:
        return f"JSON-RPC error {msg['error']}"
    res = msg.get("result")
    if not isinstance(res, dict):
        return f"no result object: {str(msg)[:200]}"
    if res.get("isError"):
        return f"tool error: {str(res)[:200]}"
    sc = res.get("structuredContent")
    if isinstance(sc, dict) and "result" in sc:
        return None if sc["result"] == expected else f"structuredContent {sc} != {expected!r}"
    content = res.get("content") or []
    if content and isinstance(content[0], dict) and content[0].get("type") == "text":
        text = content[0].get("text")
        return None if text == str(expected) else f"text {text!r} != {str(expected)!r}"
    return f"result has neither structuredContent.result nor text: {str(res)[:200]}"


def sanity(server: StdioServer, timeout: float) -> None:
    r = server.request(1, "tools/list", {}, timeout)
    names = {t.get("name") for t in (r.get("result") or {}).get("tools", [])}
    if not {"add", "echo"} <= names:
        raise server.fail(f"tools/list does not list add and echo: {json.dumps(r)[:300]}")
    r = server.request(2, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 40}}, timeout)
    if why := check_tool_result(r, 42):
        raise server.fail(f"add(2, 40): {why}")
    r = server.request(3, "tools/call", {"name": "echo", "arguments": {"text": "héllo ✓"}}, timeout)
    if why := check_tool_result(r, "héllo ✓"):
        raise server.fail(f"echo: {why}")


# --------------------------------------------------------------------------------------------
# the measurements
# --------------------------------------------------------------------------------------------


class IdGen:
    def __init__(self) -> None:
        self.n = 100

    def take(self, k: int) -> range:
        r = range(self.n, self.n + k)
        self.n += k
        return r


TOOL = b"add"
"""The tool the timed calls use: `add` (a sync function: every framework runs it in a worker
thread) or, with `--async-tool`, `aadd` (the same as `async def`: it runs on the loop)."""


def _add_batch(ids: range, rng: random.Random) -> tuple[bytes, dict[int, int]]:
    expected: dict[int, int] = {}
    parts = []
    for i in ids:
        a, b = rng.randrange(-(10**6), 10**6), rng.randrange(-(10**6), 10**6)
        expected[i] = a + b
        parts.append(
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"%s","arguments":{"a":%d,"b":%d}}}\n'
            % (i, TOOL, a, b)
        )
    return b"".join(parts), expected


def pipelined_round(
    server: StdioServer, ids: range, rng: random.Random, timeout: float
) -> tuple[float, float | None]:
    """Write len(ids) calls back to back, read all answers, check them; return calls/s and
    the server's CPU time per call in µs (None where unknown). CPU per call is the steadier
    figure on a busy machine: another process taking the CPU slows the rate, not the work."""
    blob, expected = _add_batch(ids, rng)
    n = len(expected)
    got = 0
    deadline = time.perf_counter() + timeout
    cpu0 = cpu_seconds(server.proc.pid)
    t0 = time.perf_counter()
    writer = server.write_in_thread(blob)
    while got < n:
        try:
            lines = server.read_lines(deadline)
        except BenchError as e:
            raise BenchError(f"after {got}/{n} answers: {e}") from None
        for line in lines:
            msg = server.parse(line)
            if msg is None:
                continue
            rid = msg.get("id")
            want = expected.pop(rid, None) if isinstance(rid, int) else None
            if want is None:
                raise server.fail(f"unexpected or duplicate answer id {rid!r}: {line[:200]!r}")
            if why := check_tool_result(msg, want):
                raise server.fail(f"wrong answer for id {rid}: {why}")
            got += 1
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_seconds(server.proc.pid)
    writer.join(timeout=max(0.0, deadline - time.perf_counter()))
    if server._write_error is not None:
        raise server.fail(f"writer thread failed: {server._write_error!r}")
    cpu = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / n * 1e6
    return n / elapsed, cpu


def pingpong(server: StdioServer, ids: range, rng: random.Random, timeout: float) -> list[float]:
    lat: list[float] = []
    for i in ids:
        a, b = rng.randrange(1000), rng.randrange(1000)
        data = (
            b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"%s","arguments":{"a":%d,"b":%d}}}\n'
            % (i, TOOL, a, b)
        )
        t0 = time.perf_counter()
        server.write(data)
        msg = server.wait_for(i, timeout)
        lat.append(time.perf_counter() - t0)
        if why := check_tool_result(msg, a + b):
            raise server.fail(f"wrong answer for id {i}: {why}")
    return lat


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    f = int(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def spawn_to_first_answer(
    spec: ServerSpec, pin: list[str], env: dict[str, str], timeout: float
) -> float:
    srv = StdioServer(spec.argv(pin), env=env)
    try:
        # The initialize request goes out right after spawn (the pipe buffers it), as a client does.
        srv.handshake(timeout)
        return time.perf_counter() - srv.t_spawn
    finally:
        srv.close()


def import_time(
    python: str, stmt: str, pin: list[str], env: dict[str, str], runs: int, timeout: float
) -> dict[str, float]:
    def once(code: str) -> float:
        t0 = time.perf_counter()
        r = subprocess.run(
            [*pin, python, "-c", code], capture_output=True, timeout=timeout, env=env
        )
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise BenchError(
                f"`{python} -c {code!r}` failed: {r.stderr.decode(errors='replace')[-800:]}"
            )
        return dt

    once(stmt)  # warm the bytecode cache and the page cache
    once("pass")
    bare, full = [], []
    for _ in range(runs):  # interleave, so drift hits both equally
        bare.append(once("pass"))
        full.append(once(stmt))
    b, f = statistics.median(bare), statistics.median(full)
    return {"bare_ms": b * 1e3, "total_ms": f * 1e3, "ms": (f - b) * 1e3}


def importtime_top(
    python: str, stmt: str, env: dict[str, str], top: int, timeout: float
) -> list[dict[str, Any]]:
    r = subprocess.run(
        [python, "-X", "importtime", "-c", stmt], capture_output=True, timeout=timeout, env=env
    )
    rows = []
    for line in r.stderr.decode(errors="replace").splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            _, rest = line.split(":", 1)
            self_us, cum_us, name = rest.split("|", 2)
            rows.append(
                {"module": name.strip(), "self_us": int(self_us), "cumulative_us": int(cum_us)}
            )
        except ValueError:
            continue
    rows.sort(key=lambda r: r["self_us"], reverse=True)
    return rows[:top]


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    for k in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONPROFILEIMPORTTIME",
    ):
        env.pop(k, None)
    env.pop("PYTHONUNBUFFERED", None)
    # FastMCP: no network update check (only done with the banner, which is off anyway).
    env.setdefault("FASTMCP_CHECK_FOR_UPDATES", "off")
    return env


def run_one(
    spec: ServerSpec,
    args: argparse.Namespace,
    pin: list[str],
    env: dict[str, str],
    res: dict[str, Any],
) -> dict[str, Any]:
    """Measure one server, filling `res` as it goes (so an interrupted run still reports)."""
    res.update({"server": spec.key, "python": spec.python, "argv": None, "errors": {}})
    if spec.skip_reason:
        res["skipped"] = spec.skip_reason
        print(f"  SKIPPED: {spec.skip_reason}", flush=True)
        return res
    res["argv"] = spec.argv(pin)
    rng = random.Random(1234)

    def step(name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        try:
            out = fn()
        except BenchError as e:
            res["errors"][name] = str(e)
            print(f"  {name:<22} FAILED: {e}", flush=True)
            return None
        except subprocess.TimeoutExpired as e:
            res["errors"][name] = f"timeout: {e}"
            print(f"  {name:<22} FAILED: timeout {e}", flush=True)
            return None
        print(f"  {name:<22} {describe(name, out)}   [{time.perf_counter() - t0:.1f}s]", flush=True)
        return out

    # 1+2: one long-lived server process for throughput and latency
    def session() -> dict[str, Any]:
        srv = StdioServer(spec.argv(pin), env=env)
        out = res  # fill in place: partial figures survive a later failure or Ctrl-C
        try:
            init = srv.handshake(args.timeout)
            out["server_info"] = init.get("serverInfo")
            out["protocol_version"] = init.get("protocolVersion")
            sanity(srv, args.timeout)
            ids = IdGen()
            gc.disable()
            try:
                pipelined_round(srv, ids.take(min(500, args.calls)), rng, args.timeout)  # warm-up
                rates, cpus = [], []
                for _ in range(args.rounds):
                    rate, cpu = pipelined_round(
                        srv, ids.take(args.calls), rng, max(args.timeout, args.calls / 50)
                    )
                    rates.append(rate)
                    if cpu is not None:
                        cpus.append(cpu)
                out["pipelined"] = {
                    "calls": args.calls,
                    "rounds": rates,
                    "best": max(rates),
                    "cpu_us_per_call": min(cpus) if cpus else None,
                }
                print(
                    f"  {'pipelined calls/s':<22} {describe('pipelined', out['pipelined'])}",
                    flush=True,
                )
                pingpong(srv, ids.take(min(100, args.pings)), rng, args.timeout)  # warm-up
                lat = pingpong(srv, ids.take(args.pings), rng, args.timeout)
            finally:
                gc.enable()
            out["latency"] = {
                "calls": args.pings,
                "p50_us": pct(lat, 50) * 1e6,
                "p99_us": pct(lat, 99) * 1e6,
                "mean_us": statistics.fmean(lat) * 1e6,
            }
            print(f"  {'ping-pong latency':<22} {describe('latency', out['latency'])}", flush=True)
            if srv.stray:
                out["server_messages"] = sorted(set(srv.stray))
        finally:
            srv.close()
        return out

    try:
        session()
    except BenchError as e:
        res["errors"]["session"] = str(e)
        print(f"  session FAILED: {e}", flush=True)

    # 3: spawn -> initialize response
    def first_answer() -> dict[str, Any]:
        times = [spawn_to_first_answer(spec, pin, env, args.timeout) for _ in range(args.spawns)]
        return {
            "runs": [t * 1e3 for t in times],
            "median_ms": statistics.median(times) * 1e3,
            "min_ms": min(times) * 1e3,
        }

    if not res["errors"] or args.keep_going:
        res["first_answer"] = step("spawn->first answer", first_answer)
    else:
        print(
            "  (spawn->first answer skipped: the server failed above; --keep-going to try anyway)"
        )

    # 4: import time
    if spec.kind == "trimcp" and spec.args[-1] != args.backends.split(",")[0].strip():
        pass  # same interpreter and import for every trimcp backend: measured once
    else:
        res["import"] = step(
            "import",
            lambda: import_time(
                spec.python, spec.import_stmt, pin, env, args.imports, args.timeout
            ),
        )
        res["class_import"] = step(
            "class import",
            lambda: import_time(
                spec.python, spec.class_import_stmt, pin, env, args.imports, args.timeout
            ),
        )
        if args.importtime:
            try:
                res["importtime_top"] = importtime_top(
                    spec.python, spec.class_import_stmt, env, args.importtime, args.timeout
                )
            except (subprocess.TimeoutExpired, OSError) as e:
                res["errors"]["importtime"] = repr(e)
    return res


def describe(name: str, out: Any) -> str:
    if out is None:
        return "-"
    if name == "pipelined":
        cpu = out.get("cpu_us_per_call")
        cpu_text = "" if cpu is None else f"; server CPU {cpu:,.1f} µs/call (min)"
        return f"best {out['best']:,.0f}/s  (rounds: {', '.join(f'{r:,.0f}' for r in out['rounds'])}; N={out['calls']}{cpu_text})"
    if name == "latency":
        return f"p50 {out['p50_us']:,.0f} µs  p99 {out['p99_us']:,.0f} µs  (n={out['calls']})"
    if name == "spawn->first answer":
        return f"median {out['median_ms']:.1f} ms  (min {out['min_ms']:.1f}; n={len(out['runs'])})"
    if name in ("import", "class import"):
        return (
            f"{out['ms']:.1f} ms  (total {out['total_ms']:.1f} - bare python {out['bare_ms']:.1f})"
        )
    return str(out)


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def metrics_of(r: dict[str, Any]) -> dict[str, float | None]:
    def g(*path: str) -> float | None:
        cur: Any = r
        for p in path:
            if not isinstance(cur, dict) or cur.get(p) is None:
                return None
            cur = cur[p]
        return float(cur)

    return {
        "pipelined calls/s": g("pipelined", "best"),
        "pipelined CPU µs/call": g("pipelined", "cpu_us_per_call"),
        "ping-pong p50 µs": g("latency", "p50_us"),
        "ping-pong p99 µs": g("latency", "p99_us"),
        "spawn->init ms": g("first_answer", "median_ms"),
        "import ms": g("import", "ms"),
        "class import ms": g("class_import", "ms"),
    }


def fmt(v: float | None, metric: str) -> str:
    if v is None:
        return "-"
    if "calls/s" in metric or "µs" in metric:
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def report(results: list[dict[str, Any]]) -> dict[str, Any]:
    # trimcp's import is measured once, copy it onto every trimcp column
    trim = [r for r in results if r["server"].startswith("trimcp")]
    for r in trim:
        for k in ("import", "class_import"):
            if r.get(k) is None:
                r[k] = next((t.get(k) for t in trim if t.get(k)), None)
    cols = [r["server"] for r in results]
    m = {r["server"]: metrics_of(r) for r in results}
    metrics = list(next(iter(m.values())).keys()) if m else []
    refs = [c for c in ("sdk", "fastmcp") if c in m]
    ratio_cols = [(t, ref) for t in cols if t.startswith("trimcp") for ref in refs]

    def short(t: str) -> str:  # "trimcp[asyncio]" -> "asyncio"
        return t[len("trimcp[") : -1] if t.startswith("trimcp[") else t

    ratio_cols += [(t, f"base[{short(t)}]") for t in cols if f"base[{short(t)}]" in m]

    headers = ["metric", *cols, *[f"{short(t)}/{ref}" for t, ref in ratio_cols]]
    rows = []
    for metric in metrics:
        row = [metric, *[fmt(m[c][metric], metric) for c in cols]]
        for t, ref in ratio_cols:
            a, b = m[t][metric], m[ref][metric]
            row.append(f"{a / b:.2f}x" if a is not None and b else "-")
        rows.append(row)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(
        h.rjust(w) if i else h.ljust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    print("\n" + line)
    print("-" * len(line))
    for row in rows:
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        "(calls/s: higher is better; µs/ms: lower is better.  Ratio columns are trimcp[backend]/reference."
    )
    print(
        " import = `import X` minus bare `python -c pass` (X = trimcp / mcp.server.mcpserver / fastmcp);"
    )
    print(" class import = the same for importing the server class: FastMCP / MCPServer / FastMCP;")
    print(
        " pipelined CPU = the server process's CPU time (all threads) per pipelined call, best round:"
    )
    print(" steadier than calls/s when other processes share the machine.)")

    # targets
    targets: list[dict[str, Any]] = []
    sdk = m.get("sdk")
    for t in [c for c in cols if c.startswith("trimcp")]:
        tm = m[t]
        checks = [
            (
                "pipelined calls/s >= 20x SDK",
                tm["pipelined calls/s"],
                sdk and sdk["pipelined calls/s"],
                lambda a, b: a / b >= TARGET_PIPELINED_X_SDK,
                lambda a, b: f"{a / b:.1f}x",
            ),
            (
                "spawn->first answer <= 0.25x SDK",
                tm["spawn->init ms"],
                sdk and sdk["spawn->init ms"],
                lambda a, b: a / b <= TARGET_FIRST_ANSWER_X_SDK,
                lambda a, b: f"{a / b:.2f}x",
            ),
            (
                "`import trimcp` < 150 ms",
                tm["import ms"],
                1.0,
                lambda a, b: a < TARGET_IMPORT_MS,
                lambda a, b, tm=tm: (
                    f"{a:.1f} ms"
                    + (
                        f"  (`from trimcp import FastMCP`: {tm['class import ms']:.1f} ms)"
                        if tm["class import ms"] is not None
                        else ""
                    )
                ),
            ),
        ]
        for name, a, b, ok, show in checks:
            if a is None or not b:
                status, shown = "n/a", "(not measured)"
            else:
                status, shown = ("PASS" if ok(a, b) else "FAIL"), show(a, b)
            targets.append({"server": t, "target": name, "value": shown, "status": status})
    if targets:
        print("\nTargets (from the issue):")
        for tg in targets:
            print(f"  [{tg['status']:>4}] {tg['server']:<16} {tg['target']:<34} {tg['value']}")

    failed = [(r["server"], k, v) for r in results for k, v in (r.get("errors") or {}).items()]
    skipped = [(r["server"], r["skipped"]) for r in results if r.get("skipped")]
    if failed or skipped:
        print("\nProblems:")
        for s, why in skipped:
            print(f"  {s}: SKIPPED - {why}")
        for s, k, v in failed:
            lines = [ln.strip() for ln in v.splitlines() if ln.strip()] if v else [""]
            last = f"  [stderr: {lines[-1][:200]}]" if "stderr tail:" in v else ""
            print(f"  {s}: {k} FAILED - {lines[0][:300]}{last}")
    tops = [r for r in results if r.get("importtime_top")]
    if tops:
        print("\n-X importtime, top self times (µs) when importing the server class:")
        for r in tops:
            print(f"  {r['server']}:")
            for row in r["importtime_top"]:
                print(f"    {row['self_us']:>8,}  {row['cumulative_us']:>9,}  {row['module']}")
    return {"targets": targets}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--async-tool",
        action="store_true",
        help="time `aadd` (async def) instead of `add` (a sync function run in a worker thread)",
    )
    ap.add_argument(
        "--servers",
        default="trimcp,sdk,fastmcp",
        help="comma list from trimcp,sdk,fastmcp,baseline (baseline = bare stdlib loop, the harness ceiling)",
    )
    ap.add_argument(
        "--backends", default="asyncio,trio", help="trimcp backends to run (comma list)"
    )
    ap.add_argument(
        "--calls", type=int, default=5000, help="pipelined calls per round (default 5000)"
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="pipelined rounds, best is reported (default 3)"
    )
    ap.add_argument(
        "--pings", type=int, default=1000, help="sequential ping-pong calls (default 1000)"
    )
    ap.add_argument(
        "--spawns", type=int, default=10, help="spawns for spawn->first answer (default 10)"
    )
    ap.add_argument(
        "--imports", type=int, default=10, help="runs per import-time figure (default 10)"
    )
    ap.add_argument(
        "--importtime",
        type=int,
        nargs="?",
        const=12,
        default=0,
        metavar="TOP",
        help="also show the top TOP `-X importtime` self times (default 12 if given)",
    )
    ap.add_argument(
        "--timeout", type=float, default=30.0, help="bound on every single wait, s (default 30)"
    )
    ap.add_argument(
        "--quick", action="store_true", help="small run: 1000 calls x2, 200 pings, 3 spawns/imports"
    )
    ap.add_argument(
        "--no-pin", action="store_true", help="do not pin server to CPU 0 / harness to CPU 1"
    )
    ap.add_argument(
        "--keep-going", action="store_true", help="measure spawn time even if the session failed"
    )
    ap.add_argument("--trimcp-python", help="interpreter for trimcp (default: this one)")
    ap.add_argument(
        "--baseline-python",
        help="an interpreter with an earlier trimcp: adds base[backend] columns (before/after)",
    )
    ap.add_argument(
        "--sdk-python", help="interpreter for the SDK (default bench/.venvs/sdk/bin/python)"
    )
    ap.add_argument(
        "--fastmcp-python", help="interpreter for FastMCP (default bench/.venvs/fastmcp/bin/python)"
    )
    ap.add_argument("--json", metavar="PATH", help="write all figures as JSON")
    args = ap.parse_args()
    global TOOL
    if args.async_tool:
        TOOL = b"aadd"
    if args.quick:
        args.calls, args.rounds, args.pings, args.spawns, args.imports = 1000, 2, 200, 3, 3

    pin: list[str] = []
    ncpu = os.cpu_count() or 1
    if (
        not args.no_pin
        and ncpu >= 2
        and shutil.which("taskset")
        and hasattr(os, "sched_setaffinity")
    ):
        pin = ["taskset", "-c", "0"]
        os.sched_setaffinity(0, {1})
        pinning = "server on CPU 0 (taskset -c 0), harness on CPU 1"
    else:
        pinning = "no CPU pinning"
    env = server_env()
    specs = build_specs(args)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(
        f"stdio bench: python {platform.python_version()} on {platform.machine()}, {ncpu} CPUs, {pinning},"
        f" harness decodes with {DECODER}"
    )
    print(
        f"  pipelined: {args.calls} calls x {args.rounds} rounds (best); ping-pong: {args.pings}; "
        f"spawns: {args.spawns}; import runs: {args.imports}; timeout {args.timeout:.0f}s per wait"
    )

    results = []
    try:
        for spec in specs:
            print(
                f"\n== {spec.key}  ({spec.python or 'unavailable'} {spec.script.name} {' '.join(spec.args)})",
                flush=True,
            )
            res: dict[str, Any] = {}
            results.append(res)
            run_one(spec, args, pin, env, res)
    except KeyboardInterrupt:
        print("\ninterrupted; reporting what was measured", file=sys.stderr)
    finally:
        _kill_children()

    summary = report(results) if results else {"targets": []}
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    # our own run keeps ~1-2 CPUs busy, so only the load *before* the run says much about noise
    if load0 is not None and load0 > 0.5:
        print(
            f"\nWARNING: 1-min load average was {load0:.2f} before the run ({load1:.2f} after):"
            " other processes were busy, figures are noisy. Re-run on a quiet machine."
        )
    if args.json:
        out = {
            "meta": {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": ncpu,
                "pinning": pinning,
                "harness_decoder": DECODER,
                "loadavg_1min_before": load0,
                "loadavg_1min_after": load1,
                "protocol_version": PROTOCOL_VERSION,
                "params": {k: v for k, v in vars(args).items() if k != "json"},
            },
            "results": results,
            **summary,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        print(f"\nJSON written to {args.json}")
    ok = all(not r.get("errors") and not r.get("skipped") for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
