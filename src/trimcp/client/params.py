"""What the client's calls put on the wire, beyond passing values through: `bytes` in tool
arguments as text, prompt arguments as JSON text, completion references, and the check of a
resource URI before it is sent."""

from __future__ import annotations

import re
from typing import Any

import msgspec

__all__ = ["check_resource_uri", "completion_ref", "prompt_arguments", "tool_arguments"]

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")  # a scheme, as every absolute URI starts


def check_resource_uri(uri: Any) -> None:
    """Raise `ValueError` (FastMCP's message) for a URI without a scheme."""
    if not _URI.match(str(uri)):
        raise ValueError(f"Provided resource URI is invalid: {uri}")


def _json_text(value: Any) -> str:
    import pydantic_core

    def fallback(item: Any) -> Any:
        if isinstance(item, msgspec.Struct):
            return msgspec.to_builtins(item)
        raise pydantic_core.PydanticSerializationError(
            f"Unable to serialize unknown type: {type(item)}"
        )

    return pydantic_core.to_json(value, fallback=fallback).decode()


def prompt_arguments(arguments: dict[str, Any]) -> dict[str, str]:
    """Prompt arguments are strings on the wire: any other value becomes compact JSON text,
    as FastMCP (pydantic) writes it. A value that cannot be serialized raises pydantic's
    `PydanticSerializationError`."""
    return {
        key: value if isinstance(value, str) else _json_text(value)
        for key, value in arguments.items()
    }


def tool_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """Tool arguments with every `bytes` value (nested ones too) as UTF-8 text: how FastMCP's
    client writes them (pydantic's JSON rule), and what a server validating a `bytes`
    parameter reads back to the same bytes. msgspec alone would send base64, which such a
    server takes as the bytes of the base64 text. The arguments are returned unchanged (the
    same object) when they hold no bytes.

    Raises:
        UnicodeDecodeError: a `bytes` value that is not UTF-8 (pydantic refuses it too).
    """
    result: dict[str, Any] = _text_bytes(arguments)
    return result


def _text_bytes(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode()
    if isinstance(value, dict):
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            new = _text_bytes(item)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list | tuple):
        items = [_text_bytes(item) for item in value]
        if any(new is not old for new, old in zip(items, value, strict=True)):
            return items
        return value
    return value


def completion_ref(ref: Any) -> dict[str, Any]:
    """A `completion/complete` reference from a dict, a pydantic model or a trimcp struct."""
    if isinstance(ref, dict):
        return ref
    if hasattr(ref, "model_dump"):
        dumped: dict[str, Any] = ref.model_dump(by_alias=True, exclude_none=True)
        return dumped
    out = {"type": ref.type}
    for key in ("name", "uri"):
        value = getattr(ref, key, None)
        if value is not None:
            out[key] = str(value)
    return out
