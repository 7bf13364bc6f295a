"""`ComponentManager`: what a server's tool, resource and prompt managers share.

FastMCP 2.13 names three managers (`ToolManager`, `ResourceManager`, `PromptManager`, in their
own public modules); trimcp writes each once here and lets them say only what differs:

- `ComponentManager[C]`: the options every manager takes (duplicate policy, error masking,
  the server's `Visibility`, `Mounts` and list-changed callback), one kind's `Registry` and
  `Catalog`, FastMCP's not-found wording for the kind (`not_found`) and its rule for unexpected
  exceptions (`wrap_errors`). `ResourceManager` builds on it and adds templates.
- `NamedComponentManager[C]`: components keyed by name (tools, prompts): the lookup through
  mounted servers (`find`, the hot path of `tools/call`), listing, get/add/remove.

A subclass sets `kind` (the registry's: its duplicate warnings and errors name it) and
`attribute` (where a server keeps its manager of that kind: how a mounted server's is reached).
This module imports nothing of trimcp but its exceptions, its settings and `registry`.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Mapping
from operator import attrgetter
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, Self, TypedDict, TypeVar

from trimcp.exceptions import NotFoundError
from trimcp.utilities.registry import (
    Catalog,
    DuplicateBehavior,
    Mounts,
    NamePrefix,
    PrefixRules,
    Registry,
    Visibility,
)

__all__ = [
    "ComponentManager",
    "Keyed",
    "ManagerOptions",
    "NamedComponentManager",
    "WrapErrors",
    "warn_deprecated",
]

logger = logging.getLogger("trimcp.server")


class Keyed(Protocol):
    """What a manager needs of a component (`trimcp.utilities.components.Component`)."""

    name: str
    tags: set[str]
    enabled: bool

    @property
    def key(self) -> str: ...

    def model_copy(
        self,
        *,
        update: Mapping[str, Any] | None = None,
        key: str | None = None,
        deep: bool = False,
    ) -> Self: ...


C = TypeVar("C", bound=Keyed)


class ManagerOptions(TypedDict, total=False):
    """What a server shares with each of its managers (a manager alone builds its own)."""

    visibility: Visibility | None
    mounts: Mounts | None
    on_change: Callable[[], None] | None


class WrapErrors:
    """FastMCP's managers' rule for what a component raises, as a `with` block: the exception
    types in `passing` go through untouched; any other `Exception` is logged and becomes
    `error(message)`, its text appended (`"message: text"`) unless `masked`. Cancellation and
    other `BaseException`s are never caught."""

    __slots__ = ("error", "masked", "message", "passing")

    def __init__(
        self,
        error: Callable[[str], Exception],
        message: str,
        *,
        passing: tuple[type[Exception], ...],
        masked: bool,
    ) -> None:
        self.error = error
        self.message = message
        self.passing = passing
        self.masked = masked

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, self.passing):
            return
        logger.error("%s", self.message, exc_info=exc)
        text = self.message if self.masked else f"{self.message}: {exc}"
        raise self.error(text) from exc


class ComponentManager(Generic[C]):
    """A server's components of one kind: its registry, what clients see through mounts, the
    options every manager takes.

    Args:
        duplicate_behavior: What adding under a key already taken does: `"warn"` (the default:
            replace, and log a warning), `"error"`, `"replace"`, `"ignore"`.
        mask_error_details: Unexpected exceptions lose their text (default: the setting's).
        visibility: The server's visibility rules (a manager alone has its own).
        mounts: The server's mounts (a manager alone has none).
        on_change: Called after each change of a registry (list-changed notifications).
    """

    kind: ClassVar[str]
    """The registry's kind: `"tool"`, `"prompt"`, `"resource"`."""
    attribute: ClassVar[str]
    """Where a server keeps its manager of this kind: `"tool_manager"`, ..."""
    rules: PrefixRules = NamePrefix()
    """How a mount's prefix changes a key (an instance's own for resources: URI rules)."""

    def __init__(
        self,
        duplicate_behavior: DuplicateBehavior | None = None,
        mask_error_details: bool | None = None,
        *,
        visibility: Visibility | None = None,
        mounts: Mounts | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        if mask_error_details is None:
            from trimcp.settings import settings

            mask_error_details = settings.mask_error_details
        self.mask_error_details = bool(mask_error_details)
        self.visibility = visibility if visibility is not None else Visibility()
        self.mounts = mounts if mounts is not None else Mounts()
        self.on_change = on_change or _nothing
        self.registry: Registry[C] = self.new_registry(self.kind, duplicate_behavior)
        self.catalog: Catalog[C] = self.new_catalog(self.registry, "catalog")
        self._get = self.registry.get  # the hot path's first (and usually only) step
        self.manager_of: Callable[[Any], Any] = attrgetter(f"server.{self.attribute}")
        """The manager of the same kind of a mount's server (`manager_of(mount)`)."""

    def new_registry(
        self, kind: str, duplicate_behavior: DuplicateBehavior | None
    ) -> Registry[Any]:
        """A registry of `kind` sharing this manager's visibility and list-changed callback."""
        return Registry(
            kind,
            self.visibility,
            on_duplicate=duplicate_behavior or "warn",
            on_change=self.on_change,
        )

    def new_catalog(self, registry: Registry[Any], name: str) -> Catalog[Any]:
        """The catalog of `registry` through this manager's mounts; `name` is the attribute a
        mounted server's manager keeps the same catalog under."""
        child = attrgetter(f"server.{self.attribute}.{name}")
        return Catalog(registry, self.mounts, rules=self.rules, child=child)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.registry)} {self.kind}s, "
            f"{len(self.mounts.items)} mounts)"
        )

    @property
    def duplicate_behavior(self) -> DuplicateBehavior:
        return self.registry.on_duplicate

    def not_found(self, key: str) -> NotFoundError:
        """What a key nobody answers raises (FastMCP's wording for the kind)."""
        return NotFoundError(f"Unknown {self.kind}: {key}")

    def wrap_errors(
        self,
        error: Callable[[str], Exception],
        message: str,
        *,
        passing: tuple[type[Exception], ...],
    ) -> WrapErrors:
        """A `with` block in which exceptions other than `passing` become `error(message)`,
        their text appended unless `mask_error_details` (see `WrapErrors`)."""
        return WrapErrors(error, message, passing=passing, masked=self.mask_error_details)


class NamedComponentManager(ComponentManager[C]):
    """Components keyed by name (tools, prompts): a mount's are seen as `{prefix}_{key}`.

    `find` and `iter_visible` are the serving path; the rest answers FastMCP's methods.
    """

    def find(self, key: str) -> C | None:
        """The visible component clients use as `key`, here or through a mount, or None.

        A mounted component comes back as the child's own object (its key is the child's);
        callers that show it under `key` copy it (`find_keyed`)."""
        found = self._get(key)
        if found is not None or not self.mounts.items or key in self.registry:
            return found
        for mount, child_key in self.catalog.routes(key):
            found = self.manager_of(mount).find(child_key)
            if found is not None:
                return found if self.visibility.visible(key, found) else None
        return None

    def iter_visible(self) -> Iterator[tuple[str, C]]:
        """`(key, component)` for each component clients see (`*/list` order)."""
        return self.catalog.visible()

    def require(self, key: str) -> C:
        """`find(key)`, or `not_found(key)` raised."""
        found = self.find(key)
        if found is None:
            raise self.not_found(key)
        return found

    def find_keyed(self, key: str) -> C | None:
        """The component clients use as `key`, as they see it (a copy keyed `key` when it
        comes from a mount), or None."""
        found = self.find(key)
        if found is None or found.key == key:
            return found
        return found.model_copy(key=key)

    def require_keyed(self, key: str) -> C:
        """`find_keyed(key)`, or `not_found(key)` raised."""
        found = self.find_keyed(key)
        if found is None:
            raise self.not_found(key)
        return found

    def listed(self) -> dict[str, C]:
        """The components clients see, by key (mounted ones as copies under prefixed keys)."""
        return dict(self.iter_visible())

    def register(self, component: C) -> C:
        """Add `component` under its `key`, per the duplicate policy; returns the component
        registered (the existing one under `"ignore"`)."""
        return self.registry.add(component.key, component)

    def unregister(self, key: str) -> None:
        """Remove this server's own component `key` (not a mounted server's).

        Raises:
            NotFoundError: This server has none under `key`.
        """
        if key not in self.registry:
            raise self.not_found(key)
        self.registry.remove(key)


def warn_deprecated(name: str, instead: str) -> None:
    """`DeprecationWarning`: "`name` is deprecated. Use `instead` instead.", blamed on the
    caller of the deprecated method."""
    warnings.warn(f"{name} is deprecated. Use {instead} instead.", DeprecationWarning, stacklevel=3)


def _nothing() -> None:
    return None
