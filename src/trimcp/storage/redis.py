"""`RedisStore`: an `AsyncKeyValue` on Redis, through a lean RESP2 client of its own and
coredis, both on anyio (asyncio and trio alike). Extra `trimcp[redis]`.

Layout, the same as py-key-value's (FastMCP's) `RedisStore`, so both read what the other wrote:

- key: `<collection>::<key>`, or `<prefix>:<collection>::<key>` with `prefix=` (several
  applications on one Redis database);
- value: a JSON document (msgspec) `{"version": 1, "value": {...}, "key": ..., "collection":
  ..., "created_at": <ISO 8601>, "expires_at": <ISO 8601>}`; only `value` is read back (a
  `value` that is a JSON string, as py-key-value's `value_format="string"` writes, reads too);
- time to live: Redis's own, set with the value (`SET ... PX <ms>`, so fractions of a second
  hold), read with `PTTL`.

Connections: the key-value calls (`get`, `put`, `delete`, `ttl` and their `_many` forms)
go through `trimcp.storage.resp`, a lean RESP2 client on anyio streams, and `connection()`
(Lua scripts and streams, for `trimcp.http.redis_event_store` and the rate limiter) through
coredis. Why: on loopback (this repo's 2-core box) a `GET` through coredis costs ~240-380 µs
a call, through the lean client ~45-100 µs (asyncio and trio), within ~5-15 µs of a bare
anyio stream's round trip; a cached `tools/call` served from Redis went from ~630-800 µs to
~270-430 µs (bench/cache_bench.py). Both keep one connection pool per event loop, shared by
every task that uses the store, however it is used: entered (`async with store:`, which
connects the lean client at once, so an unreachable Redis fails there) or never entered (as
FastMCP users pass it: `ResponseCachingMiddleware(cache_storage=RedisStore(...))`); each
opens on its first call.
coredis only shares a pool while a task holds it entered, so its first use starts a runner
task of the event loop itself (`trimcp._backend.spawn_detached`, not a child of the calling
task, which may be a request handler about to end) that enters the coredis client and holds
it until the store is closed: `aclose()`, or the last `async with store:` left (the lean
pool has such a task too). When the event loop ends first, the runner is cancelled with it
and closes the pool. A store used under several event loops (one after another, or at once
from several threads) has pools in each; closing it closes the pools of the loop it is
closed in (the others close with their loops). A closed store opens its pools again if
called again. A URL with query parameters (`?ssl_cert_reqs=...`) is left to coredis for
every call, as is a coredis client passed as `client=`, used as it is: whoever made it
enters it.

Failures: a Redis that cannot be reached, that stops answering or that refuses the password is
`trimcp.storage.StorageUnavailableError` (its message says which server and which call), after
at most about `connect_timeout + timeout` seconds (a key-value call: up to that to get a
connection, then `timeout`, give or take a quarter, for the answer); any other error Redis
returns is `StorageError`. Neither is ever a raw coredis or OS error. A store outlives an
outage: once Redis is back, the same store object serves again (the pools replace dead
connections).
"""

from __future__ import annotations

import contextvars
import math
import ssl as _ssl
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, SupportsFloat
from urllib.parse import unquote, urlsplit

import anyio
import msgspec

from trimcp._backend import current_loop, spawn_detached
from trimcp.storage.base import check_many, check_ttl, decode_value, encode_value
from trimcp.storage.errors import StorageError, StorageUnavailableError
from trimcp.storage.loops import PerLoop, PoolRunner
from trimcp.storage.protocol import DEFAULT_COLLECTION
from trimcp.storage.resp import RespClient, command
from trimcp.storage.resp import describe_error as _describe

try:
    import coredis
    from coredis.exceptions import AuthenticationError, AuthorizationError, RedisError
    from coredis.retry import ConstantRetryPolicy
except ImportError as exc:  # pragma: no cover - exercised in a venv without coredis
    raise ImportError('trimcp.storage.redis needs coredis: pip install "trimcp[redis]"') from exc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping, Sequence
    from types import TracebackType

__all__ = ["RedisStore"]

# coredis' clients are generic in the response type; this store reads bytes responses
_RedisClient = coredis.Redis[bytes]

_COMPOUND = "::"  # py-key-value's separator of collection and key
_UNAVAILABLE = (
    coredis.exceptions.ConnectionError,
    AuthenticationError,
    AuthorizationError,
    OSError,  # connection refused, resets; TimeoutError (a stalled server) is one too
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
)


class _Document(msgspec.Struct):
    value: msgspec.Raw


_document_decoder = msgspec.json.Decoder(_Document)
_string_encoder = msgspec.json.Encoder()


def _seconds_to_ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisStore:
    """An `AsyncKeyValue` on Redis (coredis), for asyncio and trio.

    Args:
        client: a coredis client (`decode_responses=False`) to use as it is; whoever made it
            enters and closes it. The connection options below are then ignored.
        url: `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS; `password`
            applies when the URL has none, `ssl` turns TLS on for a `redis://` URL too.
        host, port, db, password: where Redis is, when no `url` is given.
        ssl: TLS. `True` verifies the server's certificate and name against the system's
            CAs; pass an `ssl.SSLContext` for anything else (a private CA, client
            certificates).
        default_collection: the collection of calls that name none (`"default_collection"`).
        prefix: put before every key (`<prefix>:<collection>::<key>`); None: no prefix, as
            py-key-value's `RedisStore`.
        connect_timeout: seconds to connect (and authenticate) before a call fails.
        timeout: seconds to wait for Redis's answer before a call fails.
    """

    def __init__(
        self,
        *,
        client: _RedisClient | None = None,
        url: str | None = None,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        ssl: bool | _ssl.SSLContext = False,
        default_collection: str | None = None,
        prefix: str | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        if not connect_timeout > 0 or not timeout > 0:
            raise ValueError("connect_timeout and timeout are positive numbers of seconds")
        self.default_collection = default_collection or DEFAULT_COLLECTION
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self._key_head = f"{prefix}:" if prefix else ""
        self._given = client
        self._options: dict[str, Any] = {}
        self._url: str | None = None
        self._runner: PoolRunner[_RedisClient] | None = None  # the one used last (the fast path)
        self._runners: PerLoop[PoolRunner[_RedisClient]] = PerLoop()
        self._entries = 0
        self._resp: RespClient | None = None
        """The lean client of the key-value calls (None: coredis for everything)."""
        if client is not None:
            self.location = _location_of(client)
            return
        context: _ssl.SSLContext | None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("redis", "rediss"):
                raise ValueError(f"a Redis URL starts with redis:// or rediss://, not {url!r}")
            self.location = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
            context = _ssl_context(ssl or parts.scheme == "rediss")
            self._url = url
            if password is not None and parts.password is None:
                self._options["password"] = password
            path = parts.path.strip("/")
            if not parts.query and (not path or path.isdigit()):
                self._resp = RespClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or 6379,
                    location=self.location,
                    db=int(path or 0),
                    username=unquote(parts.username) if parts.username else None,
                    password=password if parts.password is None else unquote(parts.password),
                    ssl_context=context,
                    connect_timeout=connect_timeout,
                    timeout=timeout,
                )
        else:
            self.location = f"{host}:{port}"
            context = _ssl_context(ssl)
            self._options.update(host=host, port=port, db=db, password=password)
            self._resp = RespClient(
                host=host,
                port=port,
                location=self.location,
                db=db,
                password=password,
                ssl_context=context,
                connect_timeout=connect_timeout,
                timeout=timeout,
            )
        if context is not None:
            self._options["ssl_context"] = context
        self._options.update(
            connect_timeout=connect_timeout,
            stream_timeout=timeout,
            pool_timeout=timeout,
            # once, at once, on a broken connection (a pooled one Redis closed meanwhile);
            # never on a timeout, which would multiply the wait
            retry_policy=ConstantRetryPolicy(
                (coredis.exceptions.ConnectionError,), retries=1, delay=0
            ),
        )

    def __repr__(self) -> str:
        return f"RedisStore({self.location!r}, prefix={self.prefix!r})"

    def _new_client(self) -> _RedisClient:
        if self._url is not None:
            return coredis.Redis.from_url(self._url, **self._options)
        return coredis.Redis(**self._options)

    # -- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> RedisStore:
        """Open the connection pool now (entries are counted; the last exit closes it); the
        lean client's connects, so an unreachable Redis fails here."""
        self._entries += 1
        if self._given is None:  # a given client: its maker enters it
            try:
                if self._resp is not None:
                    await self._resp.open()
                else:
                    with anyio.fail_after(self.connect_timeout + self.timeout):
                        await self._open_pool()
            except BaseException:
                self._entries -= 1
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._entries -= 1
        if self._entries <= 0:
            self._entries = 0
            await self._close()

    async def aclose(self) -> None:
        """Close the connection pool now, however many times the store was entered (a later
        call opens it again)."""
        self._entries = 0
        await self._close()

    async def _close(self) -> None:
        # this event loop's pools; another loop's close with that loop (they cannot be awaited
        # from here)
        if self._resp is not None:
            await self._resp.aclose()
        runner = self._runners.take()
        if runner is None:
            return
        if self._runner is runner:
            self._runner = None
        await runner.finish()

    def _new_runner(self, loop: object) -> PoolRunner[_RedisClient]:
        runner = PoolRunner(self._new_client(), loop)
        # in an empty context: the runner outlives the caller and must not keep its context
        # variables (a request's, a trace's) alive
        contextvars.Context().run(spawn_detached, runner.run)
        return runner

    async def _open_pool(self) -> _RedisClient:
        """The client of this event loop's pool, opened (by a runner task) if need be."""
        runner = self._runners.get(self._new_runner, lambda runner: runner.done.is_set())
        self._runner = runner
        client = runner.client
        if client is None:
            await runner.ready.wait()
            client = runner.client
        if client is None:  # entering a pool does not connect: hardly ever happens
            error = runner.error
            if isinstance(error, _UNAVAILABLE):
                raise self._unavailable("connect", error) from error
            raise StorageUnavailableError(
                f"Redis at {self.location} is unavailable: its connection pool did not open"
                + ("" if error is None else f" ({_describe(error)})")
            ) from error
        return client

    # -- the connection every call goes through ----------------------------------------------

    @asynccontextmanager
    async def connection(self, operation: str) -> AsyncIterator[_RedisClient]:
        """A coredis client for one operation, with Redis's failures mapped to
        `StorageUnavailableError`/`StorageError` and the whole bounded in time.

        For code built on this store (`trimcp.http.redis_event_store`) that needs commands
        the key-value protocol does not cover. `operation` names the call in error messages.
        """
        runner = self._runner
        try:
            with anyio.fail_after(self.connect_timeout + self.timeout):
                if self._given is not None:
                    yield self._given
                else:
                    client = None if runner is None else runner.client
                    if client is None or runner is None or runner.loop() is not current_loop():
                        client = await self._open_pool()
                        runner = self._runner
                    yield client
        except StorageError:
            raise
        except _UNAVAILABLE as exc:
            raise self._unavailable(operation, exc) from exc
        except RedisError as exc:
            raise StorageError(
                f"Redis at {self.location}: {operation} failed: {_describe(exc)}"
            ) from exc
        except RuntimeError as exc:
            if self._given is not None:
                raise StorageError(
                    f"Redis at {self.location}: {operation} failed: the coredis client given "
                    f"to RedisStore must be entered (`async with client:`) while the store is "
                    f"used ({exc})"
                ) from exc
            if runner is not None and runner.client is None:  # closed under the call
                raise StorageUnavailableError(
                    f"Redis at {self.location} is unavailable: {operation} failed: the "
                    f"store was closed during the call ({exc})"
                ) from exc
            raise
        except BaseExceptionGroup as group:  # from a given client's pool's task group
            first = _first_leaf(group)
            if isinstance(first, _UNAVAILABLE):
                raise self._unavailable(operation, first) from group
            if isinstance(first, RedisError):
                raise StorageError(
                    f"Redis at {self.location}: {operation} failed: {_describe(first)}"
                ) from group
            raise

    def _unavailable(self, operation: str, exc: BaseException) -> StorageUnavailableError:
        if isinstance(exc, AuthenticationError | AuthorizationError):
            why = f"authentication refused ({_describe(exc)})"
        elif isinstance(exc, TimeoutError):
            why = f"no answer within the time allowed ({_describe(exc)})"
        else:
            why = _describe(exc)
        return StorageUnavailableError(
            f"Redis at {self.location} is unavailable: {operation} failed: {why}"
        )

    # -- keys and values ---------------------------------------------------------------------

    def redis_key(self, key: str, *, collection: str | None = None) -> str:
        """The Redis key an entry lives under: `[<prefix>:]<collection>::<key>`."""
        return f"{self._key_head}{collection or self.default_collection}{_COMPOUND}{key}"

    def _document(
        self, key: str, collection: str, value: Mapping[str, Any], ttl: float | None
    ) -> bytes:
        encoded = encode_value(value)  # checks the value: SerializationError if not JSON-able
        created = datetime.now(tz=UTC)
        parts = [
            b'{"version":1,"value":',
            encoded,
            b',"key":',
            _string_encoder.encode(key),
            b',"collection":',
            _string_encoder.encode(collection),
            b',"created_at":"',
            created.isoformat().encode(),
        ]
        if ttl is not None:
            expires = created + timedelta(seconds=ttl)
            parts += [b'","expires_at":"', expires.isoformat().encode()]
        parts.append(b'"}')
        return b"".join(parts)

    def _value(self, data: bytes | None, name: str) -> dict[str, Any] | None:
        if data is None:
            return None
        try:
            raw = bytes(_document_decoder.decode(data).value)
        except msgspec.DecodeError as exc:
            raise StorageError(
                f"Redis at {self.location}: {name} does not hold a stored entry "
                f'(a JSON object with a "value"): {exc}'
            ) from exc
        if raw[:1] == b'"':  # py-key-value's value_format="string": JSON inside a string
            raw = msgspec.json.decode(raw, type=str).encode()
        return decode_value(raw)

    # -- AsyncKeyValue -----------------------------------------------------------------------

    async def get(self, key: str, *, collection: str | None = None) -> dict[str, Any] | None:
        """The value under `key`, or None when absent or expired."""
        name = self.redis_key(key, collection=collection)
        if self._resp is not None:
            data = (await self._resp.call("GET", command(b"GET", name.encode())))[0]
        else:
            async with self.connection("GET") as client:
                data = await client.get(name)
        return self._value(data, name)

    async def put(
        self,
        key: str,
        value: Mapping[str, Any],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store `value` under `key`; it expires after `ttl` seconds if given."""
        seconds = check_ttl(ttl)
        collection = collection or self.default_collection
        name = self.redis_key(key, collection=collection)
        document = self._document(key, collection, value, seconds)
        if self._resp is not None:
            px = () if seconds is None else (b"PX", b"%d" % _seconds_to_ms(seconds))
            await self._resp.call("SET", command(b"SET", name.encode(), document, *px))
            return
        async with self.connection("SET") as client:
            if seconds is None:
                await client.set(name, document)
            else:
                await client.set(name, document, px=_seconds_to_ms(seconds))

    async def delete(self, key: str, *, collection: str | None = None) -> bool:
        """Remove `key`; whether it was there."""
        name = self.redis_key(key, collection=collection)
        deleted: int
        if self._resp is not None:
            request = command(b"DEL", name.encode())
            deleted = (await self._resp.call("DEL", request, retry=False))[0]
        else:
            async with self.connection("DEL") as client:
                deleted = await client.delete([name])
        return deleted > 0

    async def ttl(
        self, key: str, *, collection: str | None = None
    ) -> tuple[dict[str, Any] | None, float | None]:
        """`(value, seconds left)`, `(value, None)` without expiry, `(None, None)` if absent."""
        return (await self.ttl_many([key], collection=collection))[0]

    async def get_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[dict[str, Any] | None]:
        """The values of `keys`, in order, None where absent or expired (one `MGET`)."""
        if not keys:
            return []
        names = [self.redis_key(key, collection=collection) for key in keys]
        if self._resp is not None:
            request = command(b"MGET", *(name.encode() for name in names))
            found = (await self._resp.call("MGET", request))[0]
        else:
            async with self.connection("MGET") as client:
                found = await client.mget(names)
        return [self._value(data, name) for data, name in zip(found, names, strict=True)]

    async def put_many(
        self,
        keys: Sequence[str],
        values: Sequence[Mapping[str, Any]],
        *,
        collection: str | None = None,
        ttl: SupportsFloat | None = None,
    ) -> None:
        """Store `values[i]` under `keys[i]`, all or none (`MSET`, or one MULTI/EXEC of
        `SET ... PX` with a TTL); every value is checked before any is sent."""
        check_many(keys, values)
        seconds = check_ttl(ttl)
        if not keys:
            return
        collection = collection or self.default_collection
        documents: dict[str | bytes, bytes] = {
            self.redis_key(key, collection=collection): self._document(
                key, collection, value, seconds
            )
            for key, value in zip(keys, values, strict=True)
        }
        if self._resp is not None:
            await self._put_many(documents, seconds)
            return
        async with self.connection("MSET" if seconds is None else "SET PX") as client:
            if seconds is None:
                await client.mset(documents)
                return
            ms = _seconds_to_ms(seconds)
            async with client.pipeline(transaction=True) as pipe:
                for name, document in documents.items():
                    pipe.set(name, document, px=ms)

    async def delete_many(self, keys: Sequence[str], *, collection: str | None = None) -> int:
        """Remove `keys`; how many were there (one `DEL`)."""
        if not keys:
            return 0
        names = list(dict.fromkeys(self.redis_key(key, collection=collection) for key in keys))
        deleted: int
        if self._resp is not None:
            request = command(b"DEL", *(name.encode() for name in names))
            deleted = (await self._resp.call("DEL", request, retry=False))[0]
        else:
            async with self.connection("DEL") as client:
                deleted = await client.delete(names)
        return deleted

    async def ttl_many(
        self, keys: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[dict[str, Any] | None, float | None]]:
        """`ttl` of each of `keys`, in order: `MGET` and `PTTL`s in one MULTI/EXEC, so a value
        and its time to live belong together."""
        if not keys:
            return []
        names = [self.redis_key(key, collection=collection) for key in keys]
        if self._resp is not None:
            encoded = [name.encode() for name in names]
            request = b"".join(
                [_MULTI, command(b"MGET", *encoded)]
                + [command(b"PTTL", name) for name in encoded]
                + [_EXEC]
            )
            replies = await self._resp.call("MGET/PTTL", request, len(names) + 3)
            values, *lefts = _executed(replies[-1], self.location, "MGET/PTTL")
        else:
            async with self.connection("MGET/PTTL") as client:
                async with client.pipeline(transaction=True) as pipe:
                    found = pipe.mget(names)
                    pttls = [pipe.pttl(name) for name in names]
                values = await found
                lefts = [await pttl for pttl in pttls]
        result: list[tuple[dict[str, Any] | None, float | None]] = []
        for data, left, name in zip(values, lefts, names, strict=True):
            value = self._value(data, name)
            if value is None:
                result.append((None, None))
            else:  # PTTL: -1 no expiry (-2, gone, cannot be: read in the same transaction)
                result.append((value, None if left < 0 else left / 1000))
        return result

    async def _put_many(self, documents: dict[str | bytes, bytes], seconds: float | None) -> None:
        """`put_many` on the lean client: one `MSET`, or `SET ... PX`s in one MULTI/EXEC."""
        assert self._resp is not None
        if seconds is None:
            flat: list[bytes] = []
            for name, document in documents.items():
                flat += (name.encode() if isinstance(name, str) else name, document)
            await self._resp.call("MSET", command(b"MSET", *flat))
            return
        px = b"%d" % _seconds_to_ms(seconds)
        parts = [_MULTI]
        for name, document in documents.items():
            key = name.encode() if isinstance(name, str) else name
            parts.append(command(b"SET", key, document, b"PX", px))
        parts.append(_EXEC)
        replies = await self._resp.call("SET PX", b"".join(parts), len(documents) + 2)
        _executed(replies[-1], self.location, "SET PX")


_MULTI = command(b"MULTI")
_EXEC = command(b"EXEC")


def _executed(reply: Any, location: str, operation: str) -> list[Any]:
    """EXEC's replies (a null reply: the transaction was aborted)."""
    if not isinstance(reply, list):
        raise StorageError(f"Redis at {location}: {operation} failed: the transaction was aborted")
    return reply


def _ssl_context(ssl: bool | _ssl.SSLContext) -> _ssl.SSLContext | None:
    if isinstance(ssl, _ssl.SSLContext):
        return ssl
    return _ssl.create_default_context() if ssl else None


def _location_of(client: _RedisClient) -> str:
    location = getattr(getattr(client, "connection_pool", None), "location", None)
    host, port = getattr(location, "host", None), getattr(location, "port", None)
    return f"{host}:{port}" if host is not None else repr(client)


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
