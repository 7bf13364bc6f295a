"""MRTR keys shared through a store (`MrtrKeys.from_store`): replicas that share a store seal
and open each other's `requestState`. On asyncio and trio, on memory, disk and Redis stores,
and across two OS processes sharing a DiskStore.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from trimcp import FastMCP
from trimcp.core import mrtr
from trimcp.core.mrtr import MrtrKeys
from trimcp.exceptions import McpError
from trimcp.storage import AsyncKeyValue, DiskStore, MemoryStore, RedisStore, StorageError

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "disk", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncKeyValue]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "disk":
        async with DiskStore(directory=tmp_path) as disk:
            yield disk
    else:
        server = request.getfixturevalue("redis_server")
        async with RedisStore(url=server.url) as redis:
            yield redis


async def test_replicas_sharing_a_store_open_each_other_s_request_state(
    store: AsyncKeyValue,
) -> None:
    first = await MrtrKeys.from_store(store)
    second = await MrtrKeys.from_store(store)
    stranger = MrtrKeys()  # a random key of its own
    token = first.seal(b"payload")
    assert second.open(token) == b"payload"
    assert stranger.open(token) is None
    # a full MRTR round: asked on one replica, answered on the other
    round_ = mrtr.begin_round(first, "tools/call", {"name": "t"}, None, None)
    asked = mrtr.input_required_result(first, round_, mrtr.InputRequired("input-0", {}))
    retry = mrtr.begin_round(
        second, "tools/call", {"name": "t"}, asked.requestState, {"input-0": {"ok": True}}
    )
    assert retry.answers == [{"ok": True}]
    with pytest.raises(McpError, match="integrity"):
        mrtr.begin_round(stranger, "tools/call", {"name": "t"}, asked.requestState, None)


async def test_the_first_key_written_stays(store: AsyncKeyValue) -> None:
    await MrtrKeys.from_store(store, collection="c", key="k")
    stored = await store.get("k", collection="c")
    assert stored is not None and len(stored["keys"]) == 1
    await MrtrKeys.from_store(store, collection="c", key="k")
    assert await store.get("k", collection="c") == stored  # read, not replaced


async def test_keys_rotate_by_putting_a_new_one_first(store: AsyncKeyValue) -> None:
    old = await MrtrKeys.from_store(store)
    token = old.seal(b"before rotation")
    stored = await store.get(mrtr.KEYS_KEY, collection=mrtr.KEYS_COLLECTION)
    assert stored is not None
    new_key = "bmV3LWtleS1ieXRlcy0wMTIzNDU2Nzg5YWJjZGVm"  # 30 bytes, base64url
    await store.put(
        mrtr.KEYS_KEY, {"keys": [new_key, *stored["keys"]]}, collection=mrtr.KEYS_COLLECTION
    )
    rotated = await MrtrKeys.from_store(store)
    assert rotated.open(token) == b"before rotation"  # old states still verify
    assert old.open(rotated.seal(b"after")) is None  # new ones are signed with the new key


@pytest.mark.parametrize(
    "stored",
    [
        {"keys": []},
        {"keys": "abc"},
        {"other": 1},
        {"keys": [3]},
        {"keys": ["!!"]},
        {"keys": ["YQ"]},
    ],
)
async def test_stored_keys_of_another_shape_are_refused(stored: dict[str, object]) -> None:
    store = MemoryStore()
    await store.put(mrtr.KEYS_KEY, stored, collection=mrtr.KEYS_COLLECTION)
    with pytest.raises(StorageError):
        await MrtrKeys.from_store(store)


async def test_a_server_given_keys_from_a_store_uses_them() -> None:
    store = MemoryStore()
    keys = await MrtrKeys.from_store(store)
    mcp = FastMCP("replica")
    mcp.mrtr_keys = keys
    assert mrtr.keys_for(mcp) is keys


CHILD = textwrap.dedent(
    """
    import sys
    import anyio
    from trimcp.core.mrtr import MrtrKeys
    from trimcp.storage import DiskStore

    async def main():
        async with DiskStore(directory=sys.argv[1]) as store:
            keys = await MrtrKeys.from_store(store)
            print(keys.seal(b"from the child"), flush=True)

    anyio.run(main, backend=sys.argv[2])
    """
)


async def test_two_processes_sharing_a_disk_store_share_the_keys(
    tmp_path: Path, anyio_backend: str
) -> None:
    with anyio.fail_after(60):
        result = await anyio.run_process(
            [sys.executable, "-c", CHILD, str(tmp_path), anyio_backend],
            check=False,
            stderr=subprocess.PIPE,
        )
        assert result.returncode == 0, result.stderr.decode()
        async with DiskStore(directory=tmp_path) as store:
            keys = await MrtrKeys.from_store(store)
    assert keys.open(result.stdout.decode().strip()) == b"from the child"
