"""A lean RESP2 client on anyio streams, for `RedisStore`'s key-value commands.

Why: on loopback a coredis (6.9) `GET` costs ~280-300 µs a call, while the same round trip
on a bare anyio TCP stream costs ~30 µs (trio) / ~58 µs (asyncio); the key-value commands
need none of what coredis adds (RESP3, commands as objects, response callbacks, a pool
guarded by several tasks). This client sends ready-made RESP bytes and parses the replies.

- `command(*args)`: one command's RESP bytes (one `b"".join`); concatenate several to
  pipeline them (a MULTI/EXEC sent in one write).
- `RespParser`: RESP2 replies (simple string, error, integer, bulk string and null bulk,
  arrays, nested and null) from a `bytearray` fed with what the socket gave; an error reply
  is a `ResponseError` value (inside an EXEC array too), not an exception.
- `RespClient`: a connection pool per event loop (asyncio or trio, one after another or at
  once from several threads), like `RedisStore`'s coredis pools: idle connections in a list,
  one command (or pipeline) in flight per connection, at most `max_connections` open (more
  callers wait), AUTH and SELECT sent on connect. A call cancelled or failed mid-flight
  closes its connection (never returned to the pool, whose next reply would be the late
  one). A pooled connection Redis closed meanwhile (a restart, `CLIENT KILL`) is retried
  once on a new connection. A command whose reply would differ the second time (`DEL`
  counts what it removed) is called with `retry=False`: a pooled connection whose peer has
  closed is found before the command is sent (a peek at the socket) and replaced, and a
  connection that breaks once the command is sent is an error, not a retry (Redis may have
  run it: a retried `DEL` would count 0 for the key the first one removed). A detached
  task of the loop holds the pool: it closes the idle connections when the pool is closed
  or its loop ends, and meanwhile, every `timeout / 4` seconds, closes those whose answer
  is overdue (their caller fails with a timeout): a cancel scope with a deadline around
  each call would cost ~25 µs on asyncio, a third of a `GET`.

Failures are `StorageUnavailableError` (cannot connect, reset, end of stream, no answer in
time, authentication refused) or `StorageError` (an error reply), the message naming the
server and the call. Getting a connection (connecting, authenticating, or waiting for one
when `max_connections` are busy) is bounded by `connect_timeout + timeout` seconds, the
answer by `timeout` (give or take the quarter of the check).
"""

from __future__ import annotations

import contextvars
import os
import socket
import time
import weakref
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import SocketAttribute

from trimcp._backend import current_loop, spawn_detached
from trimcp.storage.errors import StorageError, StorageUnavailableError
from trimcp.storage.loops import PerLoop

if TYPE_CHECKING:
    import ssl

    from anyio.abc import ByteStream

__all__ = [
    "INCOMPLETE",
    "ProtocolError",
    "RespClient",
    "RespParser",
    "ResponseError",
    "command",
    "describe_error",
    "parse_reply",
]

_CLOSE_BOUND = 10.0
"""Seconds closing a pool waits for its connections to close (it takes milliseconds)."""
_PEEK = socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)  # the socket is non-blocking
_BROKEN = (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError)
"""What a pooled connection Redis closed meanwhile raises on its next use."""
_UNAVAILABLE = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)
_AUTH_ERRORS = (b"NOAUTH", b"WRONGPASS", b"NOPERM")


class ResponseError(Exception):
    """An error reply (`-ERR ...`): a value among the replies, raised by `RespClient.call`
    as `StorageError` (or `StorageUnavailableError` when it refuses authentication)."""

    def __init__(self, message: str, *, auth: bool = False) -> None:
        super().__init__(message)
        self.auth = auth


class ProtocolError(Exception):
    """Bytes that are not a RESP2 reply (not Redis, or TLS spoken to in plain text)."""


class _Incomplete:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INCOMPLETE"


INCOMPLETE: Any = _Incomplete()
"""What `parse_reply` and `RespParser.next` return until a whole reply has arrived."""


def command(*args: bytes) -> bytes:
    """The RESP bytes of one command: `*<n>`, then each argument as `$<len>` and its bytes."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts += (b"$%d\r\n" % len(arg), arg, b"\r\n")
    return b"".join(parts)


def _parse_head(buffer: bytes | bytearray, pos: int) -> tuple[Any, int]:
    """One reply at `pos`, except that an array gives `(count,)`, a tuple (no reply is one):
    its items are the replies after it. `(INCOMPLETE, pos)` until it has arrived whole."""
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return INCOMPLETE, pos
    kind = buffer[pos]
    if kind == 36:  # $: bulk string
        size = int(buffer[pos + 1 : end])
        if size < 0:
            return None, end + 2
        start = end + 2
        stop = start + size
        if len(buffer) < stop + 2:
            return INCOMPLETE, pos
        return bytes(buffer[start:stop]), stop + 2
    if kind == 58:  # :
        return int(buffer[pos + 1 : end]), end + 2
    if kind == 43:  # +
        return buffer[pos + 1 : end].decode(errors="replace"), end + 2
    if kind == 42:  # *
        count = int(buffer[pos + 1 : end])
        return (None if count < 0 else (count,)), end + 2
    if kind == 45:  # -
        message = bytes(buffer[pos + 1 : end])
        auth = message.startswith(_AUTH_ERRORS)
        return ResponseError(message.decode(errors="replace"), auth=auth), end + 2
    raise ProtocolError(f"not a RESP2 reply: {bytes(buffer[pos : pos + 16])!r}")


def parse_reply(buffer: bytes | bytearray, pos: int) -> tuple[Any, int]:
    """The reply that starts at `pos` and the position after it, or `(INCOMPLETE, pos)`.

    Simple string: `str`; error: `ResponseError`; integer: `int`; bulk string: `bytes` (null:
    None); array: `list` (null: None)."""
    value, at = _parse_head(buffer, pos)
    if type(value) is not tuple:
        return value, at
    items: list[Any] = []
    for _ in range(value[0]):
        item, at = parse_reply(buffer, at)
        if item is INCOMPLETE:
            return INCOMPLETE, pos
        items.append(item)
    return items, at


class RespParser:
    """RESP2 replies out of the bytes received so far (`feed`), one at a time (`next`); what
    was read of an array not yet whole is kept (`_open`): a long reply is read once."""

    __slots__ = ("_buffer", "_open", "_pos")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._open: list[tuple[list[Any], int]] = []  # arrays being read: items, count

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        self._buffer += data

    def next(self) -> Any:
        """The next whole reply, or `INCOMPLETE` (feed more)."""
        buffer = self._buffer
        opened = self._open
        while True:
            if len(buffer) <= self._pos:
                return INCOMPLETE
            try:
                value, pos = _parse_head(buffer, self._pos)
            except ValueError as exc:  # a length or an integer that is not one
                raise ProtocolError(f"not a RESP2 reply: {exc}") from exc
            if value is INCOMPLETE:
                return INCOMPLETE
            self._pos = pos
            if type(value) is tuple:  # an array's head
                if value[0]:
                    opened.append(([], value[0]))
                    continue
                value = []
            while opened:  # a whole value: the next item of the innermost open array
                items, count = opened[-1]
                items.append(value)
                if len(items) < count:
                    break
                opened.pop()
                value = items
            else:
                if self._pos == len(buffer):  # the common case: everything received was read
                    buffer.clear()
                    self._pos = 0
                return value

    @property
    def pending(self) -> int:
        """Bytes received and not yet read as a reply (or an array under way)."""
        return len(self._buffer) - self._pos + (1 if self._open else 0)


def describe_error(exc: BaseException) -> str:
    """`Type: message`, with the first cause's when it says more."""
    text = str(exc)
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        described += f" ({type(cause).__name__}: {cause})"
    return described


def _first_error(replies: list[Any]) -> ResponseError | None:
    for reply in replies:
        if isinstance(reply, ResponseError):
            return reply
        if isinstance(reply, list):  # EXEC's replies
            error = _first_error(reply)
            if error is not None:
                return error
    return None


class _Connection:
    __slots__ = ("deadline", "expired", "parser", "reused", "stream")

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self.parser = RespParser()
        self.reused = False
        self.deadline = 0.0
        """`time.monotonic()` by which the round trip in flight must have its answer."""
        self.expired = False
        """Closed by the pool's task: no answer by the deadline."""

    def peer_closed(self) -> bool:
        """Whether Redis has closed this idle connection (or sent on it unasked): a peek at
        its socket, which must have nothing to read. False when there is no socket to peek."""
        sock = self.stream.extra(SocketAttribute.raw_socket, None)
        if sock is None:
            return False
        try:
            fd = sock.fileno()
            if fd < 0:
                return True
            # asyncio hands out a wrapper without `recv`: peek through a duplicate descriptor
            probe = socket.socket(fileno=os.dup(fd))
        except OSError:  # no descriptor to spare (EMFILE), or none to duplicate: replace it
            return True
        try:
            probe.setblocking(False)  # not the default timeout, which would wait first
            probe.recv(1, _PEEK)  # b"" (closed) or bytes nobody asked for: unusable either way
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            probe.close()
        return True

    async def roundtrip(self, request: bytes, count: int) -> list[Any]:
        """Send `request` (`count` commands) and read their `count` replies."""
        stream = self.stream
        parser = self.parser
        await stream.send(request)
        replies: list[Any] = []
        while True:
            value = parser.next()
            if value is INCOMPLETE:
                parser.feed(await stream.receive())
                continue
            replies.append(value)
            if len(replies) == count:
                break
        if parser.pending:
            raise ProtocolError("Redis sent more replies than commands")
        return replies


async def _close(stream: ByteStream) -> None:
    with anyio.move_on_after(_CLOSE_BOUND, shield=True):
        await stream.aclose()


class _LoopPool:
    """One event loop's connections, held by a detached task of that loop (`run`)."""

    __slots__ = ("busy", "closed", "done", "idle", "loop", "opened", "stop", "waiters")

    def __init__(self, loop: object) -> None:
        self.loop = weakref.ref(loop)
        self.idle: list[_Connection] = []
        self.busy: set[_Connection] = set()
        """Connections with a round trip in flight (their deadline watched)."""
        self.opened = 0
        """Connections open: idle, in use or connecting."""
        self.waiters: deque[anyio.Event] = deque()
        self.closed = False
        self.stop = anyio.Event()
        self.done = anyio.Event()

    async def run(self, tick: float) -> None:
        """Close, every `tick` seconds, the connections whose answer is overdue (their caller
        fails with a timeout), until the pool is closed; then close the idle ones, and go on
        watching the calls still in flight."""
        ending = False
        try:
            while not self.stop.is_set():
                with anyio.move_on_after(tick):
                    await self.stop.wait()
                await self.expire()
        except BaseException:  # the loop ends: close all the same
            ending = True
        finally:
            self.closed = True
            self.wake_all()
            idle, self.idle = self.idle, []
            for connection in idle:
                self.opened -= 1
                await _close(connection.stream)
            self.done.set()
        try:
            while self.busy and not ending:
                await anyio.sleep(tick)
                await self.expire()
        except BaseException:  # the loop ends: their callers are cancelled with it
            pass

    async def expire(self) -> None:
        now = time.monotonic()
        for connection in list(self.busy):
            # checked again each time: a connection may have been reused since
            if connection in self.busy and connection.deadline <= now:
                connection.expired = True
                self.busy.discard(connection)
                await _close(connection.stream)

    def wake(self) -> None:
        """Wake the first waiter not woken yet (two releases before it runs wake two)."""
        for event in self.waiters:
            if not event.is_set():
                event.set()
                return

    def wake_all(self) -> None:
        for event in self.waiters:
            event.set()


class RespClient:
    """Connection pools (one per event loop) to one Redis server; see the module docstring."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        location: str,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
        max_connections: int = 64,
    ) -> None:
        self.host = host
        self.port = port
        self.location = location
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_connections = max_connections
        hello: list[bytes] = []
        if password is not None:
            secret = password.encode()
            hello.append(
                command(b"AUTH", username.encode(), secret)
                if username
                else command(b"AUTH", secret)
            )
        if db:
            hello.append(command(b"SELECT", str(db).encode()))
        self._hello = b"".join(hello)
        self._hello_count = len(hello)
        self._auth = password is not None
        self._pool: _LoopPool | None = None  # the one used last (the fast path)
        self._pools: PerLoop[_LoopPool] = PerLoop()

    def __repr__(self) -> str:
        return f"RespClient({self.location!r})"

    # -- calls --------------------------------------------------------------------------------

    async def call(
        self, operation: str, request: bytes, count: int = 1, *, retry: bool = True
    ) -> list[Any]:
        """The replies to `request` (`count` commands); `operation` names the call in errors.

        `retry=False` for a command that must not run twice (see the module docstring)."""
        pool = self._pool
        if pool is None or pool.closed or pool.loop() is not current_loop():
            pool = self._here()
        try:
            replies = await self._call(pool, request, count, retry)
        except (*_UNAVAILABLE, ProtocolError) as exc:
            raise self.unavailable(operation, exc) from exc
        except ResponseError as exc:  # from AUTH or SELECT
            raise self._refused(operation, exc) from exc
        error = _first_error(replies)
        if error is not None:
            raise self._refused(operation, error) from error
        return replies

    async def open(self) -> None:
        """Connect now (a `PING`), so an unreachable Redis fails here, not at the first call."""
        await self.call("connect", command(b"PING"))

    async def _call(
        self, pool: _LoopPool, request: bytes, count: int, retry_allowed: bool = True
    ) -> list[Any]:
        # no cancel scope per call (~25 µs on asyncio): the pool's task closes a connection
        # whose answer is overdue
        # waiters first: a newcomer takes an idle connection only when nobody waits
        connection = (
            pool.idle.pop() if pool.idle and not pool.waiters else await self._acquire(pool)
        )
        if not retry_allowed:
            while connection.reused and connection.peer_closed():
                await self._discard(pool, connection)  # closed while pooled: never sent
                connection = await self._acquire(pool)
        retry = connection.reused and retry_allowed
        while True:
            connection.deadline = time.monotonic() + self.timeout
            pool.busy.add(connection)
            try:
                replies = await connection.roundtrip(request, count)
            except BaseException as exc:  # cancelled or failed mid-flight: never reused
                pool.busy.discard(connection)
                await self._discard(pool, connection)
                if connection.expired and isinstance(exc, Exception):
                    raise TimeoutError(f"no answer in {self.timeout:g} s") from None
                if not (retry and isinstance(exc, _BROKEN)):
                    raise
                # closed by Redis while pooled (a restart): the other idle ones likely are
                # too; once more on another connection
                retry = False
                stale, pool.idle = pool.idle, []
                for other in stale:
                    await self._discard(pool, other)
                connection = await self._acquire(pool)
                continue
            pool.busy.discard(connection)
            if pool.closed or connection.expired:
                await self._discard(pool, connection)
            else:
                connection.reused = True
                pool.idle.append(connection)
                pool.wake()
            return replies

    async def _acquire(self, pool: _LoopPool) -> _Connection:
        """An idle connection, a new one, or the next one released (bounded in time)."""
        with anyio.fail_after(self.connect_timeout + self.timeout):
            return await self._acquire_unbounded(pool)

    async def _acquire_unbounded(self, pool: _LoopPool) -> _Connection:
        """In turn: a caller queues behind the waiters (FIFO); one woken and then beaten to
        the connection queues again at the front; whoever takes a connection while more are
        free wakes the next waiter."""
        woken = False
        while True:
            if pool.closed:
                raise anyio.ClosedResourceError("the store was closed during the call")
            if woken or not pool.waiters:
                if pool.idle:
                    connection = pool.idle.pop()
                    self._pass_on(pool)
                    return connection
                if pool.opened < self.max_connections:
                    connection = await self._connect(pool)
                    self._pass_on(pool)
                    return connection
            event = anyio.Event()
            if woken:
                pool.waiters.appendleft(event)
            else:
                pool.waiters.append(event)
            try:
                await event.wait()
            except BaseException:
                pool.waiters.remove(event)
                if event.is_set():  # woken, then cancelled: the next one's turn
                    pool.wake()
                raise
            pool.waiters.remove(event)
            woken = True

    def _pass_on(self, pool: _LoopPool) -> None:
        if pool.waiters and (pool.idle or pool.opened < self.max_connections):
            pool.wake()

    async def _connect(self, pool: _LoopPool) -> _Connection:
        pool.opened += 1
        stream: ByteStream | None = None
        try:
            context = self.ssl_context
            if context is None:
                stream = await anyio.connect_tcp(self.host, self.port)
            else:
                stream = await anyio.connect_tcp(
                    self.host, self.port, ssl_context=context, tls_standard_compatible=False
                )
            connection = _Connection(stream)
            if self._hello_count:
                replies = await connection.roundtrip(self._hello, self._hello_count)
                if self._auth and isinstance(replies[0], ResponseError):
                    raise ResponseError(str(replies[0]), auth=True)
                error = _first_error(replies)
                if error is not None:
                    raise error
        except BaseException:
            pool.opened -= 1
            pool.wake()
            if stream is not None:
                await _close(stream)
            raise
        return connection

    async def _discard(self, pool: _LoopPool, connection: _Connection) -> None:
        pool.opened -= 1
        pool.wake()
        await _close(connection.stream)

    # -- errors -------------------------------------------------------------------------------

    def unavailable(self, operation: str, exc: BaseException) -> StorageUnavailableError:
        if isinstance(exc, TimeoutError):
            why = f"no answer within the time allowed ({describe_error(exc)})"
        elif isinstance(exc, anyio.ClosedResourceError):
            why = f"the store was closed during the call ({describe_error(exc)})"
        else:
            why = describe_error(exc)
        return StorageUnavailableError(
            f"Redis at {self.location} is unavailable: {operation} failed: {why}"
        )

    def _refused(self, operation: str, exc: ResponseError) -> StorageError:
        if exc.auth:
            return StorageUnavailableError(
                f"Redis at {self.location} is unavailable: {operation} failed: "
                f"authentication refused ({describe_error(exc)})"
            )
        return StorageError(f"Redis at {self.location}: {operation} failed: {describe_error(exc)}")

    # -- pools --------------------------------------------------------------------------------

    def _here(self) -> _LoopPool:
        """This event loop's pool, made (and its holding task started) if need be."""
        pool = self._pools.get(self._new_pool, lambda pool: pool.closed)
        self._pool = pool
        return pool

    def _new_pool(self, loop: object) -> _LoopPool:
        pool = _LoopPool(loop)
        # in an empty context: the task outlives the caller and must not keep its context
        # variables (a request's, a trace's) alive
        contextvars.Context().run(spawn_detached, partial(pool.run, self.timeout / 4))
        return pool

    async def aclose(self) -> None:
        """Close this event loop's pool (another loop's closes with that loop); connections in
        use close when their call ends. A later call opens a new pool."""
        pool = self._pools.take()
        if pool is None:
            return
        if self._pool is pool:
            self._pool = None
        pool.closed = True
        pool.stop.set()
        with anyio.move_on_after(_CLOSE_BOUND, shield=True):
            await pool.done.wait()
