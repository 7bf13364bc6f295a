"""`trimcp.utilities.types.to_jsonable` and `default_serializer` (a tool's structured output and
its text) write trimcp's payloads the same way whether or not the program imported the SDK's
`mcp.types`: msgspec writes them (absent fields left out), pydantic never sees one (it would
take a payload for its `mcp.types` twin and write the unset fields as nulls)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import anyio
import pytest

from trimcp.tools import Tool
from trimcp.types import ImageContent, TextContent
from trimcp.utilities.types import default_serializer, to_jsonable

VALUE_CODE = """
import datetime
from trimcp.types import ImageContent, TextContent
VALUE = {
    "block": TextContent(text="hi"),
    "blocks": [ImageContent(data="AA", mimeType="image/png")],
    "when": datetime.date(2024, 1, 2),
    "raw": b"\\xff",
}
"""
EXPECTED = {
    "block": {"type": "text", "text": "hi"},
    "blocks": [{"type": "image", "data": "AA", "mimeType": "image/png"}],
    "when": "2024-01-02",
    "raw": "_w==",  # not UTF-8: pydantic's URL-safe base64, as before
}


def value() -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(VALUE_CODE, namespace)
    held: dict[str, Any] = namespace["VALUE"]
    return held


def test_without_mcp_payloads_are_written_by_msgspec() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            VALUE_CODE
            + textwrap.dedent(
                """
                import json, sys
                from trimcp.utilities.types import default_serializer, to_jsonable
                assert "mcp.types" not in sys.modules
                print(json.dumps([to_jsonable(VALUE), default_serializer(VALUE)]))
                assert "mcp.types" not in sys.modules
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    jsonable, text = json.loads(done.stdout)
    assert jsonable == EXPECTED
    assert json.loads(text) == EXPECTED


def test_with_mcp_imported_payloads_are_written_the_same() -> None:
    mcp_types = pytest.importorskip("mcp.types")
    assert isinstance(TextContent(text="hi"), mcp_types.TextContent)  # pydantic would take it
    assert to_jsonable(value()) == EXPECTED
    assert json.loads(default_serializer(value())) == EXPECTED
    assert default_serializer([TextContent(text="x")]) == '[{"type":"text","text":"x"}]'


def test_objects_msgspec_does_not_know_are_still_written_by_pydantic() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Model(pydantic.BaseModel):
        name: str = "m"
        block: Any = None

    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    assert to_jsonable({"m": Model(), "p": [1, (2, 3)]}) == {
        "m": {"name": "m", "block": None},
        "p": [1, [2, 3]],
    }
    assert default_serializer({"o": Opaque()}) == '{"o":"opaque"}'
    with pytest.raises(Exception, match="Unable to serialize"):
        to_jsonable({"o": Opaque()})


@pytest.mark.anyio
async def test_a_tool_returning_payloads_in_a_dict_gives_the_same_output_with_mcp() -> None:
    pytest.importorskip("mcp.types")

    def blocks() -> dict[str, Any]:
        return {"block": TextContent(text="hi"), "image": ImageContent(data="AA", mimeType="i/p")}

    tool = Tool.from_function(blocks)
    with anyio.fail_after(10):
        result = await tool.run({})
    assert result.structured_content == {
        "block": {"type": "text", "text": "hi"},
        "image": {"type": "image", "data": "AA", "mimeType": "i/p"},
    }
    assert json.loads(result.content[0].text) == result.structured_content  # type: ignore[union-attr]
