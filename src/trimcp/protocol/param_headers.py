"""`x-mcp-header` (2026-07-28): tool parameters mirrored into `Mcp-Param-{Name}` HTTP headers.

A tool's input schema may mark a parameter with `"x-mcp-header": "Name"`. Such a mark must
sit on a property reachable through `properties` keys only, typed `string`, `integer` or
`boolean`, and name an RFC 9110 token unique ignoring case; otherwise conforming clients drop
the tool, so trimcp refuses it at registration. On a request, a parameter with a value must
come with its header, equal to it once decoded (integers compared numerically); a parameter
that is absent or null expects no header. Sans-I/O: no HTTP objects here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["check_param_headers", "header_params"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_ALLOWED_TYPES = {"string", "integer", "boolean"}
_SAFE_INTEGER = 2**53 - 1
_INTEGER = re.compile(r"[+-]?[0-9]{1,64}")

ParamPaths = dict[tuple[str, ...], str]


def header_params(schema: Mapping[str, Any]) -> ParamPaths:
    """The marked parameters of an input schema, `{("path", "to", "param"): "Name"}`; raises
    `ValueError` for a mark clients would reject."""
    found: ParamPaths = {}
    seen: dict[str, tuple[str, ...]] = {}
    _walk(schema, (), found, seen)
    _reject_marks_outside_properties(schema, top=True)
    return found


def _walk(
    node: Mapping[str, Any],
    path: tuple[str, ...],
    found: ParamPaths,
    seen: dict[str, tuple[str, ...]],
) -> None:
    properties = node.get("properties")
    if not isinstance(properties, Mapping):
        return
    for key, prop in properties.items():
        if not isinstance(prop, Mapping):
            continue
        here = (*path, key)
        name = prop.get("x-mcp-header")
        if name is not None:
            if not isinstance(name, str) or not _TOKEN.match(name):
                raise ValueError(
                    f"x-mcp-header on {'.'.join(here)!r} must be an RFC 9110 token, not {name!r}"
                )
            if prop.get("type") not in _ALLOWED_TYPES:
                raise ValueError(
                    f"x-mcp-header on {'.'.join(here)!r} needs type string, integer or boolean "
                    f"(not {prop.get('type')!r})"
                )
            other = seen.get(name.lower())
            if other is not None:
                raise ValueError(
                    f"x-mcp-header {name!r} is used twice ({'.'.join(other)!r}, {'.'.join(here)!r})"
                )
            seen[name.lower()] = here
            found[here] = name
        _walk(prop, here, found, seen)


def _reject_marks_outside_properties(node: Any, *, top: bool) -> None:
    """A mark under `items`, `anyOf`, `$defs`... is unreachable by property keys."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "properties" and isinstance(value, Mapping):
                for prop in value.values():
                    _reject_marks_outside_properties(prop, top=True)
            elif key == "x-mcp-header":
                if not top:
                    raise ValueError(
                        "x-mcp-header must sit on a property reachable through `properties` keys"
                    )
            elif isinstance(value, Mapping | list):
                _reject_marks_outside_properties(value, top=False)
    elif isinstance(node, list):
        for item in node:
            _reject_marks_outside_properties(item, top=False)


def _value_at(arguments: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(arguments, Mapping):
            return None
        arguments = arguments.get(key)
    return arguments


def header_values(params: ParamPaths, arguments: Any) -> Iterator[tuple[str, str]]:
    """The `Mcp-Param-*` headers a client sends for `arguments`: `(name, text)` for each
    marked argument that is a string, an integer or a boolean (`true`/`false`); absent,
    null and other values get no header. The inverse of what `check_param_headers` accepts
    (before the Base64 sentinel, which the transport applies)."""
    for path, name in params.items():
        value = _value_at(arguments, path)
        if value is None or isinstance(value, Mapping | list | float):
            continue
        yield name, ("true" if value else "false") if isinstance(value, bool) else str(value)


def _matches(value: Any, header: str) -> bool:
    if isinstance(value, bool):
        return header == ("true" if value else "false")
    if isinstance(value, int):
        # ASCII decimal only (bounded): `int()` would also take "1_0", " 10" or Arabic-Indic digits, and
        # raises past 4,300 digits
        return (
            _INTEGER.fullmatch(header) is not None
            and abs(value) <= _SAFE_INTEGER
            and int(header) == value
        )
    return isinstance(value, str) and header == value


def check_param_headers(
    params: ParamPaths,
    arguments: Any,
    header: Callable[[str], str | None],
    decode: Callable[[str], str | None],
) -> str | None:
    """Why the request's `Mcp-Param-*` headers disagree with its arguments, or None.

    `header(name)` returns the raw value of `Mcp-Param-{name}` (or None); `decode` undoes the
    Base64 sentinel (None when malformed)."""
    for path, name in params.items():
        value = _value_at(arguments, path)
        raw = header(name)
        if value is None:
            continue  # absent or null: the header is not expected
        if raw is None:
            return f"Mcp-Param-{name} header is missing for params.arguments.{'.'.join(path)}"
        decoded = decode(raw)
        if decoded is None:
            return f"Mcp-Param-{name} header is malformed"
        if not _matches(value, decoded):
            return f"Mcp-Param-{name} header does not match params.arguments.{'.'.join(path)}"
    return None
