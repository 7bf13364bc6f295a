"""What `Client.call_tool` returns, and how structured output becomes Python values again.

FastMCP rebuilds `structuredContent` into Python values with a type generated from the tool's
`outputSchema` and validates it with pydantic. We do the same without pydantic: JSON objects
with declared `properties` become instances of a dataclass generated from the schema (so
`result.data.name` works and two results compare equal), free-form objects stay dicts, arrays
become lists, strings of the `date-time` format become `datetime`s, and other scalars stay as
they are. No validation happens: the server produced the
value from its own schema, and a mismatch is better seen than hidden behind an exception.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import keyword
import logging
import re
from typing import Any

from trimcp.types import ContentBlock

__all__ = [
    "TYPE_CACHE_SIZE",
    "CallToolResult",
    "json_schema_to_type",
    "structured_to_data",
    "tool_output_data",
]


@dataclasses.dataclass
class CallToolResult:
    """A tool call's outcome (FastMCP's `fastmcp.client.client.CallToolResult`)."""

    content: list[ContentBlock]
    structured_content: dict[str, Any] | None
    meta: dict[str, Any] | None
    data: Any = None
    is_error: bool = False


logger = logging.getLogger("trimcp.client")

_IDENTIFIER = re.compile(r"[^0-9a-zA-Z_]")
# Bounded: the server chooses the schemas, a long-lived client must not grow without limit.
TYPE_CACHE_SIZE = 128
"""How many types `json_schema_to_type` keeps (the least recently used go first)."""
_type_cache: collections.OrderedDict[str, type] = collections.OrderedDict()


def _class_name(schema: dict[str, Any], fallback: str) -> str:
    title = schema.get("title")
    name = _IDENTIFIER.sub("_", title) if isinstance(title, str) and title else fallback
    return name if name.isidentifier() else f"_{name}"


def _field_name(key: str) -> str:
    name = _IDENTIFIER.sub("_", key)
    if not name.isidentifier() or keyword.iskeyword(name):
        name = f"{name}_"
    return name


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref: str = schema["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = root
        for part in ref[2:].split("/"):
            target = (
                target.get(part.replace("~1", "/").replace("~0", "~"), {})
                if isinstance(target, dict)
                else {}
            )
        schema = target
        seen += 1
    return schema


def json_schema_to_type(schema: dict[str, Any], *, name: str = "Root") -> type:
    """A dataclass for an object schema with `properties` (cached by schema); else `dict`.

    Required properties come first and have no default; the others default to the schema's
    `default` or `None`. Keys that are not identifiers are renamed (`"my-key"` -> `my_key`).
    """
    schema = _resolve(schema, schema)
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or schema.get("type", "object") != "object":
        return dict
    import json

    key = json.dumps(schema, sort_keys=True, default=str)
    cached = _type_cache.get(key)
    if cached is not None:
        _type_cache.move_to_end(key)
        return cached
    required = set(schema.get("required", ()))
    fields: list[tuple[str, Any, Any]] = []
    optional: list[tuple[str, Any, Any]] = []
    for prop, prop_schema in properties.items():
        field_name = _field_name(prop)
        if prop in required:
            fields.append((field_name, Any, dataclasses.field()))
        else:
            default = prop_schema.get("default") if isinstance(prop_schema, dict) else None
            if isinstance(default, list | dict):
                factory = functools.partial(_copy, default)
                optional.append((field_name, Any, dataclasses.field(default_factory=factory)))
            else:
                optional.append((field_name, Any, dataclasses.field(default=default)))
    cls = dataclasses.make_dataclass(_class_name(schema, name), fields + optional)
    _type_cache[key] = cls
    if len(_type_cache) > TYPE_CACHE_SIZE:
        _type_cache.popitem(last=False)  # the least recently used
    return cls


def _copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(value)


def tool_output_data(name: str, structured: Any, schema: dict[str, Any] | None) -> Any:
    """A tool's `structuredContent` as Python values, following its `outputSchema` (unwrapped
    from `{"result": ...}` when FastMCP wrapped a non-object output). A value that does not
    rebuild is returned as it came, and the problem logged: a successful call is never lost."""
    if structured is None or not schema:
        return structured
    try:
        if schema.get("x-fastmcp-wrap-result") and isinstance(structured, dict):
            inner = (schema.get("properties") or {}).get("result", {})
            return structured_to_data(
                structured.get("result"), {**inner, "$defs": schema.get("$defs", {})}
            )
        return structured_to_data(structured, schema)
    except Exception:
        logger.exception("could not rebuild the output of tool %r", name)
        return structured


def structured_to_data(value: Any, schema: Any, root: dict[str, Any] | None = None) -> Any:
    """Rebuild `value` (decoded JSON) following `schema` (see the module docstring)."""
    if root is None:
        root = schema if isinstance(schema, dict) else {}
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return value
    for combinator in ("anyOf", "oneOf"):
        options = schema.get(combinator)
        if isinstance(options, list):
            return _first_fitting(value, options, root)
    if isinstance(value, dict):
        properties = schema.get("properties")
        if isinstance(properties, dict):
            return _to_object(value, schema, properties, root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return {k: structured_to_data(v, extra, root) for k, v in value.items()}
        return value
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [structured_to_data(v, items, root) for v in value]
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list):
            return [
                structured_to_data(v, prefix[i], root) if i < len(prefix) else v
                for i, v in enumerate(value)
            ]
        return value
    if isinstance(value, str) and schema.get("format") == "date-time":
        try:  # FastMCP's client gives a `datetime` for this format (its one non-JSON scalar)
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _to_object(
    value: dict[str, Any], schema: dict[str, Any], properties: dict[str, Any], root: dict[str, Any]
) -> Any:
    cls = json_schema_to_type(schema)
    if cls is dict:
        return value
    kwargs: dict[str, Any] = {}
    for prop, prop_schema in properties.items():
        if prop in value:
            kwargs[_field_name(prop)] = structured_to_data(value[prop], prop_schema, root)
    try:
        return cls(**kwargs)
    except TypeError:  # a required property is missing: show the data as it came
        return value


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind is None:
        return True
    kinds = kind if isinstance(kind, list) else [kind]
    for k in kinds:
        types = _JSON_TYPES.get(k, ())
        if isinstance(value, bool) and k in ("integer", "number"):
            continue
        if isinstance(value, types):
            return True
    return False


def _first_fitting(value: Any, options: list[Any], root: dict[str, Any]) -> Any:
    for option in options:
        resolved = _resolve(option, root)
        if isinstance(resolved, dict) and _fits(value, resolved):
            return structured_to_data(value, resolved, root)
    return value
