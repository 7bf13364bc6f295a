"""Every Python example of docs/middleware.md runs: each code block is executed as written, in a
fresh namespace and a fresh working directory, and its `main()` awaited on the test's backend
(asyncio and trio; a block marked `# asyncio only` runs on asyncio alone, as py-key-value is
asyncio-bound). The closing `anyio.run(main)` / `asyncio.run(main())` line of a block is left
out, since the test already runs in an event loop.

A block marked `# needs: redis` runs against the real redis-server of the `redis_server`
fixture: its `localhost:6379` addresses are rewritten to that server's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

pytestmark = pytest.mark.anyio

DOC = Path(__file__).parent.parent / "docs" / "middleware.md"
RUN_LINE = re.compile(r"^(anyio\.run\(main.*\)|asyncio\.run\(main\(\)\))\s*(#.*)?$")


@dataclass(frozen=True)
class Block:
    line: int  # where the code starts in the markdown, for tracebacks and test ids
    code: str

    @property
    def needs_redis(self) -> bool:
        return self.code.startswith("# needs: redis")

    @property
    def asyncio_only(self) -> bool:
        return self.code.startswith("# asyncio only")


def python_blocks() -> list[Block]:
    blocks: list[Block] = []
    lines = DOC.read_text().splitlines()
    start: int | None = None
    for number, text in enumerate(lines, start=1):
        if start is None and text.strip() == "```python":
            start = number
        elif start is not None and text.strip() == "```":
            blocks.append(Block(line=start + 1, code="\n".join(lines[start : number - 1]) + "\n"))
            start = None
    return blocks


BLOCKS = python_blocks()


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
    namespace: dict[str, Any] = {"__name__": f"docs_middleware_line_{block.line}"}
    # line numbers of the traceback point into docs/middleware.md
    exec(compile("\n" * (block.line - 1) + code, str(DOC), "exec"), namespace)
    main = namespace.get("main")
    if main is not None:
        with anyio.fail_after(60):
            await main()


def test_the_page_has_examples_of_every_kind() -> None:
    assert len(BLOCKS) >= 8
    assert any(b.needs_redis for b in BLOCKS)
    assert not any(b.asyncio_only for b in BLOCKS)  # every example runs on trio too


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"line{b.line}")
async def test_example_runs(
    block: Block, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await run_block(block, request)
