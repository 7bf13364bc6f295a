"""Newline-delimited framing (stdio): bytes in, complete lines out. Sans-I/O.

A line longer than the limit (not counting its `\r\n` or `\n`) is discarded up to its newline and reported once as
`LineTooLong`, so one oversized message costs its sender an error, not the connection.
"""

from __future__ import annotations

from collections import deque

__all__ = ["LineFramer", "LineTooLong"]


class LineTooLong(Exception):
    """An incoming line exceeded the framer's limit (it was discarded)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"message exceeds the {limit}-byte line limit")
        self.limit = limit


class LineFramer:
    """Splits a byte stream into lines; tolerates `\\r\\n` and skips blank lines."""

    __slots__ = ("_buffer", "_discarding", "_lines", "_scan_from", "max_line")

    def __init__(self, max_line: int = 16 * 1024 * 1024) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._lines: deque[bytes | LineTooLong] = deque()
        self._discarding = False
        self._scan_from = 0

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while True:
            end = buffer.find(b"\n", max(start, self._scan_from))
            if end < 0:
                break
            self._scan_from = 0
            if self._discarding:
                self._discarding = False
            else:
                line = bytes(buffer[start:end]).rstrip(b"\r")
                if len(line) > self.max_line:
                    self._lines.append(LineTooLong(self.max_line))
                elif line.strip():
                    self._lines.append(line)
            start = end + 1
        del buffer[:start]
        self._scan_from = len(buffer)
        # past the limit, but a line of exactly `max_line` bytes may be waiting for the `\n`
        # of its `\r\n`: one byte more is allowed when it is that `\r`
        if len(buffer) > self.max_line and (len(buffer) > self.max_line + 1 or buffer[-1] != 0x0D):
            if not self._discarding:
                self._lines.append(LineTooLong(self.max_line))
                self._discarding = True
            buffer.clear()
            self._scan_from = 0

    def next_line(self) -> bytes | None:
        """The next complete line, or None; raises `LineTooLong` for a discarded one."""
        if not self._lines:
            return None
        item = self._lines.popleft()
        if isinstance(item, LineTooLong):
            raise item
        return item

    def pending(self) -> int:
        return len(self._lines)
