"""Decoding MCP payloads received from a peer into the structs of `trimcp.types`, and
converting user values (dicts, structs, `mcp.types` models, or any mix) into them."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar, cast

import msgspec

from trimcp.types.content import ResourceContents

__all__ = ["convert", "decode", "foreign_builtins", "is_foreign_model"]

T = TypeVar("T")


def _dec_hook(typ: type, obj: Any) -> Any:
    if typ is ResourceContents:
        return ResourceContents.from_builtins(obj)
    raise NotImplementedError(f"cannot decode {typ!r}")


def _new_decoder(typ: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(typ, dec_hook=_dec_hook)


# One decoder per type. Typed by hand: `lru_cache`'s wrapper takes `Hashable` arguments,
# and mypy does not count a `type[T]` as `Hashable`.
_decoder: Callable[[Any], msgspec.json.Decoder[Any]] = lru_cache(maxsize=256)(_new_decoder)


def decode(data: bytes | msgspec.Raw, typ: type[T]) -> T:
    """Decode JSON bytes into `typ`.

    Raises `msgspec.ValidationError` on a shape mismatch and `msgspec.DecodeError` for bytes
    that are not JSON, including JSON nested past the recursion limit (msgspec raises
    `RecursionError` there, which is mapped here so that callers catch one family)."""
    try:
        return cast(T, _decoder(typ).decode(data))
    except RecursionError as exc:
        raise msgspec.DecodeError("JSON nested too deeply") from exc


def is_foreign_model(obj: Any) -> bool:
    """Whether `obj` is a pydantic model instance (an `mcp.types` one, say), and not one of
    trimcp's payloads (which speak part of pydantic's API too)."""
    return (
        callable(getattr(obj, "model_dump", None))
        and not isinstance(obj, type)
        and not isinstance(obj, msgspec.Struct)
    )


def foreign_builtins(obj: Any, *, exclude_none: bool = True) -> Any:
    """`enc_hook` for `msgspec.to_builtins` and encoders: a pydantic model (an `mcp.types`
    one, say) as the wire dict its JSON dump gives (`by_alias`: `_meta`, not `meta`; null
    fields left out, as trimcp's payloads leave them). msgspec calls it only for objects it
    cannot encode itself, so it costs nothing on the usual path.

    `exclude_none=False` keeps the null fields, as pydantic writes a model by itself
    (`pydantic_core.to_json`): for user values sent as JSON text, as FastMCP sends them.

    Raises `TypeError` for anything else, as msgspec does."""
    dump = getattr(obj, "model_dump", None)
    if dump is None or isinstance(obj, type):
        raise TypeError(f"Encoding objects of type {type(obj).__name__} is unsupported")
    return dump(mode="json", by_alias=True, exclude_none=exclude_none)


def convert(obj: Any, typ: type[T]) -> T:
    """`obj` as `typ`: itself if it already is a `typ` (exactly), else converted from a dict
    in wire names, a struct, an `mcp.types` model, or containers holding any of these (a
    dict whose `content` is an `mcp.types.TextContent`, say). The one conversion of user
    values into trimcp types: every site that takes `mcp.types` objects goes through it.

    Raises `msgspec.ValidationError` when it does not fit."""
    if type(obj) is typ:
        return obj
    try:
        return msgspec.convert(obj, typ, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        first = exc
    # Off the fast path: retry once with foreign models turned into builtins. If that fails
    # too, the first error is the one to report, unless `obj` itself was a model (msgspec's
    # first word on it is only that it is no dict).
    try:
        plain = msgspec.to_builtins(obj, enc_hook=foreign_builtins)
    except TypeError:
        raise first from None
    try:
        return msgspec.convert(plain, typ, dec_hook=_dec_hook)
    except msgspec.ValidationError:
        if is_foreign_model(obj):
            raise
        raise first from None
