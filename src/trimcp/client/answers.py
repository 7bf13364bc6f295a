"""How a server's answer becomes what `Client`'s user receives (the counterpart of
`trimcp.client.params`, which shapes what goes out).

`decode_result` reads a result as FastMCP's client hands it over: decoded into its type, with
`Annotations` keys beyond the spec's kept, without the protocol's own `_meta` keys (those were
the session's to read), and refused (`ClientError`) when malformed or of an unknown
`resultType`. `tool_error` is the `ToolError` a failed tool call raises.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from trimcp.exceptions import ClientError, ToolError
from trimcp.protocol.envelope import PREFIX as PROTOCOL_META_PREFIX
from trimcp.types import CallToolResult as MCPCallToolResult
from trimcp.types import ListResourcesResult, ListResourceTemplatesResult, TextContent
from trimcp.types.base import keep_annotation_extras
from trimcp.types.codec import decode

__all__ = ["decode_result", "tool_error"]

R = TypeVar("R")

# Listings whose items carry `Annotations`, which may hold keys beyond the spec's (kept).
_ANNOTATED_LISTS: dict[type[Any], str] = {
    ListResourcesResult: "resources",
    ListResourceTemplatesResult: "resourceTemplates",
}


def decode_result(method: str, typ: type[R], raw: msgspec.Raw) -> R:
    """The server's final answer to `method`, as the user receives it.

    Raises:
        ClientError: the answer is not a valid `typ`, or its `resultType` is unknown.
    """
    try:
        result = decode(raw, typ)
    except msgspec.ValidationError as exc:
        raise ClientError(f"The server's answer to {method} is malformed: {exc}") from exc
    listed = _ANNOTATED_LISTS.get(typ)
    if listed is not None and any(item.annotations for item in getattr(result, listed)):
        keep_annotation_extras(getattr(result, listed), msgspec.json.decode(raw).get(listed))
    result_type = getattr(result, "resultType", None)
    if result_type not in (None, "complete"):
        raise ClientError(
            f"The server's answer to {method} has an unknown resultType {result_type!r}"
        )
    meta = getattr(result, "meta", None)
    if meta:  # the protocol's own keys were the session's to read, not the user's
        mine = {k: v for k, v in meta.items() if not k.startswith(PROTOCOL_META_PREFIX)}
        if len(mine) != len(meta):
            result.meta = mine or None  # type: ignore[attr-defined]
    return result


def tool_error(name: str, result: MCPCallToolResult) -> ToolError:
    """The error a failed call of tool `name` raises: its first content's text, if any."""
    text = (
        result.content[0].text
        if result.content and isinstance(result.content[0], TextContent)
        else ""
    )
    return ToolError(text or f"Tool {name!r} failed")
