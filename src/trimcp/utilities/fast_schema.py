"""Schemas and argument validation for *simple* signatures, without pydantic.

Importing pydantic and building the first model costs a stdio server ~150 ms before it
can answer `initialize`. Most tools only take and return JSON scalars and containers, so
for those `ParsedCallable` and `FunctionTool` use this module instead:

- `compile_type` turns an annotation into a `Node` when it is simple: `int`, `float`,
  `str`, `bool`, `None`, `Any` (or no annotation), `list[X]`, `dict[str, X]` (bare `list`
  and `dict` too), `Literal[...]` of str, int or bool values (one kind per literal), and
  `X | None` / `Optional[X]`; only exact classes (no subclasses, no `Annotated` metadata
  except a plain description string). Anything else returns `None`: the caller keeps the
  pydantic path.
- `Node.schema()` is the JSON schema pydantic generates for the same type, key order
  included (pydantic sorts keys; `sort_schema` copies its rule).
- `FastArguments` validates a call's arguments. The hot path is one `msgspec.convert`
  into a Struct built once, in *strict* mode: whatever msgspec accepts strictly, pydantic
  accepts with the same result. Anything else (a `"5"` for an `int`, a bad or missing
  argument) takes `Node.check`, a small Python mirror of pydantic's lax (or strict)
  rules for these types, which coerces like pydantic and reports errors in pydantic's
  words, so that `format_errors` produces the text `format_validation_error` would.
"""

from __future__ import annotations

import copy
import math
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

import msgspec

__all__ = [
    "FastArguments",
    "Node",
    "compile_type",
    "format_errors",
    "jsonable_default",
    "output_schema",
    "sort_schema",
]

_NoneType = type(None)
MISSING: Any = object()
_BAD: Any = object()  # what `Node.check` returns for a value it reported errors for
NOT_JSONABLE: Any = object()

Error = tuple[tuple[Any, ...], str, str, Any]  # (loc, pydantic error type, message, input)


class Node:
    """A compiled simple annotation: its schema and its pydantic-compatible checker."""

    __slots__ = ()

    def schema(self) -> dict[str, Any]:  # unsorted; `sort_schema` orders it
        raise NotImplementedError

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        """`value` validated as pydantic would (returns `_BAD` after appending errors)."""
        raise NotImplementedError


# The keywords beside which `prune_titles` drops a title (`trimcp.utilities.json_schema`).
_TYPED = frozenset(("type", "properties", "$ref", "items", "allOf", "oneOf", "anyOf", "required"))


class _AnyNode(Node):
    __slots__ = ()

    def schema(self) -> dict[str, Any]:
        return {}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        return value


_INT_TEXT = re.compile(r"[+-]?[0-9](?:_?[0-9])*(?:\.0+)?")
_TRUE_TEXT = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_TEXT = frozenset({"0", "off", "f", "false", "n", "no"})
_I64 = 2**63


class _IntNode(Node):
    __slots__ = ()

    def schema(self) -> dict[str, Any]:
        return {"type": "integer"}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        kind = type(value)
        if kind is int:
            return value
        if not strict:
            if kind is bool:
                return int(value)
            if kind is float:
                if not math.isfinite(value):
                    errors.append((loc, "finite_number", "Input should be a finite number", value))
                    return _BAD
                if value % 1:
                    errors.append(
                        (
                            loc,
                            "int_from_float",
                            "Input should be a valid integer, got a number with a fractional part",
                            value,
                        )
                    )
                    return _BAD
                if not -_I64 < value < _I64:
                    errors.append((loc, "int_parsing_size", _INT_SIZE, value))
                    return _BAD
                return int(value)
            if kind is str:
                text = value.strip()
                if text.isascii() and _INT_TEXT.fullmatch(text):
                    digits = text.split(".", 1)[0]
                    if len(digits) > 4300:
                        errors.append((loc, "int_parsing_size", _INT_SIZE, value))
                        return _BAD
                    return int(digits)
                errors.append(
                    (
                        loc,
                        "int_parsing",
                        "Input should be a valid integer, unable to parse string as an integer",
                        value,
                    )
                )
                return _BAD
        errors.append((loc, "int_type", "Input should be a valid integer", value))
        return _BAD


_INT_SIZE = "Unable to parse input string as an integer, exceeded maximum size"


class _FloatNode(Node):
    __slots__ = ()

    def schema(self) -> dict[str, Any]:
        return {"type": "number"}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        kind = type(value)
        if kind is float:
            return value
        if kind is int:
            return float(value)
        if not strict:
            if kind is bool:
                return float(value)
            if kind is str:
                text = value.strip()
                if text.isascii() and text and text[-1] != "_" and "__" not in text:
                    try:
                        return float(text)
                    except ValueError:
                        pass
                errors.append(
                    (
                        loc,
                        "float_parsing",
                        "Input should be a valid number, unable to parse string as a number",
                        value,
                    )
                )
                return _BAD
        errors.append((loc, "float_type", "Input should be a valid number", value))
        return _BAD


class _StrNode(Node):
    __slots__ = ()

    def schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        if type(value) is str:
            return value
        errors.append((loc, "string_type", "Input should be a valid string", value))
        return _BAD


class _BoolNode(Node):
    __slots__ = ()

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        kind = type(value)
        if kind is bool:
            return value
        if not strict:
            if kind is str or (kind is int and -_I64 <= value < _I64):
                key = value.lower() if kind is str else value
                if key in _TRUE_TEXT or (key == 1 and kind is int):
                    return True
                if key in _FALSE_TEXT or (key == 0 and kind is int):
                    return False
                errors.append(
                    (
                        loc,
                        "bool_parsing",
                        "Input should be a valid boolean, unable to interpret input",
                        value,
                    )
                )
                return _BAD
            if kind is float and value in (0.0, 1.0):
                return value == 1.0
        errors.append((loc, "bool_type", "Input should be a valid boolean", value))
        return _BAD


class _NoneNode(Node):
    __slots__ = ()

    def schema(self) -> dict[str, Any]:
        return {"type": "null"}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        if value is None:
            return None
        errors.append((loc, "none_required", "Input should be None", value))
        return _BAD


class _NullableNode(Node):
    __slots__ = ("inner",)

    def __init__(self, inner: Node) -> None:
        self.inner = inner

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [self.inner.schema(), {"type": "null"}]}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        return None if value is None else self.inner.check(value, strict, loc, errors)


class _ListNode(Node):
    __slots__ = ("item",)

    def __init__(self, item: Node) -> None:
        self.item = item

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.item.schema()}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        if not (type(value) is list or (not strict and isinstance(value, (tuple, set, frozenset)))):
            errors.append((loc, "list_type", "Input should be a valid list", value))
            return _BAD
        check = self.item.check
        out = [check(item, strict, (*loc, i), errors) for i, item in enumerate(value)]
        return _BAD if any(item is _BAD for item in out) else out


class _DictNode(Node):
    __slots__ = ("keys", "value")

    def __init__(self, keys: Node, value: Node) -> None:
        self.keys = keys
        self.value = value

    def schema(self) -> dict[str, Any]:
        value = self.value.schema()
        return {"type": "object", "additionalProperties": value if value else True}

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        if not (type(value) is dict or (not strict and isinstance(value, Mapping))):
            errors.append((loc, "dict_type", "Input should be a valid dictionary", value))
            return _BAD
        out = {}
        bad = False
        for key, item in value.items():
            new_key = self.keys.check(key, strict, (*loc, key, "[key]"), errors)
            new_item = self.value.check(item, strict, (*loc, key), errors)
            if new_key is _BAD or new_item is _BAD:
                bad = True
            else:
                out[new_key] = new_item
        return _BAD if bad else out


class _LiteralNode(Node):
    __slots__ = ("expected", "kind", "lookup", "message")

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.expected = values
        self.kind = type(values[0])
        self.lookup = {v: v for v in values}  # pydantic matches by hash and equality
        shown = [repr(v) for v in values]
        text = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
        self.message = f"Input should be {text}"

    def schema(self) -> dict[str, Any]:
        values = list(self.expected)
        node: dict[str, Any] = {"const": values[0]} if len(values) == 1 else {"enum": values}
        node["type"] = {str: "string", int: "integer", bool: "boolean"}[self.kind]
        return node

    def check(self, value: Any, strict: bool, loc: tuple[Any, ...], errors: list[Error]) -> Any:
        if self.kind is int and type(value) is int and not -_I64 <= value < _I64:
            errors.append((loc, "int_parsing_size", _INT_SIZE, value))
            return _BAD
        try:
            return self.lookup[value]
        except (KeyError, TypeError):
            errors.append((loc, "literal_error", self.message, value))
            return _BAD


_ANY = _AnyNode()
_SCALARS: dict[Any, Node] = {
    int: _IntNode(),
    float: _FloatNode(),
    str: _StrNode(),
    bool: _BoolNode(),
    _NoneType: _NoneNode(),
    None: _NoneNode(),
    Any: _ANY,
}
_UNIONS = (Union, types.UnionType)


def compile_type(tp: Any) -> Node | None:
    """The `Node` for a simple annotation, or `None` when pydantic must handle it."""
    try:
        node = _SCALARS.get(tp)
    except TypeError:  # unhashable annotation
        return None
    if node is not None:
        return node
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is list or tp is typing.List:  # noqa: UP006
        return _ListNode(_ANY)
    if tp is dict or tp is typing.Dict:  # noqa: UP006
        return _DictNode(_ANY, _ANY)
    if origin is list and len(args) == 1:
        item = compile_type(args[0])
        return None if item is None else _ListNode(item)
    if origin is dict and len(args) == 2:
        if args[0] is not str and args[0] is not Any:
            return None
        value = compile_type(args[1])
        return None if value is None else _DictNode(_SCALARS[args[0]], value)
    if origin in _UNIONS:
        rest = [a for a in args if a is not _NoneType]
        if len(rest) != 1 or len(args) != 2:
            return None
        if rest[0] is Any:
            return None  # pydantic collapses `Any | None` to `{}`
        inner = compile_type(rest[0])
        if inner is None or isinstance(inner, (_NullableNode, _NoneNode)):
            return None
        return _NullableNode(inner)
    if origin is Literal:
        if not args or len({type(a) for a in args}) != 1 or type(args[0]) not in (str, int, bool):
            return None
        return _LiteralNode(args)
    return None


def description_of(tp: Any) -> tuple[Any, str | None] | None:
    """`(base, description)` for `Annotated[base, "a description"]` (FastMCP's spelling),
    `(tp, None)` for other non-`Annotated` types, `None` for any other `Annotated`."""
    if get_origin(tp) is not typing.Annotated:
        return tp, None
    base, *metadata = get_args(tp)
    if len(metadata) == 1 and isinstance(metadata[0], str):
        return base, metadata[0]
    return None


def jsonable_default(value: Any) -> Any:
    """`value` as pydantic would write it as a schema `default` (tuples as lists), or
    `NOT_JSONABLE` for values this module leaves to pydantic."""
    kind = type(value)
    if kind in (str, int, bool) or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else NOT_JSONABLE
    if kind in (list, tuple):
        items = [jsonable_default(v) for v in value]
        return NOT_JSONABLE if any(i is NOT_JSONABLE for i in items) else items
    if kind is dict:
        if not all(type(k) is str for k in value):
            return NOT_JSONABLE
        items = [jsonable_default(v) for v in value.values()]
        if any(i is NOT_JSONABLE for i in items):
            return NOT_JSONABLE
        return dict(zip(value, items, strict=True))
    return NOT_JSONABLE


def sort_schema(value: Any, parent_key: str | None = None) -> Any:
    """pydantic's key order: keys sorted recursively, except the keys of a `properties`
    or a `default` mapping (`GenerateJsonSchema.sort`)."""
    if isinstance(value, dict):
        keys = value.keys() if parent_key in ("properties", "default") else sorted(value)
        return {key: sort_schema(value[key], key) for key in keys}
    if isinstance(value, list):
        return [sort_schema(item, parent_key) for item in value]
    return value


def output_schema(node: Node) -> dict[str, Any]:
    """`tools.tool.output_schema_for` for a simple return annotation: object schemas as
    they are, anything else wrapped as `{"result": ...}`."""
    schema: dict[str, Any] = sort_schema(node.schema())
    if schema.get("type") == "object":
        return schema
    return {
        "type": "object",
        "properties": {"result": schema},
        "required": ["result"],
        "x-fastmcp-wrap-result": True,
    }


class Field(typing.NamedTuple):
    internal: str  # the Struct attribute (`p0`, ...): never clashes with Struct internals
    name: str  # the parameter name, as clients send it
    node: Node
    annotation: Any  # what msgspec validates against
    default: Any  # `MISSING` for required arguments
    description: str | None


_IMMUTABLE = (str, int, float, bool, type(None))


class FastArguments:
    """Validation of one function's arguments (see the module docstring)."""

    __slots__ = ("_as_is", "_by_name", "_fields", "_names", "_struct", "_title")

    def __init__(self, title: str, fields: Sequence[Field]) -> None:
        self._title = title
        self._fields = tuple(fields)
        self._names = tuple(f.name for f in fields)
        self._by_name = {f.name: f for f in fields}
        # Struct attributes named as the parameters let `asdict` build the kwargs (4x
        # faster than zipping); names that could clash with Struct internals are renamed.
        self._as_is = all(_safe_attribute(f.name) for f in fields)
        specs = []
        for f in fields:
            if f.default is MISSING:
                spec = msgspec.field(name=f.name)
            elif isinstance(f.default, _IMMUTABLE):
                spec = msgspec.field(name=f.name, default=f.default)
            else:
                spec = msgspec.field(name=f.name, default_factory=_copier(f.default))
            specs.append((f.name if self._as_is else f.internal, f.annotation, spec))
        self._struct = msgspec.defstruct(
            "Arguments", specs, kw_only=True, forbid_unknown_fields=True
        )

    def schema(self) -> dict[str, Any]:
        """The input schema, as `ParsedCallable`'s pydantic path builds it."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in self._fields:
            prop = f.node.schema()
            if f.default is MISSING:
                required.append(f.name)
            else:
                prop["default"] = jsonable_default(f.default)
            if f.description is not None:
                prop["description"] = f.description
            if not prop.keys() & _TYPED:  # untyped: pydantic's title stays, as FastMCP keeps it
                prop["title"] = f.name.title().replace("_", " ").strip()
            properties[f.name] = prop
        schema: dict[str, Any] = {"properties": properties}
        if required:
            schema["required"] = required
        schema["type"] = "object"
        sorted_schema: dict[str, Any] = sort_schema(schema)
        return sorted_schema

    def validate(self, arguments: Any, strict: bool) -> dict[str, Any]:
        """Keyword arguments for the function; raises `ArgumentErrors`."""
        try:
            parsed = _convert(arguments, self._struct, strict=True)
        except msgspec.ValidationError:
            return self._slow(arguments, strict)
        if self._as_is:
            return _asdict(parsed)
        return {name: value for name, value in zip(self._names, _astuple(parsed), strict=True)}

    def _slow(self, arguments: Any, strict: bool) -> dict[str, Any]:
        errors: list[Error] = []
        if not isinstance(arguments, dict) and (strict or not isinstance(arguments, Mapping)):
            message = f"Input should be a valid dictionary or instance of {self._title}"
            raise ArgumentErrors([((), "model_type", message, arguments)])
        out: dict[str, Any] = {}
        for f in self._fields:
            value = arguments.get(f.name, MISSING)
            if value is MISSING:
                if f.default is MISSING:
                    errors.append(((f.name,), "missing", "Field required", arguments))
                else:
                    default = f.default
                    out[f.name] = (
                        default if isinstance(default, _IMMUTABLE) else copy.deepcopy(default)
                    )
            else:
                out[f.name] = f.node.check(value, strict, (f.name,), errors)
        for key in arguments:
            if key not in self._by_name:
                errors.append(
                    ((key,), "extra_forbidden", "Extra inputs are not permitted", arguments[key])
                )
        if errors:
            raise ArgumentErrors(errors)
        return out


_convert = msgspec.convert
_asdict = msgspec.structs.asdict
_astuple = msgspec.structs.astuple


def _safe_attribute(name: str) -> bool:
    return not name.startswith("_") and not hasattr(msgspec.Struct, name)


MISSING_ARGUMENT = "Missing required argument"
"""What a missing argument reads as (pydantic's `validate_call` words, which FastMCP shows)."""


class ArgumentErrors(Exception):
    """The pydantic-style errors of one call (`errors`: `(loc, type, message, input)`)."""

    def __init__(self, errors: list[Error]) -> None:
        super().__init__(errors)
        self.errors = errors


def format_errors(errors: list[Error]) -> str:
    """The text `callables.format_validation_error` gives for the same pydantic errors."""
    parts: list[str] = []
    for loc, kind, text, value in errors:
        where = ".".join(str(part) for part in loc)
        if kind == "missing" and len(loc) == 1:
            text = MISSING_ARGUMENT  # an argument, not a field of one: pydantic's call words
        if kind not in ("missing", "extra_forbidden") and loc:
            got = repr(value)
            text += f" (got {got if len(got) <= 60 else got[:57] + '...'})"
        parts.append(f"{where!r}: {text}" if where else text)
    return "Invalid arguments: " + "; ".join(parts)


def _copier(value: Any) -> Any:
    return lambda: copy.deepcopy(value)
