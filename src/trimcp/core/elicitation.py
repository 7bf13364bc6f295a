"""Elicitation response types: the `requestedSchema` sent to the client and the parsing of its answer.

Pure functions, no I/O. `Context.elicit` calls `elicitation_schema(response_type)` once per type
(cached), sends `spec.requested_schema` in `elicitation/create` (or as an MRTR input request), and
turns the client's `ElicitResult` into an `ElicitationResult` with `parse_elicit_result(result, spec)`.

Theory of operation
-------------------
The 2025-11-25 schema (`ElicitRequestFormParams.requestedSchema`) allows only a flat object whose
properties are `PrimitiveSchemaDefinition`s: string (`minLength`, `maxLength`, `format` in
email/uri/date/date-time), number/integer (`minimum`, `maximum`), boolean, and the string enums
of SEP-1330 (untitled `enum`, titled `oneOf: [{const, title}]`, legacy `enumNames`, multi-select
arrays with `items.enum` or `items.anyOf`), each with an optional `title`, `description` and
`default` (SEP-1034).

Response types, as FastMCP 2.x accepts them:

| `response_type`                          | `requested_schema` properties         | `data`            |
|------------------------------------------|---------------------------------------|-------------------|
| `None`                                   | none (approval only)                  | `None`            |
| `str` / `int` / `float` / `bool`         | `value: string/integer/number/boolean`| the scalar        |
| `["a", "b"]`, `Literal["a", "b"]`, `Enum`| `value: {type: string, enum}`         | str / Enum member |
| `{"a": "Title"}` or `{"a": {"title": ..}}`| `value: {type: string, oneOf}`       | str               |
| `[["a", "b"]]`, `list[Literal]`, `list[Enum]` | `value: {type: array, items.enum}` | list              |
| `[{"a": {"title": ...}}]`                | `value: {type: array, items.anyOf}`   | list[str]         |
| dataclass, TypedDict, pydantic model     | one property per field                | an instance/dict  |

Non-object types are *wrapped* in a required `value` property and unwrapped on the way back.
Titles are FastMCP 2.13's, which clients use to name and label the form: an object type's
schema carries its class name (`"title": "Person"`, and its docstring as `description`), a
wrapped one `"title": "ScalarElicitationType"`; each property carries pydantic's title (`"Age"`
from `age`, an explicit `Field(title=...)`, an Enum's class name) or `"Value"`. An Enum whose
member names read differently from their values adds `enumNames` (`IN_PROGRESS` -> "In
Progress"); the client names its response type after these titles.

Object types go through pydantic's JSON schema, then every property is flattened to one
primitive schema: `$ref`s to enums inlined, `X | None` made non-required, single `Literal`s
turned into one-value enums, keys the spec does not know dropped (pydantic still enforces them
when parsing). Anything the spec cannot express (nested objects, arrays of objects
or of free values, unions other than `int | float` and of literals, non-string enums) raises
`TypeError` naming the field.

Field-level titles for options come through `json_schema_extra`: `{"enumNames": [...]}` on a
`Literal` field (legacy), `{"oneOf": [{"const", "title"}, ...]}` on a `str`/`Literal` field
(titled single-select), `{"items": {"anyOf": [...]}}` on a `list[str]`/`list[Literal]` field
(titled multi-select). Values of enum properties are checked against the offered options before
pydantic sees them, so titled options declared on a plain `str` are enforced too.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from trimcp.core.elicitation_results import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationResult,
    parse_elicit_result,
    url_elicitation_params,
)
from trimcp.exceptions import ValidationError

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = [
    "AcceptedElicitation",
    "CancelledElicitation",
    "DeclinedElicitation",
    "ElicitationResult",
    "ElicitationSpec",
    "elicitation_schema",
    "parse_elicit_result",
    "url_elicitation_params",
]

T = TypeVar("T")

_STRING_FORMATS = frozenset({"email", "uri", "date", "date-time"})
# FastMCP 2.13 wraps a scalar in `ScalarElicitationType(value: T)`; clients see its name
_WRAPPER_TITLE = "ScalarElicitationType"
_VALUE_TITLE = "Value"
_FLAT_RULE = (
    "elicitation schemas allow only top-level primitive properties "
    "(string, number, integer, boolean, or string enums)"
)


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True, slots=True, eq=False)
class ElicitationSpec(Generic[T]):
    """What to send for one response type, and how to read the answer back.

    Attributes:
        requested_schema: the `requestedSchema` of `elicitation/create`. Shared by every caller
            of the cached spec: treat it as read-only.
        wrapped: `True` when the response type was wrapped in a single `value` property.
    """

    requested_schema: dict[str, Any]
    wrapped: bool
    _validate: Callable[[Any], Any] | None = field(repr=False)
    # properties whose absence means `None` (`X | None` fields)
    _nullable: frozenset[str] = field(default=frozenset(), repr=False)
    # property -> (allowed values, is multi-select)
    _choices: Mapping[str, tuple[frozenset[str], bool]] = field(default_factory=dict, repr=False)

    def parse(self, content: Mapping[str, Any] | None) -> T:
        """Validate the client's `content` into the response type.

        Raises:
            ValidationError: the content does not match the requested schema.
        """
        content = {} if content is None else content
        if not isinstance(content, Mapping):
            raise ValidationError(
                f"Elicitation response content must be an object, got {type(content).__name__}"
            )
        if self._validate is None:  # approval only
            if content:
                raise ValidationError(
                    f"Elicitation expected an empty response, but received: {dict(content)!r}"
                )
            return None  # type: ignore[return-value]
        self._check_choices(content)
        if self.wrapped:
            if "value" in content:
                return self._run(content["value"], prefix="value")
            if "value" in self._nullable:
                return None  # type: ignore[return-value]
            prop = self.requested_schema["properties"]["value"]
            if "default" in prop:
                return self._run(prop["default"], prefix="value")
            raise _invalid("value: Field required")
        data = dict(content)
        for name in self._nullable:
            data.setdefault(name, None)
        return self._run(data, prefix=None)

    def _check_choices(self, content: Mapping[str, Any]) -> None:
        for name, (allowed, multi) in self._choices.items():
            if name not in content or content[name] is None:
                continue
            value = content[name]
            if multi:
                if not isinstance(value, list):
                    raise _invalid(f"{name}: expected a list of options, got {value!r}")
                bad = [v for v in value if not isinstance(v, str) or v not in allowed]
                if bad:
                    raise _invalid(f"{name}: {bad!r} not among the options {sorted(allowed)!r}")
            elif not isinstance(value, str) or value not in allowed:
                raise _invalid(f"{name}: {value!r} is not one of the options {sorted(allowed)!r}")

    def _run(self, value: Any, *, prefix: str | None) -> T:
        from pydantic import ValidationError as PydanticValidationError

        assert self._validate is not None
        try:
            return self._validate(value)  # type: ignore[no-any-return]
        except PydanticValidationError as exc:
            problems = []
            for err in exc.errors(include_url=False):
                loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
                problems.append(f"{loc or 'content'}: {err['msg']}")
            raise _invalid("; ".join(problems)) from None


def _invalid(detail: str) -> ValidationError:
    return ValidationError(f"Elicitation response does not match the requested schema: {detail}")


def elicitation_schema(response_type: Any) -> ElicitationSpec[Any]:
    """The schema to request and the parser for `response_type` (see the module table).

    Built once per hashable response type (the list/dict shorthands are keyed by their content).

    Raises:
        TypeError: the type cannot be expressed as a flat elicitation schema; the message names
            the offending field.
    """
    key = _cache_key(response_type)
    try:
        hash(key)
    except TypeError:
        return _build(key)
    return _build_cached(key)


# --------------------------------------------------------------------------- building

# Cache keys: ("type", tp) for types; the shorthands become hashable tuples.
_Key = tuple[Any, ...]


def _cache_key(response_type: Any) -> _Key:
    if response_type is None or response_type is type(None):
        return ("none",)
    if isinstance(response_type, dict):
        return ("titled", _titled_options(response_type))
    if isinstance(response_type, list):
        lst = response_type
        if len(lst) == 1 and isinstance(lst[0], list):
            return ("multi", _string_options(lst[0]))
        if len(lst) == 1 and isinstance(lst[0], dict):
            return ("titled_multi", _titled_options(lst[0]))
        return ("single", _string_options(lst))
    return ("type", response_type)


def _string_options(values: list[Any]) -> tuple[str, ...]:
    if not values or not all(isinstance(v, str) for v in values):
        raise TypeError(
            "A list response_type must be a non-empty list of strings (single-select), "
            f"[[...strings]] (multi-select) or [{{value: title}}] (titled multi-select); got {values!r}"
        )
    return tuple(values)


def _titled_options(options: dict[Any, Any]) -> tuple[tuple[str, str], ...]:
    if not options:
        raise TypeError("A dict response_type ({value: title}) cannot be empty")
    pairs = []
    for value, meta in options.items():
        title = meta.get("title", value) if isinstance(meta, dict) else meta
        if not isinstance(value, str) or not isinstance(title, str):
            raise TypeError(
                "A dict response_type maps string values to a title string or {'title': ...}; "
                f"got {value!r}: {meta!r}"
            )
        pairs.append((value, title))
    return tuple(pairs)


@lru_cache(maxsize=512)
def _build_cached(key: _Key) -> ElicitationSpec[Any]:
    return _build(key)


def _build(key: _Key) -> ElicitationSpec[Any]:
    kind = key[0]
    if kind == "none":
        return ElicitationSpec({"type": "object", "properties": {}}, wrapped=False, _validate=None)
    if kind == "type":
        return _build_for_type(key[1])
    # The shorthands: schema written directly, values validated by a Literal.
    values = tuple(v for v, _ in key[1]) if kind in ("titled", "titled_multi") else key[1]
    literal = Literal[values]  # type: ignore[valid-type]
    if kind == "single":
        prop: dict[str, Any] = {"type": "string", "enum": list(values)}
        target: Any = literal
    elif kind == "titled":
        prop = {"type": "string", "oneOf": [{"const": v, "title": t} for v, t in key[1]]}
        target = literal
    elif kind == "multi":
        prop = {"type": "array", "items": {"type": "string", "enum": list(values)}}
        target = list[literal]
    else:
        prop = {"type": "array", "items": {"anyOf": [{"const": v, "title": t} for v, t in key[1]]}}
        target = list[literal]
    prop["title"] = _VALUE_TITLE
    return ElicitationSpec(
        {
            "type": "object",
            "title": _WRAPPER_TITLE,
            "properties": {"value": prop},
            "required": ["value"],
        },
        wrapped=True,
        _validate=_adapter(target).validate_python,
        _choices={"value": (frozenset(values), kind.endswith("multi"))},
    )


def _build_for_type(tp: Any) -> ElicitationSpec[Any]:
    from pydantic import PydanticSchemaGenerationError, PydanticUserError

    structured = _is_structured(tp)
    try:
        adapter = _adapter(tp)
        schema = adapter.json_schema(schema_generator=_schema_generator())
    except PydanticUserError as exc:
        if structured and exc.code == "typed-dict-version":
            adapter = _adapter(_portable_typeddict(tp))
            schema = adapter.json_schema(schema_generator=_schema_generator())
        else:
            raise TypeError(f"Unsupported elicitation response_type {_name(tp)}: {exc}") from None
    except PydanticSchemaGenerationError as exc:
        raise TypeError(f"Unsupported elicitation response_type {_name(tp)}: {exc}") from None
    defs = schema.pop("$defs", {})

    if not structured:
        try:
            prop, nullable, choices = _flatten_property("it", schema, defs)
        except TypeError as exc:
            raise TypeError(f"Unsupported elicitation response_type {_name(tp)}: {exc}") from None
        prop.setdefault("title", _VALUE_TITLE)  # an Enum keeps its class name, as in FastMCP
        requested: dict[str, Any] = {
            "type": "object",
            "title": _WRAPPER_TITLE,
            "properties": {"value": prop},
        }
        if not nullable and "default" not in prop:
            requested["required"] = ["value"]
        return ElicitationSpec(
            requested,
            wrapped=True,
            _validate=adapter.validate_python,
            _nullable=frozenset({"value"}) if nullable else frozenset(),
            _choices={"value": choices} if choices else {},
        )

    schema = _resolve(schema, defs)
    if schema.get("type") != "object":
        raise TypeError(f"Unsupported elicitation response_type {_name(tp)}: not an object schema")
    properties: dict[str, Any] = {}
    nullables: set[str] = set()
    all_choices: dict[str, tuple[frozenset[str], bool]] = {}
    for name, sub in schema.get("properties", {}).items():
        try:
            prop, nullable, choices = _flatten_property(f"field {name!r}", sub, defs)
        except TypeError as exc:
            raise TypeError(f"Elicitation response_type {_name(tp)}: {exc}") from None
        properties[name] = prop
        if nullable:
            nullables.add(name)
        if choices:
            all_choices[name] = choices
    required = [n for n in schema.get("required", ()) if n not in nullables]
    requested = {"type": "object", "properties": properties}
    for key in ("title", "description"):  # the class name and docstring, as FastMCP sends them
        if key in schema:
            requested[key] = schema[key]
    if required:
        requested["required"] = required
    return ElicitationSpec(
        requested,
        wrapped=False,
        _validate=adapter.validate_python,
        _nullable=frozenset(nullables),
        _choices=all_choices,
    )


def _flatten_property(
    label: str, schema: dict[str, Any], defs: dict[str, Any]
) -> tuple[dict[str, Any], bool, tuple[frozenset[str], bool] | None]:
    """One pydantic property schema -> (primitive schema, nullable, enum options).

    `label` names the culprit in error messages ("field 'x'" or "it").
    """
    schema = _resolve(schema, defs)
    schema, nullable = _strip_null(label, schema, defs)
    schema = _merged_union(schema, defs)
    meta: dict[str, Any] = {k: schema[k] for k in ("title", "description") if k in schema}
    default = schema.get("default")
    kind = schema.get("type")
    values: list[str] | None

    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        raise TypeError(f"{label} is a nested object; {_FLAT_RULE}")

    if kind == "array":
        items = _resolve(schema.get("items", {}), defs)
        if items.get("type") == "object" or "properties" in items:
            raise TypeError(f"{label} is an array of objects; {_FLAT_RULE}")
        out: dict[str, Any] = {"type": "array", **meta}
        titled = _titled_consts(items)
        if titled is not None:
            out["items"] = {"anyOf": titled}
            values = [o["const"] for o in titled]
        else:
            values = _enum_values(label, items)
            if values is None:
                raise TypeError(
                    f"{label} is an array of free values; arrays are only allowed as "
                    f"multi-select string enums (list[Literal[...]] or list[SomeEnum]); {_FLAT_RULE}"
                )
            out["items"] = {"type": "string", "enum": values}
        for k in ("minItems", "maxItems"):
            if k in schema:
                out[k] = schema[k]
        if isinstance(default, list):
            out["default"] = default
        return out, nullable, (frozenset(values), True)

    titled = _titled_consts(schema)
    if titled is not None:
        out = {"type": "string", **meta, "oneOf": titled}
        if isinstance(default, str):
            out["default"] = default
        return out, nullable, (frozenset(o["const"] for o in titled), False)

    values = _enum_values(label, schema)
    if values is not None:
        out = {"type": "string", **meta, "enum": values}
        names = schema.get("enumNames")
        if isinstance(names, list) and len(names) == len(values):
            out["enumNames"] = names
        if isinstance(default, str):
            out["default"] = default
        return out, nullable, (frozenset(values), False)

    if "anyOf" in schema or "oneOf" in schema or isinstance(kind, list):
        raise TypeError(f"{label} is a union of several types; {_FLAT_RULE}")
    if kind == "string":
        out = {"type": "string", **meta}
        for k in ("minLength", "maxLength"):
            if k in schema:
                out[k] = schema[k]
        if schema.get("format") in _STRING_FORMATS:
            out["format"] = schema["format"]
        if isinstance(default, str):
            out["default"] = default
        return out, nullable, None
    if kind in ("integer", "number"):
        out = {"type": kind, **meta}
        for k in ("minimum", "maximum"):
            if k in schema:
                out[k] = schema[k]
        if isinstance(default, int | float) and not isinstance(default, bool):
            out["default"] = default
        return out, nullable, None
    if kind == "boolean":
        out = {"type": "boolean", **meta}
        if isinstance(default, bool):
            out["default"] = default
        return out, nullable, None
    raise TypeError(f"{label} has no primitive JSON type ({schema!r}); {_FLAT_RULE}")


def _merged_union(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A union one primitive schema still expresses, as that schema: `int | float` is a
    number, `Literal["a"] | Literal["b"]` (or enums) one string enum. Titled options and any
    other union are left as they are."""
    members = schema.get("anyOf", schema.get("oneOf"))
    if not isinstance(members, list) or not members or _titled_consts(schema) is not None:
        return schema
    members = [_resolve(m, defs) for m in members]
    outer = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
    if all(m.keys() == {"type"} and m["type"] in ("integer", "number") for m in members):
        return {**outer, "type": "number"}
    if all("const" in m or "enum" in m for m in members):
        return {**outer, "enum": [v for m in members for v in m.get("enum", [m.get("const")])]}
    return schema


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline a `$ref`. The target's title/description (an Enum's class name and docstring)
    stay unless the referring schema has its own (a `Field(title=...)`), as FastMCP inlines
    them."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    target = defs.get(ref.rsplit("/", 1)[-1], {})
    merged = dict(_resolve(target, defs))
    merged.update((k, v) for k, v in schema.items() if k != "$ref")
    return merged


def _strip_null(
    label: str, schema: dict[str, Any], defs: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """`X | None` -> (X's schema with the outer title/description/default, True)."""
    kind = schema.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [t for t in kind if t != "null"]
        return {**schema, "type": rest[0] if len(rest) == 1 else rest}, True
    for union_key in ("anyOf", "oneOf"):
        members = schema.get(union_key)
        if not isinstance(members, list) or {"type": "null"} not in members:
            continue
        others = [_resolve(m, defs) for m in members if m != {"type": "null"}]
        if len(others) != 1:
            raise TypeError(f"{label} is a union of several types; {_FLAT_RULE}")
        outer = {k: v for k, v in schema.items() if k != union_key}
        return {**others[0], **outer}, True
    return schema, False


def _enum_values(label: str, schema: dict[str, Any]) -> list[str] | None:
    if "enum" in schema:
        values = list(schema["enum"])
    elif "const" in schema:
        values = [schema["const"]]
    else:
        return None
    if not values or not all(isinstance(v, str) for v in values):
        raise TypeError(
            f"{label} offers non-string options {values!r}; elicitation enums must be "
            "strings (use Literal of str or an Enum with str values)"
        )
    return values


def _titled_consts(schema: dict[str, Any]) -> list[dict[str, str]] | None:
    """The `[{const, title}]` options of a titled enum (`oneOf` or `anyOf`), if that is what it is."""
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if (
            isinstance(options, list)
            and options
            and all(
                isinstance(o, dict) and isinstance(o.get("const"), str) and "title" in o
                for o in options
            )
        ):
            return [{"const": o["const"], "title": str(o["title"])} for o in options]
    return None


# --------------------------------------------------------------------------- type helpers


def _is_structured(tp: Any) -> bool:
    import typing_extensions
    from pydantic import BaseModel

    if isinstance(tp, type):
        if issubclass(tp, BaseModel) or dataclasses.is_dataclass(tp):
            return True
        if typing_extensions.is_typeddict(tp):
            return True
    return False


def _portable_typeddict(tp: Any) -> Any:
    """A `typing.TypedDict` rebuilt as `typing_extensions.TypedDict` (pydantic needs it < 3.12)."""
    import typing_extensions

    module = sys.modules.get(tp.__module__)
    hints = typing.get_type_hints(
        tp, globalns=vars(module) if module else None, include_extras=True
    )
    fields: dict[str, Any] = {}
    for key, hint in hints.items():
        # with postponed annotations, 3.11 cannot see `NotRequired` when it builds
        # `__required_keys__`, so the qualifier on the resolved hint decides
        required = key in tp.__required_keys__
        while (origin := typing.get_origin(hint)) in (
            typing_extensions.Required,
            typing_extensions.NotRequired,
        ):
            required = origin is typing_extensions.Required
            hint = typing.get_args(hint)[0]
        fields[key] = hint if required else typing_extensions.NotRequired[hint]
    return typing_extensions.TypedDict(tp.__name__, fields)  # type: ignore[operator]


def _adapter(tp: Any) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(tp)


@lru_cache(maxsize=1)
def _schema_generator() -> type:
    """pydantic's schema generator, with `enumNames` on an Enum whose member names, in title
    case, read differently from their values (FastMCP 2.13's rule; its `_display_name_`
    member attribute is not read: a private name)."""
    from pydantic.json_schema import GenerateJsonSchema

    class _ElicitationJsonSchema(GenerateJsonSchema):
        def enum_schema(self, schema: Any) -> Any:
            result = super().enum_schema(schema)
            names = _enum_display_names(schema.get("members", ()))
            if names is not None:
                result["enumNames"] = names
            return result

    return _ElicitationJsonSchema


def _enum_display_names(members: Any) -> list[str] | None:
    names = [member.name.replace("_", " ").title() for member in members]
    if any(name != member.value for name, member in zip(names, members, strict=True)):
        return names
    return None


def _name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__ if not issubclass(tp, enum.Enum) else f"enum {tp.__qualname__}"
    return repr(tp)
