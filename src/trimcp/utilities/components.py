"""What every component (tool, resource, template, prompt) shares: a lookup key that defaults
to its own identity and that composition can change, the enabled flag, and copies."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["Component"]

C = TypeVar("C", bound="Component")


class Component:
    """Base of `Tool`, `Resource`, `ResourceTemplate` and `Prompt`."""

    _key: str | None
    enabled: bool
    tags: set[str]

    def _default_key(self) -> str:
        """The key when none was set: the name, URI or URI template."""
        raise NotImplementedError

    @property
    def key(self) -> str:
        return self._key if self._key is not None else self._default_key()

    @key.setter
    def key(self, value: str | None) -> None:
        self._key = value

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

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
