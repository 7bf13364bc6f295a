"""`Context`: what a tool, resource or prompt function sees of the request it serves.

A parameter annotated `Context` (any name, also `Context | None` or `Annotated[Context, ...]`)
is injected by the component machinery and hidden from schemas. `get_context()` returns the
same object from anywhere inside the request.

Outbound traffic goes through the request's channel (shared/DESIGN.md §2): log messages only
when the request's envelope allows them, progress only when the request carries a token.
"""

from __future__ import annotations

import copy
import logging
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, Literal

from trimcp.protocol.envelope import LOG_LEVELS

if TYPE_CHECKING:
    from trimcp.server.request import ServerRequest
    from trimcp.server.server import FastMCP

__all__ = ["Context", "enter_context", "get_context"]

logger = logging.getLogger("trimcp.context")

LoggingLevel = Literal[
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"
]

_current: ContextVar[Context | None] = ContextVar("trimcp_context", default=None)


class _Reset:
    __slots__ = ("_token",)

    def __init__(self, token: Token[Context | None]) -> None:
        self._token = token

    def reset(self) -> None:
        _current.reset(self._token)


def enter_context(ctx: Context) -> _Reset:
    """Make `ctx` what `get_context()` returns until `.reset()`."""
    return _Reset(_current.set(ctx))


class Context:
    """Per-request handle on the server and on the client that sent the request."""

    def __init__(self, fastmcp: FastMCP, request: ServerRequest | None = None) -> None:
        self._fastmcp = fastmcp
        self._request = request
        self._state: dict[str, Any] = {}
        self._last_progress: float | None = None
        parent = _current.get()
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
    def request_id(self) -> str:
        return str(self._require_request().id)

    @property
    def session_id(self) -> str | None:
        request = self._request
        return None if request is None else request.channel.session_id

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
        return self._fastmcp._lifespan_result

    # -- state ---------------------------------------------------------------------------

    def set_state(self, key: str, value: Any) -> None:
        self._state[key] = value

    def get_state(self, key: str, default: Any = None) -> Any:
        return self._state.get(key, default)

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
        data: Any = message if extra is None else {"msg": message, "extra": extra}
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

    # -- server features -----------------------------------------------------------------

    async def list_resources(self) -> list[Any]:
        return await self._fastmcp._list_mcp_resources()

    async def list_prompts(self) -> list[Any]:
        return await self._fastmcp._list_mcp_prompts()

    async def read_resource(self, uri: str) -> list[Any]:
        return await self._fastmcp._read_resource_contents(str(uri), self)

    async def get_prompt(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        return await self._fastmcp.render_prompt(name, arguments)

    # -- notifications -------------------------------------------------------------------

    async def _send_session(self, method: str) -> None:
        request = self._request
        if request is not None and not request.envelope.modern:
            await request.channel.notify(method, None, related_request_id=None)

    async def send_tool_list_changed(self) -> None:
        await self._send_session("notifications/tools/list_changed")

    async def send_resource_list_changed(self) -> None:
        await self._send_session("notifications/resources/list_changed")

    async def send_prompt_list_changed(self) -> None:
        await self._send_session("notifications/prompts/list_changed")


def get_context() -> Context:
    """The `Context` of the request being served (RuntimeError outside one)."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("No active context found: get_context() works only inside a request")
    return ctx
