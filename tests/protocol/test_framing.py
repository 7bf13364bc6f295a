"""Newline framing: any chunking gives the same lines; oversized lines cost one error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trimcp.protocol.framing import LineFramer, LineTooLong


def drain(framer: LineFramer) -> list[bytes | str]:
    out: list[bytes | str] = []
    while framer.pending():
        try:
            out.append(framer.next_line())
        except LineTooLong:
            out.append("too long")
    return out


lines = st.lists(
    st.binary(min_size=1, max_size=50).filter(lambda b: b"\n" not in b and b.strip()), max_size=20
)


@given(lines, st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20))
def test_any_chunking_yields_the_same_lines(messages, cuts):
    data = b"".join(m + b"\n" for m in messages)
    framer = LineFramer(1000)
    out = []
    position, index = 0, 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        framer.feed(data[position : position + size])
        position += size
        index += 1
        out.extend(drain(framer))
    assert out == [m.rstrip(b"\r") for m in messages]


def test_crlf_and_blank_lines_are_tolerated():
    framer = LineFramer(100)
    framer.feed(b"a\r\n\n  \nb\n")
    assert drain(framer) == [b"a", b"b"]


def test_oversized_line_is_reported_once_and_the_next_line_survives():
    framer = LineFramer(8)
    framer.feed(b"0123456789")
    framer.feed(b"abcdefghij")
    framer.feed(b"xyz\nok\n")
    assert drain(framer) == ["too long", b"ok"]


def test_oversized_line_within_one_chunk():
    framer = LineFramer(4)
    framer.feed(b"123456\nab\n")
    assert drain(framer) == ["too long", b"ab"]


def test_next_line_is_none_when_empty():
    framer = LineFramer()
    assert framer.next_line() is None
    with pytest.raises(LineTooLong):
        small = LineFramer(1)
        small.feed(b"12\n")
        small.next_line()


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_line_of_exactly_the_limit_passes_however_it_is_split(ending):
    # the `\r` of a `\r\n` ending may arrive before its `\n`: one byte past the limit briefly
    limit = 16
    line = b"x" * limit
    data = line + ending + b"next\n"
    for cut in range(len(data) + 1):
        framer = LineFramer(limit)
        framer.feed(data[:cut])
        out = drain(framer)
        framer.feed(data[cut:])
        out.extend(drain(framer))
        assert out == [line, b"next"], cut


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_line_one_byte_past_the_limit_is_refused_however_it_is_split(ending):
    limit = 16
    data = b"x" * (limit + 1) + ending + b"next\n"
    for cut in range(len(data) + 1):
        framer = LineFramer(limit)
        framer.feed(data[:cut])
        out = drain(framer)
        framer.feed(data[cut:])
        out.extend(drain(framer))
        assert out == ["too long", b"next"], cut


def test_a_bare_carriage_return_past_the_limit_is_refused():
    # the byte allowed for a trailing `\r` is for a line ending, not for more content
    limit = 16
    framer = LineFramer(limit)
    framer.feed(b"x" * limit + b"\r")
    assert drain(framer) == []
    framer.feed(b"y\nnext\n")
    assert drain(framer) == ["too long", b"next"]
