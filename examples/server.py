"""An example trimcp server: tools, resources, a template and prompts.

Run it over stdio (what MCP clients spawn):   python examples/server.py
Or on trio:                                   python examples/server.py --backend trio
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from trimcp import Context, FastMCP
from trimcp.prompts import Message

mcp = FastMCP("Example", instructions="A small demo server: arithmetic, notes and prompts.")

NOTES: dict[int, str] = {1: "Buy milk", 2: "Write the trimcp README"}


@dataclass
class Stats:
    count: int
    mean: float


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool(tags={"math"})
def stats(values: Annotated[list[float], Field(description="Numbers to summarise", min_length=1)]) -> Stats:
    """Count and mean of a list of numbers."""
    return Stats(count=len(values), mean=sum(values) / len(values))


@mcp.tool
async def slow_count(to: int, ctx: Context) -> str:
    """Count up to `to`, reporting progress and logging as it goes."""
    for i in range(1, to + 1):
        await ctx.report_progress(i, to, f"at {i}")
    await ctx.info(f"counted to {to}")
    return f"counted to {to}"


@mcp.tool
def convert(value: float, unit: Literal["km", "mi"]) -> float:
    """Convert a distance between kilometres and miles."""
    return value * 0.621371 if unit == "km" else value / 0.621371


@mcp.resource("config://version")
def version() -> str:
    """The server's version."""
    return "1.0"


@mcp.resource("notes://all", mime_type="application/json")
def all_notes() -> dict[int, str]:
    """Every note."""
    return NOTES


@mcp.resource("notes://{note_id}")
def note(note_id: int) -> str:
    """One note by id."""
    return NOTES.get(note_id, "(no such note)")


@mcp.prompt
def review(code: str, language: str = "python") -> str:
    """Ask for a code review."""
    return f"Please review this {language} code:\n\n{code}"


@mcp.prompt
def debug_session(error: str) -> list[Message]:
    """Start a debugging conversation."""
    return [
        Message(f"I am seeing this error: {error}"),
        Message("Let's look at it step by step.", role="assistant"),
    ]


@mcp.completion()
async def complete_language(ref, argument, context):
    if argument.name == "language":
        return [lang for lang in ("python", "rust", "go", "typescript") if lang.startswith(argument.value)]
    return None


if __name__ == "__main__":
    backend = sys.argv[sys.argv.index("--backend") + 1] if "--backend" in sys.argv else "asyncio"
    mcp.run(backend=backend)
