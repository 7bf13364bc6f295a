"""`OpenAISamplingHandler` (issue 16): FastMCP's server-side sampling fallback over OpenAI's
chat completions, driven through the real `openai` client against a local chat-completions
endpoint (an ASGI app in this process), on asyncio and trio."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.types import TextContent
from trimcp.types.misc import SamplingMessage
from trimcp.types.sampling import ModelHint, ModelPreferences

pytestmark = pytest.mark.anyio


def test_without_the_openai_package_making_a_handler_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trimcp.experimental.sampling.handlers.openai import OpenAISamplingHandler

    monkeypatch.setitem(sys.modules, "openai", None)  # what an absent package looks like
    with pytest.raises(ImportError, match="needs the `openai` package"):
        OpenAISamplingHandler("gpt-4o-mini")


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    """What the local chat-completions endpoint answers: the conversation, echoed."""
    text = " | ".join(f"{m['role']}:{m['content']}" for m in body["messages"])
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "finish_reason": "stop", "message": message}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": body["model"],
        "choices": [choice],
    }


def _http_module() -> Any:
    """The HTTP library the installed `openai` is built on (httpx2 for 3.x, httpx before)."""
    import openai

    major = int(openai.__version__.split(".")[0])
    return pytest.importorskip("httpx2" if major >= 3 else "httpx")


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("asynchronous", [True, False], ids=["AsyncOpenAI", "OpenAI"])
async def test_sampling_through_openai(asynchronous: bool, side: str) -> None:
    """As the server's fallback (its client cannot sample), or as the client's handler."""
    openai = pytest.importorskip("openai")
    http = _http_module()
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from trimcp.experimental.sampling.handlers.openai import OpenAISamplingHandler

    requests: list[dict[str, Any]] = []

    async def completions(request: Request) -> JSONResponse:
        requests.append(await request.json())
        return JSONResponse(_answer(requests[-1]))

    def completions_sync(request: Any) -> Any:  # the sync client's transport: same endpoint
        import json

        requests.append(json.loads(request.content))
        return http.Response(200, json=_answer(requests[-1]))

    if asynchronous:
        app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
        client: Any = http.AsyncClient(transport=http.ASGITransport(app=app))
        llm: Any = openai.AsyncOpenAI(api_key="k", base_url="http://llm/v1", http_client=client)
    else:
        client = http.Client(transport=http.MockTransport(completions_sync))
        llm = openai.OpenAI(api_key="k", base_url="http://llm/v1", http_client=client)

    handler = OpenAISamplingHandler("gpt-4o", client=llm)
    if side == "server":
        mcp, options = FastMCP("fallback", sampling_handler=handler), {}
    else:
        mcp, options = FastMCP("plain"), {"sampling_handler": handler}

    @mcp.tool
    async def ask(ctx: Context) -> str:
        result = await ctx.sample(
            "hello",
            system_prompt="be brief",
            max_tokens=20,
            temperature=0.5,
            model_preferences=["unknown-model", "gpt-4o-mini"],
        )
        return result.text  # type: ignore[union-attr]

    with anyio.fail_after(10):
        async with Client(mcp, **options) as client:
            assert (await client.call_tool("ask")).data == "system:be brief | user:hello"
    (sent,) = requests
    assert sent["model"] == "gpt-4o-mini"  # the first hint OpenAI knows
    assert (sent["max_tokens"], sent["temperature"]) == (20, 0.5)


def test_model_choice_and_message_conversion() -> None:
    pytest.importorskip("openai")
    from trimcp.experimental.sampling.handlers.openai import OpenAISamplingHandler

    handler = OpenAISamplingHandler("fallback-model", client=object())
    hints = ModelPreferences(hints=[ModelHint(name="x"), ModelHint(name="gpt-4o-mini")])
    assert handler.select_model(hints) == "gpt-4o-mini"
    assert handler.select_model("gpt-4o-mini") == "gpt-4o-mini"
    assert handler.select_model(["unknown-model"]) == "fallback-model"
    assert handler.select_model(None) == "fallback-model"
    messages = [
        SamplingMessage(role="user", content=TextContent(text="hi")),
        SamplingMessage(role="assistant", content=TextContent(text="ok")),
    ]
    assert handler.to_openai_messages("sys", messages) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "ok"},
    ]
    from trimcp.types.content import ImageContent

    image = SamplingMessage(role="user", content=ImageContent(data="YWJj", mimeType="image/png"))
    with pytest.raises(ValueError, match="Only text content"):
        handler.to_openai_messages(None, [image])
