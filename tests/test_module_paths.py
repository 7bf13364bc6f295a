"""The public module paths FastMCP users import from exist under `trimcp`, and `import trimcp`
stays light (no HTTP stack, no pydantic)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PATHS = {
    "trimcp": ["FastMCP", "Context", "Client", "settings"],
    "trimcp.server": ["FastMCP", "Context", "create_proxy"],
    "trimcp.server.server": ["FastMCP"],
    "trimcp.server.http": [
        "create_streamable_http_app",
        "create_sse_app",
        "StarletteWithLifespan",
        "RequestContextMiddleware",
        "set_http_request",
    ],
    "trimcp.server.context": ["Context"],
    "trimcp.server.dependencies": [
        "get_context",
        "get_http_request",
        "get_http_headers",
        "get_access_token",
    ],
    "trimcp.server.elicitation": [
        "AcceptedElicitation",
        "DeclinedElicitation",
        "CancelledElicitation",
    ],
    "trimcp.server.middleware": ["Middleware", "MiddlewareContext"],
    "trimcp.server.proxy": ["FastMCPProxy", "create_proxy"],
    "trimcp.server.event_store": ["EventStore", "InMemoryEventStore"],
    "trimcp.client": ["Client"],
    "trimcp.client.transports": [
        "StdioTransport",
        "PythonStdioTransport",
        "FastMCPTransport",
        "StreamableHttpTransport",
        "SSETransport",
    ],
    "trimcp.client.elicitation": ["ElicitResult"],
    "trimcp.tools": ["Tool", "FunctionTool"],
    "trimcp.tools.tool": ["Tool", "FunctionTool", "ToolResult"],
    "trimcp.resources": ["Resource", "ResourceTemplate", "FunctionResource", "TextResource"],
    "trimcp.prompts": ["Prompt", "Message", "PromptMessage"],
    "trimcp.prompts.prompt": ["Message", "PromptMessage", "Prompt"],
    "trimcp.exceptions": [
        "ToolError",
        "ResourceError",
        "PromptError",
        "NotFoundError",
        "ValidationError",
        "FastMCPError",
        "McpError",
    ],
    "trimcp.utilities.types": ["Image", "Audio", "File"],
    "trimcp.utilities.tests": [
        "temporary_settings",
        "run_server_async",
        "run_server_in_process",
        "caplog_for_fastmcp",
    ],
    "trimcp.utilities.http": ["find_available_port"],
    "trimcp.settings": ["settings"],
}


@pytest.mark.parametrize("module", sorted(PATHS))
def test_module_path_exports_the_fastmcp_names(module: str):
    loaded = importlib.import_module(module)
    for name in PATHS[module]:
        assert getattr(loaded, name) is not None, f"{module}.{name}"


def test_import_trimcp_is_light():
    code = (
        "import sys, trimcp\n"
        "heavy = [m for m in ('hypercorn', 'httpx2', 'httpx', 'pydantic', 'starlette', 'trio') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_a_stdio_server_with_no_mounts_loads_neither_proxy_nor_client():
    """What a server loads to answer its first request is part of its spawn time: a server
    that mounts nothing never needs the proxy module or the client under it."""
    code = (
        "import json, sys\n"
        "from trimcp import FastMCP\n"
        "mcp = FastMCP('light')\n"
        "@mcp.tool\n"
        "def add(a: int, b: int) -> int:\n"
        "    return a + b\n"
        "import atexit\n"
        "atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m.startswith(('trimcp.server.proxy', 'trimcp.client')))), file=sys.stderr))\n"
        "mcp.run(show_banner=False)\n"
    )
    init = (
        '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
        '"capabilities":{},"clientInfo":{"name":"t","version":"0"}}}'
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=init + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert '"result"' in out.stdout, (out.stdout, out.stderr)
    assert out.stderr.strip().splitlines()[-1] == "[]", out.stderr
