"""`PromptManager`: a server's prompts, as FastMCP 2.13's `fastmcp.prompts.prompt_manager`
names it.

A `FastMCP` owns one (`server._prompt_manager`, public spelling `server.prompt_manager`) and
its prompt methods delegate to it. What every manager does (the registry, lookups through
mounted servers, listing, the duplicate policy, error masking) is `NamedComponentManager`'s, in
`trimcp.utilities.managers`; this class adds FastMCP's prompt methods and their wording.

FastMCP's methods (`get_prompts`, `get_prompt`, `has_prompt`, `add_prompt`, `render_prompt`,
the deprecated `add_prompt_from_fn`) answer for the server as its clients see it: visible
prompts, mounted ones under their prefixed keys (FastMCP 2.13's manager holds its own only; the
raw inventory here is `registry`, or `_prompts` as FastMCP spells it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from trimcp.exceptions import PromptError, ValidationError
from trimcp.utilities.managers import NamedComponentManager, warn_deprecated

if TYPE_CHECKING:
    from trimcp.core.context import Context
    from trimcp.prompts.prompt import Prompt
    from trimcp.types import GetPromptResult

__all__ = ["PromptManager"]


class PromptManager(NamedComponentManager["Prompt"]):
    """A server's prompts: registration, lookup through mounts, listing, rendering.

    Args:
        duplicate_behavior: What adding a prompt under a key already taken does: `"warn"`
            (default), `"error"`, `"replace"`, `"ignore"`.
        mask_error_details: `render_prompt` hides the text of unexpected exceptions.
        visibility: The server's visibility rules (a manager alone has its own).
        mounts: The server's mounts (a manager alone has none).
        on_change: Called after each change of the registry (list-changed notifications).
    """

    kind = "prompt"
    attribute = "prompt_manager"

    @property
    def _prompts(self) -> dict[str, Prompt]:
        """FastMCP's name for the raw key -> prompt map (this server's own prompts only)."""
        return self.registry.items

    def completion_owner(self, key: str) -> tuple[Any, str] | None:
        """Whose completion handler answers for the prompt `key`: `(None, key)` when this
        server has it, `(server, key there)` for a mounted server's, None when nobody has it."""
        return self.catalog.owner(key)

    # -- FastMCP's methods -----------------------------------------------------------------

    async def visible_prompts(self) -> dict[str, Prompt]:
        """The prompts clients see, by key (mounted ones as copies under prefixed keys)."""
        return self.listed()

    async def visible_prompt(self, key: str) -> Prompt:
        """The prompt clients get as `key` (a copy keyed `key` when it comes from a mount).

        Raises:
            NotFoundError: No visible prompt has that key.
        """
        return self.require_keyed(key)

    async def get_prompts(self) -> dict[str, Prompt]:
        """The prompts clients see, by key (mounted ones as copies under prefixed keys)."""
        return self.listed()

    async def has_prompt(self, key: str) -> bool:
        return self.find(key) is not None

    async def get_prompt(self, key: str) -> Prompt:
        """The prompt clients get as `key` (a copy keyed `key` when it comes from a mount).

        Raises:
            NotFoundError: No visible prompt has that key.
        """
        return self.require_keyed(key)

    def add_prompt(self, prompt: Prompt) -> Prompt:
        """Register `prompt` under its `key`, per the duplicate policy."""
        return self.register(prompt)

    def add_prompt_from_fn(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        tags: set[str] | None = None,
    ) -> Prompt:
        """Deprecated (FastMCP 2.7): `add_prompt(Prompt.from_function(fn, ...))`."""
        warn_deprecated(
            "PromptManager.add_prompt_from_fn()", "Prompt.from_function() and call add_prompt()"
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
        self.unregister(key)

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
        prompt = self.require(name)
        passing = (PromptError, ValidationError)
        with self.wrap_errors(PromptError, f"Error rendering prompt {name!r}", passing=passing):
            return await prompt.render_result(arguments, context)
