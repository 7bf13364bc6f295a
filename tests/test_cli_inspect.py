"""`trimcp inspect`: the JSON report in both formats, to stdout or a file; proxied specs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import anyio
import pytest

from tests.test_cli_support import SERVER_SOURCE, TRIMCP, cli_env, http_server, run_cli, write
from trimcp.protocol.versions import SUPPORTED_VERSIONS


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path, "server.py", SERVER_SOURCE)
    return tmp_path


def test_inspect_mcp_format_is_the_wire_shapes(project: Path) -> None:
    result = run_cli("inspect", "server.py", "--format", "mcp", cwd=project)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert list(report) == [
        "serverInfo",
        "capabilities",
        "instructions",
        "tools",
        "resources",
        "resourceTemplates",
        "prompts",
    ]
    assert report["serverInfo"] == {"name": "Demo", "version": "0.1.0"}
    assert report["instructions"] == "Be kind."
    assert report["capabilities"]["tools"] == {"listChanged": True}
    add = report["tools"][0]
    assert add == {
        "name": "add",
        "description": "Add two numbers.",
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
        "outputSchema": add["outputSchema"],
        "_meta": {"_fastmcp": {"tags": ["math"]}},
    }
    assert add["outputSchema"]["properties"] == {"result": {"type": "integer"}}
    assert [r["uri"] for r in report["resources"]] == ["data://config"]
    assert [t["uriTemplate"] for t in report["resourceTemplates"]] == ["data://items/{item_id}"]
    assert [(p["name"], p["arguments"]) for p in report["prompts"]] == [
        ("ask", [{"name": "topic", "required": True}])
    ]


@pytest.mark.anyio
async def test_inspect_mcp_format_matches_what_a_client_lists(project: Path) -> None:
    """The same items a client receives from `tools/list` etc. over stdio."""
    from msgspec import to_builtins

    from trimcp import Client
    from trimcp.client import StdioTransport

    result = run_cli("inspect", "server.py", "-f", "mcp", cwd=project)
    report = json.loads(result.stdout)
    transport = StdioTransport(TRIMCP, ["run", "server.py", "--no-banner"], cwd=project)
    with anyio.fail_after(30):
        async with Client(transport, protocol="legacy") as client:
            assert to_builtins(await client.list_tools()) == report["tools"]
            assert to_builtins(await client.list_resources()) == report["resources"]
            templates = await client.list_resource_templates()
            assert to_builtins(templates) == report["resourceTemplates"]
            assert to_builtins(await client.list_prompts()) == report["prompts"]


def test_inspect_trimcp_format_adds_keys_tags_and_versions(project: Path) -> None:
    result = run_cli("inspect", "server.py", cwd=project)  # trimcp is the default format
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["format"] == "trimcp"
    server = report["server"]
    assert server["name"] == "Demo" and server["instructions"] == "Be kind."
    assert server["protocol_versions"] == list(SUPPORTED_VERSIONS)
    assert "trimcp_version" in server and "capabilities" in server
    add = report["tools"][0]
    assert add["key"] == "add" and add["tags"] == ["math"] and add["enabled"] is True
    assert add["input_schema"]["required"] == ["a", "b"]
    assert add["output_schema"]["properties"] == {"result": {"type": "integer"}}
    config = report["resources"][0]
    assert config["uri"] == "data://config" and config["tags"] == ["cfg"]
    assert isinstance(config["mime_type"], str) and config["enabled"] is True
    assert report["templates"][0]["uri_template"] == "data://items/{item_id}"
    assert report["prompts"][0]["arguments"] == [{"name": "topic", "required": True}]


def test_inspect_writes_to_a_file(project: Path) -> None:
    result = run_cli("inspect", "server.py", "-f", "mcp", "-o", "out/report.json", cwd=project)
    assert result.returncode == 1 and "cannot write 'out/report.json'" in result.stderr
    result = run_cli("inspect", "server.py", "-f", "mcp", "-o", "report.json", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "4 tools, 1 resources, 1 resourceTemplates, 1 prompts" in result.stdout
    report = json.loads((project / "report.json").read_text())
    assert report["serverInfo"]["name"] == "Demo"


def test_inspect_does_not_start_the_lifespan(tmp_path: Path) -> None:
    write(
        tmp_path,
        "life.py",
        """
        from contextlib import asynccontextmanager
        from trimcp import FastMCP

        @asynccontextmanager
        async def lifespan(server):
            raise RuntimeError("the lifespan must not run for inspect")
            yield

        mcp = FastMCP("Life", lifespan=lifespan)
        """,
    )
    result = run_cli("inspect", "life.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_inspect_keeps_stdout_clean_of_the_servers_prints_in_the_report_file(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "noisy.py",
        "from trimcp import FastMCP\nprint('hello from import')\nmcp = FastMCP('N')\n",
    )
    result = run_cli("inspect", "noisy.py", "-o", "r.json", cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads((tmp_path / "r.json").read_text())["server"]["name"] == "N"


# -- proxied specs (URL, MCPConfig) ------------------------------------------------------------

needs_proxy = pytest.mark.skipif(
    importlib.util.find_spec("trimcp.server.proxy") is None,
    reason="trimcp.server.proxy (the composition issue) is not built yet",
)


@needs_proxy
def test_inspect_an_mcp_config_file_proxies_its_server(project: Path) -> None:
    config = {
        "mcpServers": {"demo": {"command": TRIMCP, "args": ["run", str(project / "server.py")]}}
    }
    (project / "servers.json").write_text(json.dumps(config))
    result = run_cli("inspect", "servers.json", "-f", "mcp", cwd=project)
    assert result.returncode == 0, result.stderr
    assert [t["name"] for t in json.loads(result.stdout)["tools"]] == [
        "add",
        "greet",
        "switch",
        "fail",
    ]


@needs_proxy
@pytest.mark.anyio
async def test_run_a_url_proxies_the_remote_server_over_stdio(
    project: Path, anyio_backend: str
) -> None:
    from trimcp import Client
    from trimcp.client import StdioTransport

    async with http_server("server.py", "--transport", "http", "--port", "0", cwd=project) as (
        _,
        url,
        _,
        _,
    ):
        transport = StdioTransport(
            TRIMCP,
            ["run", url, "--no-banner", "--backend", anyio_backend],
            env=cli_env(),
            cwd=project,
        )
        with anyio.fail_after(30):
            async with Client(transport) as client:
                assert (await client.call_tool("add", {"a": 20, "b": 22})).data == 42


@needs_proxy
def test_inspect_an_unreachable_url_fails_with_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("inspect", f"http://127.0.0.1:{port}/mcp", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and f"127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
