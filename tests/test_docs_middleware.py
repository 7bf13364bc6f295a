"""Every Python example of docs/middleware.md runs: each code block is executed as written, in a
fresh namespace and a fresh working directory, and its `main()` awaited on the test's backend
(asyncio and trio; a block marked `# asyncio only` runs on asyncio alone, as py-key-value is
asyncio-bound). The closing `anyio.run(main)` / `asyncio.run(main())` line of a block is left
out, since the test already runs in an event loop.

A block marked `# needs: redis` runs against the real redis-server of the `redis_server`
fixture: its `localhost:6379` addresses are rewritten to that server's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.doc_examples import Block, python_blocks, run_block

pytestmark = pytest.mark.anyio

BLOCKS = python_blocks("middleware.md")


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
