"""The conversion of one schema: `SchemaConverter` walks it and builds the types.

Every subschema is visited with its JSON pointer (`#/properties/user`, `#/$defs/Pet`), the
key under which its object class is built once per conversion. A `$ref` to an object still
being built (the root from a property, two definitions naming each other) becomes a
`ForwardRef`, which pydantic evaluates when it builds a validator:

- to the class whose field holds it: its own name (`ForwardRef("Node")`), which pydantic
  always finds, as a class's own name is in the namespace it evaluates the class's fields in;
- to another class: a placeholder name with `__` in it (`ForwardRef("Person__1")`), which
  the end of the conversion replaces with the class itself, once every class is built: in a
  dataclass's field types (nothing left for pydantic to look up), and by rebuilding a
  pydantic model with the placeholders as its namespace. Nothing is registered anywhere
  (no module in `sys.modules`), so a type lives as long as its users hold it.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from collections.abc import Mapping
from typing import Annotated, Any, ForwardRef, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model, model_validator

from trimcp.utilities.json_schema_type.defaults import fill_defaults, has_defaults
from trimcp.utilities.json_schema_type.names import class_hint, python_name, unique_name

__all__ = ["SchemaConverter"]

NoneType = type(None)
# Validates the data with the schema's defaults written in (defaults.py); the `__` keeps
# the name apart from every field name `python_name` makes.
_DEFAULTS_VALIDATOR = "fill__defaults"


class SchemaConverter:
    """Builds the types of one root schema; see the module docstring.

    Args:
        root: the schema passed to `json_schema_to_type`; `$ref`s are resolved in it.
        formats: the string formats that map to a type of their own.
    """

    def __init__(self, root: Mapping[str, Any], *, formats: Mapping[str, Any]) -> None:
        self.root = root
        self.formats = formats
        self.built_classes = 0
        self._classes: dict[str, Any] = {}  # pointer -> class built
        self._building: dict[str, str] = {}  # pointer -> class name, innermost last
        self._forwarded: dict[str, str] = {}  # pointer -> its placeholder name

        self._following: set[str] = set()  # `$ref`s being converted (cycle guard)

    def root_type(self, *, name: str | None) -> Any:
        """The type for the whole schema; `name` names it if it is an object."""
        if not self.root:
            return object
        self._following.add("#")
        result = self.convert(self.root, "#", hint="Root", name=name)
        if self._forwarded:
            self._resolve_placeholders()
        return result

    def _resolve_placeholders(self) -> None:
        """Put each class where a placeholder `ForwardRef` stands for it (module docstring)."""
        classes = {key: self._classes[pointer] for pointer, key in self._forwarded.items()}
        models = []
        for cls in self._classes.values():
            if isinstance(cls, type) and issubclass(cls, BaseModel):
                models.append(cls)
                continue
            for field in dataclasses.fields(cls):
                resolved = _substitute(field.type, classes)
                if resolved is not field.type:
                    field.type = resolved
                    cls.__annotations__[field.name] = resolved
        for model in models:  # after the dataclasses, which their fields may hold
            model.model_rebuild(_types_namespace=classes)  # a no-op for a complete model

    def convert(self, schema: Any, pointer: str, *, hint: str, name: str | None = None) -> Any:
        """The type for `schema`, found at `pointer`; `hint` names an untitled object."""
        if not isinstance(schema, Mapping) or not schema:
            return object
        if isinstance(schema.get("$ref"), str):
            return self._follow(schema["$ref"], hint)
        if isinstance(schema.get("allOf"), list):
            return self.convert(self._merge_all_of(schema), pointer, hint=hint, name=name)
        if "const" in schema:
            return _literal([schema["const"]])
        if isinstance(schema.get("enum"), list):
            return _literal(schema["enum"])
        for keyword in ("anyOf", "oneOf"):
            options = schema.get(keyword)
            if isinstance(options, list):
                return _union(
                    [
                        self.convert(option, f"{pointer}/{keyword}/{i}", hint=hint)
                        for i, option in enumerate(options)
                    ]
                )
        kind = schema.get("type")
        if kind is None and "properties" in schema:
            kind = "object"
        if isinstance(kind, list):
            return _union(
                [self.convert({**schema, "type": k}, pointer, hint=hint, name=name) for k in kind]
            )
        if kind == "object":
            return self._object(schema, pointer, name or _title(schema) or hint)
        if kind == "array":
            return self._array(schema, pointer, hint)
        if kind == "string":
            return self._string(schema)
        if kind == "integer":
            return _number(int, schema)
        if kind == "number":
            return _number(float, schema)
        if kind == "boolean":
            return bool
        if kind == "null":
            return NoneType
        return Any

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """`schema`, or what its `$ref` points to (`{}` if nothing)."""
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < 32:
            target = self._target(schema["$ref"])
            schema = target if target is not None else {}
            seen += 1
        return schema

    # references

    def _follow(self, ref: str, hint: str) -> Any:
        if ref in self._building:
            return self._forward(ref)
        if ref in self._classes:
            return self._classes[ref]
        if ref in self._following:
            return Any  # a cycle with no object on it: a type alias pydantic cannot take
        target = self._target(ref)
        if target is None:
            return object
        self._following.add(ref)
        try:
            last = ref.rsplit("/", 1)[-1]
            return self.convert(target, ref, hint=class_hint(_unescape(last)) if last else hint)
        finally:
            self._following.discard(ref)

    def _target(self, ref: str) -> Mapping[str, Any] | None:
        if ref == "#":
            return self.root
        if not ref.startswith("#/"):
            return None  # only references inside the schema can be followed
        node: Any = self.root
        for token in ref[2:].split("/"):
            if not isinstance(node, Mapping):
                return None
            node = node.get(_unescape(token))
        return node if isinstance(node, Mapping) else None

    def _forward(self, pointer: str) -> ForwardRef:
        if pointer == next(reversed(self._building)):
            return ForwardRef(self._building[pointer])
        key = self._forwarded.setdefault(
            pointer, f"{self._building[pointer]}__{len(self._forwarded) + 1}"
        )
        return ForwardRef(key)

    def _merge_all_of(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """One schema with the keywords of `schema` and of each `allOf` part (properties and
        `required` united, the last part winning on other keywords)."""
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if not isinstance(part, Mapping):
                continue
            for key, value in self.resolve(part).items():
                if key == "properties" and isinstance(value, Mapping):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [*merged.get("required", []), *value]
                elif key != "title" or "title" not in merged:
                    merged[key] = value
        return merged

    # scalars and arrays

    def _string(self, schema: Mapping[str, Any]) -> Any:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in self.formats:
            return self.formats[fmt]
        constraints = {
            option: schema[keyword]
            for option, keyword in (
                ("min_length", "minLength"),
                ("max_length", "maxLength"),
                ("pattern", "pattern"),
            )
            if schema.get(keyword) is not None
        }
        return Annotated[str, StringConstraints(**constraints)] if constraints else str

    def _array(self, schema: Mapping[str, Any], pointer: str, hint: str) -> Any:
        items = schema.get("items")
        positions = schema.get("prefixItems")
        if isinstance(items, list):
            positions, items, keyword = items, schema.get("additionalItems"), "items"
        else:
            keyword = "prefixItems"
        if isinstance(positions, list):
            members = [
                self.convert(s, f"{pointer}/{keyword}/{i}", hint=hint)
                for i, s in enumerate(positions)
            ]
            if isinstance(items, Mapping) and items:
                members.append(self.convert(items, f"{pointer}/items", hint=hint))
            container: Any = list[_union(members)]  # type: ignore[misc]
        else:
            item = self.convert(items, f"{pointer}/items", hint=hint)
            unique = schema.get("uniqueItems") is True and self._hashable(items)
            container = set[item] if unique else list[item]  # type: ignore[valid-type]
        bounds = {
            option: schema[keyword]
            for option, keyword in (("min_length", "minItems"), ("max_length", "maxItems"))
            if schema.get(keyword) is not None
        }
        return Annotated[container, Field(**bounds)] if bounds else container

    def _hashable(self, items: Any) -> bool:
        """Whether a `set` can hold the items (generated classes and containers cannot)."""
        if not isinstance(items, Mapping):
            return True
        items = self.resolve(items)
        kind = items.get("type")
        return kind not in ("object", "array") and "properties" not in items

    # objects

    def _object(self, schema: Mapping[str, Any], pointer: str, name: str) -> Any:
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if not properties or not isinstance(properties, Mapping):
            if isinstance(extra, Mapping) and extra:
                value = self.convert(extra, f"{pointer}/additionalProperties", hint=name)
                return dict[str, value]  # type: ignore[valid-type]
            return dict[str, Any]
        if pointer in self._building:
            return self._forward(pointer)
        if pointer in self._classes:
            return self._classes[pointer]
        class_name = python_name(name)
        self._building[pointer] = class_name
        try:
            if extra is True:
                cls = self._model(schema, pointer, class_name, properties)
            else:
                cls = self._dataclass(schema, pointer, class_name, properties)
        finally:
            del self._building[pointer]
        self._classes[pointer] = cls
        self.built_classes += 1
        return cls

    def _fields(
        self, schema: Mapping[str, Any], pointer: str, properties: Mapping[str, Any], *, model: bool
    ) -> list[tuple[str, str, Any, dict[str, Any]]]:
        """`(attribute, property, type, field options)` for each property.

        The options are `default` or `default_factory` (none for a required property), `alias`,
        and the property's `title` and `description`.
        """
        required = schema.get("required")
        required = set(required) if isinstance(required, list) else set()
        taken: set[str] = set()
        fields = []
        for prop, sub in properties.items():
            attribute = python_name(prop)
            if model and (attribute.startswith("_") or hasattr(BaseModel, attribute)):
                attribute = python_name(
                    f"field_{attribute}" if attribute.startswith("_") else f"{attribute}_"
                )
            attribute = unique_name(attribute, taken)
            sub = sub if isinstance(sub, Mapping) else {}
            hint = class_hint(attribute)
            field_type = self.convert(sub, f"{pointer}/properties/{_escape(prop)}", hint=hint)
            options: dict[str, Any] = {"alias": prop}
            options.update(
                {k: sub[k] for k in ("title", "description") if isinstance(sub.get(k), str)}
            )
            if "default" in sub:
                default = sub["default"]
                if isinstance(default, (dict, list, set)):
                    options["default_factory"] = functools.partial(copy.deepcopy, default)
                else:
                    options["default"] = default
            elif prop not in required:
                field_type = Optional[field_type]  # noqa: UP045 (a `ForwardRef` has no `|`)
                options["default"] = None
            fields.append((attribute, prop, field_type, options))
        return fields

    def _dataclass(
        self, schema: Mapping[str, Any], pointer: str, name: str, properties: Mapping[str, Any]
    ) -> Any:
        specs = []
        for attribute, _prop, field_type, options in self._fields(
            schema, pointer, properties, model=False
        ):
            default = {k: options.pop(k) for k in ("default", "default_factory") if k in options}
            # pydantic reads the metadata as the field's `Field(...)` options (the alias).
            specs.append((attribute, field_type, dataclasses.field(**default, metadata=options)))
        cls = dataclasses.make_dataclass(name, specs, kw_only=True)
        if isinstance(schema.get("description"), str):
            cls.__doc__ = schema["description"]
        if has_defaults(schema):
            setattr(cls, _DEFAULTS_VALIDATOR, self._defaults_validator(schema))
        return cls

    def _model(
        self, schema: Mapping[str, Any], pointer: str, name: str, properties: Mapping[str, Any]
    ) -> Any:
        definitions: dict[str, Any] = {
            attribute: (field_type, Field(**options))
            for attribute, _prop, field_type, options in self._fields(
                schema, pointer, properties, model=True
            )
        }
        validators = {}
        if has_defaults(schema):
            validators[_DEFAULTS_VALIDATOR] = self._defaults_validator(schema)
        model: Any = create_model(
            name,
            __config__=ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=()),
            __doc__=schema.get("description")
            if isinstance(schema.get("description"), str)
            else None,
            __validators__=validators,
            **definitions,
        )
        return model

    def _defaults_validator(self, schema: Mapping[str, Any]) -> Any:
        resolve = self.resolve

        def fill(cls: type, data: Any) -> Any:
            if isinstance(data, Mapping):
                return fill_defaults(data, schema, resolve=resolve)
            return data

        return model_validator(mode="before")(classmethod(fill))  # type: ignore[arg-type]


def _title(schema: Mapping[str, Any]) -> str | None:
    title = schema.get("title")
    return title if isinstance(title, str) and title else None


def _literal(values: list[Any]) -> Any:
    return Literal[tuple(values)]  # pydantic compares lists and objects by value too


def _union(members: list[Any]) -> Any:
    nullable = NoneType in members
    rest = [m for m in members if m is not NoneType]
    if not rest:
        return NoneType
    core = rest[0] if len(rest) == 1 else Union[tuple(rest)]  # noqa: UP007
    return Optional[core] if nullable else core  # noqa: UP045


def _number(base: type, schema: Mapping[str, Any]) -> Any:
    bounds: dict[str, Any] = {}
    for option, keyword in (("ge", "minimum"), ("le", "maximum"), ("multiple_of", "multipleOf")):
        if isinstance(schema.get(keyword), int | float):
            bounds[option] = schema[keyword]
    for option, inclusive, keyword in (
        ("gt", "ge", "exclusiveMinimum"),
        ("lt", "le", "exclusiveMaximum"),
    ):
        value = schema.get(keyword)
        if value is True and inclusive in bounds:  # draft 4: a flag on `minimum`/`maximum`
            bounds[option] = bounds.pop(inclusive)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            bounds[option] = value
    return Annotated[base, Field(**bounds)] if bounds else base


def _substitute(hint: Any, classes: Mapping[str, Any]) -> Any:
    """`hint` with each `ForwardRef` named in `classes` replaced by its class (`hint` itself
    if none is in it), through the forms the converter builds: `Optional`, `Union`,
    `Annotated`, `list`, `set`, `dict`."""
    if isinstance(hint, ForwardRef):
        return classes.get(hint.__forward_arg__, hint)
    origin = get_origin(hint)
    if origin is None or origin is Literal:
        return hint
    args = get_args(hint)
    if origin is Annotated:
        inner = _substitute(args[0], classes)
        return hint if inner is args[0] else Annotated[(inner, *args[1:])]
    new_args = tuple(_substitute(arg, classes) for arg in args)
    if all(new is old for new, old in zip(new_args, args, strict=True)):
        return hint
    if origin is Union:
        return Union[new_args]  # noqa: UP007
    return origin[new_args]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")
