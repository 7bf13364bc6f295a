"""What every trimcp store shares: JSON encoding of values (msgspec, never pickle) and the
checks py-key-value makes on TTLs and many-key calls.

Values are encoded once on the way in, so a store keeps a copy the caller cannot change and a
value that is not JSON-able fails at `put` with `SerializationError`, whatever the backend.
msgspec's JSON encoder is the judge of "JSON-able": it also takes `datetime`, `UUID`,
`Decimal`, `bytes` (base64) and dataclasses, which read back as their JSON form (strings,
objects); objects it cannot encode, and dicts with keys that are not strings, are refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat

import msgspec

from trimcp.storage.errors import SerializationError, StorageError

__all__ = ["check_many", "check_ttl", "decode_value", "encode_value"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(dict[str, Any])


def encode_value(value: Mapping[str, Any]) -> bytes:
    """`value` as JSON bytes; `SerializationError` when it is not a mapping of JSON-able
    values with string keys."""
    if not isinstance(value, Mapping):
        raise SerializationError(f"a stored value is a dict, not {type(value).__name__}")
    if type(value) is not dict:
        value = dict(value)
    for key in value:
        if type(key) is not str:
            raise SerializationError(f"a stored value's keys are strings, not {key!r}")
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SerializationError(f"value is not JSON-able: {exc}") from exc


def decode_value(data: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """A value read back from its JSON bytes; `StorageError` when they are not a JSON object
    (a store holding what no trimcp store wrote)."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise StorageError(f"stored value is not a JSON object: {exc}") from exc


def check_ttl(ttl: SupportsFloat | None) -> float | None:
    """`ttl` as seconds, or None for no expiry; `ValueError` unless it is a positive finite
    number (`True` is refused: it would mean one second), as py-key-value checks."""
    if ttl is None:
        return None
    if isinstance(ttl, bool):
        raise TypeError("ttl is a number of seconds, not a bool")
    seconds = float(ttl)
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"ttl is a positive number of seconds, not {ttl!r}")
    return seconds


def check_many(keys: Sequence[str], values: Sequence[Mapping[str, Any]]) -> None:
    """`ValueError` when `put_many` gets a different number of keys and values."""
    if len(keys) != len(values):
        raise ValueError(
            f"put_many got {len(keys)} keys and {len(values)} values; they pair one to one"
        )
