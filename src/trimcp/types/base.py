"""The base of every MCP payload struct: camelCase names as on the wire (and as in `mcp.types`),
absent fields omitted, `meta` sent as `_meta`.

`Payload` also speaks the part of pydantic's model API that code written against the official
SDK's `mcp.types` uses: `model_dump`, `model_dump_json`, `model_validate`, `model_copy`, and
equality with an `mcp.types` model of the same name (see `trimcp.types.interop`). None of it is
on the wire path: encoding and decoding stay msgspec's."""

from __future__ import annotations

import copy
import operator
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, TypeVar

import msgspec

__all__ = ["Annotations", "Icon", "Implementation", "Meta", "Payload", "keep_annotation_extras"]

Meta = dict[str, Any]
P = TypeVar("P", bound="Payload")

# Per class: (attribute, wire name, default, default factory) for each field.
_FieldRow = tuple[str, str, Any, Any]
_field_rows: dict[type[Any], tuple[_FieldRow, ...]] = {}


def _rows(cls: type[msgspec.Struct]) -> tuple[_FieldRow, ...]:
    rows = _field_rows.get(cls)
    if rows is None:
        tag_field = cls.__struct_config__.tag_field
        rows = tuple(
            (
                f.name,
                f.name if f.name == tag_field else f.encode_name,
                f.default,
                f.default_factory,
            )
            for f in msgspec.structs.fields(cls)
        )
        _field_rows[cls] = rows
    return rows


def _is_default(value: Any, default: Any, factory: Any) -> bool:
    if default is not msgspec.NODEFAULT:
        return bool(value == default)
    if factory is not msgspec.NODEFAULT:
        return bool(value == factory())
    return False


class _DumpOptions(msgspec.Struct, frozen=True):
    json: bool
    by_alias: bool
    exclude_none: bool
    exclude_defaults: bool


def _dump_value(value: Any, options: _DumpOptions) -> Any:
    if isinstance(value, Payload):
        return value._dump(options)
    if isinstance(value, list | tuple):
        return [_dump_value(item, options) for item in value]
    if isinstance(value, dict):
        return {key: _dump_value(item, options) for key, item in value.items()}
    if isinstance(value, str | int | float | bool | None):
        return value
    dump = getattr(value, "model_dump", None)
    if dump is not None and not isinstance(value, type):  # an `mcp.types` model held as is
        return dump(
            mode="json" if options.json else "python",
            by_alias=options.by_alias,
            exclude_none=options.exclude_none,
            exclude_defaults=options.exclude_defaults,
        )
    return msgspec.to_builtins(value) if options.json else value


class Payload(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Base class: absent (None) fields are not sent.

    `__twin__` is the class's `mcp.types` counterpart once `trimcp.types.interop` has
    registered it (the class itself until then), and `__class__` reads it: that is how
    `isinstance(payload, mcp.types.TextContent)` holds, for every pydantic version (since
    2.12, pydantic's `isinstance` looks at `__class__` and ignores `ABCMeta.register`). The
    getter is C code (`attrgetter`), as `isinstance` reads `__class__` whenever it fails."""

    __twin__: ClassVar[type[Any]]
    __class__ = property(operator.attrgetter("__twin__"))

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__(**options)
        cls.__twin__ = cls

    def _dump(
        self,
        options: _DumpOptions,
        include: Collection[str] | None = None,
        exclude: Collection[str] | None = None,
    ) -> dict[str, Any]:
        cls = type(self)
        tag_field = cls.__struct_config__.tag_field
        out: dict[str, Any] = {}
        if tag_field is not None and tag_field not in cls.__struct_fields__:
            out[tag_field] = cls.__struct_config__.tag
        for name, wire_name, default, factory in _rows(cls):
            if (include is not None and name not in include) or (
                exclude is not None and name in exclude
            ):
                continue
            value = getattr(self, name)
            if value is None and options.exclude_none:
                continue
            if (
                options.exclude_defaults
                and name != tag_field
                and _is_default(value, default, factory)
            ):
                continue
            out[wire_name if options.by_alias else name] = _dump_value(value, options)
        return out

    def model_dump(
        self,
        *,
        mode: str = "python",
        include: Collection[str] | None = None,
        exclude: Collection[str] | None = None,
        by_alias: bool | None = None,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        **_: Any,
    ) -> dict[str, Any]:
        """The payload as a dict, as pydantic's `model_dump` gives an `mcp.types` model.

        Field names are the attribute names (`meta`) unless `by_alias` (`_meta`, the wire's);
        `exclude_unset` leaves out fields at their default (msgspec does not record which
        fields were set; the content `type` is always kept); `include`/`exclude` name
        top-level fields. Other pydantic options are accepted and ignored.

        Once `mcp.types` is registered (see `trimcp.types.interop`), the Python-mode dump by
        attribute names is the one of the equal `mcp.types` model, exactly as pydantic gives
        it (`AnyUrl` values with the SDK 1.x, snake_case names with 2.x). A dump `by_alias`
        stays trimcp's: plain JSON values, as code that sends the result expects."""
        if mode != "json" and not by_alias and type(self).__twin__ is not type(self):
            model = _twin_or_none(self)
            if model is not None:
                dumped: dict[str, Any] = model.model_dump(
                    mode=mode,
                    include=include,
                    exclude=exclude,
                    by_alias=by_alias,
                    exclude_unset=exclude_unset,
                    exclude_defaults=exclude_defaults,
                    exclude_none=exclude_none,
                )
                return dumped
        options = _DumpOptions(
            json=mode == "json",
            by_alias=bool(by_alias),
            exclude_none=exclude_none,
            exclude_defaults=exclude_defaults or exclude_unset,
        )
        return self._dump(options, include, exclude)

    def model_dump_json(
        self,
        *,
        indent: int | None = None,
        include: Collection[str] | None = None,
        exclude: Collection[str] | None = None,
        by_alias: bool | None = None,
        exclude_unset: bool = False,
        exclude_defaults: bool = False,
        exclude_none: bool = False,
        **_: Any,
    ) -> str:
        """`model_dump(mode="json", ...)` as a JSON string."""
        data = msgspec.json.encode(
            self.model_dump(
                mode="json",
                include=include,
                exclude=exclude,
                by_alias=by_alias,
                exclude_unset=exclude_unset,
                exclude_defaults=exclude_defaults,
                exclude_none=exclude_none,
            )
        )
        if indent is not None:
            data = msgspec.json.format(data, indent=indent)
        return data.decode()

    @classmethod
    def model_validate(cls: type[P], obj: Any, **_: Any) -> P:
        """`obj` (a dict in wire names, an instance, or an `mcp.types` model) as this type.

        Raises `msgspec.ValidationError` when it does not fit."""
        if isinstance(obj, cls):
            return obj
        from trimcp.types.codec import convert

        return convert(obj, cls)

    @classmethod
    def model_validate_json(cls: type[P], data: str | bytes, **_: Any) -> P:
        from trimcp.types.codec import decode

        return decode(data.encode() if isinstance(data, str) else data, cls)

    def model_copy(self: P, *, update: dict[str, Any] | None = None, deep: bool = False) -> P:
        new = copy.deepcopy(self) if deep else self
        return msgspec.structs.replace(new, **(update or {}))

    # Equality is msgspec's own (C, some 25 ns), which answers `NotImplemented` for anything
    # but a struct of the same type; Python then asks the other side. Once `mcp.types` is
    # registered, pydantic counts a payload as a `BaseModel` (an instance of its `mcp.types`
    # twin) and reads these attributes: through them `BaseModel.__eq__` answers both
    # `mcp_model == payload` and `payload == mcp_model` (the reflected call), and pydantic
    # serializes a payload (`pydantic_core.to_json`, or inside an `mcp.types` model) as the
    # equal model. Before that, those that need the model raise `AttributeError`, as on any
    # struct (so `hasattr(payload, "__dict__")` stays false).

    @property
    def __pydantic_generic_metadata__(self) -> dict[str, Any]:
        return {"origin": type(self).__twin__, "args": (), "parameters": ()}

    @property
    def __pydantic_extra__(self) -> dict[str, Any] | None:
        extra: dict[str, Any] | None = _twin_of(self).__pydantic_extra__
        return extra

    @property
    def __pydantic_serializer__(self) -> Any:
        twin = type(self).__twin__
        if twin is type(self):
            raise AttributeError("__pydantic_serializer__")
        return twin.__pydantic_serializer__

    @property
    def __pydantic_fields_set__(self) -> set[str]:
        fields_set: set[str] = _twin_of(self).__pydantic_fields_set__
        return fields_set

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        fields: dict[str, Any] = _twin_of(self).__dict__
        return fields


Payload.__twin__ = Payload


def _twin_or_none(payload: Payload) -> Any:
    """The `mcp.types` model equal to `payload`, or None if it has none, holds a value
    that is not JSON (`meta={"k": object()}`), or does not validate there."""
    twin = type(payload).__twin__
    if twin is type(payload):
        return None
    try:
        data = payload.model_dump(mode="json", by_alias=True, exclude_none=True)
        return twin.model_validate(data)
    except (TypeError, ValueError):  # msgspec cannot encode; pydantic's ValidationError
        return None


def _twin_of(payload: Payload) -> Any:
    """The `mcp.types` model equal to `payload`, for pydantic's comparisons: an empty one if
    none validates (then nothing equals it)."""
    model = _twin_or_none(payload)
    if model is not None:
        return model
    twin = type(payload).__twin__
    if twin is type(payload):
        raise AttributeError(f"{type(payload).__name__!r} has no `mcp.types` counterpart")
    return twin.model_construct()


class Icon(Payload, kw_only=True):
    src: str
    mimeType: str | None = None
    sizes: list[str] | None = None
    theme: str | None = None


class Implementation(Payload, kw_only=True):
    name: str
    title: str | None = None
    version: str = ""
    description: str | None = None
    websiteUrl: str | None = None
    icons: list[Icon] | None = None


class Annotations(Payload, kw_only=True, dict=True):
    """Hints on a resource, template or content block. Keys beyond the spec's three are
    kept (FastMCP and `mcp.types` allow them: `annotations={"httpMethod": "GET"}`): read
    them as attributes (`getattr(a, "Cache-Control")`) or all at once as `extras`; they are
    sent on the wire and read back by the trimcp client. Equality compares the spec's fields.
    A key that would shadow an attribute of the class (`model_dump`, `__class__`) is kept in
    `extras` only."""

    audience: list[str] | None = None
    priority: float | None = None
    lastModified: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Annotations:
        """Annotations from a dict in wire names, extra keys kept.

        Raises `msgspec.ValidationError` when a spec field has the wrong type."""
        from trimcp.types.codec import convert

        fields = cls.__struct_fields__
        annotations = convert({k: v for k, v in data.items() if k in fields}, cls)
        annotations.add_extras({k: v for k, v in data.items() if k not in fields})
        return annotations

    def add_extras(self, extras: Mapping[str, Any]) -> None:
        """Keep `extras` beside the spec's fields (string keys only)."""
        kept = {k: v for k, v in extras.items() if isinstance(k, str)}
        if not kept:
            return
        self.__extras__ = {**self.extras, **kept}
        cls = type(self)
        for key, value in kept.items():
            if not hasattr(cls, key) and key not in cls.__struct_fields__:
                setattr(self, key, value)

    @property
    def extras(self) -> dict[str, Any]:
        """The keys beyond the spec's fields."""
        extras: dict[str, Any] = getattr(self, "__extras__", {})
        return extras

    def for_wire(self) -> Annotations | dict[str, Any]:
        """What to encode: itself, or with extras a dict of every key (msgspec encodes a
        struct's fields only)."""
        extras = self.extras
        if not extras:
            return self
        return {**extras, **msgspec.to_builtins(self)}

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        # the payload protocol's (pydantic's view), not the instance dict holding the extras
        fields: dict[str, Any] = _twin_of(self).__dict__
        return fields

    def model_dump(
        self,
        *,
        include: Collection[str] | None = None,
        exclude: Collection[str] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """As `Payload.model_dump`, extras included (an `mcp.types.Annotations` twin may
        drop them: the SDK 2.x's ignores extra keys)."""
        out = super().model_dump(include=include, exclude=exclude, **options)
        for key, value in self.extras.items():
            if (include is None or key in include) and (exclude is None or key not in exclude):
                out.setdefault(key, value)
        return out

    def _dump(
        self,
        options: _DumpOptions,
        include: Collection[str] | None = None,
        exclude: Collection[str] | None = None,
    ) -> dict[str, Any]:
        out = super()._dump(options, include, exclude)
        for key, value in self.extras.items():
            if (include is None or key in include) and (exclude is None or key not in exclude):
                out.setdefault(key, _dump_value(value, options))
        return out


def keep_annotation_extras(items: list[Any], raw_items: Any) -> None:
    """Give each decoded item (a `Resource`, `ResourceTemplate`, ...) the extra annotation
    keys its raw dict carried, which msgspec's decoding of `Annotations` leaves out."""
    if not isinstance(raw_items, list) or len(raw_items) != len(items):
        return
    fields = Annotations.__struct_fields__
    for item, raw in zip(items, raw_items, strict=True):
        annotations = getattr(item, "annotations", None)
        if isinstance(annotations, Annotations) and isinstance(raw, dict):
            wire = raw.get("annotations")
            if isinstance(wire, dict):
                annotations.add_extras({k: v for k, v in wire.items() if k not in fields})
