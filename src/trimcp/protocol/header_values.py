"""2026-07-28 header value encoding: how a value travels in `Mcp-Name`, `Mcp-Method` and
`Mcp-Param-*` headers (the client encodes, the server decodes). Sans-I/O.

Plain visible ASCII goes as is; anything a header cannot carry faithfully goes as the Base64
sentinel `=?base64?<UTF-8 Base64>?=`.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode_header_value", "encode_header_value"]

_SENTINEL_PREFIX = "=?base64?"
_SENTINEL_SUFFIX = "?="


def encode_header_value(value: str) -> str:
    """A value as it may travel in an `Mcp-Name`-style header (2026-07-28 §Value Encoding).

    Plain visible ASCII (spaces inside allowed) goes as is; anything else (non-ASCII, control
    characters, leading or trailing whitespace, the empty string, or a value that starts like
    the sentinel and would otherwise be decoded) is sent as `=?base64?<UTF-8 Base64>?=`.
    """
    if (
        value
        and value.isascii()
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
        and not value.startswith(_SENTINEL_PREFIX)
    ):
        return value
    return _SENTINEL_PREFIX + base64.b64encode(value.encode()).decode("ascii") + _SENTINEL_SUFFIX


def decode_header_value(value: str) -> str | None:
    """A header value with the Base64 sentinel (`=?base64?...?=`) decoded; None if malformed."""
    value = value.strip(" \t")
    if not (
        value.startswith(_SENTINEL_PREFIX)
        and value.endswith(_SENTINEL_SUFFIX)
        and len(value) >= len(_SENTINEL_PREFIX) + len(_SENTINEL_SUFFIX)
    ):
        return value
    encoded = value[len(_SENTINEL_PREFIX) : -len(_SENTINEL_SUFFIX)]
    if not encoded.isascii():  # b64decode would raise a plain ValueError
        return None
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
