"""`trimcp.storage.resp`, the lean RESP2 client under `RedisStore`'s key-value calls: the
reply parser on every RESP2 type (whole, split across receives, several in one receive), and
on a real redis-server (tests/conftest.py), on asyncio and trio: a call cancelled mid-flight
does not poison the pool, a pooled connection Redis killed is replaced transparently, AUTH
(right, wrong, with a user name) and SELECT on connect, error replies, the pool's limit, and
entering a store connects. TLS is covered through the store by
tests/test_storage_redis.py::test_tls_server_with_a_verified_certificate."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import coredis
import pytest

from tests.conftest import RedisServer, RedisServerFactory
from trimcp.storage import StorageError, StorageUnavailableError
from trimcp.storage.redis import RedisStore
from trimcp.storage.resp import (
    INCOMPLETE,
    ProtocolError,
    RespClient,
    ResponseError,
    RespParser,
    command,
    parse_reply,
)

WAIT = 10.0  # seconds any one test's Redis calls may take (they take milliseconds)

EVERY_TYPE: list[tuple[bytes, Any]] = [
    (b"+OK\r\n", "OK"),
    (b"+\r\n", ""),
    (b":0\r\n", 0),
    (b":-42\r\n", -42),
    (b":9223372036854775807\r\n", 2**63 - 1),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$4\r\na\r\nb\r\n", b"a\r\nb"),  # CRLF inside a bulk string
    (b"$-1\r\n", None),
    (b"*0\r\n", []),
    (b"*-1\r\n", None),
    (b"*3\r\n$1\r\na\r\n$-1\r\n:7\r\n", [b"a", None, 7]),
    (b"*2\r\n*2\r\n$1\r\nx\r\n:-2\r\n*0\r\n", [[b"x", -2], []]),
    (b"*2\r\n+OK\r\n*-1\r\n", ["OK", None]),
]


def _same(parsed: Any, expected: Any) -> bool:
    if isinstance(expected, ResponseError):
        return isinstance(parsed, ResponseError) and str(parsed) == str(expected)
    return type(parsed) is type(expected) and parsed == expected


@pytest.mark.parametrize(("data", "expected"), EVERY_TYPE)
def test_every_resp2_type_whole_and_byte_by_byte(data: bytes, expected: Any) -> None:
    assert parse_reply(data, 0) == (expected, len(data))
    assert _same(parse_reply(data, 0)[0], expected)
    parser = RespParser()
    for n in range(len(data)):  # every prefix is incomplete, the whole is the reply
        assert parser.next() is INCOMPLETE
        parser.feed(data[n : n + 1])
    assert _same(parser.next(), expected)
    assert parser.pending == 0
    assert parser.next() is INCOMPLETE


def test_error_replies_are_values_and_say_whether_they_refuse_authentication() -> None:
    error, end = parse_reply(b"-WRONGTYPE Operation against a key\r\n", 0)
    assert isinstance(error, ResponseError) and end == 36
    assert str(error) == "WRONGTYPE Operation against a key" and not error.auth
    for refusal in (b"-NOAUTH Authentication required.", b"-WRONGPASS invalid password"):
        refused, _ = parse_reply(refusal + b"\r\n", 0)
        assert isinstance(refused, ResponseError) and refused.auth
    # inside an array (EXEC's replies) too
    replies, _ = parse_reply(b"*2\r\n+OK\r\n-ERR bad\r\n", 0)
    assert replies[0] == "OK" and isinstance(replies[1], ResponseError)


def test_several_replies_in_one_receive_and_a_reply_split_across_receives() -> None:
    stream = b"".join(data for data, _ in EVERY_TYPE)
    parser = RespParser()
    parser.feed(stream)  # all at once
    for _, expected in EVERY_TYPE:
        assert _same(parser.next(), expected)
    assert parser.next() is INCOMPLETE and parser.pending == 0

    for size in (2, 3, 7, 16):  # in chunks that cut replies (and their headers) anywhere
        parser = RespParser()
        replies: list[Any] = []
        for at in range(0, len(stream), size):
            parser.feed(stream[at : at + size])
            while (reply := parser.next()) is not INCOMPLETE:
                replies.append(reply)
        assert len(replies) == len(EVERY_TYPE)
        assert all(_same(r, e) for r, (_, e) in zip(replies, EVERY_TYPE, strict=True))

    parser = RespParser()  # one and a half replies: the half waits for the rest
    parser.feed(b"$3\r\nabc\r\n$3\r\nde")
    assert parser.next() == b"abc"
    assert parser.next() is INCOMPLETE and parser.pending == 6
    parser.feed(b"f\r\n")
    assert parser.next() == b"def" and parser.pending == 0


def test_a_big_bulk_string_in_many_pieces() -> None:
    value = bytes(range(256)) * 1000
    data = b"$%d\r\n%s\r\n" % (len(value), value)
    parser = RespParser()
    for at in range(0, len(data), 65536):
        assert parser.next() is INCOMPLETE
        parser.feed(data[at : at + 65536])
    assert parser.next() == value


def test_what_is_not_resp2_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not a RESP2 reply"):
        parse_reply(b"\x15\x03\x03\x00\x02\x02\x32\r\n", 0)  # a TLS alert, say
    for bad in (b"$x\r\n", b":1.5\r\n", b"*?\r\n"):  # lengths and integers that are none
        parser = RespParser()
        parser.feed(bad)
        with pytest.raises(ProtocolError, match="not a RESP2 reply"):
            parser.next()


def test_commands_are_encoded_as_resp_arrays_of_bulk_strings() -> None:
    assert command(b"GET", b"k") == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
    assert command(b"SET", b"k", b"", b"PX", b"10") == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n$2\r\nPX\r\n$2\r\n10\r\n"
    )
    assert command(b"PING") == b"*1\r\n$4\r\nPING\r\n"


# -- on a real redis-server ----------------------------------------------------------------------


def _client(server: RedisServer, **options: Any) -> RespClient:
    options.setdefault("password", server.password)
    return RespClient(
        host=server.host, port=server.port, location=f"{server.host}:{server.port}", **options
    )


@asynccontextmanager
async def probing(server: RedisServer, password: str | None = None) -> AsyncIterator[Any]:
    async with coredis.Redis(
        host=server.host, port=server.port, password=password or server.password
    ) as client:
        yield client


@asynccontextmanager
async def store_and_probe(factory: RedisServerFactory) -> AsyncIterator[tuple[RedisStore, Any]]:
    """A store on a fresh redis-server and a coredis client probing that server, the block
    bounded by `WAIT`; the store is closed at the end."""
    server = factory()
    store = RedisStore(url=server.url)
    async with probing(server) as probe:
        with anyio.fail_after(WAIT):
            yield store, probe
            await store.aclose()


async def _kill_clients(probe: Any) -> None:
    """`CLIENT KILL` every normal client but the probe (the store's pooled connections)."""
    assert await probe.client_kill(type_=coredis.PureToken.NORMAL, skipme=True) >= 1


async def _accepted(probe: Any) -> int:
    return int((await probe.info("stats"))["total_connections_received"])


async def _blocked(probe: Any) -> int:
    return int((await probe.info("clients"))["blocked_clients"])


@pytest.mark.anyio
async def test_a_call_cancelled_mid_flight_does_not_poison_the_pool(
    redis_server: RedisServer,
) -> None:
    client = _client(redis_server)
    async with probing(redis_server) as probe:
        with anyio.fail_after(WAIT):
            assert await client.call("SET", command(b"SET", b"k", b"v")) == ["OK"]
            before = await _accepted(probe)
            async with anyio.create_task_group() as tg:
                # a command that waits in Redis: in flight until cancelled
                tg.start_soon(client.call, "BLPOP", command(b"BLPOP", b"list", b"0"))
                while await _blocked(probe) != 1:  # noqa: ASYNC110 - Redis says when
                    await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
            # its connection is closed, not pooled: the next call gets its own answer
            assert await client.call("GET", command(b"GET", b"k")) == [b"v"]
            assert await _accepted(probe) - before == 1  # a new one
            while await _blocked(probe) != 0:  # noqa: ASYNC110 - Redis notices the close
                await anyio.sleep(0.01)
            await probe.rpush("list", [b"x"])
            assert await probe.llen("list") == 1  # nobody took it
            for _ in range(20):
                assert await client.call("GET", command(b"GET", b"k")) == [b"v"]
            await client.aclose()


@pytest.mark.anyio
async def test_a_pooled_connection_redis_killed_is_replaced_transparently(
    redis_server_factory: RedisServerFactory,
) -> None:
    async with store_and_probe(redis_server_factory) as (store, probe):
        await store.put("k", {"x": 1})
        before = await _accepted(probe)
        for _ in range(3):  # killed, three times over
            await _kill_clients(probe)
            assert await store.get("k") == {"x": 1}
            await store.put("k", {"x": 1}, ttl=60)
            assert await store.ttl_many(["k", "absent"]) == [
                ({"x": 1}, pytest.approx(60, abs=5)),
                (None, None),
            ]
        assert await _accepted(probe) - before == 3  # one new connection each time


@pytest.mark.anyio
async def test_a_delete_on_a_killed_pooled_connection_is_sent_once_on_a_new_one(
    redis_server_factory: RedisServerFactory,
) -> None:
    async with store_and_probe(redis_server_factory) as (store, probe):
        for key in ("a", "b", "c"):
            await store.put(key, {"x": 1})
        before = await _accepted(probe)
        await _kill_clients(probe)
        assert await store.delete("a") is True  # the stale one seen before sending
        await _kill_clients(probe)
        assert await store.delete_many(["b", "c", "absent"]) == 2
        assert await probe.exists(["a", "b", "c"]) == 0
        assert await _accepted(probe) - before == 2


@pytest.mark.anyio
async def test_the_peek_before_a_delete_never_waits_on_a_default_socket_timeout(
    redis_server_factory: RedisServerFactory,
) -> None:
    # `socket.setdefaulttimeout` must not turn the peek into a wait (and a healthy connection
    # into a "closed" one): the pooled connection is reused, none is opened
    previous = socket.getdefaulttimeout()
    async with store_and_probe(redis_server_factory) as (store, probe):
        await store.put("k", {"x": 1})
        before = await _accepted(probe)
        socket.setdefaulttimeout(WAIT / 2)
        try:
            assert await store.delete("k") is True
        finally:
            socket.setdefaulttimeout(previous)
        assert await _accepted(probe) == before


class _CutAfterDel:
    """A TCP proxy to Redis that forwards everything, except that, while `armed`, the reply
    to a `DEL` never reaches the client: the connection is cut once Redis has run it (once)."""

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.port = 0
        self.armed = False

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        async with listener:
            self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
            task_status.started()
            await listener.serve(self._relay)

    async def _relay(self, client: anyio.abc.SocketStream) -> None:
        async with client, await anyio.connect_tcp(self.server.host, self.server.port) as redis:
            last = [b""]
            async with anyio.create_task_group() as tg:

                async def upstream() -> None:
                    async for chunk in client:
                        last[0] = chunk
                        await redis.send(chunk)
                    tg.cancel_scope.cancel()

                tg.start_soon(upstream)
                async for chunk in redis:
                    if self.armed and b"DEL" in last[0]:
                        self.armed = False
                        break  # Redis ran it; its answer is lost with the connection
                    await client.send(chunk)
                tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_delete_cut_after_redis_ran_it_fails_instead_of_counting_twice(
    redis_server: RedisServer,
) -> None:
    proxy = _CutAfterDel(redis_server)
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            await tg.start(proxy.serve)
            store = RedisStore(host="127.0.0.1", port=proxy.port, password=redis_server.password)
            await store.put("k", {"x": 1})
            assert await store.get("k") == {"x": 1}  # a pooled connection, reused below
            proxy.armed = True
            with pytest.raises(StorageUnavailableError):
                await store.delete("k")  # a retry would answer False: k is gone already
            assert await store.get("k") is None  # Redis did run it
            await store.put("k", {"x": 1})
            proxy.armed = True
            with pytest.raises(StorageUnavailableError):
                await store.delete_many(["k", "absent"])
            assert await store.get("k") is None
            await store.aclose()
            tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_auth_on_connect_right_wrong_and_with_a_user_name(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory(password="s3cret")
    with anyio.fail_after(WAIT):
        client = _client(server)
        assert await client.call("PING", command(b"PING")) == ["PONG"]
        await client.aclose()
        user = _client(server, username="default")  # AUTH default s3cret
        assert await user.call("PING", command(b"PING")) == ["PONG"]
        await user.aclose()
        store = RedisStore(url=f"redis://default:s3cret@{server.host}:{server.port}/0")
        await store.put("k", {"x": 1})
        assert await store.get("k") == {"x": 1}
        await store.aclose()
        for refused in (_client(server, password="wrong"), _client(server, password=None)):
            with pytest.raises(StorageUnavailableError, match="authentication refused") as info:
                await refused.call("GET", command(b"GET", b"k"))
            assert "wrong" not in str(info.value) and "s3cret" not in str(info.value)
            await refused.aclose()
        # entering a store connects (and authenticates): a refusal shows at once
        with pytest.raises(StorageUnavailableError, match="authentication refused"):
            async with RedisStore(host=server.host, port=server.port, password="wrong"):
                pass


@pytest.mark.anyio
async def test_db_is_selected_on_connect(redis_server: RedisServer) -> None:
    with anyio.fail_after(WAIT):
        async with (
            RedisStore(host=redis_server.host, port=redis_server.port, db=7) as seven,
            RedisStore(host=redis_server.host, port=redis_server.port) as zero,
        ):
            await seven.put("k", {"db": 7})
            assert await zero.get("k") is None
            await zero.put("k", {"db": 0})
            assert await seven.get("k") == {"db": 7}
            async with coredis.Redis(host=redis_server.host, port=redis_server.port, db=7) as raw:
                assert await raw.exists(["default_collection::k"]) == 1
        client = _client(redis_server, db=99)  # out of range: Redis's error, not an outage
        with pytest.raises(StorageError, match="DB index is out of range") as info:
            await client.call("GET", command(b"GET", b"k"))
        assert not isinstance(info.value, StorageUnavailableError)
        await client.aclose()


@pytest.mark.anyio
async def test_error_replies_are_storage_errors_and_leave_the_connection_usable(
    redis_server: RedisServer,
) -> None:
    client = _client(redis_server)
    async with probing(redis_server) as probe:
        with anyio.fail_after(WAIT):
            await probe.lpush("list", [b"x"])
            before = await _accepted(probe)
            with pytest.raises(StorageError, match="GET failed: ResponseError: WRONGTYPE"):
                await client.call("GET", command(b"GET", b"list"))
            transaction = b"".join(
                command(*args)
                for args in ((b"MULTI",), (b"SET", b"k", b"v"), (b"INCR", b"k"), (b"EXEC",))
            )
            with pytest.raises(StorageError, match="not an integer"):  # inside EXEC's replies
                await client.call("MULTI", transaction, 4)
            assert await client.call("GET", command(b"GET", b"k")) == [b"v"]
            assert await _accepted(probe) - before == 1
            await client.aclose()


@pytest.mark.anyio
async def test_callers_beyond_the_pool_limit_wait_for_a_connection(
    redis_server: RedisServer,
) -> None:
    client = _client(redis_server, max_connections=2)
    results: list[Any] = []

    async def call(n: int) -> None:
        key = b"k%d" % n
        await client.call("SET", command(b"SET", key, key))
        results.append((await client.call("GET", command(b"GET", key)))[0])

    async with probing(redis_server) as probe:
        with anyio.fail_after(WAIT):
            before = await _accepted(probe)
            async with anyio.create_task_group() as tg:
                for n in range(50):
                    tg.start_soon(call, n)
            assert sorted(results) == sorted(b"k%d" % n for n in range(50))
            assert 1 <= await _accepted(probe) - before <= 2
            # one waiter cancelled while waiting: the others still get their turn
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call, "BLPOP", command(b"BLPOP", b"l1", b"0"))
                tg.start_soon(client.call, "BLPOP", command(b"BLPOP", b"l2", b"0"))
                while await _blocked(probe) != 2:  # noqa: ASYNC110 - Redis says when
                    await anyio.sleep(0.01)
                waiting = anyio.CancelScope()

                async def waiter() -> None:
                    with waiting:
                        await client.call("GET", command(b"GET", b"k1"))
                        pytest.fail("a third connection was opened")

                tg.start_soon(waiter)
                tg.start_soon(call, 100)
                await anyio.wait_all_tasks_blocked()  # both wait for a connection
                waiting.cancel()
                await probe.rpush("l1", [b"x"])  # one BLPOP ends: its connection serves
                await probe.rpush("l2", [b"x"])
            assert b"k100" in results
            assert 1 <= await _accepted(probe) - before <= 2  # never more than two
            assert b"k100" in results
            await client.aclose()


@pytest.mark.anyio
async def test_close_during_a_call_closes_its_connection_after_it(
    redis_server: RedisServer,
) -> None:
    client = _client(redis_server)
    async with probing(redis_server) as probe:
        own = int(await probe.client_id())
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(client.call, "BLPOP", command(b"BLPOP", b"l", b"0"))
                while await _blocked(probe) != 1:  # noqa: ASYNC110 - Redis says when
                    await anyio.sleep(0.01)
                await client.aclose()
                await probe.rpush("l", [b"x"])  # the call ends, its connection closes
            while any(int(c["id"]) != own for c in await probe.client_list()):  # noqa: ASYNC110
                await anyio.sleep(0.01)
            # used again after closing: a new pool
            assert await client.call("PING", command(b"PING")) == ["PONG"]
            await client.aclose()


@pytest.mark.anyio
async def test_entering_a_store_connects(redis_server_factory: RedisServerFactory) -> None:
    server = redis_server_factory()
    server.stop()
    with anyio.fail_after(WAIT):
        with pytest.raises(StorageUnavailableError, match="connect failed"):
            async with RedisStore(url=server.url, connect_timeout=1, timeout=1):
                pass
        server.start()
        async with RedisStore(url=server.url) as store:
            assert await store.get("k") is None


@pytest.mark.anyio
async def test_an_overdue_answer_fails_the_call_and_closes_its_connection(
    redis_server: RedisServer,
) -> None:
    """No cancel scope per call: the pool's task closes a connection whose answer is overdue
    (checked every `timeout / 4`), and its caller fails with a timeout."""
    client = _client(redis_server, connect_timeout=0.5, timeout=0.4)
    async with probing(redis_server) as probe:
        with anyio.fail_after(WAIT):
            assert await client.call("PING", command(b"PING")) == ["PONG"]
            before = await _accepted(probe)
            started = anyio.current_time()
            with pytest.raises(StorageUnavailableError, match="BLPOP failed: no answer within"):
                await client.call("BLPOP", command(b"BLPOP", b"never", b"0"))
            assert 0.4 <= anyio.current_time() - started < 2
            assert await client.call("PING", command(b"PING")) == ["PONG"]
            assert await _accepted(probe) - before == 1  # the late one was not reused
            failures: list[Exception] = []

            async def late() -> None:
                try:
                    await client.call("BLPOP", command(b"BLPOP", b"never", b"0"))
                except StorageUnavailableError as exc:
                    failures.append(exc)

            async with anyio.create_task_group() as tg:  # closed while a call is in flight:
                tg.start_soon(late)  # that call is still bounded
                while await _blocked(probe) != 1:  # noqa: ASYNC110 - Redis says when
                    await anyio.sleep(0.01)
                await client.aclose()
            assert len(failures) == 1 and "no answer within" in str(failures[0])


@pytest.mark.anyio
async def test_two_connections_released_at_once_wake_two_waiters(
    redis_server: RedisServer,
) -> None:
    """Two pooled connections come back in the same turn of the loop while two callers wait:
    both are served at once (the second is not left asleep beside an idle connection)."""
    client = _client(redis_server, max_connections=2)
    done: list[str] = []

    async def call(name: str, *args: bytes) -> None:
        await client.call(name, command(*args))
        done.append(name)

    async with probing(redis_server) as probe:
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call, "first", b"BLPOP", b"wake", b"0")
                tg.start_soon(call, "second", b"BLPOP", b"wake", b"0")
                while await _blocked(probe) != 2:  # noqa: ASYNC110 - Redis's own state
                    await anyio.sleep(0.005)
                tg.start_soon(call, "slow", b"BLPOP", b"never", b"0")
                tg.start_soon(call, "ping", b"PING")
                await anyio.wait_all_tasks_blocked()
                await probe.rpush("wake", [b"x", b"y"])  # both BLPOPs answered at once
                with anyio.fail_after(2):  # the ping's turn comes at once, not after "slow"
                    while "ping" not in done:  # noqa: ASYNC110 - polled, bounded
                        await anyio.sleep(0.005)
                await probe.rpush("never", [b"z"])  # let "slow" end
    assert done.index("ping") < done.index("slow")
    await client.aclose()
