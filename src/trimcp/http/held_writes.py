"""A connection's writes held until the loop has run what is ready: trimcp's asyncio serving
(uvicorn's request cycles, `trimcp.http.serve_uvicorn`; hypercorn's connections,
`trimcp.http.worker_asyncio`) writes what a connection sends in one loop iteration in one
write, after that iteration's work.

Why: on loopback, a write wakes the reader (a local proxy, the benchmark's wrk) and the
wake-up is charged to the writer. Answers written one by one while the server computes the
next wake it once each; answers that leave back to back, after the work, wake it once for
several. The measured gains are in the docstrings of the two users.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HOLD_LIMIT", "HeldWrites"]

HOLD_LIMIT = 64 * 1024  # the most held at once (bigger writes go out at once, never copied)


class HeldWrites:
    """Bytes for one connection, written by `write_out` in a callback scheduled with
    `call_soon` at the first held write: after the callbacks ready at that point. At most
    `HOLD_LIMIT` bytes are held: a write that would pass it writes what is held first, then
    itself at once if it is that big (a large body is never copied onto a head), else it
    starts the next hold. Nothing is reordered."""

    __slots__ = ("_call_soon", "_held", "_size", "_write_out")

    def __init__(
        self,
        write_out: Callable[[bytes], object],
        call_soon: Callable[[Callable[[], None]], object],
    ) -> None:
        self._write_out = write_out
        self._call_soon = call_soon
        self._held: list[bytes] | None = None  # joined once, in `flush`
        self._size = 0

    @property
    def holding(self) -> bool:
        """Whether bytes are held (they go out with the next `flush`)."""
        return self._held is not None

    def hold(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            size = self._size + len(data)
            if size <= HOLD_LIMIT:
                held.append(data)
                self._size = size
                return
            self.flush()  # full: out first, in order
        if len(data) >= HOLD_LIMIT:
            self._write_out(data)
            return
        self._held = [data]
        self._size = len(data)
        self._call_soon(self.flush)

    def flush(self) -> None:
        """Write what is held, if anything (the scheduled callback, a full hold, closing)."""
        held = self._held
        if held is not None:
            self._held = None
            self._write_out(held[0] if len(held) == 1 else b"".join(held))

    def drop(self) -> None:
        """Forget what is held (the connection is aborted)."""
        self._held = None
