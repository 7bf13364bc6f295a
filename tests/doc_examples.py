"""Running the Python examples of a docs/ page (tests/test_docs_*.py): each code block is
executed as written, in a fresh namespace, and its `main()` awaited on the test's backend. The
closing `anyio.run(main)` / `asyncio.run(main())` line of a block is left out, since the test
already runs in an event loop. A block marked `# asyncio only` is for asyncio alone; a block
marked `# needs: redis` runs against the real redis-server of the `redis_server` fixture, its
`localhost:6379` addresses rewritten to that server's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

DOCS = Path(__file__).parent.parent / "docs"
RUN_LINE = re.compile(r"^(anyio\.run\(main.*\)|asyncio\.run\(main\(\)\))\s*(#.*)?$")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # where the code starts in the markdown, for tracebacks and test ids
    code: str

    @property
    def needs_redis(self) -> bool:
        return self.code.startswith("# needs: redis")

    @property
    def asyncio_only(self) -> bool:
        return self.code.startswith("# asyncio only")


def python_blocks(page: str) -> list[Block]:
    """The ```python blocks of docs/<page>."""
    doc = DOCS / page
    blocks: list[Block] = []
    lines = doc.read_text().splitlines()
    start: int | None = None
    for number, text in enumerate(lines, start=1):
        if start is None and text.strip() == "```python":
            start = number
        elif start is not None and text.strip() == "```":
            code = "\n".join(lines[start : number - 1]) + "\n"
            blocks.append(Block(doc=doc, line=start + 1, code=code))
            start = None
    return blocks


def prepare(block: Block, request: pytest.FixtureRequest) -> str:
    code = "\n".join("" if RUN_LINE.match(line) else line for line in block.code.splitlines())
    if block.needs_redis:
        server = request.getfixturevalue("redis_server")
        rewritten = code.replace(
            'host="localhost", port=6379', f'host="{server.host}", port={server.port}'
        )
        rewritten = rewritten.replace(
            "redis://localhost:6379", f"redis://{server.host}:{server.port}"
        )
        assert "localhost" not in rewritten and "6379" not in rewritten, "an address left as is"
        code = rewritten
    return code


async def run_block(block: Block, request: pytest.FixtureRequest) -> None:
    code = prepare(block, request)
    namespace: dict[str, Any] = {"__name__": f"docs_{block.doc.stem}_line_{block.line}"}
    # line numbers of the traceback point into the markdown page
    exec(compile("\n" * (block.line - 1) + code, str(block.doc), "exec"), namespace)
    main = namespace.get("main")
    if main is not None:
        with anyio.fail_after(60):
            await main()
