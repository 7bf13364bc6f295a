"""Schema defaults applied to data before pydantic validates it.

pydantic leaves a missing field at its default without validating it, and knows nothing of
an object's own `default` (`{"user": {"default": {"name": "guest"}}}`). So each generated
class validates through `fill_defaults` first, which writes the defaults into the data:

1. the data given wins;
2. then the enclosing object's default (a property's value inside it);
3. then the object's own `default`, when the data for it is empty;
4. then each property's `default`.

Objects nested in the data are filled by the same rule, with the default found for them
at step 2 or 3 passed down.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["fill_defaults", "has_defaults"]

Resolve = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Follows a subschema's `$ref`, if it has one (the converter's)."""


def fill_defaults(
    data: Mapping[str, Any],
    schema: Mapping[str, Any],
    *,
    resolve: Resolve,
    enclosing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A copy of `data` with the defaults of `schema` (an object schema) written in.

    Args:
        data: the object as given.
        schema: its schema.
        resolve: follows `$ref`s of property schemas.
        enclosing: the default the enclosing object's default holds for this one.
    """
    own = schema.get("default")
    if enclosing:
        result = _overlay(enclosing, data)
    elif not data and isinstance(own, Mapping):
        result = copy.deepcopy(dict(own))
    else:
        result = dict(data)
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return result
    for prop, raw in properties.items():
        sub = resolve(raw) if isinstance(raw, Mapping) else {}
        if prop not in result:
            if enclosing and prop in enclosing:
                result[prop] = copy.deepcopy(enclosing[prop])
            elif "default" in sub:
                result[prop] = copy.deepcopy(sub["default"])
        value = result.get(prop)
        if isinstance(value, Mapping) and _is_object(sub):
            if enclosing and prop in enclosing:
                inner = enclosing[prop]
            else:
                inner = sub.get("default")
            result[prop] = fill_defaults(
                value,
                sub,
                resolve=resolve,
                enclosing=inner if isinstance(inner, Mapping) else None,
            )
    return result


def has_defaults(schema: Mapping[str, Any]) -> bool:
    """Whether `schema` or a property of it (inline, at any depth) has a `default`."""
    if "default" in schema:
        return True
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return False
    return any(isinstance(sub, Mapping) and has_defaults(sub) for sub in properties.values())


def _overlay(base: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `data` written over it; objects in both are overlaid in turn."""
    result = copy.deepcopy(dict(base))
    for key, value in data.items():
        below = result.get(key)
        if isinstance(value, Mapping) and isinstance(below, Mapping):
            result[key] = _overlay(below, value)
        else:
            result[key] = value
    return result


def _is_object(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return (
        kind == "object"
        or (isinstance(kind, list) and "object" in kind)
        or (kind is None and "properties" in schema)
    )
