"""Newline-delimited JSON-RPC over byte streams: raw pipe fds (the server's stdin/stdout) or
any anyio byte stream (a subprocess's pipes, for the client).

On a pipe or socket fd, reads and writes are non-blocking `os.read`/`os.write` woken by
`anyio.wait_readable`/`wait_writable`: no thread per read, same code on asyncio and trio. A
terminal is read the same way but left blocking; writes to it, and regular files, go through a
worker thread. Writes are coalesced: concurrent senders
append to one buffer that a single flusher writes, so responses finishing together cost one
syscall and never interleave.

While the server shuts down, `FdStream.refuse_requests` answers requests that arrive with an
error at once, so only those already in flight are served.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from trimcp.protocol import jsonrpc
from trimcp.protocol.framing import LineFramer, LineTooLong

__all__ = ["FdStream", "FramedStream", "stdio_stream"]

_READ_SIZE = 256 * 1024
_HIGH_WATER = 4 * 1024 * 1024


def _pollable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


class _CoalescingWriter:
    """Buffers outgoing lines; a writer task flushes all that has accumulated in one write.

    `send` never writes itself: it appends and wakes the writer, which runs once the tasks
    producing answers have yielded, so a burst of answers costs one syscall. A slow reader
    applies backpressure past `_HIGH_WATER` buffered bytes.
    """

    def __init__(self) -> None:
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._wake = anyio.Event()
        self._drained = anyio.Event()
        self.broken = False

    async def send(self, message: bytes) -> None:
        """Buffer `message`: a cancellation point, so a cancelled task sending (a tool
        reporting progress, logging) stops here."""
        if self._hold(message):
            await self._drained.wait()
        else:
            await anyio.lowlevel.checkpoint_if_cancelled()

    async def send_answer(self, message: bytes) -> None:
        """`send` for an answer to a request (`Peer` uses it): no cancellation point below
        the high-water mark, as its request is answered and a cancellation now could only
        lose the answer. anyio's `checkpoint_if_cancelled`, which walks the task's cancel
        scopes, cost a third of a pipelined call of an async tool on asyncio."""
        if self._hold(message):
            await self._drained.wait()

    def _hold(self, message: bytes) -> bool:
        """Buffer `message` and wake the writer; whether the buffer is past its high-water
        mark (the sender then waits for it to drain)."""
        if self.broken:
            raise anyio.BrokenResourceError("stream closed")
        buffer = self._buffer
        if not buffer:
            self._wake.set()
        buffer.append(message)
        buffer.append(b"\n")
        self._buffered += len(message) + 1
        return self._buffered > _HIGH_WATER

    async def run_writer(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Flush whenever there is something to write, until cancelled."""
        task_status.started()
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            await self.flush()

    async def flush(self) -> None:
        try:
            while self._buffer:
                chunk = b"".join(self._buffer)
                self._buffer.clear()
                self._buffered = 0
                # never leave half a message on the wire once a write has begun
                with anyio.CancelScope(shield=True) as scope:
                    scope.deadline = anyio.current_time() + 30
                    await self._write_all(chunk)
                if scope.cancelled_caught:
                    raise OSError("write timed out")
        except OSError:
            self.broken = True
            self._buffer.clear()
        finally:
            self._drained.set()
            self._drained = anyio.Event()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Run the writer task for the duration; flush what is left on the way out."""
        async with anyio.create_task_group() as tg:
            await tg.start(self.run_writer)
            try:
                yield
            finally:
                with anyio.move_on_after(5, shield=True):
                    await self.flush()
                tg.cancel_scope.cancel()

    async def _write_all(self, data: bytes) -> None:
        raise NotImplementedError


class FdStream(_CoalescingWriter):
    """A `MessageStream` over two raw file descriptors."""

    def __init__(self, read_fd: int, write_fd: int, *, max_line: int) -> None:
        super().__init__()
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._framer = LineFramer(max_line)
        self._read_poll = _pollable(read_fd)
        # A terminal is polled but left blocking (its mode is shared with the shell): wait for
        # it to be readable, then one read returns what is there. No thread sits in a blocked
        # `os.read`, so Ctrl-C ends the process at once.
        self._read_tty = not self._read_poll and _terminal(read_fd)
        self._write_poll = _pollable(write_fd)
        self._eof = False
        self._refusal: Callable[[jsonrpc.RequestId], bytes] | None = None
        self._restore: list[tuple[int, bool]] = []
        for fd, poll in ((read_fd, self._read_poll), (write_fd, self._write_poll)):
            if poll and os.get_blocking(fd):
                self._restore.append((fd, True))
                os.set_blocking(fd, False)

    def restore_blocking(self) -> None:
        for fd, blocking in self._restore:
            try:
                os.set_blocking(fd, blocking)
            except OSError:
                pass
        self._restore.clear()

    def refuse_requests(self, answer: Callable[[jsonrpc.RequestId], bytes]) -> None:
        """From now on, answer each request that arrives with `answer(its id)` instead of
        passing it on (the server is shutting down); other messages still pass."""
        self._refusal = answer

    async def receive(self) -> bytes:
        framer = self._framer
        while True:
            line = framer.next_line()  # may raise LineTooLong
            if line is not None:
                if self._refusal is None:
                    return line
                message = jsonrpc.decode(line)
                if isinstance(message, jsonrpc.Request):
                    await self.send(self._refusal(message.id))
                    continue
                if isinstance(message, jsonrpc.Batch) and any(
                    isinstance(item, jsonrpc.Request) for item in message.items
                ):  # a 2025-03-26 batch: each request refused in one reply, nothing served
                    refusals = [
                        self._refusal(item.id)
                        for item in message.items
                        if isinstance(item, jsonrpc.Request)
                    ]
                    await self.send(b"[" + b",".join(refusals) + b"]")
                    continue
                return line
            if self._eof:
                raise anyio.EndOfStream
            data = await self._read()
            if not data:
                self._eof = True
            else:
                framer.feed(data)

    async def _read(self) -> bytes:
        fd = self._read_fd
        if self._read_tty:
            await anyio.wait_readable(fd)
            return os.read(fd, _READ_SIZE)
        if not self._read_poll:
            return await anyio.to_thread.run_sync(os.read, fd, _READ_SIZE, abandon_on_cancel=True)
        while True:
            try:
                return os.read(fd, _READ_SIZE)
            except BlockingIOError:
                await anyio.wait_readable(fd)

    async def _write_all(self, data: bytes) -> None:
        fd = self._write_fd
        view = memoryview(data)
        while view:
            if not self._write_poll:
                written = await anyio.to_thread.run_sync(os.write, fd, view)
            else:
                try:
                    written = os.write(fd, view)
                except BlockingIOError:
                    await anyio.wait_writable(fd)
                    continue
            view = view[written:]


class FramedStream(_CoalescingWriter):
    """A `MessageStream` over anyio byte streams (e.g. a subprocess's stdout and stdin)."""

    def __init__(self, receive_stream: Any, send_stream: Any, *, max_line: int) -> None:
        super().__init__()
        self._receive_stream = receive_stream
        self._send_stream = send_stream
        self._framer = LineFramer(max_line)
        self._eof = False

    async def receive(self) -> bytes:
        framer = self._framer
        while True:
            line = framer.next_line()
            if line is not None:
                return line
            if self._eof:
                raise anyio.EndOfStream
            try:
                data = await self._receive_stream.receive(_READ_SIZE)
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._eof = True
                continue
            framer.feed(data)

    async def _write_all(self, data: bytes) -> None:
        try:
            await self._send_stream.send(data)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            raise OSError(str(exc)) from exc


@asynccontextmanager
async def stdio_stream(
    *, protect_stdout: bool = True, max_line: int | None = None
) -> AsyncIterator[FdStream]:
    """This process's stdin/stdout as a message stream.

    With `protect_stdout`, the protocol writes to a private duplicate of fd 1 and fd 1 itself
    is pointed at stderr for the duration, so a stray `print()` (or a C library writing to
    stdout) cannot corrupt the wire.
    """
    import sys

    from trimcp.settings import settings

    out_fd = 1
    saved_stdout = None
    if protect_stdout:
        sys.stdout.flush()
        out_fd = os.dup(1)
        saved_stdout = os.dup(1)
        os.dup2(2, 1)
    stream = FdStream(0, out_fd, max_line=max_line or settings.stdio_max_line)
    try:
        async with stream.writing():
            yield stream
    finally:
        stream.restore_blocking()
        if saved_stdout is not None:
            sys.stdout.flush()
            os.dup2(saved_stdout, 1)
            os.close(saved_stdout)
            os.close(out_fd)


__all__ += ["LineTooLong"]
