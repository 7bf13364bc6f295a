"""What every component (tool, resource, template, prompt) shares: FastMCP's
`FastMCPComponent` fields (`name`, `title`, `description`, `icons`, `tags`, `meta`,
`enabled`), a lookup key that defaults to the component's own identity and that composition
can change, `get_meta` with FastMCP's `_fastmcp` tags, copies, and equality by value.

`Component` is not a pydantic model: `Tool`, `Resource`, `ResourceTemplate` and `Prompt` set
their attributes in their own constructors, so building one costs a few assignments.
`Component(...)` itself (FastMCP's `FastMCPComponent(...)`) checks its keyword arguments with
pydantic, imported then, and raises `pydantic.ValidationError` as FastMCP does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict, TypeVar

from trimcp.types import Icon
from trimcp.types.codec import convert
from trimcp.utilities.context_slot import current_context

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = [
    "Component",
    "FastMCPComponent",
    "FastMCPMeta",
    "MirroredComponent",
    "announce_list_changed",
    "coerce_icons",
]

C = TypeVar("C", bound="Component")


def announce_list_changed(kind: str) -> None:
    """Tell the clients that the `kind` list (`"tools"`, `"resources"`, `"prompts"`) changed,
    when a component is enabled or disabled while a request is served (FastMCP's rule: once
    per kind and request, sent by the request's `Context`); outside a request, nothing to
    tell."""
    notify = getattr(current_context.get(), "notify_list_changed", None)
    if notify is not None:
        notify(kind)


class FastMCPMeta(TypedDict, total=False):
    """What FastMCP puts under `_meta._fastmcp` of a listed component."""

    tags: list[str]


def coerce_icons(icons: Iterable[Any] | None) -> list[Icon] | None:
    """Icons given as trimcp `Icon`s, dicts or `mcp.types.Icon` models, as trimcp `Icon`s."""
    if icons is None:
        return None
    return [convert(icon, Icon) for icon in icons]


@cache
def _fields_adapter() -> TypeAdapter[Any]:
    """Checks `Component(**fields)`: `name` required, types, no unknown field."""
    from typing import Annotated, Required

    from pydantic import BeforeValidator, ConfigDict, TypeAdapter
    from typing_extensions import TypedDict as PydanticTypedDict  # pydantic's need before 3.12

    def as_set(value: Any) -> Any:
        if value is None:
            return set()
        return value if isinstance(value, set) else set(value)

    class ComponentFields(PydanticTypedDict, total=False):
        __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

        name: Required[str]
        title: str | None
        description: str | None
        icons: list[Any] | None
        tags: Annotated[set[str], BeforeValidator(as_set)]
        meta: dict[str, Any] | None
        enabled: bool

    return TypeAdapter(ComponentFields)


class Component:
    """Base of `Tool`, `Resource`, `ResourceTemplate` and `Prompt` (FastMCP's
    `FastMCPComponent`).

    Attributes:
        name: The component's name.
        title: A title for display.
        description: What it does.
        icons: Icons for user interfaces.
        tags: Tags (any iterable is taken as a set).
        meta: The component's own `_meta`.
        enabled: Whether it is listed and callable.
        key: The lookup key (defaults to the name; a subclass may default to its URI).
    """

    name: str
    title: str | None
    description: str | None
    icons: list[Icon] | None
    tags: set[str]
    meta: dict[str, Any] | None
    enabled: bool
    _key: str | None
    list_kind: ClassVar[str | None] = None
    """The list clients are told changed when one is enabled or disabled during a request
    (`"tools"`, `"resources"`, `"prompts"`)."""

    def __init__(self, *, key: str | None = None, **fields: Any) -> None:
        values = _fields_adapter().validate_python(fields)
        self.name = values["name"]
        self.title = values.get("title")
        self.description = values.get("description")
        self.icons = coerce_icons(values.get("icons"))
        self.tags = values.get("tags", set())
        self.meta = values.get("meta")
        self.enabled = values.get("enabled", True)
        self._key = key

    def __repr__(self) -> str:
        # a bare component prints under its FastMCP name, as FastMCP code expects to see it
        kind = "FastMCPComponent" if type(self) is Component else type(self).__name__
        return (
            f"{kind}(name={self.name!r}, title={self.title!r}, "
            f"description={self.description!r}, tags={self.tags}, enabled={self.enabled})"
        )

    def __eq__(self, other: object) -> bool:
        """Components of the same class with the same fields are equal (as in FastMCP)."""
        if type(self) is not type(other):
            return False
        assert isinstance(other, Component)
        return self.model_dump() == other.model_dump()

    # Mutable and equal by value, hence unhashable (as FastMCP's pydantic components are).
    __hash__ = None  # type: ignore[assignment]

    def _default_key(self) -> str:
        """The key when none was set: the name (a subclass may use its URI or template)."""
        return self.name

    @property
    def key(self) -> str:
        return self._key if self._key is not None else self._default_key()

    @key.setter
    def key(self, value: str | None) -> None:
        self._key = value

    def enable(self) -> None:
        self.enabled = True
        if self.list_kind is not None:
            announce_list_changed(self.list_kind)

    def disable(self) -> None:
        self.enabled = False
        if self.list_kind is not None:
            announce_list_changed(self.list_kind)

    def model_dump(
        self,
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        exclude_none: bool = False,
    ) -> dict[str, Any]:
        """The component's public fields as a dict (FastMCP's pydantic spelling; values are
        not converted)."""
        included = None if include is None else set(include)
        excluded = set(exclude)
        return {
            name: value
            for name, value in vars(self).items()
            if not name.startswith("_")
            and (included is None or name in included)
            and name not in excluded
            and not (exclude_none and value is None)
        }

    def get_meta(self, *, include_fastmcp_meta: bool | None = None) -> dict[str, Any] | None:
        """The component's `_meta`.

        Args:
            include_fastmcp_meta: add FastMCP's `_fastmcp: {"tags": [...]}` (sorted tags; any
                other key an upstream `_fastmcp` carried is kept). `None` follows the
                `include_fastmcp_meta` setting. Without it, `meta` itself is returned.
        """
        if include_fastmcp_meta is None:
            include_fastmcp_meta = _setting_include_fastmcp_meta()
        if not include_fastmcp_meta:
            return self.meta or None
        meta = dict(self.meta or {})
        upstream = meta.get("_fastmcp")
        ours: FastMCPMeta = {"tags": sorted(self.tags)}
        meta["_fastmcp"] = {**upstream, **ours} if isinstance(upstream, dict) else ours
        return meta

    def _copy_update(self, name: str, value: Any) -> Any:
        """Hook: coerce a value `model_copy(update=...)` sets (e.g. dicts into structs)."""
        return value

    def _after_copy(self, update: Mapping[str, Any]) -> None:
        """Hook: refresh derived state after `model_copy` changed fields."""

    def model_copy(
        self: C,
        *,
        update: Mapping[str, Any] | None = None,
        key: str | None = None,
        deep: bool = False,
    ) -> C:
        """A copy with the attributes in `update` replaced (FastMCP's pydantic spelling);
        `key=` sets the lookup key."""
        new = copy.deepcopy(self) if deep else copy.copy(self)
        update = update or {}
        if "tags" not in update:
            new.tags = set(self.tags)
        for name, value in update.items():
            setattr(new, name, new._copy_update(name, value))
        new._after_copy(update)
        if key is not None:
            new.key = key
        return new

    def copy(self: C) -> C:
        """A copy that can be changed without touching this one."""
        return self.model_copy()


FastMCPComponent = Component
"""FastMCP's name for `Component`."""


class MirroredComponent(Component):
    """A component mirrored from another server (what a proxy lists): it cannot be enabled
    or disabled in place; `copy()` gives a local component that can.

    Args:
        mirrored: whether this one is the mirror (`copy()` clears it).
    """

    def __init__(self, *, mirrored: bool = False, key: str | None = None, **fields: Any) -> None:
        super().__init__(key=key, **fields)
        self.mirrored = mirrored

    def _refuse_if_mirrored(self, action: str) -> None:
        if getattr(self, "mirrored", False):
            raise RuntimeError(
                f"Cannot {action} mirrored component '{self.name}'. Create a local copy first "
                f"with {self.name}.copy() and add it to your server."
            )

    def enable(self) -> None:
        self._refuse_if_mirrored("enable")
        super().enable()

    def disable(self) -> None:
        self._refuse_if_mirrored("disable")
        super().disable()

    def copy(self: C) -> C:
        copied = self.model_copy()
        copied.mirrored = False  # type: ignore[attr-defined]
        return copied


def _setting_include_fastmcp_meta() -> bool:
    from trimcp.settings import settings

    return bool(getattr(settings, "include_fastmcp_meta", True))
