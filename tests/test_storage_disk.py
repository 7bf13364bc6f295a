"""`DiskStore` beyond the conformance suite: two OS processes sharing one file, persistence,
`max_size` eviction, lazy expiry sweeping, JSON (never pickle) on disk, errors and
cancellation. On asyncio and trio; the child processes run the same backend as the test.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from trimcp.storage import (
    DiskStore,
    EntryTooLargeError,
    StorageUnavailableError,
)
from trimcp.storage.disk import FILENAME

pytestmark = pytest.mark.anyio

# A child process: opens the store, writes `count` keys of its own and hammers one shared
# key, then waits until it sees every key of the other child, and prints what it saw.
CHILD = textwrap.dedent(
    """
    import sys
    import anyio
    from trimcp.storage import DiskStore

    directory, me, other, count, backend = sys.argv[1:6]
    count = int(count)

    async def main():
        async with DiskStore(directory=directory) as store:
            for i in range(count):
                await store.put(f"{me}.{i}", {"by": me, "i": i}, collection="shared")
                await store.put("contended", {"by": me, "i": i}, collection="shared")
            await store.put_many(
                [f"{me}.batch.{i}" for i in range(count)],
                [{"by": me} for _ in range(count)],
                collection="shared",
            )
            theirs = [f"{other}.{i}" for i in range(count)]
            with anyio.fail_after(60):
                while None in await store.get_many(theirs, collection="shared"):
                    await anyio.sleep(0.01)
            got = await store.get_many(theirs, collection="shared")
            assert got == [{"by": other, "i": i} for i in range(count)], got
            print("saw", other, len(got), flush=True)

    anyio.run(main, backend=backend)
    """
)


async def test_two_processes_share_one_disk_store(tmp_path: Path, anyio_backend: str) -> None:
    directory = tmp_path / "shared"
    count = 150
    with anyio.fail_after(120):
        async with DiskStore(directory=directory) as store:
            results: dict[str, subprocess.CompletedProcess[bytes]] = {}

            async def child(me: str, other: str) -> None:
                args = [sys.executable, "-c", CHILD, str(directory), me, other, str(count)]
                results[me] = await anyio.run_process([*args, anyio_backend], check=False)

            async with anyio.create_task_group() as tg:
                tg.start_soon(child, "a", "b")
                tg.start_soon(child, "b", "a")
                # this process writes too, meanwhile
                for i in range(50):
                    await store.put(f"parent.{i}", {"i": i}, collection="shared")

            for me, other in (("a", "b"), ("b", "a")):
                result = results[me]
                assert result.returncode == 0, result.stderr.decode()
                assert result.stdout.decode().split() == ["saw", other, str(count)]
            # the parent sees both children's writes, and its own
            for who in ("a", "b"):
                keys = [f"{who}.{i}" for i in range(count)]
                assert await store.get_many(keys, collection="shared") == [
                    {"by": who, "i": i} for i in range(count)
                ]
                batch = await store.get_many(
                    [f"{who}.batch.{i}" for i in range(count)], collection="shared"
                )
                assert batch == [{"by": who}] * count
            assert await store.get_many(
                [f"parent.{i}" for i in range(50)], collection="shared"
            ) == [{"i": i} for i in range(50)]
            contended = await store.get("contended", collection="shared")
            assert contended is not None and contended["i"] == count - 1  # each one's last
    with sqlite3.connect(directory / FILENAME) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        (rows,) = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
        assert rows == 4 * count + 50 + 1


async def test_a_disk_store_persists_across_instances_with_its_ttls(tmp_path: Path) -> None:
    async with DiskStore(directory=tmp_path / "d", default_collection="mine") as store:
        await store.put("k", {"v": 1}, ttl=3600)
        await store.put("forever", {"v": 2})
    async with DiskStore(directory=tmp_path / "d", default_collection="mine") as again:
        value, left = await again.ttl("k")
        assert value == {"v": 1} and left is not None and 3590 < left <= 3600
        assert await again.ttl("forever") == ({"v": 2}, None)
        assert await again.get("k", collection="default_collection") is None


async def test_a_call_after_aclose_opens_the_file_again(tmp_path: Path) -> None:
    store = DiskStore(directory=tmp_path / "d")
    await store.put("k", {"v": 1})
    await store.aclose()
    await store.aclose()  # idempotent
    assert await store.get("k") == {"v": 1}
    await store.aclose()


async def test_values_are_json_on_disk_never_pickle(tmp_path: Path) -> None:
    async with DiskStore(directory=tmp_path) as store:
        await store.put("k", {"text": "hello", "n": [1, 2]}, collection="c")
    with sqlite3.connect(tmp_path / FILENAME) as conn:
        (raw,) = conn.execute("SELECT value FROM entries WHERE key = 'k'").fetchone()
    assert json.loads(raw) == {"text": "hello", "n": [1, 2]}


async def test_max_size_evicts_the_least_recently_stored(tmp_path: Path) -> None:
    value = {"v": "x" * 92}  # 100 bytes of JSON
    async with DiskStore(directory=tmp_path, max_size=350) as store:
        await store.put_many(["a", "b", "c"], [value, value, value])
        assert await store.size() == 300
        await store.get("a")  # reading does not count: eviction follows the order of writing
        await store.put("d", value)  # 400 > 350: "a" goes
        assert await store.get_many(["a", "b", "c", "d"]) == [None, value, value, value]
        await store.put("b", value)  # a rewrite makes "b" the most recently stored
        await store.put("e", value)  # so "c" goes
        assert await store.get_many(["b", "c", "d", "e"]) == [value, None, value, value]
        assert await store.size() <= 350
        with pytest.raises(EntryTooLargeError):  # alone larger than the whole store
            await store.put("huge", {"v": "x" * 400})
        assert await store.get_many(["b", "d", "e"]) == [value, value, value]  # untouched


async def test_max_size_evicts_expired_entries_first(tmp_path: Path) -> None:
    value = {"v": "x" * 92}
    async with DiskStore(directory=tmp_path, max_size=350) as store:
        await store.put("old", value)
        await store.put("dying", value, ttl=0.05)
        await store.put("young", value)
        with anyio.fail_after(10):
            while await store.get("dying") is not None:  # noqa: ASYNC110 - real expiry
                await anyio.sleep(0.02)
        await store.put("new", value)  # over the bound: the expired entry goes, not "old"
        assert await store.get_many(["old", "young", "new"]) == [value, value, value]


async def test_expired_rows_are_swept_by_later_writes_and_by_cull(tmp_path: Path) -> None:
    path = tmp_path / FILENAME

    def rows() -> int:
        with sqlite3.connect(path) as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM entries").fetchone()
            return int(count)

    async with DiskStore(directory=tmp_path) as store:
        await store.put_many([f"e{i}" for i in range(10)], [{"i": i} for i in range(10)], ttl=0.05)
        with anyio.fail_after(10):
            while await store.get("e9") is not None:  # noqa: ASYNC110 - real expiry
                await anyio.sleep(0.02)
        assert rows() == 10  # reads ignore expired rows; they are still in the file
        for i in range(64):  # the lazy sweep runs every 64 writes
            await store.put(f"k{i}", {"i": i})
        assert rows() == 64
        await store.put("dying", {"v": 1}, ttl=0.05)
        with anyio.fail_after(10):
            while await store.get("dying") is not None:  # noqa: ASYNC110 - real expiry
                await anyio.sleep(0.02)
        assert await store.cull() == 1
        assert rows() == 64


async def test_an_unopenable_file_is_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / FILENAME).mkdir()  # a directory where the database file should be
    store = DiskStore(directory=tmp_path)
    with pytest.raises(StorageUnavailableError, match="disk store"):
        await store.get("k")
    with pytest.raises(StorageUnavailableError):
        async with store:
            pass


def test_a_directory_that_cannot_be_made_is_storage_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StorageUnavailableError, match="directory"):
        DiskStore(directory=tmp_path / "file" / "store")


async def test_a_cancelled_call_leaves_the_store_usable(tmp_path: Path) -> None:
    async with DiskStore(directory=tmp_path) as store:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await store.put("k", {"v": 1})  # cancelled before or after the thread ran
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(store.put, f"n{i}", {"i": i})
                tg.cancel_scope.cancel()
        await store.put("after", {"v": 2})
        assert await store.get("after") == {"v": 2}


async def test_the_store_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    import stat

    directory = tmp_path / "private"
    async with DiskStore(directory=directory) as store:
        await store.put("k", {"secret": 1})
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        for path in directory.iterdir():  # the database and its -wal and -shm files
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
