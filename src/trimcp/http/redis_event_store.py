"""`RedisEventStore`: resumable SSE streams kept in Redis Streams, so a client's
`Last-Event-ID` still resumes after the server process restarts, or on another replica.
Extra `trimcp[redis]`; Redis 7.0 or later.

The same interface and event ids as `trimcp.http.event_store.EventStore`: an event of stream
`<stream id>` gets the id `<stream id>.<seq>`, which `parse_event_id` and `stream_of` read, so
the HTTP layer cannot tell the two stores apart.

Layout: one Redis stream per SSE stream, under `RedisStore.redis_key(<stream id>,
collection="trimcp-sse-events")` (`[<prefix>:]trimcp-sse-events::<stream id>`). Each event is
one entry with the id `0-<seq>`: Redis gives out `<seq>` itself (`XADD key 0-* ...`), in order,
whichever process writes. A new stream starts its sequence at Redis's clock in microseconds,
so a stream that starts again (it expired, was forgotten, or Redis restarted empty) numbers
its events above any id a client may still hold. An entry holds the message as field `m`; the
priming event (no message) and a message over `max_event_bytes` hold only a marker (`p`, `x`)
and are never replayed. Every `XADD` trims the stream to its last `max_events_per_stream`
entries (`MAXLEN =`; `approximate_trim=True` uses `MAXLEN ~`, cheaper on long streams but
keeping up to one radix-tree node more, 100 entries by Redis's default) and sets the stream's
time to live to `ttl` (`PEXPIRE`), in one Lua script (`EVALSHA`). Replay is `XRANGE key (0-<seq> +` in
batches of `replay_batch`.

Connections are the `RedisStore`'s: one pool per event loop, opened on first use whether or
not the event store is entered (`event_store=RedisEventStore(url=...)` as passed to a server
is enough); `aclose()` or leaving `async with` closes it. While Redis is down, the HTTP layer
sends live events without ids (`trimcp.http.sse_response`).

A `Last-Event-ID` comes from the client: anything that is not one of our ids (by
`parse_event_id`: ASCII digits after the last dot, bounded length), or whose stream id is
longer than `MAX_STREAM_ID`, replays nothing and returns None; nothing about it can make a call
raise. Redis being unreachable is `trimcp.storage.StorageUnavailableError`, as from
`RedisStore`.
"""

from __future__ import annotations

import hashlib
import ssl as _ssl
from typing import TYPE_CHECKING

from coredis.exceptions import NoScriptError

from trimcp.http.event_store import parse_event_id
from trimcp.storage.errors import StorageError
from trimcp.storage.redis import RedisStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

__all__ = ["MAX_STREAM_ID", "RedisEventStore"]

COLLECTION = "trimcp-sse-events"
MAX_STREAM_ID = 1024
"""Longest stream id a `Last-Event-ID` may name (trimcp's are a session id and a number)."""

# XADD, trimmed, with the stream's TTL renewed, in one atomic step. KEYS[1]: the stream;
# ARGV: max entries, trim operator ("=" or "~"), TTL in ms ("0": none), field, value.
# A stream that does not exist yet starts its sequence at Redis's clock in microseconds, so
# a stream started again (expired, forgotten, or Redis restarted empty) numbers its events
# above any id a client may still hold from before.
_XADD = """
local first = '0-*'
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  first = '0-' .. now[1] .. string.format('%06d', tonumber(now[2]))
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], ARGV[1], first, ARGV[4], ARGV[5])
if ARGV[3] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return id
"""
_XADD_SHA1 = hashlib.sha1(_XADD.encode()).hexdigest()

_MESSAGE = b"m"
_PRIMING = b"p"
_TOO_LARGE = b"x"


class RedisEventStore:
    """Stores the events of SSE streams in Redis Streams and replays them after a
    `Last-Event-ID`, across process restarts.

    Args:
        storage: the `RedisStore` whose connection (and key prefix) to use, in the place of
            `EventStore`'s `storage`; or, instead, the connection options `url`, `host`,
            `port`, `db`, `password`, `ssl`, `prefix`, `connect_timeout`, `timeout`, as for
            `RedisStore`.
        max_events_per_stream: a stream keeps its last this many events (priming event
            included).
        approximate_trim: trim with `MAXLEN ~` (a stream may then keep up to about 100
            events more).
        ttl: seconds a stream stays replayable after its last event; None: until forgotten.
        max_event_bytes: a larger message gets its id but is not kept.
        replay_batch: events read per `XRANGE` while replaying.
    """

    def __init__(
        self,
        storage: RedisStore | None = None,
        *,
        url: str | None = None,
        host: str = "localhost",
        port: int = 6379,
        db: int = 0,
        password: str | None = None,
        ssl: bool | _ssl.SSLContext = False,
        prefix: str | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
        max_events_per_stream: int = 100,
        approximate_trim: bool = False,
        ttl: float | None = 3600.0,
        max_event_bytes: int = 16 << 20,
        replay_batch: int = 100,
    ) -> None:
        if max_events_per_stream < 1 or replay_batch < 1:
            raise ValueError("max_events_per_stream and replay_batch are at least 1")
        if ttl is not None and not ttl > 0:
            raise ValueError(f"ttl is a positive number of seconds or None, not {ttl!r}")
        self.storage = (
            storage
            if storage is not None
            else RedisStore(
                url=url,
                host=host,
                port=port,
                db=db,
                password=password,
                ssl=ssl,
                prefix=prefix,
                connect_timeout=connect_timeout,
                timeout=timeout,
            )
        )
        self.max_events_per_stream = max_events_per_stream
        self.approximate_trim = approximate_trim
        self.ttl = ttl
        self.max_event_bytes = max_event_bytes
        self.replay_batch = replay_batch

    def __repr__(self) -> str:
        return f"RedisEventStore({self.storage!r})"

    def stream_key(self, stream_id: str) -> str:
        """The Redis key of a stream's events."""
        return self.storage.redis_key(stream_id, collection=COLLECTION)

    async def __aenter__(self) -> RedisEventStore:
        """Open the connection pool now (see `RedisStore`; a first call would open it too)."""
        await self.storage.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.storage.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        """Close the connection pool (that of `storage`, when one was passed)."""
        await self.storage.aclose()

    async def store_event(self, stream_id: str, message: bytes | None) -> str:
        """Give the next event of `stream_id` its id and keep `message` for replay.

        `message=None` only allocates an id (the priming event, which carries no data).
        """
        if message is None:
            fields = {_PRIMING: b""}
        elif len(message) > self.max_event_bytes:
            fields = {_TOO_LARGE: b""}
        else:
            fields = {_MESSAGE: message}
        args = (
            self.max_events_per_stream,
            "~" if self.approximate_trim else "=",
            0 if self.ttl is None else max(1, round(self.ttl * 1000)),
            *next(iter(fields.items())),
        )
        keys = [self.stream_key(stream_id)]
        async with self.storage.connection("XADD") as client:
            try:
                entry_id = await client.evalsha(_XADD_SHA1, keys, args)
            except NoScriptError:  # not cached yet on this server (or it restarted)
                entry_id = await client.eval(_XADD, keys, args)
        if not isinstance(entry_id, str | bytes):
            raise StorageError(f"Redis at {self.storage.location}: XADD answered {entry_id!r}")
        return f"{stream_id}.{_seq_of(entry_id)}"

    async def replay_events_after(
        self, last_event_id: str, send_callback: Callable[[str, bytes], Awaitable[None]]
    ) -> str | None:
        """Send every stored event of the stream after `last_event_id`, in order; return the
        stream id, or None when the id is not one of ours."""
        parsed = parse_event_id(last_event_id)
        if parsed is None or len(parsed[0]) > MAX_STREAM_ID:
            return None
        stream_id, seq = parsed
        key = self.stream_key(stream_id)
        start = f"(0-{seq}"
        while True:
            async with self.storage.connection("XRANGE") as client:
                entries = await client.xrange(key, start, "+", count=self.replay_batch)
            for entry in entries:  # sent with no connection held
                message = entry.field_values.get(_MESSAGE)
                if isinstance(message, bytes):  # the client decodes no responses
                    await send_callback(f"{stream_id}.{_seq_of(entry.identifier)}", message)
            if len(entries) < self.replay_batch:
                return stream_id
            start = f"({_text(entries[-1].identifier)}"

    async def forget_stream(self, stream_id: str) -> None:
        """Drop every event of a stream (its session ended)."""
        async with self.storage.connection("DEL") as client:
            await client.delete([self.stream_key(stream_id)])


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _seq_of(entry_id: str | bytes) -> int:
    """`<seq>` of a stream entry id `0-<seq>`."""
    return int(_text(entry_id).partition("-")[2])
