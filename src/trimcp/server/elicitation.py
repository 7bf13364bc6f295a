"""FastMCP's `fastmcp.server.elicitation` path: the elicitation result types and schema
helpers of `trimcp.core.elicitation` (its `__all__`), and FastMCP's `get_elicitation_schema`,
`validate_elicitation_json_schema` and `ScalarElicitationType`."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from trimcp.core.elicitation import *  # noqa: F403
from trimcp.core.elicitation import __all__ as _core_all
from trimcp.core.elicitation import elicitation_schema

__all__ = [
    *_core_all,
    "ScalarElicitationType",
    "get_elicitation_schema",
    "validate_elicitation_json_schema",
]

T = TypeVar("T")

_PRIMITIVE = ("string", "number", "integer", "boolean")


@dataclass
class ScalarElicitationType(Generic[T]):
    """The one-field object a scalar `response_type` is asked as (`{"value": ...}`)."""

    value: T


def get_elicitation_schema(response_type: Any) -> dict[str, Any]:
    """The `requestedSchema` an elicitation for `response_type` sends (a copy; FastMCP's name).

    Raises:
        TypeError: the type cannot be expressed as a flat elicitation schema.
    """
    return copy.deepcopy(elicitation_schema(response_type).requested_schema)


def validate_elicitation_json_schema(schema: dict[str, Any]) -> None:
    """Check that `schema` is what an elicitation may request (FastMCP 2.13's rules): an
    object whose properties are primitive (string, number, integer, boolean, or nullable
    ones), constants, enums, references to enums or primitives, or unions of those.

    Raises:
        TypeError: naming the first property that breaks the rules.
    """
    if schema.get("type") != "object":
        raise TypeError(
            f"Elicitation schema must be an object schema, got type '{schema.get('type')}'. "
            "Elicitation schemas are limited to flat objects with primitive properties only."
        )
    defs = schema.get("$defs", {})
    for name, prop in schema.get("properties", {}).items():
        _check_property(name, prop, defs)


def _check_property(name: str, prop: dict[str, Any], defs: dict[str, Any]) -> None:
    kind = prop.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [k for k in kind if k != "null"]
        kind = rest[0] if len(rest) == 1 else rest
    elif prop.get("nullable", False):
        return
    if "const" in prop or "enum" in prop:
        return
    ref = prop.get("$ref")
    if ref is not None:
        target = defs.get(ref[len("#/$defs/") :], {}) if ref.startswith("#/$defs/") else {}
        if "enum" in target or target.get("type") in _PRIMITIVE:
            return
        raise TypeError(
            f"Elicitation schema field '{name}' contains a reference '{ref}' that could not be "
            "validated. Only references to enum types or primitive types are allowed."
        )
    options = [*prop.get("oneOf", []), *prop.get("anyOf", [])]
    if options or "oneOf" in prop or "anyOf" in prop:
        for option in options:
            if "const" in option or "enum" in option:
                continue
            if option.get("type") not in _PRIMITIVE:
                raise TypeError(
                    f"Elicitation schema field '{name}' has union type '{option.get('type')}' "
                    f"which is not a primitive type. Only {set(_PRIMITIVE)} are allowed in "
                    "elicitation schemas."
                )
        return
    if kind not in _PRIMITIVE:
        raise TypeError(
            f"Elicitation schema field '{name}' has type '{kind}' which is not a primitive "
            f"type. Only {set(_PRIMITIVE)} are allowed in elicitation schemas."
        )
