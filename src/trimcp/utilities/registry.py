"""Component registries, and the catalog of one kind of component across mounted servers.

- `Visibility`: the server-wide rules deciding which components are visible (a component's own
  `enabled` flag, the server's tag filters, enable/disable rules). Hidden components are neither
  listed nor callable.
- `Registry`: one server's own components of one kind (tools, resources, templates, prompts):
  the key -> component map and the duplicate policy. Mutations call `on_change` so the server
  can send list-changed notifications.
- `Mounts`: the servers mounted into one server (its `Composition` fills it; its managers read it).
- `Catalog`: one kind as a server's clients see it: its registry, then what its mounts
  contribute under prefixed keys. The managers (`ToolManager`, `ResourceManager`,
  `PromptManager`, built on `trimcp.utilities.managers`) own one catalog per kind; see
  "Theory of operation" on `Catalog`.

This module imports nothing of trimcp but its exceptions: it sits below the component packages
(`tools`, `resources`, `prompts`), whose managers are built on it, and the server core.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, Generic, Literal, Protocol, TypeVar

from trimcp.exceptions import NotFoundError

__all__ = [
    "Candidate",
    "Catalog",
    "DuplicateBehavior",
    "Mounts",
    "NamePrefix",
    "PrefixRules",
    "Registry",
    "Visibility",
]

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
        if self.include_tags is None and not self.rules and not self.exclude_tags:
            return True  # no rules at all (the usual server)
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

    def update(self, put: Mapping[str, C], *, delete: Iterable[str] = ()) -> None:
        """Set the entries of `put` and drop the keys in `delete` as one change (one
        list-changed notification), without the duplicate policy: for owners that mirror
        another source (a proxy's view of its backend)."""
        changed = False
        for key in delete:
            changed = self._items.pop(key, None) is not None or changed
        if put:
            self._items.update(put)
            changed = True
        if changed:
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

    @property
    def items(self) -> dict[str, C]:
        """The live key -> component map (FastMCP's managers expose theirs as `_tools`, ...).
        Changing it directly bypasses the duplicate policy and notifications."""
        return self._items

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def state(self) -> tuple[int, int, int]:
        """Changes whenever what `visible()` yields may have changed (for caches). The size
        is part of it: FastMCP-style code removes entries from `items` (`_tools`) directly."""
        return (self.version, self.visibility.version, len(self._items))

    def keys_matching(self, *, names: set[str] | None, tags: set[str] | None) -> list[str]:
        out = []
        for key, component in self._items.items():
            if (names and key in names) or (tags and component.tags & tags):
                out.append(key)
        return out

    def __repr__(self) -> str:
        return f"Registry({self.kind}, {len(self._items)} items)"


# -- across mounted servers ------------------------------------------------------------------


class Mounts:
    """The servers mounted into one server, in mount order, shared by its managers.

    Each entry has `.server` (a `FastMCP`) and `.prefix` (`str | None`); `version` changes
    whenever the list does. The server's `Composition` owns and fills it.
    """

    __slots__ = ("items", "version")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.version = 0

    def changed(self) -> None:
        self.version += 1

    def __repr__(self) -> str:
        return f"Mounts({self.items!r})"


class PrefixRules(Protocol):
    """How one kind's keys are prefixed by a mount (names: `{prefix}_{name}`; URIs:
    `trimcp.resources.resource_manager.UriPrefix`)."""

    def add(self, key: str, prefix: str | None) -> str: ...

    def strip(self, key: str, prefix: str | None) -> str | None: ...

    def copy(self, component: Any, key: str, prefix: str | None) -> Any: ...

    def state(self) -> object: ...


class NamePrefix:
    """Tools and prompts: `weather` + `forecast` -> `weather_forecast`."""

    def add(self, key: str, prefix: str | None) -> str:
        return f"{prefix}_{key}" if prefix else key

    def strip(self, key: str, prefix: str | None) -> str | None:
        if not prefix:
            return key
        if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1] == "_":
            return key[len(prefix) + 1 :]
        return None

    def copy(self, component: Any, key: str, prefix: str | None) -> Any:
        return component.model_copy(key=key)

    def state(self) -> object:
        return None


# Candidate: (copy under the key at this level, the original, the visibility checks it must
# pass below this level as (visibility, key at that level) pairs).
Candidate = tuple[Any, Any, tuple[tuple[Visibility, str], ...]]


class Catalog(Generic[C]):
    """One kind of component as a server's clients see it (its listings and routes).

    Theory of operation. Local components come first; a local key shadows mounted ones under
    the same key (even when hidden); among mounts, the most recently mounted server that exposes
    the key wins; child filters apply first, then the parent's (FastMCP's precedence).

    - Listings use a *view*: every candidate the mounts contribute under its prefixed key, as
      copies carrying the prefixed key (`PrefixRules.copy`), built lazily and cached until a
      registry, visibility rule, prefix rule or mount anywhere below changes (`state()`).
      Visibility is evaluated at iteration time on the original components along the chain of
      servers, so `tool.disable()` on a child takes effect at once.
    - Lookups (the hot path) do not use the view: the managers strip a mount's prefix
      (`routes`) and ask the child's manager, which applies the child's filters and, recursively,
      its own mounts, then apply their own `Visibility` to what comes back. No copy per call.

    Args:
        registry: This server's own components of the kind.
        mounts: This server's mounts.
        rules: How a mount's prefix changes a key (and a listed copy).
        child: The catalog of the same kind of a mount's server.
    """

    def __init__(
        self,
        registry: Registry[C],
        mounts: Mounts,
        *,
        rules: PrefixRules,
        child: Callable[[Any], Catalog[Any]],
    ) -> None:
        self.registry = registry
        self.visibility = registry.visibility
        self.mounts = mounts
        self.rules = rules
        self.child = child
        self._view: tuple[object, dict[str, list[Candidate]]] | None = None

    def __repr__(self) -> str:
        return f"Catalog({self.registry.kind}, {len(self.registry)} local, {self.mounts!r})"

    def state(self) -> object:
        """Changes whenever what this catalog lists may have changed."""
        local = (self.registry.state(), self.mounts.version, self.rules.state())
        if not self.mounts.items:
            return local
        return (local, tuple(self.child(m).state() for m in self.mounts.items))

    def visible(self) -> Iterator[tuple[str, Any]]:
        """`(key, component)` for each visible component: this server's own, then its mounts'
        not shadowed by a local key (as copies under their prefixed keys)."""
        yield from self.registry.visible()
        if not self.mounts.items:
            return
        view = self.view()
        local = self.registry
        visible = self.visibility.visible
        for key, cands in view.items():
            if key in local:
                continue
            for copy_, original, chain in cands:
                if all(vis.visible(k, original) for vis, k in chain):
                    if visible(key, original):
                        yield key, copy_
                    break

    def candidates(self) -> dict[str, list[Candidate]]:
        """Every key this server exposes (local first), with its candidates in priority order;
        visibility of this server itself is not applied yet (its parent's view calls this)."""
        vis = self.visibility
        out: dict[str, list[Candidate]] = {
            key: [(comp, comp, ((vis, key),))] for key, comp in self.registry.items.items()
        }
        for key, cands in self.view().items():
            if key not in out:  # a local key shadows mounted ones, even when hidden
                out[key] = [(c, o, (*chain, (vis, key))) for c, o, chain in cands]
        return out

    def view(self) -> dict[str, list[Candidate]]:
        """What the mounts contribute, under prefixed keys (cached; see the class docstring)."""
        mounts = self.mounts.items
        if not mounts:
            return {}
        state = self.state()
        cached = self._view
        if cached is not None and cached[0] == state:
            return cached[1]
        rules = self.rules
        view: dict[str, list[Candidate]] = {}
        for mount in reversed(mounts):  # most recent first: it wins
            prefix = mount.prefix
            for ckey, cands in self.child(mount).candidates().items():
                key = rules.add(ckey, prefix)
                slot = view.setdefault(key, [])
                for copy_, original, chain in cands:
                    slot.append((rules.copy(copy_, key, prefix), original, chain))
        self._view = (state, view)
        return view

    def routes(self, key: str) -> Iterator[tuple[Any, str]]:
        """The mounts `key` may come from, latest first, each with the key as that mount's
        server knows it (its prefix removed)."""
        strip = self.rules.strip
        for mount in reversed(self.mounts.items):
            child_key = strip(key, mount.prefix)
            if child_key is not None:
                yield mount, child_key

    def owner(self, key: str) -> tuple[Any, str] | None:
        """Which server holds `key` (its completion handler answers for it): `(None, key)`
        when this one does, `(server, key there)` for a mounted server's (mounts searched the
        way `routes` orders them), None when nobody does. Hidden components count."""
        if key in self.registry:
            return None, key
        for mount, child_key in self.routes(key):
            found = self.child(mount).owner(child_key)
            if found is not None:
                owner, owner_key = found
                return (owner or mount.server), owner_key
        return None
