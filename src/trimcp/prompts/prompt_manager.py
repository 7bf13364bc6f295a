"""`PromptManager`: a server's prompts, as FastMCP 2.13's `fastmcp.prompts.prompt_manager`
names it.

A `FastMCP` owns one (`server._prompt_manager`, public spelling `server.prompt_manager`) and
its prompt methods delegate to it. The manager owns the server's prompt `Registry`, reads the
server's `Visibility` and `Mounts`, and is the only place that knows how a prompt is found
through mounted servers (`find`) and listed under their prefixes (`iter_visible`).

FastMCP's methods (`get_prompts`, `get_prompt`, `has_prompt`, `add_prompt`, `render_prompt`,
the deprecated `add_prompt_from_fn`) answer for the server as its clients see it: visible
prompts, mounted ones under their prefixed keys (FastMCP 2.13's manager holds its own only; the
raw inventory here is `registry`, or `_prompts` as FastMCP spells it).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from trimcp.exceptions import NotFoundError, PromptError, ValidationError
from trimcp.utilities.registry import Catalog, Mounts, NamePrefix, Registry, Visibility

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.prompts.prompt import Prompt
    from trimcp.types import GetPromptResult
    from trimcp.utilities.registry import DuplicateBehavior

__all__ = ["PromptManager"]

logger = logging.getLogger("trimcp.server")


class PromptManager:
    """A server's prompts: registration, lookup through mounts, listing, rendering.

    Args:
        duplicate_behavior: What adding a prompt under a key already taken does: `"warn"`
            (default), `"error"`, `"replace"`, `"ignore"`.
        mask_error_details: `render_prompt` hides the text of unexpected exceptions.
        visibility: The server's visibility rules (a manager alone has its own).
        mounts: The server's mounts (a manager alone has none).
        on_change: Called after each change of the registry (list-changed notifications).
    """

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
        self.registry: Registry[Prompt] = Registry(
            "prompt",
            self.visibility,
            on_duplicate=duplicate_behavior or "warn",
            on_change=on_change or _nothing,
        )
        self.catalog: Catalog[Prompt] = Catalog(
            self.registry, self.mounts, rules=NamePrefix(), child=_child_catalog
        )

    def __repr__(self) -> str:
        return f"PromptManager({len(self.registry)} prompts, {len(self.mounts.items)} mounts)"

    @property
    def duplicate_behavior(self) -> DuplicateBehavior:
        return self.registry.on_duplicate

    @property
    def _prompts(self) -> dict[str, Prompt]:
        """FastMCP's name for the raw key -> prompt map (this server's own prompts only)."""
        return self.registry.items

    # -- the serving path ------------------------------------------------------------------

    def find(self, key: str) -> Prompt | None:
        """The visible prompt clients get as `key`, here or through a mount, or None."""
        found = self.registry.get(key)
        if found is not None or not self.mounts.items or key in self.registry:
            return found
        for mount, child_key in self.catalog.routes(key):
            found = mount.server.prompt_manager.find(child_key)
            if found is not None:
                return found if self.visibility.visible(key, found) else None
        return None

    def iter_visible(self) -> Iterator[tuple[str, Prompt]]:
        """`(key, prompt)` for each prompt clients see (`prompts/list` order)."""
        return self.catalog.visible()

    def completion_owner(self, key: str) -> tuple[Any, str] | None:
        """Whose completion handler answers for the prompt `key`: `(None, key)` when this
        server has it, `(server, key there)` for a mounted server's, None when nobody has it."""
        if key in self.registry:
            return None, key
        for mount, child_key in self.catalog.routes(key):
            found = mount.server.prompt_manager.completion_owner(child_key)
            if found is not None:
                owner, child = found
                return (owner or mount.server), child
        return None

    # -- FastMCP's methods -----------------------------------------------------------------

    async def get_prompts(self) -> dict[str, Prompt]:
        """The prompts clients see, by key (mounted ones as copies under prefixed keys)."""
        return dict(self.iter_visible())

    async def has_prompt(self, key: str) -> bool:
        return self.find(key) is not None

    async def get_prompt(self, key: str) -> Prompt:
        """The prompt clients get as `key` (a copy keyed `key` when it comes from a mount).

        Raises:
            NotFoundError: No visible prompt has that key.
        """
        prompt = self.find(key)
        if prompt is None:
            raise NotFoundError(f"Unknown prompt: {key}")
        return prompt if prompt.key == key else prompt.model_copy(key=key)

    def add_prompt(self, prompt: Prompt) -> Prompt:
        """Register `prompt` under its `key`, per the duplicate policy."""
        return self.registry.add(prompt.key, prompt)

    def add_prompt_from_fn(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        tags: set[str] | None = None,
    ) -> Prompt:
        """Deprecated (FastMCP 2.7): `add_prompt(Prompt.from_function(fn, ...))`."""
        warnings.warn(
            "PromptManager.add_prompt_from_fn() is deprecated. Use Prompt.from_function() and "
            "call add_prompt() instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        from trimcp.prompts.prompt import Prompt

        return self.add_prompt(
            Prompt.from_function(fn, name=name, description=description, tags=tags)
        )

    def remove_prompt(self, key: str) -> None:
        """Remove this server's own prompt `key`.

        Raises:
            NotFoundError: This server has no prompt under `key`.
        """
        if key not in self.registry:
            raise NotFoundError(f"Unknown prompt: {key}")
        self.registry.remove(key)

    async def render_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        context: Context | None = None,
    ) -> GetPromptResult:
        """Find the prompt clients get as `name` and render it with `arguments`.

        `PromptError` and `ValidationError` pass through; any other exception becomes a
        `PromptError` ("Error rendering prompt 'name'", its text appended unless
        `mask_error_details`).

        Raises:
            NotFoundError: No visible prompt has that name.
        """
        prompt = self.find(name)
        if prompt is None:
            raise NotFoundError(f"Unknown prompt: {name}")
        try:
            return await prompt.render(arguments, context)
        except (PromptError, ValidationError):
            raise
        except Exception as exc:
            logger.exception("Error rendering prompt %r", name)
            if self.mask_error_details:
                raise PromptError(f"Error rendering prompt {name!r}") from exc
            raise PromptError(f"Error rendering prompt {name!r}: {exc}") from exc


def _nothing() -> None:
    return None


def _child_catalog(mount: Any) -> Catalog[Any]:
    manager: PromptManager = mount.server.prompt_manager
    return manager.catalog
