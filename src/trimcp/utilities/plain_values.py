"""Values made only of JSON builtins, which a tool's result path can write without pydantic.

`FunctionTool.result_from` asks `is_plain` first: a plain value's text is `plain_json`
(msgspec, byte for byte what `default_serializer` gives) and its structured content
`plain_builtins` (what `to_jsonable` gives), so the usual results of the usual tools never
import pydantic. Any other value takes the general path in `trimcp.utilities.types`.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

__all__ = ["is_plain", "is_plain_int", "plain_builtins", "plain_json"]

_I64 = 2**63
_U64_END = 2**64


def plain_json(value: Any) -> bytes | None:
    """Compact JSON for a value made only of `str`, `int`, finite `float` (below 1e16,
    where msgspec and pydantic-core print floats alike), `bool`, `None`, `list`, `tuple`
    and `dict` with `str` keys, byte for byte what `default_serializer` gives; `None` for
    any other value."""
    return msgspec.json.encode(value) if _plain(value, 0) else None


def plain_builtins(value: Any) -> Any:
    """`to_jsonable` for a plain value: a copy, tuples as lists."""
    kind = type(value)
    if kind is list or kind is tuple:
        return [plain_builtins(item) for item in value]
    if kind is dict:
        return {key: plain_builtins(item) for key, item in value.items()}
    return value


def _plain(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return is_plain_int(value)
    if kind is float:
        return math.isfinite(value) and -1e16 < value < 1e16
    if depth > 32:
        return False
    if kind is list or kind is tuple:
        return all(_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    return False


def is_plain_int(value: int) -> bool:
    """Whether `plain_json` handles this `int` (msgspec writes int64 and uint64 only)."""
    return -_I64 <= value < _U64_END


def is_plain(value: Any) -> bool:
    """Whether `plain_json` handles `value`."""
    return _plain(value, 0)
