"""`trimcp run` and server specs, through the real `trimcp` executable."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from tests.test_cli_support import (
    SERVER_SOURCE,
    TRIMCP,
    cli_env,
    http_server,
    read_stderr_until,
    run_cli,
    write,
)
from tests.wire import INITIALIZE
from trimcp import Client
from trimcp.client import StdioTransport

SPECS_SOURCE = """
from trimcp import FastMCP

alpha = FastMCP("Alpha")
beta = FastMCP("Beta")


def create_server():
    server = FastMCP("FromSyncFactory")

    @server.tool
    def where() -> str:
        return "sync factory"

    return server


async def create_server_async():
    server = FastMCP("FromAsyncFactory")

    @server.tool
    def where() -> str:
        return "async factory"

    return server


def not_a_factory():
    return 42


number = 3
"""


def server_name(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["server"]["name"]


# -- spec forms ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("server.py", "Demo"),
        ("server.py:mcp", "Demo"),
        ("specs.py:beta", "Beta"),
        ("specs.py:create_server", "FromSyncFactory"),
        ("specs.py:create_server_async", "FromAsyncFactory"),
        ("pkg.servers:alpha", "Alpha"),
        ("pkg.default", "InPackage"),
    ],
)
def test_each_spec_form_resolves_to_its_server(tmp_path: Path, spec: str, expected: str) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    write(tmp_path, "specs.py", SPECS_SOURCE)
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/servers.py", SPECS_SOURCE)
    write(tmp_path, "pkg/default.py", "from trimcp import FastMCP\napp = FastMCP('InPackage')\n")
    assert server_name(run_cli("inspect", spec, cwd=tmp_path)) == expected


def test_dash_m_imports_a_module_from_the_working_directory(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/default.py", "from trimcp import FastMCP\nserver = FastMCP('Mod')\n")
    write(tmp_path, "pkg/servers.py", SPECS_SOURCE)
    assert server_name(run_cli("inspect", "-m", "pkg.default", cwd=tmp_path)) == "Mod"
    assert server_name(run_cli("inspect", "-m", "pkg.servers:beta", cwd=tmp_path)) == "Beta"


def test_absolute_path_spec_works_from_another_directory(tmp_path: Path) -> None:
    path = write(tmp_path / "project", "server.py", SERVER_SOURCE)
    assert server_name(run_cli("inspect", f"{path}:mcp", cwd=tmp_path)) == "Demo"


def test_default_names_are_tried_in_order_mcp_server_app(tmp_path: Path) -> None:
    write(
        tmp_path,
        "s.py",
        """
        from trimcp import FastMCP
        app = FastMCP("the app")
        server = FastMCP("the server")
        mcp = FastMCP("the mcp")
        """,
    )
    write(
        tmp_path, "t.py", "from trimcp import FastMCP\napp = FastMCP('A')\nserver = FastMCP('S')\n"
    )
    assert server_name(run_cli("inspect", "s.py", cwd=tmp_path)) == "the mcp"
    assert server_name(run_cli("inspect", "t.py", cwd=tmp_path)) == "S"


def test_main_block_does_not_run_and_module_is_not_main(tmp_path: Path) -> None:
    write(
        tmp_path,
        "guarded.py",
        """
        from trimcp import FastMCP
        mcp = FastMCP(__name__)
        if __name__ == "__main__":
            raise SystemExit("the __main__ block ran")
        """,
    )
    result = run_cli("inspect", "guarded.py", cwd=tmp_path)
    assert "__main__" not in result.stderr
    assert server_name(result) == "guarded"


def test_a_module_may_run_an_event_loop_while_it_is_imported(tmp_path: Path) -> None:
    write(
        tmp_path,
        "setup_at_import.py",
        """
        import asyncio
        from trimcp import FastMCP

        async def fetch_name():
            return "Configured"

        mcp = FastMCP(asyncio.run(fetch_name()))
        """,
    )
    assert server_name(run_cli("inspect", "setup_at_import.py", cwd=tmp_path)) == "Configured"


# -- discovery errors ------------------------------------------------------------------------


def test_discovery_error_names_the_candidates(tmp_path: Path) -> None:
    write(tmp_path, "specs.py", SPECS_SOURCE)
    result = run_cli("inspect", "specs.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "alpha, beta" in result.stderr
    assert "specs.py:alpha" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_discovery_error_without_any_server_suggests_a_factory(tmp_path: Path) -> None:
    write(
        tmp_path, "f.py", "from trimcp import FastMCP\ndef create_server():\n    return FastMCP()\n"
    )
    result = run_cli("inspect", "f.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "no FastMCP server found in f.py" in result.stderr
    assert "f.py:create_server" in result.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.py", "no such file"),
        ("specs.py:nothing", "has no object 'nothing'"),
        ("specs.py:number", "not a FastMCP server or a factory"),
        ("specs.py:not_a_factory", "did not return a FastMCP server"),
        ("no_such_module.sub:obj", "no module named 'no_such_module.sub'"),
        ("broken.py", "importing broken.py failed: ZeroDivisionError"),
        ("needs_dep.py", "no module named 'surely_not_installed_pkg'"),
        ("plain.json", 'has no "mcpServers" object'),
        ("not a spec!", "bad server spec"),
    ],
)
def test_bad_specs_fail_with_one_clear_line(tmp_path: Path, spec: str, message: str) -> None:
    write(tmp_path, "specs.py", SPECS_SOURCE)
    write(tmp_path, "broken.py", "x = 1 / 0\n")
    write(tmp_path, "needs_dep.py", "import surely_not_installed_pkg\n")
    write(tmp_path, "servers.json", '{"mcpServers": {"a": {"url": "http://127.0.0.1:9/mcp"}}}')
    write(tmp_path, "plain.json", '{"x": 1}')
    result = run_cli("run", spec, "--no-banner", cwd=tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, result.stderr
    if "ZeroDivisionError" not in message:
        assert "Traceback" not in result.stderr


def test_import_failure_shows_the_servers_own_traceback(tmp_path: Path) -> None:
    write(tmp_path, "broken.py", "def f():\n    return 1 / 0\n\nf()\n")
    result = run_cli("inspect", "broken.py", cwd=tmp_path)
    assert result.returncode == 1
    assert 'broken.py", line 2, in f' in result.stderr
    assert "importlib" not in result.stderr  # the import machinery's frames are left out


# -- run over stdio, both backends -----------------------------------------------------------


@pytest.mark.anyio
async def test_run_stdio_serves_a_client_and_passes_args_after_double_dash(
    tmp_path: Path, anyio_backend: str
) -> None:
    server = write(tmp_path, "server.py", SERVER_SOURCE)
    transport = StdioTransport(
        TRIMCP,
        ["run", str(server), "--backend", anyio_backend, "--no-banner", "--", "--greeting", "Ahoy"],
        cwd=tmp_path,
    )
    with anyio.fail_after(30):
        async with Client(transport) as client:
            assert client.server_info is not None and client.server_info.name == "Demo"
            result = await client.call_tool("greet", {"name": "Ada"})
            assert result.data == "Ahoy, Ada!"
            assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_run_stdio_answers_raw_json_rpc(tmp_path: Path, backend: str) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    process = subprocess.Popen(
        [TRIMCP, "run", "server.py", "--backend", backend],
        cwd=tmp_path,
        env=cli_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(json.dumps(INITIALIZE) + "\n")
        process.stdin.flush()
        reply = json.loads(process.stdout.readline())  # bounded by the communicate() below
        assert reply["result"]["serverInfo"]["name"] == "Demo"
        process.stdin.write(
            json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"
        )
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 20, "b": 22}},
        }
        process.stdin.write(json.dumps(call) + "\n")
        process.stdin.flush()
        reply = json.loads(process.stdout.readline())
        assert reply["id"] == 2 and reply["result"]["structuredContent"] == {"result": 42}
        _, stderr = process.communicate(timeout=30)  # closing stdin ends the server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "server 'Demo'" in stderr and "stdio" in stderr  # the banner, on stderr


@pytest.mark.parametrize(
    ("flag", "env"),
    [
        ("--no-banner", {}),
        (None, {"TRIMCP_SHOW_SERVER_BANNER": "0"}),
        (None, {"FASTMCP_SHOW_SERVER_BANNER": "false"}),
    ],
)
def test_banner_can_be_turned_off(tmp_path: Path, flag: str | None, env: dict[str, str]) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    args = ["run", "server.py", *([flag] if flag else [])]
    result = run_cli(*args, cwd=tmp_path, env=cli_env(**env))
    assert result.returncode == 0
    assert result.stderr == "" and result.stdout == ""


def test_server_argparse_errors_are_the_servers(tmp_path: Path) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    result = run_cli("run", "server.py", "--", "--unknown-flag", cwd=tmp_path)
    assert result.returncode == 2  # the server's own argparse exits
    assert "unrecognized arguments: --unknown-flag" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reload"], "--reload needs an HTTP transport"),
        (["--port", "8000"], "--port applies to the HTTP transports"),
        (["--transport", "sse", "--json-response"], "--json-response applies to streamable HTTP"),
        (["--transport", "sse", "--stateless"], "--stateless applies to streamable HTTP"),
    ],
)
def test_inconsistent_run_options_are_refused(
    tmp_path: Path, args: list[str], message: str
) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    result = run_cli("run", "server.py", *args, cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr


# -- run over HTTP ---------------------------------------------------------------------------


def _post(
    url: str, body: dict[str, object], session: str | None = None
) -> tuple[dict[str, str], bytes]:
    import urllib.request

    headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
    if session:
        headers["mcp-session-id"] = session
        headers["mcp-protocol-version"] = "2025-06-18"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return {k.lower(): v for k, v in response.headers.items()}, response.read()


@pytest.mark.anyio
async def test_run_http_json_response_serves_plain_json(tmp_path: Path, anyio_backend: str) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    async with http_server(
        "server.py",
        "--transport",
        "http",
        "--port",
        "0",
        "--path",
        "/api/mcp",
        "--json-response",
        "--backend",
        anyio_backend,
        "--",
        "--greeting",
        "Hi",
        cwd=tmp_path,
    ) as (_, url, _, _):
        assert url.endswith("/api/mcp")
        with anyio.fail_after(20):
            headers, body = await anyio.to_thread.run_sync(_post, url, INITIALIZE)
        assert headers["content-type"].startswith("application/json")
        assert json.loads(body)["result"]["serverInfo"]["name"] == "Demo"
        async with Client(url) as client:
            with anyio.fail_after(20):
                assert (await client.call_tool("greet", {"name": "Bo"})).data == "Hi, Bo!"


@pytest.mark.anyio
async def test_run_http_stops_gracefully_on_sigterm(tmp_path: Path, anyio_backend: str) -> None:
    if sys.platform == "win32":
        pytest.skip("no SIGTERM on Windows")
    write(
        tmp_path,
        "life.py",
        """
        from contextlib import asynccontextmanager
        from pathlib import Path
        from trimcp import FastMCP

        @asynccontextmanager
        async def lifespan(server):
            try:
                yield
            finally:
                Path("lifespan-exited").write_text("yes")

        mcp = FastMCP("Life", lifespan=lifespan)
        """,
    )
    async with http_server(
        "life.py", "--transport", "http", "--port", "0", "--backend", anyio_backend, cwd=tmp_path
    ) as (process, url, _, _):
        async with Client(url) as client:
            with anyio.fail_after(20):
                await client.ping()
        process.terminate()
        with anyio.fail_after(20):
            await process.wait()
    assert process.returncode == 0
    assert (tmp_path / "lifespan-exited").read_text() == "yes"


@pytest.mark.anyio
async def test_reload_restarts_the_server_when_its_file_changes(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("the test stops the supervisor with SIGTERM")
    source = "from trimcp import FastMCP\nmcp = FastMCP({name!r})\n"
    path = write(tmp_path, "s.py", source.format(name="first"))
    async with http_server(
        "s.py", "--transport", "http", "--port", "0", "--reload", cwd=tmp_path
    ) as (process, url, stderr, seen):
        assert "'first'" in seen[-1]
        with anyio.fail_after(20):
            async with Client(url) as client:
                assert client.server_info is not None and client.server_info.name == "first"
        path.write_text(source.format(name="second-version"), encoding="utf-8")
        with anyio.fail_after(30):
            await read_stderr_until(stderr, lambda line: "s.py changed, restarting" in line, seen)
            banner = await read_stderr_until(stderr, lambda line: " at http" in line, seen)
        assert "'second-version'" in banner
        new_url = banner.rsplit(" at ", 1)[1].strip()
        with anyio.fail_after(20):
            async with Client(new_url) as client:
                assert client.server_info is not None
                assert client.server_info.name == "second-version"
        process.terminate()
        with anyio.fail_after(20):
            await process.wait()
    assert process.returncode == 0
    host_port = new_url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=5):
        pass  # the supervisor stopped its child: nobody listens any more


# -- uv ----------------------------------------------------------------------------------------


def _fake_command(directory: Path, name: str) -> None:
    """An executable `name` that prints its arguments as JSON."""
    directory.mkdir(exist_ok=True)
    script = directory / name
    script.write_text(
        f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n", encoding="utf-8"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.skipif(sys.platform == "win32", reason="a shebang script stands in for uv")
def test_with_options_rerun_the_command_through_uv_run(tmp_path: Path) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    _fake_command(tmp_path / "bin", "uv")
    env = cli_env(PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    result = run_cli(
        "run",
        "server.py",
        "--with",
        "pandas",
        "--python",
        "3.12",
        "--transport",
        "http",
        "--with-requirements",
        "req.txt",
        "--port",
        "9001",
        "--",
        "--greeting",
        "Yo",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "run",
        "--python",
        "3.12",
        "--with",
        "trimcp",
        "--with",
        "pandas",
        "--with-requirements",
        "req.txt",
        "trimcp",
        "run",
        "server.py",
        "--transport",
        "http",
        "--port",
        "9001",
        "--",
        "--greeting",
        "Yo",
    ]


def test_with_options_without_uv_say_so(tmp_path: Path) -> None:
    write(tmp_path, "server.py", SERVER_SOURCE)
    (tmp_path / "empty").mkdir()
    result = run_cli(
        "run",
        "server.py",
        "--with",
        "pandas",
        cwd=tmp_path,
        env=cli_env(PATH=str(tmp_path / "empty")),
    )
    assert result.returncode == 1
    assert "`uv` is not on PATH" in result.stderr


# -- version, help, start-up time --------------------------------------------------------------


def test_version_reports_trimcp_protocols_python_and_platform(tmp_path: Path) -> None:
    import platform

    from trimcp import __version__
    from trimcp.protocol.versions import HANDSHAKE_VERSIONS, MODERN_VERSIONS

    result = run_cli("version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith(f"trimcp {__version__}\n")
    for version in (*HANDSHAKE_VERSIONS, *MODERN_VERSIONS):
        assert version in result.stdout
    assert platform.python_version() in result.stdout
    info = json.loads(run_cli("version", "--json", cwd=tmp_path).stdout)
    assert info["protocol_versions"]["modern"] == list(MODERN_VERSIONS)
    assert info["platform"] == platform.platform()


def test_python_dash_m_trimcp_is_the_same_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trimcp", "--version"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and result.stdout.startswith("trimcp ")


@pytest.mark.parametrize("args", [["--help"], ["version"], ["run", "--help"]])
def test_help_and_version_load_no_heavy_modules(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "trimcp", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    heavy = {"anyio", "pydantic", "msgspec", "httpx", "hypercorn", "trio", "trimcp.server.server"}
    assert not heavy & imported


# Interpreter start-up alone is ~20-70 ms; the bar leaves room for a loaded CI machine.
STARTUP_LIMIT = 0.4


@pytest.mark.parametrize("args", [["--help"], ["version"]])
def test_help_and_version_start_fast(args: list[str]) -> None:
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([TRIMCP, *args], capture_output=True, check=True, timeout=30)
        timings.append(time.perf_counter() - started)
    assert min(timings) < STARTUP_LIMIT, f"trimcp {' '.join(args)}: {min(timings) * 1000:.0f} ms"
