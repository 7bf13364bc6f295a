"""How a proxy answers for its components: its managers, and the live listing of a proxy
built on a `client_factory` of its own.

- `ProxyToolManager`, `ProxyResourceManager`, `ProxyPromptManager` (FastMCP's names): the
  backend's components, listed into their registries, and local ones; a name nobody lists is
  forwarded to the backend anyway (through a stand-in proxy component), and introspection
  (`get_tools()`, `get_tool()`, ...) lists the backend first.
- `LiveListing`: the middleware that lists the backend on each list request.

`FastMCPProxy` (`trimcp.server.proxy`) installs them; `ProxyBackend` is what they list and
forward through.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from trimcp.prompts.prompt_manager import PromptManager
from trimcp.resources.resource_manager import ResourceManager
from trimcp.server.proxy_components import (
    ProxyPrompt,
    ProxyResource,
    ProxyTool,
    is_listed,
    is_mirrored,
)
from trimcp.tools.tool_manager import ToolManager

if TYPE_CHECKING:
    from trimcp.prompts import Prompt
    from trimcp.resources import Resource, ResourceTemplate
    from trimcp.resources.resource_manager import Found
    from trimcp.server.proxy import ProxyBackend
    from trimcp.tools import Tool

__all__ = ["LiveListing", "ProxyPromptManager", "ProxyResourceManager", "ProxyToolManager"]

logger = logging.getLogger("trimcp.proxy")


_LISTINGS = {
    "tools/list": ("tools",),
    "resources/list": ("resources",),
    "resources/templates/list": ("templates",),
    "prompts/list": ("prompts",),
}


class LiveListing:
    """A proxy's first middleware: a list request lists the backend first, in the request
    (a `client_factory` sees the request's context), as FastMCP's proxy does, so a list
    reflects the backend at that moment (a list-changed notification, when the backend sends
    one, is no promise that the change was heard before the next list request). A failed
    listing is logged, and the components last listed are served."""

    def __init__(self, backend: ProxyBackend) -> None:
        self.backend = backend

    async def __call__(self, context: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        kinds = _LISTINGS.get(context.method or "")
        if kinds is not None:
            try:
                await self.backend.refresh(kinds=kinds)
            except Exception as exc:
                logger.warning("Could not list the backend of %r: %s", self.backend.proxy, exc)
        return await call_next(context)

    def __repr__(self) -> str:
        return f"LiveListing({self.backend.proxy!r})"


class ProxyToolManager(ToolManager):
    """A proxy's tools: the backend's (listed into the registry) and local ones; a name
    nobody lists is forwarded to the backend anyway (its answer decides)."""

    def __init__(self, backend: ProxyBackend, **options: Any) -> None:
        super().__init__(**options)
        self.backend = backend

    def find(self, key: str) -> Tool | None:
        tool = super().find(key)
        if tool is None and key not in self.registry:
            fallback = ProxyTool(self.backend, None, name=key, parameters={"type": "object"})
            if self.visibility.visible(key, fallback):
                return fallback
        return tool

    async def get_tools(self) -> dict[str, Tool]:
        """The backend's tools (listed now) and the local ones, as clients see them."""
        await self.backend.refresh_listing(("tools",))
        return await super().get_tools()

    async def get_tool(self, key: str) -> Tool:
        """The tool `key` as listed (the backend listed again if the cache does not have it;
        `NotFoundError` if it still does not: introspection wants the backend's schema, not
        the forwarding stand-in)."""
        tool = self.find_keyed(key)
        if tool is None or not is_listed(tool):
            tool = (await self.get_tools()).get(key)
        if tool is None:
            raise self.not_found(key)
        return tool


class ProxyResourceManager(ResourceManager):
    """A proxy's resources and templates; a URI nobody answers is forwarded anyway, unless
    a local resource or template (hidden ones too) claims it."""

    def __init__(self, backend: ProxyBackend, **options: Any) -> None:
        super().__init__(**options)
        self.backend = backend

    def find(self, uri: str) -> Found | None:
        found = super().find(uri)
        if found is None and "://" in uri and not self._claimed_locally(uri):
            fallback = ProxyResource(self.backend, None, uri=uri)
            if self.visibility.visible(uri, fallback):
                return fallback, None, uri, uri
        return found

    def _claimed_locally(self, uri: str) -> bool:
        if uri in self.resource_registry:
            return True
        return any(
            not is_mirrored(template) and template.matches(uri) is not None
            for template in self.template_registry.all().values()
        )

    async def get_resources(self) -> dict[str, Resource]:
        await self.backend.refresh_listing(("resources",))
        return await super().get_resources()

    async def visible_resources(self) -> dict[str, Resource]:
        """The backend's resources (listed now) and the local ones, as clients see them."""
        await self.backend.refresh_listing(("resources",))
        return await super().visible_resources()

    async def get_resource_templates(self) -> dict[str, ResourceTemplate]:
        await self.backend.refresh_listing(("templates",))
        return await super().get_resource_templates()

    async def visible_templates(self) -> dict[str, ResourceTemplate]:
        """The backend's templates (listed now) and the local ones, as clients see them."""
        await self.backend.refresh_listing(("templates",))
        return await super().visible_templates()


class ProxyPromptManager(PromptManager):
    """A proxy's prompts; a name nobody lists is forwarded anyway."""

    def __init__(self, backend: ProxyBackend, **options: Any) -> None:
        super().__init__(**options)
        self.backend = backend

    def find(self, key: str) -> Prompt | None:
        prompt = super().find(key)
        if prompt is None and key not in self.registry:
            fallback = ProxyPrompt(self.backend, None, name=key)
            if self.visibility.visible(key, fallback):
                return fallback
        return prompt

    async def get_prompts(self) -> dict[str, Prompt]:
        await self.backend.refresh_listing(("prompts",))
        return await super().get_prompts()

    async def visible_prompts(self) -> dict[str, Prompt]:
        """The backend's prompts (listed now) and the local ones, as clients see them."""
        await self.backend.refresh_listing(("prompts",))
        return await super().visible_prompts()

    async def get_prompt(self, key: str) -> Prompt:
        """The prompt `key` as listed (see `ProxyToolManager.get_tool`)."""
        prompt = self.find_keyed(key)
        if prompt is None or not is_listed(prompt):
            prompt = (await self.visible_prompts()).get(key)
        if prompt is None:
            raise self.not_found(key)
        return prompt

    async def visible_prompt(self, key: str) -> Prompt:
        """The prompt clients get as `key`, as listed (see `get_prompt`)."""
        return await self.get_prompt(key)
