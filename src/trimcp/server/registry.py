"""Component registries: one per kind (tools, resources, templates, prompts).

A registry owns the name -> component map, the duplicate policy, and visibility (a component's
own `enabled` flag plus the server's tag filters and enable/disable rules). Hidden components
are neither listed nor callable. Mutations call `on_change` so the server can send
list-changed notifications.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator
from typing import Generic, Literal, Protocol, TypeVar

from trimcp.exceptions import NotFoundError

__all__ = ["DuplicateBehavior", "Registry", "Visibility"]

logger = logging.getLogger("trimcp.server")

DuplicateBehavior = Literal["warn", "error", "replace", "ignore"]


class _Component(Protocol):
    name: str
    tags: set[str]
    enabled: bool


C = TypeVar("C", bound=_Component)


_KINDS = ("tool", "resource", "template", "prompt")
"""The kind prefixes a key given to `enable`/`disable` may carry (`"tool:add"`)."""


class Visibility:
    """The server-wide rules deciding which components are visible.

    `include_tags`: if set, only components with at least one of these tags are visible.
    `exclude_tags`: components with any of these tags are hidden. Explicit rules from
    `enable()`/`disable()` (by key or by tag) apply last, most recent winning.
    """

    def __init__(self, include_tags: set[str] | None = None, exclude_tags: set[str] | None = None):
        self.include_tags = set(include_tags) if include_tags else None
        self.exclude_tags = set(exclude_tags) if exclude_tags else set()
        self.rules: list[tuple[bool, set[str] | None, set[str] | None]] = []
        self.version = 0

    def add_rule(
        self,
        *,
        enabled: bool,
        names: Collection[str] | None = None,
        keys: Collection[str] | None = None,
        tags: Collection[str] | None = None,
    ) -> None:
        """A rule by name, by key (`"add"` or `"tool:add"`) or by tag; the latest wins."""
        wanted = {k.split(":", 1)[1] if k.split(":", 1)[0] in _KINDS else k for k in keys or ()}
        wanted |= set(names or ())
        self.rules.append((enabled, wanted or None, set(tags) if tags else None))
        self.version += 1

    def visible(self, key: str, component: _Component) -> bool:
        if not component.enabled:
            return False
        tags = component.tags
        if self.include_tags is not None and not (tags & self.include_tags):
            return False
        if self.exclude_tags and tags & self.exclude_tags:
            return False
        for enabled, keys, rule_tags in reversed(self.rules):
            if (keys is not None and key in keys) or (rule_tags is not None and tags & rule_tags):
                return enabled
        return True


class Registry(Generic[C]):
    """Components of one kind, keyed by name (tools, prompts) or URI (resources, templates)."""

    def __init__(
        self,
        kind: str,
        visibility: Visibility,
        *,
        on_duplicate: DuplicateBehavior = "warn",
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        if on_duplicate not in ("warn", "error", "replace", "ignore"):
            raise ValueError(f"on_duplicate_{kind}s must be warn, error, replace or ignore")
        self.kind = kind
        self.visibility = visibility
        self.on_duplicate = on_duplicate
        self.on_change = on_change
        self._items: dict[str, C] = {}
        self.version = 0

    def add(self, key: str, component: C) -> C:
        existing = self._items.get(key)
        if existing is not None:
            if self.on_duplicate == "error":
                raise ValueError(f"{self.kind.capitalize()} already exists: {key}")
            if self.on_duplicate == "ignore":
                return existing
            if self.on_duplicate == "warn":
                logger.warning("%s already exists: %s (replaced)", self.kind.capitalize(), key)
        self._items[key] = component
        self._changed()
        return component

    def remove(self, key: str) -> None:
        if self._items.pop(key, None) is None:
            raise NotFoundError(f"Unknown {self.kind}: {key}")
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self.on_change()

    def get(self, key: str) -> C | None:
        """The visible component under `key`, or None."""
        component = self._items.get(key)
        if component is None or not self.visibility.visible(key, component):
            return None
        return component

    def get_any(self, key: str) -> C | None:
        """The component under `key` whether visible or not."""
        return self._items.get(key)

    def visible(self) -> Iterator[tuple[str, C]]:
        """Visible components in registration order (deterministic)."""
        visible = self.visibility.visible
        for key, component in self._items.items():
            if visible(key, component):
                yield key, component

    def all(self) -> dict[str, C]:
        return dict(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def state(self) -> tuple[int, int]:
        """Changes whenever what `visible()` yields may have changed (for caches)."""
        return (self.version, self.visibility.version)

    def keys_matching(self, *, names: set[str] | None, tags: set[str] | None) -> list[str]:
        out = []
        for key, component in self._items.items():
            if (names and key in names) or (tags and component.tags & tags):
                out.append(key)
        return out

    def __repr__(self) -> str:
        return f"Registry({self.kind}, {len(self._items)} items)"
