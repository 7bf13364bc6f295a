"""The "everything" server: every fixture the official MCP conformance suite's server scenarios
call (`@modelcontextprotocol/conformance`), written as a FastMCP user would write it.

Serve it over streamable HTTP and point the suite at it:

    python examples/everything.py --port 3001 [--backend trio]
    node .../conformance server --url http://127.0.0.1:3001/mcp

or over stdio (`--transport stdio`), for a client that spawns it (the MCP Inspector CLI,
bench/fuzz.py).

Fixtures (names, arguments and answers as the scenarios expect them):

- tools: test_simple_text, test_image_content, test_audio_content, test_embedded_resource,
  test_multiple_content_types, test_tool_with_logging, test_tool_with_progress,
  test_error_handling, test_sampling(prompt), test_elicitation(message),
  test_elicitation_sep1034_defaults, test_elicitation_sep1330_enums, test_reconnection,
  json_schema_2020_12_tool (a hand-written JSON Schema 2020-12 input schema);
- resources: test://static-text, test://static-binary, test://watched-resource and the
  template test://template/{id}/data;
- prompts: test_simple_prompt, test_prompt_with_arguments(arg1, arg2),
  test_prompt_with_embedded_resource(resourceUri), test_prompt_with_image;
- completion for test_prompt_with_arguments' arguments.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import wave
from typing import Annotated, Any, Literal

import anyio
from pydantic import BaseModel, Field

from trimcp import Context, FastMCP
from trimcp.exceptions import ToolError
from trimcp.prompts import Message
from trimcp.server.elicitation import AcceptedElicitation
from trimcp.tools import Tool
from trimcp.tools.tool import ToolResult
from trimcp.types import EmbeddedResource, TextContent, TextResourceContents
from trimcp.utilities.types import Audio, Image

# A 1x1 red pixel PNG.
RED_PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def _silent_wav(frames: int = 800, rate: int = 8000) -> bytes:
    """A tenth of a second of 8 kHz mono 16-bit silence, as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


SILENT_WAV = _silent_wav()

mcp = FastMCP(
    "trimcp-everything",
    instructions="Conformance fixture server: exposes every tool, resource and prompt the MCP "
    "conformance suite's server scenarios exercise.",
)


# -- tools: content types -----------------------------------------------------------------


@mcp.tool
def test_simple_text() -> str:
    """Returns a simple text response."""
    return "This is a simple text response for testing."


@mcp.tool
def test_image_content() -> Image:
    """Returns a 1x1 red PNG image."""
    return Image(data=RED_PIXEL_PNG, format="png")


@mcp.tool
def test_audio_content() -> Audio:
    """Returns a short silent WAV clip."""
    return Audio(data=SILENT_WAV, format="wav")


@mcp.tool
def test_embedded_resource() -> EmbeddedResource:
    """Returns an embedded text resource."""
    return EmbeddedResource(
        resource=TextResourceContents(
            uri="test://embedded-resource",
            mimeType="text/plain",
            text="This is an embedded resource content.",
        )
    )


@mcp.tool
def test_multiple_content_types() -> list[TextContent | Image | EmbeddedResource]:
    """Returns text, an image and an embedded resource together."""
    return [
        TextContent(text="Multiple content types test:"),
        Image(data=RED_PIXEL_PNG, format="png"),
        EmbeddedResource(
            resource=TextResourceContents(
                uri="test://mixed-content-resource",
                mimeType="application/json",
                text=json.dumps({"test": "data", "value": 123}),
            )
        ),
    ]


# -- tools: logging, progress, errors -------------------------------------------------------


@mcp.tool
async def test_tool_with_logging(ctx: Context) -> str:
    """Sends three info log notifications while it runs."""
    await ctx.info("Tool execution started")
    await anyio.sleep(0.05)
    await ctx.info("Tool processing data")
    await anyio.sleep(0.05)
    await ctx.info("Tool execution completed")
    return "Tool with logging executed successfully"


@mcp.tool
async def test_tool_with_progress(ctx: Context) -> str:
    """Reports progress 0, 50 and 100 out of 100 (when the call carries a progress token)."""
    await ctx.report_progress(0, 100, "Starting")
    await anyio.sleep(0.05)
    await ctx.report_progress(50, 100, "Halfway")
    await anyio.sleep(0.05)
    await ctx.report_progress(100, 100, "Done")
    return "Tool with progress executed successfully"


@mcp.tool
def test_error_handling() -> str:
    """Always fails."""
    raise ToolError("This tool intentionally returns an error for testing")


# -- tools: asking the client ----------------------------------------------------------------


@mcp.tool
async def test_sampling(
    prompt: Annotated[str, Field(description="The prompt to send to the LLM")], ctx: Context
) -> str:
    """Asks the client's LLM to answer `prompt`."""
    reply = await ctx.sample(prompt, max_tokens=100)
    return f"LLM response: {getattr(reply, 'text', reply)}"


class UserInfo(BaseModel):
    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


def _describe(result: Any) -> str:
    if isinstance(result, AcceptedElicitation):
        data = result.data.model_dump() if isinstance(result.data, BaseModel) else result.data
        return f"action=accept, content={json.dumps(data)}"
    return f"action={result.action}"


@mcp.tool
async def test_elicitation(
    message: Annotated[str, Field(description="The message to show the user")], ctx: Context
) -> str:
    """Asks the user for a username and an email address."""
    result = await ctx.elicit(message, response_type=UserInfo)
    return f"User response: {_describe(result)}"


class Defaults(BaseModel):
    """SEP-1034: a default for every primitive type."""

    name: str = "John Doe"
    age: int = 30
    score: float = 95.5
    status: Literal["active", "inactive", "pending"] = "active"
    verified: bool = True


@mcp.tool
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Elicits a form whose fields all carry default values (SEP-1034)."""
    result = await ctx.elicit("Please review and update the form fields", response_type=Defaults)
    return f"Elicitation completed: {_describe(result)}"


class EnumVariants(BaseModel):
    """SEP-1330: the five enum shapes."""

    untitledSingle: Literal["option1", "option2", "option3"]
    titledSingle: str = Field(
        json_schema_extra={
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ]
        }
    )
    legacyEnum: Literal["opt1", "opt2", "opt3"] = Field(
        json_schema_extra={"enumNames": ["Option One", "Option Two", "Option Three"]}
    )
    untitledMulti: list[Literal["option1", "option2", "option3"]]
    titledMulti: list[str] = Field(
        json_schema_extra={
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            }
        }
    )


@mcp.tool
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Elicits a form with every enum variant of SEP-1330."""
    result = await ctx.elicit(
        "Please select options from the enum fields", response_type=EnumVariants
    )
    return f"Elicitation completed: {_describe(result)}"


# -- tools: SSE polling (SEP-1699) ------------------------------------------------------------


@mcp.tool
async def test_reconnection(ctx: Context) -> str:
    """Closes this call's SSE stream mid-call; the client resumes with GET + Last-Event-ID and
    receives the result there (SEP-1699)."""
    close = getattr(ctx, "close_sse_stream", None)
    if close is None:  # trimcp's Context has no public spelling yet: use the request's channel
        request = ctx.request_context
        close = getattr(request.channel, "close_sse_stream", None) if request else None
    if close is not None:
        await close()
    await anyio.sleep(0.1)
    return "Reconnection test completed"


# -- tools: a hand-written JSON Schema 2020-12 input schema (SEP-1613) -------------------------


class JsonSchema2020Tool(Tool):
    """A tool whose input schema is given verbatim, so nothing rewrites `$schema`, `$defs`
    or `additionalProperties`."""

    async def run(self, arguments: dict[str, Any], *args: Any, **kwargs: Any) -> ToolResult:
        return ToolResult(content=f"Received: {json.dumps(arguments, sort_keys=True)}")


mcp.add_tool(
    JsonSchema2020Tool(
        name="json_schema_2020_12_tool",
        description="Tool with JSON Schema 2020-12 features",
        parameters={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "$defs": {
                "address": {
                    "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
                }
            },
            "properties": {
                "name": {"type": "string"},
                "address": {"$ref": "#/$defs/address"},
            },
            "additionalProperties": False,
        },
    )
)


# -- resources -----------------------------------------------------------------------------


@mcp.resource("test://static-text", name="static-text", mime_type="text/plain")
def static_text() -> str:
    """A static text resource."""
    return "This is the content of the static text resource."


@mcp.resource("test://static-binary", name="static-binary", mime_type="image/png")
def static_binary() -> bytes:
    """A static binary resource (a 1x1 PNG)."""
    return RED_PIXEL_PNG


@mcp.resource("test://watched-resource", name="watched-resource", mime_type="text/plain")
def watched_resource() -> str:
    """A resource clients can subscribe to."""
    return "Watched resource content"


@mcp.resource("test://template/{id}/data", name="template-data", mime_type="application/json")
def template_data(id: str) -> str:
    """Data for one id (a resource template)."""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


# -- prompts ---------------------------------------------------------------------------------


@mcp.prompt
def test_simple_prompt() -> str:
    """A simple prompt without arguments."""
    return "This is a simple prompt for testing."


@mcp.prompt
def test_prompt_with_arguments(
    arg1: Annotated[str, Field(description="First test argument")],
    arg2: Annotated[str, Field(description="Second test argument")],
) -> str:
    """A prompt with two required arguments."""
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@mcp.prompt
def test_prompt_with_embedded_resource(
    resourceUri: Annotated[str, Field(description="URI of the resource to embed")],
) -> list[Any]:
    """A prompt that embeds a resource."""
    return [
        Message(
            EmbeddedResource(
                resource=TextResourceContents(
                    uri=resourceUri,
                    mimeType="text/plain",
                    text="Embedded resource content for testing.",
                )
            )
        ),
        Message("Please process the embedded resource above."),
    ]


@mcp.prompt
def test_prompt_with_image() -> list[Any]:
    """A prompt with an image."""
    return [
        Message(Image(data=RED_PIXEL_PNG, format="png").to_image_content()),
        Message("Please analyze the image above."),
    ]


# -- completion ------------------------------------------------------------------------------

_SUGGESTIONS = {
    "arg1": ["paris", "park", "party", "test", "testValue1"],
    "arg2": ["world", "wonder", "testValue2"],
}


@mcp.completion()
async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
    """Prefix completion for test_prompt_with_arguments' arguments."""
    values = _SUGGESTIONS.get(argument.name, [])
    return [value for value in values if value.startswith(argument.value)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--transport", choices=("http", "stdio"), default="http")
    parser.add_argument(
        "--retry-interval",
        type=int,
        default=None,
        metavar="MS",
        help="SSE `retry` hint in milliseconds (default: the library's default)",
    )
    args = parser.parse_args()
    if args.transport == "stdio":
        mcp.run(transport="stdio", show_banner=False, backend=args.backend)
        return
    options = {} if args.retry_interval is None else {"retry_interval": args.retry_interval}
    mcp.run(
        transport="http",
        host=args.host,
        port=args.port,
        show_banner=False,
        backend=args.backend,
        **options,
    )


if __name__ == "__main__":
    main()
