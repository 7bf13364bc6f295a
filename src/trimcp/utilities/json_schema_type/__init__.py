"""JSON Schema in, a Python type out, for pydantic to validate with (FastMCP's
`fastmcp.utilities.json_schema_type`).

`json_schema_to_type(schema)` reads a schema the way a client meets it (a tool's
`outputSchema`, an elicitation's `requestedSchema`) and returns a type that
`pydantic.TypeAdapter` validates against:

| schema | type |
|---|---|
| `string`, `integer`, `number`, `boolean`, `null` | `str`, `int`, `float`, `bool`, `None`'s type; `minLength`, `maximum`, `pattern`, ... as `Annotated` constraints |
| `format`: `date-time`, `email`, `uri`, `json` | `datetime`, `EmailStr`, `AnyUrl`, `Json` (`FORMAT_TYPES`); other formats stay `str` |
| `const`, `enum` | `Literal[...]` |
| `anyOf`, `oneOf`, a list of types | a `Union`, `Optional` when `null` is one of them |
| `allOf` | its parts merged into one schema |
| `array` | `list[...]`; `set[...]` under `uniqueItems`; positional `items`/`prefixItems`: a list of their union |
| `object` with `properties` | a keyword-only dataclass, or a pydantic model when `additionalProperties` is `true` |
| `object` without `properties` | `dict[str, ...]` |
| `$ref` (JSON pointers into the schema, `#` for the root) | the type it points to; a reference back into an object being built is a `ForwardRef` |
| `{}` | `object` |

Objects are named after `name`, their `title`, the `$defs`/`definitions` key or property
they come from, or `Root`. Property names that are not identifiers are renamed (`first-name`
-> `first_name`, `@type` -> `field_type`) and keep the original as their alias, so
validation reads the JSON keys. Defaults are applied when validating, nested ones too: an
object's own `default` fills what the data leaves out.

What the table does not name is not checked, so the type accepts more than the schema:
`not`, `if`/`then`/`else`, `patternProperties`, `propertyNames`, `minProperties`, ... and
`additionalProperties: false` (a dataclass drops unknown keys, as FastMCP's does).
`EmailStr` needs `email-validator` installed: without it, pydantic refuses to build a
validator for a schema with `"format": "email"`.

The same schema (and name) gives the same type each time: the result is cached, for the
`CACHE_SIZE` schemas used last (a server chooses the schemas a client meets, so the cache is
bounded; an evicted type lives on while it is held, and is rebuilt anew if asked for again).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import AnyUrl, EmailStr, Json
from typing_extensions import TypedDict

from trimcp.utilities.json_schema_type.convert import SchemaConverter

__all__ = ["CACHE_SIZE", "FORMAT_TYPES", "JSONSchema", "json_schema_to_type"]

FORMAT_TYPES: dict[str, Any] = {
    "date-time": datetime,
    "email": EmailStr,
    "uri": AnyUrl,
    "json": Json,
}
"""The string formats that change the type (`uri-reference` and the others stay `str`)."""

JSONSchema = TypedDict(
    "JSONSchema",
    {
        "$ref": str,
        "$defs": "dict[str, JSONSchema]",
        "type": "str | list[str]",
        "properties": "dict[str, JSONSchema]",
        "required": list[str],
        "additionalProperties": "bool | JSONSchema",
        "items": "JSONSchema | list[JSONSchema]",
        "prefixItems": "list[JSONSchema]",
        "enum": list[Any],
        "const": Any,
        "default": Any,
        "description": str,
        "title": str,
        "examples": list[Any],
        "format": str,
        "allOf": "list[JSONSchema]",
        "anyOf": "list[JSONSchema]",
        "oneOf": "list[JSONSchema]",
        "not": "JSONSchema",
        "definitions": "dict[str, JSONSchema]",
        "dependencies": "dict[str, JSONSchema | list[str]]",
        "pattern": str,
        "minLength": int,
        "maxLength": int,
        "minimum": "int | float",
        "maximum": "int | float",
        "exclusiveMinimum": "int | float",
        "exclusiveMaximum": "int | float",
        "multipleOf": "int | float",
        "uniqueItems": bool,
        "minItems": int,
        "maxItems": int,
        "additionalItems": "bool | JSONSchema",
    },
    total=False,
)
"""The keywords `json_schema_to_type` reads, for type checkers (every key optional)."""

CACHE_SIZE = 128
"""How many converted schemas `json_schema_to_type` keeps (least recently used go first)."""

_cache: OrderedDict[tuple[str, str | None], Any] = OrderedDict()
_cache_lock = threading.Lock()


def json_schema_to_type(schema: Mapping[str, Any], name: str | None = None) -> Any:
    """The Python type that validates what `schema` describes (see the module docstring).

    Args:
        schema: a JSON Schema (draft 7 or 2020-12 keywords; `$ref`s local to it).
        name: the class name for an object schema; by default its `title`, else `Root`.

    Raises:
        ValueError: `name` given for a schema that is not an object.
    """
    is_object = schema.get("type") == "object" or ("type" not in schema and "properties" in schema)
    if name and not is_object:
        raise ValueError(f"Can not apply name to non-object schema: {name}")
    key = (_schema_key(schema), name)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        converter = SchemaConverter(schema, formats=FORMAT_TYPES)
        result = converter.root_type(name=name)
        if converter.built_classes:
            _cache[key] = result
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
        return result


def _schema_key(schema: Mapping[str, Any]) -> str:
    """A SHA-256 hex digest of `schema` that ignores key order."""
    text = json.dumps(schema, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()
