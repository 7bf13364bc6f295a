"""Python names for what a schema calls its objects and properties.

FastMCP's renaming rule, which users see as attribute names: every character outside
`[0-9A-Za-z_]` becomes `_`, runs of `_` shrink to one, a name that does not start with a
letter or `_` gets a `field_` prefix, and trailing `_` the original did not have are dropped
(`@type` -> `field_type`, `first-name` -> `first_name`, `My Type!` -> `My_Type`). A Python
keyword gets a trailing `_` (`class` -> `class_`), which FastMCP would crash on.
"""

from __future__ import annotations

import keyword
import re

__all__ = ["class_hint", "python_name", "unique_name"]

_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]")
_UNDERSCORES = re.compile(r"__+")
_STARTS_WELL = re.compile(r"[A-Za-z_]")


def python_name(text: str) -> str:
    """`text` as a Python identifier, by the rule in the module docstring."""
    name = _UNDERSCORES.sub("_", _NOT_IDENTIFIER.sub("_", text))
    if not _STARTS_WELL.match(text[:1]):
        name = _UNDERSCORES.sub("_", f"field_{name}")
    if not text.endswith("_"):
        name = name.rstrip("_") or "field"
    if keyword.iskeyword(name):
        name = f"{name}_"
    return name


def class_hint(text: str) -> str:
    """A class name for an untitled object found under the key `text` (`user` -> `User`)."""
    return text[:1].upper() + text[1:]


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`, ... whichever `taken` does not hold; added to `taken`."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate
