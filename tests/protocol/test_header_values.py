"""The 2026-07-28 header value codec: whatever the client encodes, the server decodes back."""

from hypothesis import given
from hypothesis import strategies as st

from trimcp.protocol.header_values import decode_header_value, encode_header_value


@given(st.text())
def test_any_text_survives_the_round_trip(value: str) -> None:
    encoded = encode_header_value(value)
    assert encoded.isascii() and encoded.isprintable()
    assert decode_header_value(encoded) == value


def test_plain_ascii_travels_as_is_and_a_bad_sentinel_is_refused() -> None:
    assert encode_header_value("get_weather") == "get_weather"
    assert encode_header_value("wörld") == "=?base64?d8O2cmxk?="
    assert decode_header_value(" get_weather\t") == "get_weather"
    assert decode_header_value("=?base64?not base64!?=") is None
