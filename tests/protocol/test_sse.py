"""The sans-I/O SSE codec: no event loop."""

from __future__ import annotations

import pytest

from trimcp.protocol.sse import ServerSentEvent, SSEDecoder, encode_comment, encode_event


def test_event_with_all_fields_round_trips() -> None:
    wire = encode_event(b'{"a":1}', event="message", id="s.1.3", retry=1500)
    assert wire == b'event: message\nid: s.1.3\nretry: 1500\ndata: {"a":1}\n\n'
    decoder = SSEDecoder()
    assert decoder.feed(wire) == [ServerSentEvent('{"a":1}', "message", "s.1.3", 1500)]
    assert decoder.last_event_id == "s.1.3"
    assert decoder.retry == 1500


def test_multiline_data_becomes_several_data_lines() -> None:
    wire = encode_event("one\ntwo\r\nthree")
    assert wire == b"data: one\ndata: two\ndata: three\n\n"
    assert SSEDecoder().feed(wire) == [ServerSentEvent("one\ntwo\nthree")]


def test_priming_event_has_an_id_and_empty_data() -> None:
    wire = encode_event(b"", id="abc.0")
    assert wire == b"id: abc.0\ndata: \n\n"
    assert SSEDecoder().feed(wire) == [ServerSentEvent("", "message", "abc.0")]


def test_comments_are_ignored_by_the_decoder() -> None:
    assert encode_comment() == b":\n\n"
    assert encode_comment("keep") == b": keep\n\n"
    assert SSEDecoder().feed(b":\r\n: hello\r\n\r\ndata: x\r\n\r\n") == [ServerSentEvent("x")]


def test_decoder_handles_chunks_split_anywhere() -> None:
    wire = b"\xef\xbb\xbfevent: endpoint\r\ndata: /messages/?session_id=1\r\n\r\nid: 7\rdata: y\r\r"
    for cut in range(len(wire) + 1):
        decoder = SSEDecoder()
        events = decoder.feed(wire[:cut]) + decoder.feed(wire[cut:])
        assert events == [
            ServerSentEvent("/messages/?session_id=1", "endpoint"),
            ServerSentEvent("y", "message", "7"),
        ], cut


def test_byte_at_a_time_decoding() -> None:
    wire = encode_event(b"payload", event="message", id="1") + encode_event(b"two")
    decoder = SSEDecoder()
    events = [e for i in range(len(wire)) for e in decoder.feed(wire[i : i + 1])]
    assert [e.data for e in events] == ["payload", "two"]
    assert events[1].id == "1"  # the last event id persists


def test_field_without_colon_and_space_handling() -> None:
    events = SSEDecoder().feed(b"data\ndata:  two spaces\n\n")
    assert events == [ServerSentEvent("\n two spaces")]


def test_invalid_retry_and_nul_id_are_ignored() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"retry: soon\nid: a\x00b\ndata: z\n\n") == [ServerSentEvent("z")]
    assert decoder.retry is None and decoder.last_event_id is None


def test_event_without_data_or_id_is_not_dispatched() -> None:
    assert SSEDecoder().feed(b"event: nothing\n\n") == []


@pytest.mark.parametrize("bad", ["a\nb", "a\rb"])
def test_encoder_refuses_line_breaks_in_fields(bad: str) -> None:
    with pytest.raises(ValueError):
        encode_event(b"x", event=bad)
    with pytest.raises(ValueError):
        encode_event(b"x", id=bad)
