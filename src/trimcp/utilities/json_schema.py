"""Post-processing of the JSON schemas pydantic generates for tool inputs and outputs:
dropping hidden parameters, titles, `"additionalProperties": false` and unused `$defs`
(`compress_schema`), and inlining
`$defs` for clients that do not follow `$ref` (`dereference_refs`).

Both functions return a new schema and leave their argument untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from typing import Any

__all__ = ["compress_schema", "dereference_refs"]

_DEFS_PREFIX = "#/$defs/"
# Keywords whose value maps *names* to subschemas: their keys are not keywords.
_NAME_MAPS = frozenset(
    {"properties", "$defs", "definitions", "patternProperties", "dependentSchemas"}
)


def compress_schema(
    schema: dict[str, Any],
    *,
    prune_params: Collection[str] | None = None,
    prune_defs: bool = True,
    prune_additional_properties: bool = True,
    prune_titles: bool = False,
) -> dict[str, Any]:
    """A smaller copy of `schema`.

    Args:
        schema: an object schema, as pydantic generates it.
        prune_params: top-level properties to remove (and drop from `required`).
        prune_defs: remove `$defs` entries nothing references any more.
        prune_additional_properties: remove `"additionalProperties": false` at every level
            (as FastMCP does: clients fill in objects more freely).
        prune_titles: remove the `title` keywords pydantic adds everywhere (a property
            *named* `title` is kept).
    """
    schema = copy.deepcopy(schema)
    if prune_params:
        properties = schema.get("properties", {})
        for name in prune_params:
            properties.pop(name, None)
        if "required" in schema:
            required = [r for r in schema["required"] if r not in prune_params]
            if required:
                schema["required"] = required
            else:
                del schema["required"]
    if prune_additional_properties:
        _each_schema(schema, _drop_closed)
    if prune_titles:
        _each_schema(schema, _drop_title)
    if prune_defs:
        _drop_unused_defs(schema)
    return schema


def _each_schema(node: Any, visit: Callable[[dict[str, Any]], None]) -> None:
    """`visit` every schema (dict) in `node`, a parent before its children; the keys of a
    name map (a property named `additionalProperties` or `title`) are names, not keywords."""
    if isinstance(node, dict):
        visit(node)
        for key, value in node.items():
            if key in _NAME_MAPS and isinstance(value, dict):
                for sub in value.values():
                    _each_schema(sub, visit)
            else:
                _each_schema(value, visit)
    elif isinstance(node, list):
        for item in node:
            _each_schema(item, visit)


def _drop_closed(node: dict[str, Any]) -> None:
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]


# A `title` is dropped only beside one of these: there it is metadata of a schema. Alone (an
# untyped parameter's `{"title": "X"}`) it is kept, as FastMCP keeps it.
_SCHEMA_KEYWORDS = ("type", "properties", "$ref", "items", "allOf", "oneOf", "anyOf", "required")


def _drop_title(node: dict[str, Any]) -> None:
    if isinstance(node.get("title"), str) and any(k in node for k in _SCHEMA_KEYWORDS):
        del node["title"]


def _refs_in(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
            found.add(ref[len(_DEFS_PREFIX) :])
        for value in node.values():
            _refs_in(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs_in(item, found)


def _drop_unused_defs(schema: dict[str, Any]) -> None:
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return
    pending: set[str] = set()
    _refs_in({k: v for k, v in schema.items() if k != "$defs"}, pending)
    used: set[str] = set()
    while pending:
        name = pending.pop()
        if name in used or name not in defs:
            continue
        used.add(name)
        _refs_in(defs[name], pending)
    for name in list(defs):
        if name not in used:
            del defs[name]
    if not defs:
        del schema["$defs"]


def dereference_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with every `#/$defs/...` reference replaced by its definition.

    Recursive definitions cannot be inlined: their references stay, and so do the
    definitions they need. Keywords next to a `$ref` (a `description`, a `default`) are
    kept and override the definition's own.
    """
    defs: dict[str, Any] = schema.get("$defs") or {}
    if not defs:
        return copy.deepcopy(schema)
    recursive = _recursive_defs(defs)
    body = {k: v for k, v in schema.items() if k != "$defs"}
    result: dict[str, Any] = _inline(body, defs, recursive)
    if recursive:
        kept = {name: _inline(defs[name], defs, recursive) for name in sorted(recursive)}
        result["$defs"] = kept
        _drop_unused_defs(result)
    return result


def _recursive_defs(defs: dict[str, Any]) -> set[str]:
    """Definitions that reach themselves through references (directly or not)."""
    edges: dict[str, set[str]] = {}
    for name, definition in defs.items():
        targets: set[str] = set()
        _refs_in(definition, targets)
        edges[name] = targets & defs.keys()
    recursive: set[str] = set()
    for start in defs:
        stack = list(edges[start])
        seen: set[str] = set()
        while stack:
            name = stack.pop()
            if name == start:
                recursive.add(start)
                break
            if name not in seen:
                seen.add(name)
                stack.extend(edges[name])
    return recursive


def _inline(node: Any, defs: dict[str, Any], recursive: set[str]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, recursive) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
        name = ref[len(_DEFS_PREFIX) :]
        if name in defs and name not in recursive:
            resolved = _inline(defs[name], defs, recursive)
            siblings = {k: _inline(v, defs, recursive) for k, v in node.items() if k != "$ref"}
            return {**resolved, **siblings}
    return {key: _inline(value, defs, recursive) for key, value in node.items()}
