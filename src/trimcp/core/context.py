"""`Context`: what a tool, resource or prompt function sees of the request it serves.

A parameter annotated `Context` (any name, also `Context | None` or `Annotated[Context, ...]`)
is injected by the component machinery and hidden from schemas. `get_context()` returns the
same object from anywhere inside the request.

Outbound traffic goes through the request's channel (shared/DESIGN.md §2): log messages only
when the request's envelope allows them, progress only when the request carries a token.

`read_resource`, `get_prompt`, `list_resources` and `list_prompts` pass the server's
middleware, as FastMCP 2.13's do (`trimcp.core.nested.serve_nested`): a hook sees the
nested call with a fresh `Context` of the same request, and may refuse it, hide what it
lists, answer it from a cache or count it against a rate limit.

What these methods need besides the `Context` lives beside it: `core.sampling` (`sample`'s
request and who answers it), `core.context_reads` (the nested reads' helpers).
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable
from contextvars import Token
from typing import TYPE_CHECKING, Any, Literal, cast

import msgspec

from trimcp.core.context_reads import load_serve_nested, read_contents
from trimcp.core.request import ServerRequest
from trimcp.core.sampling import request_sample, sampling_params
from trimcp.exceptions import McpError
from trimcp.protocol.envelope import LOG_LEVELS
from trimcp.protocol.errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PARSE_ERROR,
    ErrorData,
)
from trimcp.protocol.jsonrpc import DECODE_ERRORS
from trimcp.runtime.threads import cancel_requested
from trimcp.types.misc import PaginatedParams, Root
from trimcp.types.prompts import GetPromptParams
from trimcp.types.resources import ReadResourceParams
from trimcp.utilities.context_slot import ContextBase, current_context

if TYPE_CHECKING:
    from trimcp.core.elicitation import (
        AcceptedElicitation,
        CancelledElicitation,
        DeclinedElicitation,
    )
    from trimcp.core.mrtr import MrtrRound
    from trimcp.resources.resource import ReadResourceContents
    from trimcp.server.server import FastMCP

# the SDK's words for a client without the handler, which FastMCP programs match
_UNSUPPORTED = {"elicitation": "Elicitation", "sampling": "Sampling", "roots": "List roots"}

__all__ = ["Context", "LoggingLevel", "enter_context", "get_context", "provide_http_request"]

logger = logging.getLogger("trimcp.context")

LoggingLevel = Literal[
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
]


class _Reset:
    __slots__ = ("_token",)

    def __init__(self, token: Token[ContextBase | None]) -> None:
        self._token = token

    def reset(self) -> None:
        current_context.reset(self._token)


_http_request: Callable[[], Any] | None = None


def provide_http_request(source: Callable[[], Any]) -> None:
    """Where `Context.get_http_request()` finds the HTTP request being served: the HTTP
    layer's `trimcp.server.dependencies.get_http_request`, given when `trimcp.server.server`
    loads (`dependencies.serve_context_requests`; the core does not import the HTTP stack)."""
    global _http_request
    _http_request = source


def enter_context(ctx: Context) -> _Reset:
    """Make `ctx` what `get_context()` returns until `.reset()`."""
    return _Reset(current_context.set(ctx))


class _FirstTry:
    """What `Context._mrtr` holds for the first try of a 2026-07-28 `tools/call`: its MRTR
    round (no answers to replay) is made only if the tool asks for input, which most never
    do (`mrtr_round_of`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "FIRST_TRY"


FIRST_TRY = _FirstTry()


def mrtr_round_of(ctx: Context) -> MrtrRound | None:
    """The MRTR round (2026-07-28) of `ctx`'s request, made now if it is a first try's."""
    mrtr_round = ctx._mrtr
    if isinstance(mrtr_round, _FirstTry):
        from trimcp.core.handlers import first_try_round

        mrtr_round = ctx._mrtr = first_try_round(ctx._require_request())
    return mrtr_round


class Context(ContextBase):
    """Per-request handle on the server and on the client that sent the request."""

    # set only when used (most requests report no progress and take no MRTR round)
    _last_progress: float | None = None
    _mrtr: MrtrRound | _FirstTry | None = None

    def __init__(self, fastmcp: FastMCP, request: ServerRequest | None = None) -> None:
        self._fastmcp = fastmcp
        self._request = request
        self._state: dict[str, Any] = {}
        # no `cast()`: it is a call on every request
        parent: Context | None = current_context.get()  # type: ignore[assignment]
        if parent is not None:  # a child context inherits a copy of the state
            self._state = copy.copy(parent._state)

    # -- properties ----------------------------------------------------------------------

    @property
    def fastmcp(self) -> FastMCP:
        return self._fastmcp

    @property
    def request_context(self) -> ServerRequest | None:
        return self._request

    def _require_request(self) -> ServerRequest:
        if self._request is None:
            raise RuntimeError("This Context is not attached to a request")
        return self._request

    @property
    def session(self) -> Any:
        """The MCP session serving this request (FastMCP's `ctx.session`): one object per
        client session in the handshake era; stateless 2026-07-28 requests share their
        endpoint's. RuntimeError outside a request."""
        request = self._request
        if request is None or request.session is None:
            raise RuntimeError(
                "session is not available because the MCP session has not been established "
                "yet. Check `context.request_context` for None before accessing this attribute."
            )
        return request.session

    @property
    def request_id(self) -> str:
        return str(self._require_request().id)

    @property
    def session_id(self) -> str | None:
        """The session's id: the `Mcp-Session-Id` of an HTTP session, else (stdio, in memory)
        one made up for the session, as FastMCP does; None outside a request and in 2026-07-28,
        which has no sessions."""
        request = self._request
        if request is None:
            return None
        found = request.channel.session_id
        if found is None and request.session is not None and not request.envelope.modern:
            found = request.session.session_id
        return found

    @property
    def client_id(self) -> str | None:
        request = self._request
        if request is None or request.envelope.meta is None:
            return None
        client_id = request.envelope.meta.get("client_id")
        return client_id if isinstance(client_id, str) else None

    @property
    def transport(self) -> str | None:
        request = self._request
        return None if request is None else request.channel.transport

    @property
    def protocol_version(self) -> str | None:
        request = self._request
        return None if request is None else request.envelope.protocol_version

    @property
    def client_capabilities(self) -> dict[str, Any]:
        request = self._request
        return {} if request is None else request.envelope.client_capabilities

    @property
    def client_info(self) -> dict[str, Any] | None:
        request = self._request
        return None if request is None else request.envelope.client_info

    @property
    def lifespan_context(self) -> Any:
        return self._fastmcp.lifespan_result

    @property
    def is_cancelled(self) -> bool:
        """True once the request was cancelled, for sync tools running in a worker thread
        (which cannot be interrupted) to poll and stop early. Async tools are cancelled at
        their next `await` instead."""
        return cancel_requested()

    async def __aenter__(self) -> Context:
        """Make this the current context (`get_context()`) for the block (FastMCP's use)."""
        self.__dict__.setdefault("_entered", []).append(current_context.set(self))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        current_context.reset(self.__dict__["_entered"].pop())

    # -- state ---------------------------------------------------------------------------

    def set_state(self, key: str, value: Any) -> None:
        self._state[key] = value

    def get_state(self, key: str, default: Any = None) -> Any:
        return self._state.get(key, default)

    def get_http_request(self) -> Any:
        """FastMCP 2.x's, deprecated there: the HTTP request being served (RuntimeError
        outside one); use `trimcp.server.dependencies.get_http_request()`."""
        warnings.warn(
            "Context.get_http_request() is deprecated and will be removed in a future version. "
            "Use get_http_request() from fastmcp.server.dependencies instead. "
            "See https://gofastmcp.com/servers/context#http-requests for more details.",
            DeprecationWarning,
            stacklevel=2,
        )
        if _http_request is None:
            raise RuntimeError("No active HTTP request found.")
        return _http_request()

    # -- logging -------------------------------------------------------------------------

    async def log(
        self,
        message: str,
        level: LoggingLevel | None = None,
        logger_name: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Send a log message to the client (if the request's log level lets it through)."""
        level = level or "info"
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}")
        request = self._request
        if request is None:
            logger.log(logging.INFO, "%s", message)
            return
        if not request.envelope.wants_log(level):
            return
        # FastMCP 2.13's shape (its clients read `data["msg"]`); `extra` only when given
        data: dict[str, Any] = (
            {"msg": message} if extra is None else {"msg": message, "extra": extra}
        )
        params: dict[str, Any] = {"level": level, "data": data}
        if logger_name is not None:
            params["logger"] = logger_name
        await request.channel.notify("notifications/message", params, related_request_id=request.id)

    async def debug(
        self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        await self.log(message, "debug", logger_name, extra)

    async def info(
        self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        await self.log(message, "info", logger_name, extra)

    async def warning(
        self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        await self.log(message, "warning", logger_name, extra)

    async def error(
        self, message: str, logger_name: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        await self.log(message, "error", logger_name, extra)

    # -- progress ------------------------------------------------------------------------

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        """Notify progress when the request carries a progress token; otherwise do nothing.

        Progress must increase (spec): a value not above the last one sent is dropped.
        """
        request = self._request
        if request is None or request.envelope.progress_token is None:
            return
        if self._last_progress is not None and progress <= self._last_progress:
            return
        self._last_progress = progress
        params: dict[str, Any] = {
            "progressToken": request.envelope.progress_token,
            "progress": progress,
        }
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await request.channel.notify(
            "notifications/progress", params, related_request_id=request.id
        )

    # -- input from the client: sampling, elicitation, roots --------------------------------
    # Handshake era: a live server-to-client request on the request's channel, awaited with a
    # timeout. 2026-07-28: MRTR (trimcp.core.mrtr) -- the handler is replayed with answers.

    async def ask_client(self, method: str, params: dict[str, Any], capability: str) -> Any:
        """Ask the client that sent this request (elicitation, sampling, roots), in either
        era: a live request awaited in the handshake era, an MRTR input round in 2026-07-28.
        What `elicit`, `sample` and `list_roots` go through (a proxy relays through it too);
        `capability` must have been declared by the client."""
        request = self._require_request()
        envelope = request.envelope
        if envelope.client_capabilities.get(capability) is None:
            raise McpError(
                ErrorData(
                    MISSING_REQUIRED_CLIENT_CAPABILITY,
                    f"{_UNSUPPORTED.get(capability, capability)} not supported: the client did "
                    f"not declare the {capability} capability",
                    {"requiredCapabilities": {capability: {}}},
                )
            )
        if envelope.modern:
            mrtr_round = mrtr_round_of(self)
            if mrtr_round is None:
                raise McpError(
                    INVALID_REQUEST,
                    f"{method} needs input from the client, which 2026-07-28 allows only in "
                    "tools/call, prompts/get and resources/read",
                )
            return mrtr_round.next_answer({"method": method, "params": params})
        from trimcp.settings import settings

        raw = await request.channel.request(
            method, params, related_request_id=request.id, timeout=settings.client_request_timeout
        )
        try:
            return msgspec.json.decode(raw)
        except DECODE_ERRORS as exc:  # the client's bytes: invalid UTF-8 is not caught earlier
            raise McpError(PARSE_ERROR, f"the client's answer to {method} is not JSON") from exc

    async def elicit(
        self, message: str, response_type: Any = None
    ) -> AcceptedElicitation[Any] | DeclinedElicitation | CancelledElicitation:
        """Ask the user for input shaped like `response_type` (None: a plain approval; a
        scalar type, a list of choices, `Literal`, `Enum`, a dataclass, TypedDict or pydantic
        model). Returns `AcceptedElicitation(data=...)`, `DeclinedElicitation()` or
        `CancelledElicitation()`."""
        from trimcp.core.elicitation import elicitation_schema, parse_elicit_result

        spec = elicitation_schema(response_type)
        params: dict[str, Any] = {"message": message, "requestedSchema": spec.requested_schema}
        result = await self.ask_client("elicitation/create", params, "elicitation")
        return parse_elicit_result(result, spec)

    async def elicit_url(self, message: str, url: str, elicitation_id: str | None = None) -> Any:
        """URL-mode elicitation: send the user to `url` (needs the client's `elicitation.url`)."""
        from trimcp.core.elicitation import (
            elicitation_schema,
            parse_elicit_result,
            url_elicitation_params,
        )

        request = self._require_request()
        elicitation = request.envelope.client_capabilities.get("elicitation")
        if not isinstance(elicitation, dict) or elicitation.get("url") is None:
            raise McpError(
                ErrorData(
                    MISSING_REQUIRED_CLIENT_CAPABILITY,
                    "The client does not support URL-mode elicitation",
                    {"requiredCapabilities": {"elicitation": {"url": {}}}},
                )
            )
        if request.envelope.modern:
            elicitation_id = None  # 2026-07-28 removed elicitationId
        elif elicitation_id is None:
            import secrets

            elicitation_id = secrets.token_urlsafe(12)
        params = url_elicitation_params(message, url, elicitation_id)
        result = await self.ask_client("elicitation/create", params, "elicitation")
        return parse_elicit_result(result, elicitation_schema(None))

    async def sample(
        self,
        messages: str | list[Any],
        system_prompt: str | None = None,
        include_context: Literal["none", "thisServer", "allServers"] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        model_preferences: Any = None,
        tools: list[Any] | None = None,
    ) -> Any:
        """Ask the client's LLM for a completion; returns its content block (e.g. `.text`).

        Without client support, the server's `sampling_handler` answers (FastMCP's
        `sampling_handler_behavior="fallback"`; `"always"` skips the client)."""
        params = sampling_params(
            messages,
            system_prompt,
            include_context,
            temperature,
            max_tokens,
            model_preferences,
            tools,
        )
        return await request_sample(
            self,
            self._require_request(),
            params,
            tools=bool(tools),
            include_context=include_context,
        )

    async def list_roots(self) -> list[Root]:
        """The client's roots (file system locations it exposes)."""
        result = await self.ask_client("roots/list", {}, "roots")
        roots = result.get("roots", []) if isinstance(result, dict) else []
        try:
            if not isinstance(roots, list):
                raise msgspec.ValidationError("Expected `roots`, an array")
            return [msgspec.convert(root, Root) for root in roots]
        except msgspec.ValidationError as exc:  # the client's data, not a server fault
            raise McpError(
                INVALID_PARAMS, f"The client's roots/list result is malformed: {exc}"
            ) from None

    async def close_sse_stream(self) -> bool:
        """End this request's SSE stream early (streamable HTTP, 2025-11-25 sessions with
        resumability): the client reconnects with `Last-Event-ID` and gets the rest by replay.
        Elsewhere it does nothing and returns False."""
        request = self._request
        close = getattr(request.channel, "close_sse_stream", None) if request is not None else None
        if close is None:
            return False
        return bool(await close())

    # -- server features -----------------------------------------------------------------

    # FastMCP 2.13 runs these four through the server's middleware (its `_read_resource_mcp`
    # and kin), so what a middleware hides or refuses a tool cannot reach through its
    # `Context` either. A server without middleware or mounts reads its managers directly.

    async def list_resources(self) -> list[Any]:
        """The resources clients see (`mcp.types.Resource` shape), as `resources/list` hooks
        leave them."""
        server = self._fastmcp
        flag = server.include_fastmcp_meta
        if server.middleware or server.tool_manager.mounts.items:
            listed = await self._through_chain("resources/list", PaginatedParams())
            return [
                r.to_mcp_resource(uri=r.key, include_fastmcp_meta=flag)
                if hasattr(r, "to_mcp_resource")
                else r
                for r in getattr(listed, "resources", listed)
            ]
        return [
            r.to_mcp_resource(uri=key, include_fastmcp_meta=flag)
            for key, r in server.resource_manager.iter_resources()
        ]

    async def list_prompts(self) -> list[Any]:
        """The prompts clients see (`mcp.types.Prompt` shape), as `prompts/list` hooks leave
        them."""
        server = self._fastmcp
        flag = server.include_fastmcp_meta
        if server.middleware or server.tool_manager.mounts.items:
            listed = await self._through_chain("prompts/list", PaginatedParams())
            return [
                p.to_mcp_prompt(name=p.key, include_fastmcp_meta=flag)
                if hasattr(p, "to_mcp_prompt")
                else p
                for p in getattr(listed, "prompts", listed)
            ]
        return [
            p.to_mcp_prompt(name=key, include_fastmcp_meta=flag)
            for key, p in server.prompt_manager.iter_visible()
        ]

    async def read_resource(self, uri: str) -> list[ReadResourceContents]:
        """Read a resource of this server (through templates and mounts): one
        `ReadResourceContents` (`.content`: text or bytes, `.mime_type`) per content, as
        `resources/read` hooks leave them."""
        server = self._fastmcp
        if server.middleware or server.tool_manager.mounts.items:
            read = await self._through_chain("resources/read", ReadResourceParams(uri=str(uri)))
            return read_contents(read)
        return await server.resource_manager.read_resource_contents(str(uri), self)

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """Render a prompt of this server: its `GetPromptResult`, as `prompts/get` hooks
        leave it."""
        server = self._fastmcp
        if server.middleware or server.tool_manager.mounts.items:
            return await self._through_chain(
                "prompts/get", GetPromptParams(name=name, arguments=arguments)
            )
        return await server.render_prompt(name, arguments)

    async def _through_chain(self, method: str, params: Any) -> Any:
        """`method` inside the server's middleware chain, with a fresh `Context` (FastMCP's
        `Context` methods enter one): it inherits this one's state (a copy), its request
        (the same id, session, channel and envelope, as `method`), and, in 2026-07-28, its
        round of input from the client, so input a component asks for is this request's."""
        request = self._request
        nested = None
        if request is not None:
            nested = ServerRequest(
                server=request.server,
                id=request.id,
                method=method,
                params=params,
                envelope=request.envelope,
                channel=request.channel,
                session=request.session,
            )
        ctx = Context(self._fastmcp, nested)
        ctx._mrtr = mrtr_round_of(self)
        if nested is not None:
            nested.context = ctx
        return await load_serve_nested()(ctx, method, params)

    # -- notifications -------------------------------------------------------------------

    async def _send_session(self, method: str) -> None:
        """Tell the client a list changed: on the request's session in the handshake era
        (FastMCP's); in 2026-07-28, which has no session, through the server's change fan-out
        to the `subscriptions/listen` streams that asked for it."""
        request = self._request
        if request is not None and not request.envelope.modern:
            await request.channel.notify(method, None, related_request_id=None)
        else:
            self._fastmcp.fanout.notify(method)

    def notify_list_changed(self, kind: Literal["tools", "resources", "prompts"]) -> None:
        """A component of `kind` was enabled or disabled while serving this request: the
        clients learn that the list changed, once per kind and request whatever the number
        of changes (FastMCP's rule), through the server's change fan-out. Sync, for the
        components' `enable()`/`disable()`."""
        announced: set[str] = self.__dict__.setdefault("_announced", set())
        if kind not in announced:
            announced.add(kind)
            self._fastmcp.fanout.notify(f"notifications/{kind}/list_changed")

    async def send_tool_list_changed(self) -> None:
        await self._send_session("notifications/tools/list_changed")

    async def send_resource_list_changed(self) -> None:
        await self._send_session("notifications/resources/list_changed")

    async def send_prompt_list_changed(self) -> None:
        await self._send_session("notifications/prompts/list_changed")


def get_context() -> Context:
    """The `Context` of the request being served (RuntimeError outside one)."""
    ctx = cast("Context | None", current_context.get())
    if ctx is None:
        raise RuntimeError("No active context found: get_context() works only inside a request")
    return ctx
