"""Answers to the server's requests (handshake era): sampling, elicitation and roots.

Each user handler keeps FastMCP's signature and may be sync or async:

- `sampling_handler(messages, params, context)` -> `str` or a CreateMessageResult-like value
- `elicitation_handler(message, response_type, params, context)` -> the data (meaning "accept"),
  or an `ElicitResult`-like value with `action` (`accept`/`decline`/`cancel`) and `content`
- `roots`: a list of paths, `file://` URIs, `Root`s or dicts, or a callable `(context)` returning one

A handler that raises is answered with a JSON-RPC error carrying its message.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import msgspec

from trimcp.client.context import RequestContext
from trimcp.client.sampling import CreateMessageRequestParams
from trimcp.exceptions import McpError
from trimcp.protocol.errors import INTERNAL_ERROR, INVALID_PARAMS
from trimcp.types.base import Payload
from trimcp.types.codec import decode
from trimcp.types.misc import Root

__all__ = [
    "CreateMessageParams",
    "ElicitParams",
    "ElicitRequestParams",
    "ElicitResult",
    "ElicitationHandler",
    "RequestContext",
    "RootsHandler",
    "RootsList",
    "answer_elicitation",
    "answer_roots",
    "answer_sampling",
    "check_roots",
    "root_entry",
]

T = TypeVar("T")

RootsList = Sequence[str | Path | Root | dict[str, Any]]
RootsHandler = Callable[..., Any]
ElicitationHandler = Callable[..., Any]
"""`(message, response_type, params, context) -> data | ElicitResult` (sync or async)."""


@dataclasses.dataclass
class ElicitResult(Generic[T]):
    """What an elicitation handler may return to say more than "accept this data"."""

    action: Literal["accept", "decline", "cancel"]
    content: T | None = None
    meta: dict[str, Any] | None = None


class ElicitRequestParams(Payload, kw_only=True):
    """The params of `elicitation/create` (`mcp.types.ElicitRequestParams`)."""

    message: str
    requestedSchema: dict[str, Any] | None = None
    mode: str | None = None
    url: str | None = None
    elicitationId: str | None = None
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


ElicitParams = ElicitRequestParams
CreateMessageParams = CreateMessageRequestParams


async def _call(handler: Callable[..., Any], *args: Any) -> Any:
    result = handler(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


def _decode_params(raw: msgspec.Raw | None, typ: type[T]) -> T:
    try:
        return decode(raw if raw is not None else b"{}", typ)
    except msgspec.ValidationError as exc:
        raise McpError(INVALID_PARAMS, f"Invalid params: {exc}") from exc


def to_builtins(value: Any) -> Any:
    """Plain JSON-ready data from a dataclass, pydantic model, msgspec struct or plain value."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "model_dump"):  # pydantic (or an `mcp.types`/`trimcp.types` payload)
        try:
            return value.model_dump(mode="json", by_alias=True, exclude_none=True)
        except TypeError:
            return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_builtins(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_builtins(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_builtins(v) for v in value]
    return msgspec.to_builtins(value)


async def answer_sampling(
    handler: Callable[..., Any], raw: msgspec.Raw | None, context: RequestContext
) -> dict[str, Any]:
    params = _decode_params(raw, CreateMessageRequestParams)
    try:
        result = await _call(handler, params.messages, params, context)
    except McpError:
        raise
    except Exception as exc:
        raise McpError(INTERNAL_ERROR, str(exc)) from exc
    if isinstance(result, str):
        return {
            "role": "assistant",
            "content": {"type": "text", "text": result},
            "model": "trimcp-client",
        }
    answer = to_builtins(result)
    if not isinstance(answer, dict) or "content" not in answer:
        raise McpError(
            INTERNAL_ERROR, f"The sampling handler returned {type(result).__name__}, not a message"
        )
    answer.setdefault("role", "assistant")
    answer.setdefault("model", "trimcp-client")
    return answer


def _response_type(schema: dict[str, Any] | None) -> Any:
    """The type a handler may build its answer with: FastMCP's (a dataclass named after the
    schema's title, typed fields), or `None` for a schema without properties."""
    if not schema or not schema.get("properties"):
        return None
    from trimcp.utilities.json_schema_type import json_schema_to_type

    return json_schema_to_type(schema)


async def answer_elicitation(
    handler: Callable[..., Any], raw: msgspec.Raw | None, context: RequestContext
) -> dict[str, Any]:
    params = _decode_params(raw, ElicitRequestParams)
    try:
        response_type = _response_type(params.requestedSchema)
    except Exception as exc:  # a schema no Python type stands for: the server hears why
        raise McpError(INVALID_PARAMS, f"Unusable requestedSchema: {exc}") from exc
    try:
        result = await _call(handler, params.message, response_type, params, context)
        action = getattr(result, "action", None)
        if isinstance(action, str) and action in ("accept", "decline", "cancel"):
            content = to_builtins(getattr(result, "content", None))
            meta = getattr(result, "meta", None) or getattr(result, "_meta", None)
        else:  # plain data means "accept"
            action, content, meta = "accept", to_builtins(result), None
        if content is not None and not isinstance(content, dict):
            raise ValueError(
                f"Elicitation responses must be serializable as a JSON object (dict). Received: {content!r}"
            )
    except McpError:
        raise
    except Exception as exc:
        raise McpError(INTERNAL_ERROR, str(exc)) from exc
    answer: dict[str, Any] = {"action": action}
    if content is not None and action == "accept":
        answer["content"] = content
    if isinstance(meta, dict):
        answer["_meta"] = meta
    return answer


def _root_uri(entry: Any, uri: str) -> str:
    """`uri` if it is a `file://` URI (the spec's rule for roots); an absolute path becomes one."""
    scheme, sep, _ = uri.partition("://")
    if not sep:
        if isinstance(entry, str) and os.path.isabs(uri):  # trimcp also takes absolute paths
            return Path(uri).expanduser().resolve().as_uri()
        raise ValueError(
            f"Invalid root {entry!r}: Input should be a valid URL, relative URL without a base "
            "(a root is a file:// URI, a Path or an absolute path)"
        )
    if scheme.lower() != "file":
        raise ValueError(f"Invalid root {entry!r}: URL scheme should be 'file'")
    return uri


def root_entry(entry: Any) -> dict[str, Any]:
    """A root as wire data (`uri`, maybe `name`); `ValueError` for one that is not a root."""
    if isinstance(entry, Path):
        return {"uri": entry.expanduser().resolve().as_uri()}
    if isinstance(entry, str):
        return {"uri": _root_uri(entry, entry)}
    data = to_builtins(entry)
    if not isinstance(data, dict) or "uri" not in data:
        raise ValueError(f"Not a root: {entry!r}")
    data["uri"] = _root_uri(entry, str(data["uri"]))
    return {k: v for k, v in data.items() if v is not None}


def check_roots(roots: RootsList) -> None:
    """Raise `ValueError` for a root that is not a `file://` URI, a `Path` or an absolute path."""
    if isinstance(roots, str | Path):
        raise ValueError(
            f"roots must be a list of roots (or a function returning one), not {roots!r}"
        )
    for entry in roots:
        root_entry(entry)


async def answer_roots(roots: RootsList | RootsHandler, context: RequestContext) -> dict[str, Any]:
    try:
        entries = await _call(roots, context) if callable(roots) else roots
        return {"roots": [root_entry(entry) for entry in entries]}
    except McpError:
        raise
    except Exception as exc:
        raise McpError(INTERNAL_ERROR, str(exc)) from exc
