"""The README's example server runs and serves what it advertises, on both backends."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from trimcp import Client
from trimcp.client.transports import StdioTransport

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).parent.parent / "examples" / "server.py"


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_example_server_serves_tools_resources_templates_and_prompts(server_backend: str):
    transport = StdioTransport(sys.executable, [str(EXAMPLE), "--backend", server_backend])
    with anyio.fail_after(30):
        async with Client(transport) as client:
            assert {"add", "stats", "slow_count", "convert"} <= {
                t.name for t in await client.list_tools()
            }
            assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
            assert (await client.call_tool("stats", {"values": [1, 2, 3]})).data.mean == 2
            progress: list[float] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append(value)

            result = await client.call_tool("slow_count", {"to": 3}, progress_handler=on_progress)
            assert result.data == "counted to 3" and progress == [1, 2, 3]
            assert (await client.read_resource("config://version"))[0].text == "1.0"
            assert (await client.read_resource("notes://1"))[0].text == "Buy milk"
            assert [t.uriTemplate for t in await client.list_resource_templates()] == [
                "notes://{note_id}"
            ]
            prompt = await client.get_prompt("review", {"code": "x = 1"})
            assert "python" in prompt.messages[0].content.text
            completion = await client.complete(
                {"type": "ref/prompt", "name": "review"}, {"name": "language", "value": "py"}
            )
            assert completion.values == ["python"]
