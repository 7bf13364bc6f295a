"""The official SDK client answers sampling and elicitation from trimcp tools, over stdio and
streamable HTTP, in both eras (live requests in the handshake era, MRTR in 2026-07-28); one
tool combines logging, progress, a resource read, sampling and elicitation in one call."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

pytestmark = pytest.mark.anyio

SERVER = textwrap.dedent(
    """
    import sys
    from trimcp import Context, FastMCP

    mcp = FastMCP("combo")

    @mcp.resource("data://note")
    def note() -> str:
        return "the note"

    @mcp.tool
    async def combo(topic: str, ctx: Context) -> str:
        await ctx.info(f"working on {topic}")
        await ctx.report_progress(1, 3, "reading")
        [contents] = await ctx.read_resource("data://note")
        await ctx.report_progress(2, 3, "sampling")
        reply = await ctx.sample(f"write about {topic}")
        answer = await ctx.elicit("Who is asking?", response_type=str)
        await ctx.report_progress(3, 3, "done")
        name = answer.data if answer.action == "accept" else answer.action
        return f"{contents.content} | {reply.text} | {name}"

    if __name__ == "__main__":
        mcp.run(backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio", show_banner=False)
    """
)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "combo_server.py"
    path.write_text(SERVER)
    return path


class Recorder:
    def __init__(self) -> None:
        self.logs: list[Any] = []
        self.progress: list[float] = []
        self.sampled: list[str] = []

    async def sampling(
        self, context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self.sampled.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="a poem"),
            model="test-model",
        )

    async def elicitation(self, context: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"value": "Ada"})

    async def logging(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params.data["msg"])

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append(progress)

    def client(self, target: Any, mode: str) -> Client:
        return Client(
            target,
            mode=mode,
            sampling_callback=self.sampling,
            elicitation_callback=self.elicitation,
            logging_callback=self.logging,
            log_level="debug",
        )

    async def exercise(self, client: Client, mode: str) -> None:
        result = await client.call_tool(
            "combo", {"topic": "sea"}, progress_callback=self.on_progress
        )
        assert not result.is_error, result
        assert result.structured_content == {"result": "the note | a poem | Ada"}
        assert self.sampled and self.sampled[-1] == "write about sea"
        assert "working on sea" in self.logs
        if mode == "legacy":  # under MRTR the replayed rounds report progress again
            assert self.progress == [1, 2, 3]
        else:
            assert self.progress and self.progress[-1] == 3


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).parent.parent / "src"), env.get("PYTHONPATH")])
    )
    return env


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
async def test_sdk_client_answers_sampling_and_elicitation_over_stdio(
    script: Path, mode: str, server_backend: str
):
    recorder = Recorder()
    params = StdioServerParameters(
        command=sys.executable, args=[str(script), server_backend], env=_env()
    )
    with anyio.fail_after(30):
        async with recorder.client(stdio_client(params), mode) as client:
            await recorder.exercise(client, mode)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sdk_client_answers_sampling_and_elicitation_over_http(script: Path, mode: str):
    namespace: dict[str, Any] = {"__name__": "combo_server"}
    exec(compile(SERVER, str(script), "exec"), namespace)
    server = namespace["mcp"]
    recorder = Recorder()
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(30):
            address = await tg.start(
                lambda task_status: server.run_http_async(
                    port=0, show_banner=False, task_status=task_status
                )
            )
            async with recorder.client(address.url, mode) as client:
                await recorder.exercise(client, mode)
        tg.cancel_scope.cancel()
