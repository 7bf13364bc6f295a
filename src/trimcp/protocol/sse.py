"""Server-Sent Events, sans-I/O: encode events to bytes, decode bytes to events.

Theory of operation: an SSE stream is UTF-8 text made of lines (ended by CRLF, LF or CR).
A line `field: value` sets a field of the event being built (`event`, `data`, `id`,
`retry`); a line starting with `:` is a comment; an empty line dispatches the event. Several
`data:` lines join with `\\n`. The encoder writes `\\n` line ends and splits data on any line
break so a value can never end an event early; the decoder follows the WHATWG parsing rules
(a BOM is skipped, one space after the colon is dropped, an `id` holding NUL is ignored, an
event with no data is not dispatched unless it carries an `id` or `retry`, which MCP uses for
its priming event).

Nothing here does I/O or knows a clock: bytes in, `ServerSentEvent`s out, and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "SSEDecoder",
    "ServerSentEvent",
    "encode_comment",
    "encode_event",
]

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event. `data` is text with `\\n` between the `data:` lines."""

    data: str = ""
    event: str = "message"
    id: str | None = None
    retry: int | None = None


# bytes searched for a byte by its value: `b"\n" in raw` first tries the needle as an
# integer and formats the TypeError that fails, several times the cost of the search
_LF = ord("\n")
_CR = ord("\r")


def _field_value(name: str, value: str) -> bytes:
    encoded = value.encode()
    if _LF in encoded or _CR in encoded:
        raise ValueError(f"an SSE {name} must not contain a line break: {value!r}")
    return encoded


_event_lines: dict[str, bytes] = {}
"""`event: NAME\n` per event name, checked once: a stream names few (`message`)."""


def encode_event(
    data: bytes | str | None,
    *,
    event: str | None = None,
    id: str | None = None,
    retry: int | None = None,
) -> bytes:
    """One event as bytes, ready to write.

    `data=None` writes no `data` line (with an `id`, that is MCP's priming event); `b""` writes
    an empty `data:` line. Multi-line data becomes several `data:` lines.
    """
    head = b""
    if event is not None:
        line = _event_lines.get(event)
        if line is None:
            line = b"event: " + _field_value("event name", event) + b"\n"
            if len(_event_lines) < 64:
                _event_lines[event] = line
        head = line
    if id is not None:
        if "\0" in id:
            raise ValueError("an SSE id must not contain NUL")
        head += b"id: " + _field_value("id", id) + b"\n"
    if retry is not None:
        if retry < 0:
            raise ValueError("retry must be >= 0")
        head += b"retry: %d\n" % retry
    if data is None:
        return head + b"\n"
    raw = data.encode() if isinstance(data, str) else data
    if _LF in raw or _CR in raw:
        lines = [head]
        for line in _LINE_BREAK.split(raw):
            lines.append(b"data: " + line + b"\n")
        lines.append(b"\n")
        return b"".join(lines)
    return b"".join((head, b"data: ", raw, b"\n\n"))  # the data copied once


_MESSAGE_HEAD = b"event: message\n"


def message_event(data: bytes, event_id: str | None = None) -> bytes:
    """`encode_event(data, event="message", id=event_id)` for the events trimcp writes:
    `data` is a JSON-RPC message as msgspec encodes it (no line break, which is checked),
    `event_id` an id trimcp made (`<stream id>.<seq>`: no line break or NUL, not checked)."""
    if _LF in data or _CR in data:  # not msgspec's JSON: the general path splits the lines
        return encode_event(data, event="message", id=event_id)
    if event_id is None:
        return b"".join((_MESSAGE_HEAD, b"data: ", data, b"\n\n"))
    return b"".join((_MESSAGE_HEAD, b"id: ", event_id.encode(), b"\ndata: ", data, b"\n\n"))


def encode_comment(text: str = "") -> bytes:
    """A comment line (keep-alive): `:` followed by `text`, each line prefixed."""
    if not text:
        return b":\n\n"
    return b"".join(b": " + line + b"\n" for line in _LINE_BREAK.split(text.encode())) + b"\n"


class SSEDecoder:
    """Incremental decoder: `feed(bytes)` returns the events completed by those bytes.

    `last_event_id` keeps the most recent `id` seen (the value to send back as
    `Last-Event-ID`); `retry` the most recent reconnection delay in milliseconds.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id_seen = False
        self._retry_seen: int | None = None
        self.last_event_id: str | None = None
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if not self._started:
            self._buffer += chunk
            if len(self._buffer) < 3 and b"\xef\xbb\xbf".startswith(self._buffer):
                return []
            self._started = True
            chunk = self._buffer[3:] if self._buffer.startswith(b"\xef\xbb\xbf") else self._buffer
            self._buffer = b""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two chunks
        self._pending_cr = False
        data = self._buffer + chunk
        events: list[ServerSentEvent] = []
        start = 0
        for match in _LINE_BREAK.finditer(data):
            if match.group() == b"\r" and match.end() == len(data):
                self._pending_cr = True  # may be the first half of CRLF
            event = self._line(data[start : match.start()])
            if event is not None:
                events.append(event)
            start = match.end()
        self._buffer = data[start:]
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            return self._dispatch()
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._id_seen = True
        elif name == "retry":
            # ASCII digits only (WHATWG); more than 18 is no sane delay, and `int()` raises
            # past 4,300 digits
            if value.isascii() and value.isdigit() and len(value) <= 18:
                self.retry = self._retry_seen = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event, id_seen, retry = self._data, self._event, self._id_seen, self._retry_seen
        self._data, self._event, self._id_seen, self._retry_seen = [], None, False, None
        if not data and not id_seen and retry is None:
            return None
        return ServerSentEvent(
            data="\n".join(data),
            event=event or "message",
            id=self.last_event_id if (id_seen or self.last_event_id is not None) else None,
            retry=retry,
        )
