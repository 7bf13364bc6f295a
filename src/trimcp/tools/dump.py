"""`dump_fields`: a component's fields as a dict, the way pydantic's `model_dump` gives a
FastMCP component's (FastMCP's components are pydantic models; trimcp's are plain classes that
name the same fields).

Nested structures come out as pydantic would give them: msgspec structs (annotations, icons)
and pydantic models as dicts (without `None` fields under `exclude_none`), components as their
own dump, lists and dicts copied; sets, callables and other values as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from trimcp.utilities.components import Component

__all__ = ["dump_fields"]


def dump_fields(
    component: Any,
    fields: Iterable[str],
    *,
    mode: Literal["python", "json"] = "python",
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    exclude_none: bool = False,
) -> dict[str, Any]:
    """`{field: value}` for `fields` of `component` (restricted to `include`, less
    `exclude`); `mode="json"` makes the values JSON-able (sets as lists, ...)."""
    included = None if include is None else set(include)
    excluded = set(exclude or ())
    out: dict[str, Any] = {}
    for name in fields:
        if (included is not None and name not in included) or name in excluded:
            continue
        value = getattr(component, name, None)
        if value is None and exclude_none:
            continue
        out[name] = _dump(value, exclude_none)
    if mode == "json":
        from trimcp.utilities.types import to_jsonable

        result: dict[str, Any] = to_jsonable(out)
        return result
    return out


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, dict):
        return {k: _dump(v, exclude_none) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v, exclude_none) for v in value]
    if isinstance(value, msgspec.Struct):
        return {
            name: _dump(item, exclude_none)
            for name in value.__struct_fields__
            if (item := getattr(value, name)) is not None or not exclude_none
        }
    dump = getattr(value, "model_dump", None)
    if dump is None or isinstance(value, type):
        return value
    pydantic = sys.modules.get("pydantic")
    if isinstance(value, Component) or (
        pydantic is not None and isinstance(value, pydantic.BaseModel)
    ):
        return dump(exclude_none=exclude_none)
    return value
