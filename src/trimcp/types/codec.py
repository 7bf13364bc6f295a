"""Decoding MCP payloads received from a peer into the structs of `trimcp.types`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

import msgspec

from trimcp.types.content import ResourceContents

__all__ = ["convert", "decode"]

T = TypeVar("T")


def _dec_hook(typ: type, obj: Any) -> Any:
    if typ is ResourceContents:
        return ResourceContents.from_builtins(obj)
    raise NotImplementedError(f"cannot decode {typ!r}")


@lru_cache(maxsize=256)
def _decoder(typ: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(typ, dec_hook=_dec_hook)


def decode(data: bytes | msgspec.Raw, typ: type[T]) -> T:
    """Decode JSON bytes into `typ` (raises `msgspec.ValidationError` on a shape mismatch)."""
    return _decoder(typ).decode(data)


def convert(obj: Any, typ: type[T]) -> T:
    return msgspec.convert(obj, typ, dec_hook=_dec_hook)
