"""The proxy components: a backend's tools, resources, templates and prompts, served as the
proxy's own.

Each wraps the backend's listing entry (`_mcp`, also how a refreshed listing is compared to
the cached one) and forwards `run`, `read_contents` or `render` through a session borrowed from
the `ProxyBackend` (`trimcp.server.proxy`), so the backend's server-to-client traffic is relayed
to the right request. They live in the proxy's registries like local components. Also here:
`expand_template`, the RFC 6570 expansion that turns a proxy template's parameters back into the
backend's URI. `trimcp.server.proxy` re-exports every public name.
"""

from __future__ import annotations

import re
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

import msgspec

from trimcp.exceptions import ToolError
from trimcp.prompts import Prompt
from trimcp.resources import Resource, ResourceTemplate
from trimcp.tools import Tool
from trimcp.tools.tool import ToolResult
from trimcp.types import GetPromptResult, PromptMessage
from trimcp.utilities.components import MirroredComponent

if TYPE_CHECKING:
    from trimcp.client import Client

__all__ = [
    "ClientSessions",
    "ProxyPrompt",
    "ProxyResource",
    "ProxyTemplate",
    "ProxyTool",
    "RemoteComponent",
    "Sessions",
    "expand_template",
    "is_listed",
    "is_mirrored",
]


class Sessions(Protocol):
    """Where a proxy component gets a backend session for one operation (`ProxyBackend`)."""

    def session(self, ctx: Any = None) -> AbstractAsyncContextManager[Client]: ...


class ClientSessions:
    """The sessions of a component made from a client (FastMCP's `ProxyTool.from_mcp_tool`
    & co.): the client itself, connected for each operation unless it already is."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def session(self, ctx: Any = None) -> AbstractAsyncContextManager[Client]:
        from trimcp.server.proxy_client import factory_session

        return factory_session(lambda: self.client, ctx)


def _tags(meta: dict[str, Any] | None) -> set[str]:
    """FastMCP's `_fastmcp.tags` from a listing's `_meta`."""
    fastmcp = meta.get("_fastmcp") if meta else None
    return set(fastmcp.get("tags") or ()) if isinstance(fastmcp, dict) else set()


def is_mirrored(component: Any) -> bool:
    """Whether `component` mirrors a backend's (rather than being a local one)."""
    return isinstance(component, RemoteComponent) and component.mirrored


def is_listed(component: Any) -> bool:
    """Whether `component` is not the stand-in a proxy forwards an unlisted name through."""
    return not isinstance(component, RemoteComponent) or component.listing is not None


class RemoteComponent(MirroredComponent):
    """What the four proxy components share: the backend they are read through, and the
    backend's listing entry (`_mcp`, also how a refreshed listing is compared to the cache).

    A component as the proxy lists it is *mirrored* (`MirroredComponent`): its state is the
    backend's, so `enable()`/`disable()` raise `RuntimeError`. `copy()` gives a local
    component (still calling the backend) to change and add to the proxy, where it shadows
    the mirrored one."""

    _FIELDS: ClassVar[dict[str, str]]
    """Component field -> listing attribute, besides the ones every listing has."""

    def __init__(
        self, backend: Sessions, mcp: Any, *, mirrored: bool = True, **fields: Any
    ) -> None:
        # The kind's own constructor (Tool, Resource, ...) takes the fields, not
        # `MirroredComponent`'s, which passes `key=` on.
        super(MirroredComponent, self).__init__(**fields)
        self._backend = backend
        self._mcp = mcp
        self.mirrored = mirrored

    def copy(self, **update: Any) -> Self:
        """A local (not mirrored) copy, `update` applied: enable, disable, add it."""
        new = self.model_copy(update=update)
        new.mirrored = False
        return new

    @property
    def listing(self) -> Any:
        """The backend's listing entry (None: a stand-in for a name the backend did not list)."""
        return self._mcp

    def same_listing(self, other: RemoteComponent) -> bool:
        """Whether `other` was listed by the backend exactly as this one was."""
        return bool(self._mcp == other._mcp)

    @classmethod
    def from_mcp(cls, backend: Sessions, listing: Any) -> Self:
        return cls(
            backend,
            listing,
            title=listing.title,
            description=listing.description,
            icons=listing.icons,
            meta=listing.meta,
            tags=_tags(listing.meta),
            **{field: getattr(listing, attr) for field, attr in cls._FIELDS.items()},
        )


class ProxyTool(RemoteComponent, Tool):
    """A backend tool: `run` calls it through the backend (errors become `ToolError`)."""

    _FIELDS = {
        "name": "name",
        "parameters": "inputSchema",
        "output_schema": "outputSchema",
        "annotations": "annotations",
    }

    @classmethod
    def from_mcp_tool(cls, client: Client, mcp_tool: Any) -> Self:
        """FastMCP's factory: a tool of `client`'s server (a listing entry of it)."""
        return cls.from_mcp(ClientSessions(client), mcp_tool)

    async def run(
        self, arguments: dict[str, Any], context: Any = None, *, strict: bool = False
    ) -> ToolResult:
        progress = None
        if context is not None and context.request_context is not None:
            report = context.report_progress

            async def progress(done: float, total: float | None, message: str | None) -> None:
                await report(done, total, message)

        async with self._backend.session(context) as client:
            result = await client.call_tool_mcp(self.name, arguments, progress_handler=progress)
        if result.isError:
            content = result.content
            text = getattr(content[0], "text", None) if content else None
            raise ToolError(text or f"Tool {self.name!r} failed")
        tool_result = ToolResult.from_final(list(result.content), result.structuredContent)
        tool_result.meta = result.meta
        return tool_result


def _report_as(contents: list[Any], uri: str) -> list[Any]:
    return [
        msgspec.structs.replace(c, uri=uri) if getattr(c, "uri", uri) != uri else c
        for c in contents
    ]


class ProxyResource(RemoteComponent, Resource):
    """A backend resource, read through the backend."""

    _FIELDS = {"uri": "uri", "name": "name", "mime_type": "mimeType", "annotations": "annotations"}

    @classmethod
    def from_mcp_resource(cls, client: Client, mcp_resource: Any) -> Self:
        """FastMCP's factory: a resource of `client`'s server (a listing entry of it)."""
        return cls.from_mcp(ClientSessions(client), mcp_resource)

    async def read_contents(self, uri: str | None = None, context: Any = None) -> list[Any]:
        async with self._backend.session(context) as client:
            result = await client.read_resource_mcp(self.uri)
        return _report_as(list(result.contents), uri or self.uri)


_EXPR = re.compile(r"\{([+#./;?&]?)([^}]*)\}")


def expand_template(template: str, params: dict[str, Any]) -> str:
    """RFC 6570 expansion of the forms MCP servers use (`{x}`, `{+x}`, `{?x,y}`, `{&x}`,
    `{/x}`, `{.x}`, `{#x}`), enough to turn a proxy template's parameters back into a URI."""
    from urllib.parse import quote

    def one(match: re.Match[str]) -> str:
        op, names = match.groups()
        values = []
        for raw in names.split(","):
            name = raw.rstrip("*")
            if name in params and params[name] is not None:
                values.append((name, str(params[name])))
        if not values:
            return ""
        safe = ":/?#[]@!$&'()*+,;=" if op in ("+", "#") else ""
        if op in ("?", "&"):
            joined = "&".join(f"{n}={quote(v, safe='')}" for n, v in values)
            return op + joined
        sep = {"": ",", "+": ",", "#": ",", "/": "/", ".": ".", ";": ";"}[op]
        body = sep.join(quote(v, safe=safe + "/" if op == "+" else safe) for _, v in values)
        return (op if op in ("#", "/", ".", ";") else "") + body

    return _EXPR.sub(one, template)


class ProxyTemplate(RemoteComponent, ResourceTemplate):
    """A backend resource template; reads expand the backend's own template."""

    _FIELDS = {
        "uri_template": "uriTemplate",
        "name": "name",
        "mime_type": "mimeType",
        "annotations": "annotations",
    }

    def __init__(self, backend: Sessions, mcp: Any, **fields: Any) -> None:
        super().__init__(backend, mcp, **fields)
        self._remote_template = fields["uri_template"]

    @classmethod  # FastMCP's signature: the client first, unlike `ResourceTemplate`'s
    def from_mcp_template(cls, client: Client, mcp_template: Any) -> Self:  # type: ignore[override]
        """FastMCP's factory: a template of `client`'s server (a listing entry of it)."""
        return cls.from_mcp(ClientSessions(client), mcp_template)

    async def read_contents(
        self, uri: str, params: dict[str, Any], context: Any = None
    ) -> list[Any]:
        remote_uri = expand_template(self._remote_template, params)
        async with self._backend.session(context) as client:
            result = await client.read_resource_mcp(remote_uri)
        return _report_as(list(result.contents), uri)


class ProxyPrompt(RemoteComponent, Prompt):
    """A backend prompt, rendered by the backend."""

    _FIELDS = {"name": "name", "arguments": "arguments"}

    @classmethod
    def from_mcp_prompt(cls, client: Client, mcp_prompt: Any) -> Self:
        """FastMCP's factory: a prompt of `client`'s server (a listing entry of it)."""
        return cls.from_mcp(ClientSessions(client), mcp_prompt)

    async def render(self, arguments: Any = None, context: Any = None) -> list[PromptMessage]:
        """The backend's messages for `arguments` (FastMCP's `ProxyPrompt.render`)."""
        return (await self.render_result(arguments, context)).messages

    async def render_result(self, arguments: Any = None, context: Any = None) -> GetPromptResult:
        """The backend's whole answer (its description and `_meta` kept): what `prompts/get`
        answers for this prompt."""
        async with self._backend.session(context) as client:
            return await client.get_prompt_mcp(self.name, dict(arguments) if arguments else None)
