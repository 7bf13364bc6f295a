"""`trimcp list` and `trimcp call`: a client from the shell, against stdio specs and HTTP."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import anyio
import pytest

from tests.test_cli_support import SERVER_SOURCE, TRIMCP, cli_env, http_server, run_cli, write
from trimcp.cli._common import CommandError
from trimcp.cli.client_cmds import build_arguments


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, "server.py", SERVER_SOURCE)
    return tmp_path


# -- call against a stdio spec -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["add", "a=2", "b=3"], "5"),
        (["greet", "name=Ada"], "Hello, Ada!"),
        (["greet", "name=5"], "Hello, 5!"),  # a string parameter keeps the text
        (["greet", "name=true"], "Hello, true!"),
        (["switch", "on=true"], "on=True"),
        (["switch", "on=yes"], "on=True"),
        (["switch"], "on=False"),
        (["add", "--args", '{"a": 1, "b": 1}'], "2"),
        (["add", "a=40", "--args", '{"a": 1, "b": 2}'], "42"),  # KEY=VALUE wins over --args
    ],
)
def test_call_a_stdio_spec_prints_the_text_result(
    project: Path, args: list[str], expected: str
) -> None:
    result = run_cli("call", "server.py", *args, cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n"


def test_call_passes_args_after_double_dash_to_the_server(project: Path) -> None:
    result = run_cli(
        "call", "server.py", "greet", "name=Ada", "--", "--greeting", "Hi", cwd=project
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hi, Ada!\n"


def test_call_json_prints_the_mcp_result(project: Path) -> None:
    result = run_cli("call", "server.py", "add", "a=2", "b=3", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["content"] == [{"type": "text", "text": "5"}]
    assert data["structuredContent"] == {"result": 5}
    assert not data.get("isError", False)


def test_call_a_failing_tool_exits_nonzero_with_its_message(project: Path) -> None:
    result = run_cli("call", "server.py", "fail", cwd=project)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: tool 'fail' failed:") and "it broke" in result.stderr
    as_json = run_cli("call", "server.py", "fail", "--json", cwd=project)
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["isError"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "unknown tool 'nope' (tools: add, fail, greet, switch)"),
        (["add", "c=1", "a=1", "b=2"], "tool 'add' has no argument 'c' (arguments: a, b)"),
        (["add", "a=1"], "tool 'add' needs b"),
        (["add", "a"], "bad argument 'a': expected KEY=VALUE"),
        (["add", "--args", "[1]"], "--args must be a JSON object"),
        (["add", "a=x", "b=1"], "tool 'add' failed"),  # the server's validation speaks
    ],
)
def test_call_bad_arguments_fail_with_one_line(
    project: Path, args: list[str], message: str
) -> None:
    result = run_cli("call", "server.py", *args, cwd=project)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.py", "error: no such file: 'missing.py'"),
        ("exits.py", "error: cannot reach the server exits.py:"),
        (
            "empty.py",
            "error: cannot reach the server empty.py: no FastMCP server found in empty.py",
        ),
    ],
)
def test_call_a_bad_or_dead_spec_fails_with_one_line(
    project: Path, spec: str, message: str
) -> None:
    write(project, "exits.py", "import sys\nsys.exit(3)\n")
    write(project, "empty.py", "x = 1\n")
    result = run_cli("call", spec, "add", "a=1", "b=2", cwd=project)
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_call_an_unreachable_url_fails_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("call", f"http://127.0.0.1:{port}/mcp", "add", "a=1", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot reach the server http://127.0.0.1:{port}/mcp")
    assert len(result.stderr.strip().splitlines()) == 1


# -- list ----------------------------------------------------------------------------------------


def test_list_a_stdio_spec(project: Path) -> None:
    result = run_cli("list", "server.py", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Tools (4)",
        "  add(a: integer, b: integer)  - Add two numbers.",
        "  greet(name: string)",
        "  switch(on?: boolean)",
        "  fail()",
        "Resources (1)",
        "  data://config",
        "Resource templates (1)",
        "  data://items/{item_id}",
        "Prompts (1)",
        "  ask(topic)",
    ]


def test_list_json_gives_the_wire_items(project: Path) -> None:
    result = run_cli("list", "server.py", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [tool["name"] for tool in data["tools"]] == ["add", "greet", "switch", "fail"]
    assert data["tools"][0]["inputSchema"]["properties"] == {
        "a": {"type": "integer"},
        "b": {"type": "integer"},
    }
    assert data["resources"][0]["uri"] == "data://config"
    assert data["resourceTemplates"][0]["uriTemplate"] == "data://items/{item_id}"
    assert data["prompts"][0]["arguments"] == [{"name": "topic", "required": True}]


# -- against an HTTP server ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_and_call_against_an_http_server(project: Path, anyio_backend: str) -> None:
    async with http_server(
        "server.py",
        "--transport",
        "http",
        "--port",
        "0",
        "--backend",
        anyio_backend,
        "--",
        "--greeting",
        "Howdy",
        cwd=project,
    ) as (_, url, _, _):
        with anyio.fail_after(60):
            called = await anyio.run_process(
                [TRIMCP, "call", url, "greet", "name=Ada"], cwd=project, env=cli_env(), check=False
            )
            listed = await anyio.run_process(
                [TRIMCP, "list", url, "--json"], cwd=project, env=cli_env(), check=False
            )
    assert called.returncode == 0, called.stderr
    assert called.stdout.decode() == "Howdy, Ada!\n"
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)["tools"]) == 4


# -- argument building (unit) --------------------------------------------------------------------


SCHEMA = {
    "type": "object",
    "properties": {
        "n": {"type": "integer"},
        "x": {"type": "number"},
        "s": {"type": "string"},
        "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "flag": {"type": "boolean"},
        "items": {"type": "array", "items": {"type": "integer"}},
        "mode": {"enum": ["fast", "slow"]},
    },
    "required": ["n"],
}


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (("n", "5"), 5),
        (("x", "5"), 5),
        (("x", "2.5"), 2.5),
        (("s", "hello"), "hello"),
        (("s", "5"), "5"),
        (("s", '"quoted"'), "quoted"),
        (("s", ""), ""),
        (("maybe", "null"), None),
        (("maybe", "7"), "7"),
        (("flag", "false"), False),
        (("flag", "On"), True),
        (("items", "[1, 2]"), [1, 2]),
        (("mode", "fast"), "fast"),
    ],
)
def test_values_are_json_then_fitted_to_the_schema(pair: tuple[str, str], expected: object) -> None:
    pairs = [pair] if pair[0] == "n" else [("n", "1"), pair]
    value = build_arguments(pairs, SCHEMA, tool="t")[pair[0]]
    assert value == expected and type(value) is type(expected)


def test_a_schema_without_properties_takes_any_key() -> None:
    assert build_arguments([("k", "1")], {"type": "object"}, tool="t") == {"k": 1}
    open_schema = {"type": "object", "properties": {"a": {}}, "additionalProperties": True}
    assert build_arguments([("z", "x")], open_schema, tool="t") == {"z": "x"}
    with pytest.raises(CommandError, match="no argument 'z'"):
        build_arguments([("z", "x")], {"properties": {"a": {}}}, tool="t")
