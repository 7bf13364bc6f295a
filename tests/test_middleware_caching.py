"""Response caching (`trimcp.server.middleware.caching`) on real servers, both eras and both
backends: what is answered from the cache and for how long, listings that keep their keys and
tags, statistics, the size limit, entries per principal over HTTP, the 2026-07-28 caching
hints, and a store that fails (the request is served uncached)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import anyio.abc
import pytest

from tests.conftest import RedisServer
from trimcp import Client, Context, FastMCP
from trimcp.client.transports import StreamableHttpTransport
from trimcp.core.middleware import MiddlewareContext
from trimcp.exceptions import McpError
from trimcp.server.dependencies import get_http_headers
from trimcp.server.middleware import Middleware
from trimcp.server.middleware.caching import (
    CachableToolResult,
    CallToolSettings,
    ResponseCachingMiddleware,
)
from trimcp.storage import AsyncKeyValue, MemoryStore
from trimcp.storage.wrappers import Wrapper
from trimcp.tools.tool import ToolResult
from trimcp.types.tools import CallToolParams, ListToolsResult

pytestmark = pytest.mark.anyio

WAIT = 10
Era = Literal["legacy", "modern"]


class Recording(Wrapper):
    """A store that keeps, per collection, the keys written to it."""

    def __init__(self, key_value: AsyncKeyValue) -> None:
        super().__init__(key_value=key_value)
        self.written: dict[str | None, list[str]] = {}

    async def put(
        self, key: str, value: Any, *, collection: str | None = None, ttl: Any = None
    ) -> None:
        self.written.setdefault(collection, []).append(key)
        await super().put(key, value, collection=collection, ttl=ttl)

    def keys(self) -> list[str]:
        return [key for keys in self.written.values() for key in keys]


HEX64 = re.compile("[0-9a-f]{64}")


class Counting:
    """A server whose tools, resources and prompts count how often they ran."""

    def __init__(self, cache: ResponseCachingMiddleware, **options: Any) -> None:
        self.runs: dict[str, int] = {}
        self.cache = cache
        mcp = self.mcp = FastMCP("counting", middleware=[cache], **options)

        @mcp.tool(tags={"math"})
        def add(a: int, b: int) -> int:
            return self.ran("add") and a + b

        @mcp.tool
        def stamp() -> int:
            return self.ran("stamp")

        @mcp.tool
        def big() -> str:
            self.ran("big")
            return "x" * 5000

        @mcp.resource("data://text")
        def text() -> str:
            return f"text {self.ran('text')}"

        @mcp.resource("data://blob")
        def blob() -> bytes:
            return bytes([0, self.ran("blob")])

        @mcp.prompt
        def greet(name: str) -> str:
            return f"Hello {name} #{self.ran('greet')}"

    def ran(self, name: str) -> int:
        self.runs[name] = self.runs.get(name, 0) + 1
        return self.runs[name]


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_tool_calls_are_answered_from_the_cache(protocol: Era) -> None:
    server = Counting(ResponseCachingMiddleware(call_tool_settings={"excluded_tools": ["stamp"]}))
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol=protocol) as client:
            first = await client.call_tool("add", {"a": 1, "b": 2})
            again = await client.call_tool("add", {"b": 2, "a": 1})  # same arguments
            other = await client.call_tool("add", {"a": 2, "b": 2})
            stamps = [(await client.call_tool("stamp")).data for _ in range(2)]
    assert first.data == again.data == 3 and other.data == 4
    assert first.content == again.content and first.structured_content == again.structured_content
    assert server.runs == {"add": 2, "stamp": 2} and stamps == [1, 2]


async def test_included_tools_and_disabled_methods() -> None:
    cache = ResponseCachingMiddleware(
        call_tool_settings=CallToolSettings(included_tools=["stamp"]),
        read_resource_settings={"enabled": False},
    )
    server = Counting(cache)
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            for _ in range(2):
                await client.call_tool("stamp")
                await client.call_tool("add", {"a": 1, "b": 1})
                await client.read_resource("data://text")
    assert server.runs == {"stamp": 1, "add": 2, "text": 2}
    assert cache.caches_tool("stamp") and not cache.caches_tool("add")


async def test_entries_expire_after_their_ttl() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    server = Counting(
        ResponseCachingMiddleware(cache_storage=store, call_tool_settings={"ttl": 30})
    )
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            assert (await client.call_tool("stamp")).data == 1
            now[0] += 29
            assert (await client.call_tool("stamp")).data == 1
            now[0] += 2
            assert (await client.call_tool("stamp")).data == 2


@pytest.mark.parametrize("protocol", ["legacy", "modern"])
async def test_resources_and_prompts_are_answered_from_the_cache(protocol: Era) -> None:
    server = Counting(ResponseCachingMiddleware())
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol=protocol) as client:
            for _ in range(2):
                assert (await client.read_resource("data://text"))[0].text == "text 1"
                assert (await client.read_resource("data://blob"))[0].blob == "AAE="
                prompt = await client.get_prompt("greet", {"name": "Ada"})
                assert prompt.messages[0].content.text == "Hello Ada #1"
    assert server.runs == {"text": 1, "blob": 1, "greet": 1}


class OnlyTagged(Middleware):
    """Lists only the tools tagged `tag` (outside the cache: it sees the cached components)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    async def on_list_tools(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        return [tool for tool in await call_next(context) if self.tag in tool.tags]


async def test_cached_listings_keep_keys_and_tags() -> None:
    cache = ResponseCachingMiddleware()
    parent = FastMCP("parent", middleware=[OnlyTagged("math"), cache])
    child = FastMCP("child")

    @child.tool(tags={"math"})
    def double(n: int) -> int:
        return 2 * n

    @child.tool
    def untagged() -> int:
        return 0

    parent.mount(child, prefix="kid")
    with anyio.fail_after(WAIT):
        async with Client(parent, protocol="modern") as client:
            first = [t.name for t in await client.list_tools()]

            @parent.tool(tags={"math"})
            def late(n: int) -> int:
                return n

            second = await client.list_tools()
            assert (await client.call_tool("kid_double", {"n": 4})).data == 8
    assert first == ["kid_double"] == [t.name for t in second]
    assert second[0].meta == {"_fastmcp": {"tags": ["math"]}}
    stats = cache.statistics().list_tools
    assert stats is not None and (stats.get.hit, stats.get.miss, stats.put.count) == (1, 1, 1)


async def test_statistics_count_hits_misses_and_puts() -> None:
    cache = ResponseCachingMiddleware()
    server = Counting(cache)
    assert cache.statistics().call_tool is None
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            for _ in range(3):
                await client.call_tool("stamp")
            await client.read_resource("data://text")
    call_tool = cache.statistics().call_tool
    read = cache.statistics().read_resource
    assert call_tool is not None and read is not None
    assert (call_tool.get.count, call_tool.get.hit, call_tool.get.miss) == (3, 2, 1)
    assert call_tool.put.count == 1 and (read.get.miss, read.put.count) == (1, 1)


async def test_results_over_max_item_size_are_not_stored() -> None:
    server = Counting(ResponseCachingMiddleware(max_item_size=1000))
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            for _ in range(2):
                assert len((await client.call_tool("big")).data) == 5000
                await client.call_tool("stamp")
    assert server.runs == {"big": 2, "stamp": 1}


async def test_a_py_key_value_store_serves_as_the_cache() -> None:
    from key_value.aio.stores.memory import MemoryStore as PyKeyValueMemoryStore

    server = Counting(ResponseCachingMiddleware(cache_storage=PyKeyValueMemoryStore()))
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            assert [(await client.call_tool("stamp")).data for _ in range(2)] == [1, 1]
            assert [len(await client.list_tools()) for _ in range(2)] == [3, 3]


async def test_a_redis_store_serves_as_the_cache(redis_server: RedisServer) -> None:
    from trimcp.storage.redis import RedisStore

    async with RedisStore(url=redis_server.url) as store:
        server = Counting(ResponseCachingMiddleware(cache_storage=store))
        with anyio.fail_after(WAIT):
            async with Client(server.mcp, protocol="modern") as client:
                for _ in range(2):
                    assert (await client.call_tool("stamp")).data == 1
                    assert (await client.read_resource("data://blob"))[0].blob == "AAE="
                    assert {t.name for t in await client.list_tools()} == {"add", "stamp", "big"}
    assert server.runs == {"stamp": 1, "blob": 1}


async def test_a_failing_store_serves_requests_uncached(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    from trimcp.storage.redis import RedisStore

    store = RedisStore(url=redis_server.url, connect_timeout=1, timeout=1)
    server = Counting(ResponseCachingMiddleware(cache_storage=store))
    redis_server.stop()
    with caplog.at_level(logging.WARNING), anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            assert [(await client.call_tool("stamp")).data for _ in range(2)] == [1, 2]
            assert len(await client.list_tools()) == 3
    assert "serving uncached" in caplog.text


# -- whose entry -----------------------------------------------------------------------------


@asynccontextmanager
async def http_url(mcp: FastMCP) -> AsyncIterator[str]:
    async with anyio.create_task_group() as tg:

        async def run(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
            await mcp.run_http_async(port=0, show_banner=False, task_status=task_status)

        with anyio.fail_after(WAIT):
            address = await tg.start(run)
        try:
            yield address.url
        finally:
            tg.cancel_scope.cancel()


async def _stamps(url: str, authorization: str | None) -> list[int]:
    headers = {"Authorization": authorization} if authorization else {}
    async with Client(StreamableHttpTransport(url, headers=headers)) as client:
        return [(await client.call_tool("stamp")).data for _ in range(2)]


def _whoami_server(store: AsyncKeyValue) -> FastMCP:
    mcp = FastMCP("whoami", middleware=[ResponseCachingMiddleware(cache_storage=store)])

    @mcp.tool
    def whoami() -> str:
        authorization = get_http_headers(include={"authorization"}).get("authorization")
        return f"secret data of {authorization}" if authorization else "anonymous"

    return mcp


async def _call(url: str, authorization: str | None, name: str) -> str:
    headers = {"Authorization": authorization} if authorization else {}
    async with Client(StreamableHttpTransport(url, headers=headers)) as client:
        try:
            result = await client.call_tool_mcp(name, {})
        except McpError as refused:  # no such tool
            return str(refused.error.message)
    text: str = result.content[0].text
    return text


async def test_a_crafted_tool_name_cannot_read_another_principals_entry() -> None:
    """Keys are hashes of a structure a client cannot shape: a tool name spelled as the old
    `#<principal>#<key>` of Bob's entry finds nothing (the tool does not exist), and no key
    holds the tool name or the arguments."""
    store = Recording(MemoryStore())
    digest = hashlib.sha256(b"authorization:Bearer bob").hexdigest()
    crafted = f"#{digest}#whoami:{{}}"
    with anyio.fail_after(WAIT):
        async with http_url(_whoami_server(store)) as url:
            assert await _call(url, "Bearer bob", "whoami") == "secret data of Bearer bob"
            for caller in (None, "Bearer mallory"):
                for name in (crafted, f"#{digest}#whoami"):
                    assert await _call(url, caller, name) == f"Unknown tool: {name}"
    keys = store.keys()
    assert keys and all(HEX64.fullmatch(key) for key in keys)


async def test_anonymous_results_are_not_served_to_callers_with_credentials() -> None:
    """Anonymous entries are their own: alice after an anonymous call runs the tool, and an
    anonymous call after alice's does too."""
    server = Counting(ResponseCachingMiddleware())
    with anyio.fail_after(WAIT):
        async with http_url(server.mcp) as url:
            anonymous = await _stamps(url, None)
            alice = await _stamps(url, "Bearer alice")
            bob = await _stamps(url, "Bearer bob")
            anonymous_again = await _stamps(url, None)
    assert anonymous == anonymous_again == [1, 1] and alice == [2, 2] and bob == [3, 3]

    store = Recording(MemoryStore())
    with anyio.fail_after(WAIT):
        async with http_url(_whoami_server(store)) as url:
            assert await _call(url, None, "whoami") == "anonymous"
            assert await _call(url, "Bearer alice", "whoami") == "secret data of Bearer alice"
            assert await _call(url, None, "whoami") == "anonymous"
    assert len(set(store.written["tools/call"])) == 2


async def test_public_results_are_one_entry_for_everyone() -> None:
    """A result declared public (here by its wire `cacheScope`) is written once, under the
    public entry, and served to anonymous and credentialed callers alike."""
    store = Recording(MemoryStore())
    inner = AnswersWithWire(60_000, scope="public")
    mcp = FastMCP("public", middleware=[ResponseCachingMiddleware(cache_storage=store), inner])
    with anyio.fail_after(WAIT):
        async with http_url(mcp) as url:
            for authorization in (None, "Bearer alice", "Bearer bob"):
                headers = {"Authorization": authorization} if authorization else {}
                async with Client(StreamableHttpTransport(url, headers=headers)) as client:
                    assert await client.list_tools() == []
    assert inner.calls == 1 and len(store.written["tools/list"]) == 1


class Token:
    """An access token as FastMCP's `AccessToken` carries it (the fields the cache reads)."""

    def __init__(self, token: str, client_id: str, claims: dict[str, Any]) -> None:
        self.token, self.client_id, self.claims = token, client_id, claims


async def test_users_of_one_client_without_a_subject_do_not_share_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The principal of an access token is its client and subject; without a subject, the
    token itself (not the client alone: its users do not share)."""
    from trimcp.server import dependencies

    current: list[Token] = []
    monkeypatch.setattr(dependencies, "get_access_token", lambda: current[-1])
    server = Counting(ResponseCachingMiddleware())
    stamps: list[int] = []
    tokens = [
        Token("t-one", "app", {}),
        Token("t-two", "app", {}),
        Token("t-one", "app", {}),  # the same token again: the same entry
        Token("t-three", "app", {"sub": "ada"}),
        Token("t-four", "app", {"sub": "ada"}),  # the same subject, a new token
        Token("t-five", "other-app", {"sub": "ada"}),
    ]
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            for token in tokens:
                current.append(token)
                stamps.append((await client.call_tool("stamp")).data)
    assert stamps == [1, 2, 1, 3, 3, 4]


async def test_the_default_store_is_bounded_and_keys_stay_short() -> None:
    """Entries are keyed by a hash, whatever the size of the arguments, and the default
    store keeps at most 10,000 of them (the least recently used goes)."""
    default = ResponseCachingMiddleware()
    assert isinstance(default.store, MemoryStore) and default.store.max_entries == 10_000

    store = Recording(MemoryStore())
    mcp = FastMCP("big", middleware=[ResponseCachingMiddleware(cache_storage=store)])

    @mcp.tool
    def size(text: str) -> int:
        return len(text)

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol="modern") as client:
            for n in range(20):
                text = "x" * 20_000 + str(n)
                assert (await client.call_tool("size", {"text": text})).data == len(text)
                assert (await client.call_tool("size", {"text": text})).data == len(text)
    keys = store.written["tools/call"]
    assert len(keys) == 20 and all(HEX64.fullmatch(key) for key in keys)


async def test_requests_with_credentials_get_their_own_entries() -> None:
    server = Counting(ResponseCachingMiddleware())
    with anyio.fail_after(WAIT):
        async with http_url(server.mcp) as url:
            alice = await _stamps(url, "Bearer alice")
            bob = await _stamps(url, "Bearer bob")
            alice_again = await _stamps(url, "Bearer alice")
            anonymous = await _stamps(url, None)
            anonymous_again = await _stamps(url, None)
    assert alice == alice_again == [1, 1] and bob == [2, 2]
    assert anonymous == anonymous_again == [3, 3]


async def test_a_public_cache_scope_shares_entries_between_principals() -> None:
    server = Counting(ResponseCachingMiddleware(), cache_scope="public")
    with anyio.fail_after(WAIT):
        async with http_url(server.mcp) as url:
            assert await _stamps(url, "Bearer alice") == [1, 1]
            assert await _stamps(url, "Bearer bob") == [1, 1]
            assert await _stamps(url, None) == [1, 1]


# -- 2026-07-28 caching hints and multi round-trip requests -----------------------------------


class AnswersWithWire(Middleware):
    """Answers `tools/list` with a wire result carrying caching hints, as a proxy may."""

    def __init__(self, ttl_ms: int, scope: str = "private") -> None:
        self.ttl_ms, self.scope, self.calls = ttl_ms, scope, 0

    async def on_list_tools(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        self.calls += 1
        return ListToolsResult(tools=[], ttlMs=self.ttl_ms, cacheScope=self.scope)


@pytest.mark.parametrize(("ttl_ms", "calls"), [(0, 3), (60_000, 1)])
async def test_a_results_ttl_ms_bounds_its_entry(ttl_ms: int, calls: int) -> None:
    store = Recording(MemoryStore())
    inner = AnswersWithWire(ttl_ms)
    mcp = FastMCP("hinted", middleware=[ResponseCachingMiddleware(cache_storage=store), inner])
    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol="modern") as client:
            for _ in range(3):
                assert await client.list_tools() == []
    assert inner.calls == calls
    written = store.written.get("tools/list", [])
    assert len(written) == (0 if ttl_ms == 0 else 1)
    if written:
        _, left = await store.ttl(written[0], collection="tools/list")
        assert left is not None and 59 < left <= 60


async def test_mrtr_retries_are_neither_answered_nor_stored() -> None:
    cache = ResponseCachingMiddleware()
    runs: list[int] = []

    async def tool_call(context: MiddlewareContext[Any]) -> ToolResult:
        runs.append(1)
        return ToolResult(content=f"run {len(runs)}")

    retry = MiddlewareContext(
        message=CallToolParams(name="t", arguments={}, requestState="sealed"),
        method="tools/call",
    )
    first = MiddlewareContext(message=CallToolParams(name="t", arguments={}), method="tools/call")
    with anyio.fail_after(WAIT):
        await cache.on_call_tool(retry, tool_call)
        await cache.on_call_tool(retry, tool_call)
        assert cache.statistics().call_tool is None  # the store was not even asked
        await cache.on_call_tool(first, tool_call)
        cached = await cache.on_call_tool(first, tool_call)
    assert len(runs) == 3 and cached.content[0].text == "run 3"


async def test_a_tool_that_asks_for_input_is_never_cached_in_the_modern_era() -> None:
    mcp = FastMCP("asks", middleware=[ResponseCachingMiddleware()])
    asked: list[str] = []

    @mcp.tool
    async def confirm(ctx: Context) -> str:
        answer = await ctx.elicit("sure?", response_type=bool)
        asked.append(answer.action)
        return f"{answer.action} {len(asked)}"

    async def yes(message: str, response_type: Any, params: Any, context: Any) -> Any:
        return {"value": True}

    with anyio.fail_after(WAIT):
        async with Client(mcp, protocol="modern", elicitation_handler=yes) as client:
            first = (await client.call_tool("confirm")).data
            second = (await client.call_tool("confirm")).data
    # the result came from a retry carrying the answer: it is not stored, so the next call
    # runs (and asks) again
    assert first == "accept 1" and second == "accept 2"


def test_cachable_tool_result_round_trips() -> None:
    result = ToolResult("text", structured_content={"a": 1}, meta={"m": True})
    back = CachableToolResult.wrap(result).unwrap()
    assert back == result


def test_statistics_take_py_key_values_objects_and_equal_trimcps() -> None:
    from key_value.aio.wrappers.statistics.wrapper import (
        GetStatistics,
        KVStoreCollectionStatistics,
        PutStatistics,
    )

    from trimcp.server.middleware.caching import ResponseCachingStatistics
    from trimcp.storage.wrappers import CollectionStatistics, CountStatistics, HitMissStatistics

    theirs = ResponseCachingStatistics(
        call_tool=KVStoreCollectionStatistics(
            get=GetStatistics(count=2, hit=1, miss=1), put=PutStatistics(count=1)
        )
    )
    ours = ResponseCachingStatistics(
        call_tool=CollectionStatistics(
            get=HitMissStatistics(count=2, hit=1, miss=1), put=CountStatistics(count=1)
        )
    )
    assert theirs == ours and theirs != ResponseCachingStatistics()


async def test_paginated_listings_are_cached_page_by_page() -> None:
    cache = ResponseCachingMiddleware()
    server = Counting(cache, list_page_size=1)
    with anyio.fail_after(WAIT):
        async with Client(server.mcp, protocol="modern") as client:
            first = [t.name for t in await client.list_tools()]  # three pages

            @server.mcp.tool
            def late() -> int:
                return 0

            second = [t.name for t in await client.list_tools()]
    assert first == second and sorted(first) == ["add", "big", "stamp"]
    stats = cache.statistics().list_tools
    assert stats is not None and (stats.get.miss, stats.get.hit) == (3, 3)
