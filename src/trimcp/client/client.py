"""`Client`: FastMCP's client API over trimcp's session and transports, on asyncio or trio.

`async with Client(x) as client:` opens the transport, runs the session in a task group that
lives exactly as long as the outermost `async with`, and negotiates the era. Entering again
(nested, or from another task) shares the connection; the task that opened it closes it, after
the other users have left. Background failures never cancel the body: calls made after the
connection ended raise `ClientError`. With `auto_initialize=False` the caller negotiates
(`initialize()`). A kept-alive stdio server (`keep_alive=True`) carries its session over to
the next `async with`.

What the user receives follows FastMCP: results without the protocol's own `_meta` keys, a
tool's structured output rebuilt into Python values (`CallToolResult.data`), and error answers
raised as `McpError`, which is also the SDK's `McpError` when `mcp` is loaded.

Timeouts: a request that exceeds `timeout` (per call, or the client default) raises `McpError`
with code -32001 and a "Timed out while waiting for response to ..." message, as FastMCP's
client (via the SDK) does; the request is cancelled on the server with `notifications/cancelled`.
"""

from __future__ import annotations

import copy
import logging
import secrets
from typing import Any, Generic, Literal, cast

import anyio
import anyio.lowlevel
import msgspec
from typing_extensions import TypeVar

from trimcp.client.answers import decode_result, tool_error
from trimcp.client.connection import SharedConnection
from trimcp.client.elicitation import check_roots
from trimcp.client.interop import as_client_error
from trimcp.client.mrtr import drive_input_rounds
from trimcp.client.options import ClientOptions, Timeout, seconds
from trimcp.client.params import (
    check_resource_uri,
    completion_ref,
    prompt_arguments,
    tool_arguments,
)
from trimcp.client.results import CallToolResult, tool_output_data
from trimcp.client.session import ClientSession, Handlers
from trimcp.client.transports import ClientTransport, infer_transport
from trimcp.exceptions import ClientError, ClientNotConnected, McpError
from trimcp.protocol.versions import Era
from trimcp.types import (
    CallToolResult as MCPCallToolResult,
)
from trimcp.types import (
    CompleteResult,
    Completion,
    GetPromptResult,
    InitializeResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    Prompt,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    Tool,
)
from trimcp.types.base import Implementation
from trimcp.types.interop import register_with_mcp
from trimcp.types.lifecycle import DiscoverResult, ServerCapabilities

__all__ = ["Client"]

logger = logging.getLogger("trimcp.client")

R = TypeVar("R")
ClientTransportT = TypeVar("ClientTransportT", bound=ClientTransport, default=ClientTransport)
"""What `Client[T]` names (FastMCP's `Client` is generic in its transport); bare `Client`
means `Client[ClientTransport]`."""


class Client(Generic[ClientTransportT]):
    """An MCP client (drop-in for `fastmcp.Client`).

    Args:
        transport: A `FastMCP` server (in memory), a `.py` script path (stdio subprocess), an
            `http(s)://` URL, an MCP config (`{"mcpServers": ...}`), or a `ClientTransport`.
        name: The client's name (default: `generate_name()`), also sent in `clientInfo`
            when given (else "trimcp").
        roots: Roots to offer the server: `file://` URIs, `Root`s, paths, or a callable
            returning them (`ValueError` at once for anything else).
        sampling_handler: `(messages, params, context) -> str | CreateMessageResult`.
        elicitation_handler: `(message, response_type, params, context) -> data | ElicitResult`.
        log_handler: Receives each server log message (`.level`, `.data`, `.logger`). In the
            modern era, giving one asks the server for logs at "debug" and above.
        progress_handler: Default `(progress, total, message)` handler for every request.
        message_handler: Receives every notification (`ServerNotification`); or a
            `MessageHandler` (`client.messages`), whose hooks see notifications and requests.
        timeout: Default per-request timeout (seconds or `timedelta`).
        init_timeout: Bound on connecting and negotiating (default: settings, 30 s).
        client_info: `Implementation` or dict sent as `clientInfo`.
        protocol: "auto" (probe `server/discover`, fall back to `initialize`), "modern"
            (2026-07-28 only) or "legacy" (handshake only). "auto" means "legacy" on a
            transport that cannot carry 2026-07-28 (`SSETransport`).
        auth: For HTTP transports: a bearer token string, a `BearerAuth`, or an httpx2 auth.
        listen: 2026-07-28 only: hold a `subscriptions/listen` open for the server's
            list-changed notifications, as a handshake-era session receives them unasked.
            Default: when a `message_handler` is given.
        auto_initialize: Negotiate when connecting (default); with `False`, call
            `initialize()` yourself.

    Every option is keyword-only and explicit: an unknown one raises `TypeError`.
    """

    def __init__(
        self,
        transport: Any,
        *,
        name: str | None = None,
        roots: Any = None,
        sampling_handler: Any = None,
        elicitation_handler: Any = None,
        log_handler: Any = None,
        progress_handler: Any = None,
        message_handler: Any = None,
        timeout: Timeout = None,
        init_timeout: Timeout = None,
        client_info: Implementation | dict[str, Any] | None = None,
        protocol: Literal["auto", "modern", "legacy"] = "auto",
        auth: Any = None,
        listen: bool | None = None,
        auto_initialize: bool = True,
    ) -> None:
        if protocol not in ("auto", "modern", "legacy"):
            raise ValueError(f"protocol must be 'auto', 'modern' or 'legacy', not {protocol!r}")
        self.transport: ClientTransportT = cast(ClientTransportT, infer_transport(transport))
        if auth is not None:
            set_auth = getattr(self.transport, "_set_auth", None)
            if set_auth is None:
                raise ValueError(f"This transport does not support auth: {self.transport!r}")
            set_auth(auth)
        if not getattr(self.transport, "supports_modern", True):
            if protocol == "modern":
                raise ValueError(f"{self.transport!r} cannot carry the 2026-07-28 protocol")
            protocol = "legacy"
        if roots is not None and not callable(roots):
            check_roots(roots)  # FastMCP refuses bad roots up front, not when asked for them
        self.name = name or self.generate_name()
        self._handlers = Handlers(
            sampling=sampling_handler,
            elicitation=elicitation_handler,
            roots=roots,
            log=log_handler,
            progress=progress_handler,
            message=message_handler,
        )
        self._timeout = seconds(timeout)
        self._init_timeout = seconds(init_timeout)
        info: Any = client_info
        if isinstance(info, Implementation):
            info = msgspec.to_builtins(info)
        elif info is not None and hasattr(info, "model_dump"):
            info = info.model_dump(exclude_none=True)
        from trimcp import __version__

        self._client_info: dict[str, Any] = dict(
            info or {"name": name or "trimcp", "version": __version__}
        )
        self._protocol = protocol
        self._listen = message_handler is not None if listen is None else listen
        self.auto_initialize = auto_initialize
        self.options = ClientOptions(self._handlers, self._timeout, self._client_info, protocol)
        """What this client was made with (handlers, timeout, client info, protocol)."""
        self._connection = SharedConnection(
            self.transport,
            handlers=self._handlers,
            client_info=self._client_info,
            on_open=self._on_open,
        )
        self._closed = False
        self._output_schemas: dict[str, dict[str, Any] | None] = {}

    # -- connection ----------------------------------------------------------------------

    async def __aenter__(self) -> Client[ClientTransportT]:
        register_with_mcp()  # results pass `isinstance(x, mcp.types.X)` (a no-op once done)
        if await self._connection.enter():
            self._closed = False
            self._output_schemas.clear()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._connection.leave()

    def set_roots(self, roots: Any) -> None:
        """Offer other roots (a list, or a function returning one); the server hears of the
        change only through `send_roots_list_changed()`."""
        if not callable(roots):
            check_roots(roots)
        self._handlers.roots = roots

    def set_sampling_callback(self, sampling_callback: Any) -> None:
        """Answer the server's sampling requests with `sampling_callback` from now on (the
        capability is declared when the client next connects)."""
        self._handlers.sampling = sampling_callback

    def set_elicitation_callback(self, elicitation_callback: Any) -> None:
        """Answer the server's elicitation requests with `elicitation_callback` from now on
        (the capability is declared when the client next connects)."""
        self._handlers.elicitation = elicitation_callback

    @classmethod
    def generate_name(cls, name: str | None = None) -> str:
        """A unique name, `Client-<name>-<4 hex digits>` (FastMCP's)."""
        middle = f"{name}-" if name is not None else ""
        return f"{cls.__name__}-{middle}{secrets.token_hex(2)}"

    def new(self) -> Client[ClientTransportT]:
        """A client like this one (same transport, handlers and options) with a connection of
        its own, not yet open: for independent sessions, one per task or per proxied request."""
        twin = copy.copy(self)
        twin._connection = SharedConnection(
            self.transport,
            handlers=self._handlers,
            client_info=self._client_info,
            on_open=twin._on_open,
        )
        twin._closed = False
        twin._output_schemas = {}
        twin.name = f"{self.name}:{secrets.token_hex(2)}"
        return twin

    async def _on_open(self, session: ClientSession, previous: ClientSession | None) -> None:
        if previous is not None and previous.era is not None:
            session.resume(previous)  # a kept-alive server: its session goes on
            if self._listen and session.era is Era.MODERN:
                await session.start_listening(self._init_timeout)
        elif self.auto_initialize:
            await self._negotiate(session, self._init_timeout)

    async def _negotiate(self, session: ClientSession, timeout: float | None) -> None:
        from trimcp.settings import settings

        if timeout is None:
            timeout = settings.client_init_timeout
        try:
            with anyio.fail_after(timeout or None):
                await session.open(protocol=self._protocol)
        except TimeoutError as exc:
            raise ClientError(
                f"Failed to initialize server session: no answer within {timeout} s"
            ) from exc
        except McpError as exc:
            raise ClientError(f"Failed to initialize server session: {exc}") from exc
        if self._listen and session.era is Era.MODERN:
            await session.start_listening(timeout)

    async def initialize(self, timeout: Timeout = None) -> InitializeResult:
        """Negotiate with the server, if that was not done yet, and return its answer.

        With `auto_initialize=True` (the default) connecting negotiates already, and this only
        returns the cached result; with `auto_initialize=False` it is the caller's step.

        Args:
            timeout: Bound on the negotiation (default: `init_timeout`, then the settings').
        """
        session = self.session
        if session.initialize_result is None:
            limit = seconds(timeout)
            await self._negotiate(session, limit if limit is not None else self._init_timeout)
        assert session.initialize_result is not None
        return session.initialize_result

    async def close(self) -> None:
        """End the connection now: later calls in the open `async with` blocks raise
        `ClientError`, and the blocks then exit quietly. A stdio server kept alive between
        connections (`keep_alive`) is stopped too."""
        session = self._connection.session
        if session is not None:
            self._closed = True
            session.close()
        await self.transport.close()
        await anyio.lowlevel.checkpoint()

    def is_connected(self) -> bool:
        session = self._connection.session
        return session is not None and session.connected and not self._closed

    @property
    def session(self) -> ClientSession:
        session = self._connection.session
        if session is None or self._closed:
            error = ClientNotConnected if self._closed else RuntimeError
            raise error(
                "Client is not connected. Use the 'async with client:' context manager first."
            )
        return session

    @property
    def initialize_result(self) -> InitializeResult | None:
        """The `initialize` answer; for a modern server, the same shape built from `server/discover`."""
        session = self._connection.session
        return None if session is None else session.initialize_result

    @property
    def discover_result(self) -> DiscoverResult | None:
        session = self._connection.session
        return None if session is None else session.discover_result

    @property
    def protocol_version(self) -> str | None:
        session = self._connection.session
        return None if session is None else session.protocol_version

    @property
    def is_modern(self) -> bool:
        session = self._connection.session
        return session is not None and session.era is Era.MODERN

    @property
    def server_info(self) -> Implementation | None:
        result = self.initialize_result
        return None if result is None else result.serverInfo

    @property
    def server_capabilities(self) -> ServerCapabilities | None:
        session = self._connection.session
        return None if session is None else session.server_capabilities

    @property
    def instructions(self) -> str | None:
        result = self.initialize_result
        return None if result is None else result.instructions

    def __repr__(self) -> str:
        return f"<Client(transport={self.transport!r})>"

    # -- plumbing ------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: Timeout = None,
        progress_handler: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> msgspec.Raw:
        limit = seconds(timeout)
        try:
            return await self.session.request(
                method,
                params,
                timeout=limit if limit is not None else self._timeout,
                progress_handler=progress_handler,
                meta=meta,
            )
        except McpError as exc:
            error = as_client_error(exc, method)
            if error is exc:
                raise
            raise error from error.__cause__

    async def _result(
        self, method: str, typ: type[R], params: dict[str, Any] | None = None, **kwargs: Any
    ) -> R:
        raw = await self._request(method, params, **kwargs)
        raw = await drive_input_rounds(
            self._request, self.session.serve_request, method, params, raw, kwargs
        )
        return decode_result(method, typ, raw)

    async def _paginate(self, method: str, typ: type[Any], field: str) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            result = await self._result(method, typ, {"cursor": cursor} if cursor else None)
            items.extend(getattr(result, field))
            cursor = result.nextCursor
            if not cursor or cursor in seen:  # a server repeating a cursor would loop forever
                return items
            seen.add(cursor)

    # -- lifecycle and utilities ---------------------------------------------------------

    async def ping(self) -> bool:
        """Handshake era: `ping`. Modern (where ping was removed): a `server/discover` round trip."""
        if self.is_modern:
            await self._result("server/discover", DiscoverResult)
        else:
            await self._request("ping")
        return True

    async def set_logging_level(self, level: str) -> None:
        """Handshake era: `logging/setLevel`. Modern: sets the `_meta` log level of later requests."""
        if self.is_modern:
            self.session.set_log_level(level)
        else:
            await self._request("logging/setLevel", {"level": level})

    async def send_roots_list_changed(self) -> None:
        """Tell the server the roots changed (handshake era only; 2026-07-28 removed it)."""
        if not self.is_modern:
            await self.session.notify("notifications/roots/list_changed")

    async def progress(
        self,
        progress_token: str | int,
        progress: float,
        total: float | None = None,
        message: str | None = None,
    ) -> None:
        params: dict[str, Any] = {"progressToken": progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self.session.notify("notifications/progress", params)

    async def cancel(self, request_id: str | int, reason: str | None = None) -> None:
        """Tell the server to stop working on request `request_id`
        (`notifications/cancelled`; a call of this client waiting on it is not woken up)."""
        params: dict[str, Any] = {"requestId": request_id}
        if reason is not None:
            params["reason"] = reason
        await self.session.notify("notifications/cancelled", params)

    # -- tools ---------------------------------------------------------------------------

    async def list_tools_mcp(self) -> ListToolsResult:
        """Every page of `tools/list`, as one result."""
        tools = await self._paginate("tools/list", ListToolsResult, "tools")
        return ListToolsResult(tools=tools)

    async def list_tools(self) -> list[Tool]:
        tools = (await self.list_tools_mcp()).tools
        self._output_schemas.update({tool.name: tool.outputSchema for tool in tools})
        return tools

    async def call_tool_mcp(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout: Timeout = None,
        progress_handler: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> MCPCallToolResult:
        """`tools/call`, returning the protocol result (errors are results, not exceptions)."""
        params: dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = tool_arguments(arguments)
        return await self._result(
            "tools/call",
            MCPCallToolResult,
            params,
            timeout=timeout,
            progress_handler=progress_handler,
            meta=meta,
        )

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout: Timeout = None,
        progress_handler: Any = None,
        raise_on_error: bool = True,
        meta: dict[str, Any] | None = None,
    ) -> CallToolResult:
        """Call a tool; `data` holds its structured output rebuilt into Python values.

        Raises:
            ToolError: the tool reported an error and `raise_on_error` is true.
        """
        result = await self.call_tool_mcp(
            name, arguments, timeout=timeout, progress_handler=progress_handler, meta=meta
        )
        if result.isError:
            if raise_on_error:
                raise tool_error(name, result)
            data = None
        else:
            data = await self._data(name, result.structuredContent)
        return CallToolResult(
            content=result.content,
            structured_content=result.structuredContent,
            meta=result.meta,
            data=data,
            is_error=result.isError,
        )

    async def _data(self, name: str, structured: Any) -> Any:
        if structured is None:
            return None
        if name not in self._output_schemas:
            try:
                await self.list_tools()
            except (McpError, ClientError):
                logger.debug("could not list tools to read %r's output schema", name)
        return tool_output_data(name, structured, self._output_schemas.get(name))

    # -- resources -----------------------------------------------------------------------

    async def list_resources_mcp(self) -> ListResourcesResult:
        return ListResourcesResult(
            resources=await self._paginate("resources/list", ListResourcesResult, "resources")
        )

    async def list_resources(self) -> list[Resource]:
        return (await self.list_resources_mcp()).resources

    async def list_resource_templates_mcp(self) -> ListResourceTemplatesResult:
        templates = await self._paginate(
            "resources/templates/list", ListResourceTemplatesResult, "resourceTemplates"
        )
        return ListResourceTemplatesResult(resourceTemplates=templates)

    async def list_resource_templates(self) -> list[ResourceTemplate]:
        return (await self.list_resource_templates_mcp()).resourceTemplates

    async def read_resource_mcp(self, uri: Any, *, timeout: Timeout = None) -> ReadResourceResult:
        check_resource_uri(uri)
        return await self._result(
            "resources/read", ReadResourceResult, {"uri": str(uri)}, timeout=timeout
        )

    async def read_resource(self, uri: Any, *, timeout: Timeout = None) -> list[Any]:
        """The contents (`TextResourceContents` / `BlobResourceContents`) of a resource."""
        return (await self.read_resource_mcp(uri, timeout=timeout)).contents

    # -- prompts -------------------------------------------------------------------------

    async def list_prompts_mcp(self) -> ListPromptsResult:
        return ListPromptsResult(
            prompts=await self._paginate("prompts/list", ListPromptsResult, "prompts")
        )

    async def list_prompts(self) -> list[Prompt]:
        return (await self.list_prompts_mcp()).prompts

    async def get_prompt_mcp(
        self, name: str, arguments: dict[str, Any] | None = None, *, timeout: Timeout = None
    ) -> GetPromptResult:
        params: dict[str, Any] = {"name": name}
        if arguments:
            # Prompt arguments are strings on the wire; FastMCP JSON-encodes anything else.
            params["arguments"] = prompt_arguments(arguments)
        return await self._result("prompts/get", GetPromptResult, params, timeout=timeout)

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, *, timeout: Timeout = None
    ) -> GetPromptResult:
        return await self.get_prompt_mcp(name, arguments, timeout=timeout)

    # -- completion ----------------------------------------------------------------------

    async def complete_mcp(
        self, ref: Any, argument: dict[str, str], context_arguments: dict[str, Any] | None = None
    ) -> CompleteResult:
        params: dict[str, Any] = {"ref": completion_ref(ref), "argument": argument}
        if context_arguments:
            params["context"] = {"arguments": context_arguments}
        return await self._result("completion/complete", CompleteResult, params)

    async def complete(
        self, ref: Any, argument: dict[str, str], context_arguments: dict[str, Any] | None = None
    ) -> Completion:
        return (await self.complete_mcp(ref, argument, context_arguments)).completion
