"""MCP methods -> handlers over the server's registries. Era-agnostic: handlers never ask
which era a request is from, except where the wire itself differs (resource-not-found codes).

Foreign exceptions are converted here, once (shared/DESIGN.md §6).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import msgspec

from trimcp.exceptions import (
    McpError,
    NotFoundError,
    PromptError,
    ResourceError,
    ToolError,
    ValidationError,
)
from trimcp.protocol.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    RESOURCE_NOT_FOUND,
    ErrorData,
)
from trimcp.server.context import Context, enter_context
from trimcp.types import CallToolResult, TextContent
from trimcp.types.misc import (
    CompleteParams,
    CompleteResult,
    Completion,
    EmptyResult,
    PaginatedParams,
)
from trimcp.types.prompts import GetPromptParams, ListPromptsResult
from trimcp.types.resources import (
    ListResourcesResult,
    ListResourceTemplatesResult,
    ReadResourceParams,
    ReadResourceResult,
)
from trimcp.types.tools import CallToolParams, ListToolsResult

if TYPE_CHECKING:
    from trimcp.server.request import ServerRequest

__all__ = ["HANDLERS", "Handler", "paginate"]

logger = logging.getLogger("trimcp.server")

Handler = Callable[["ServerRequest", Any], Awaitable[Any]]


def paginate(
    items: Sequence[Any], cursor: str | None, page_size: int | None
) -> tuple[Sequence[Any], str | None]:
    """One page of a deterministic list; the cursor is an opaque offset."""
    if cursor is None and not page_size:
        return items, None
    start = 0
    if cursor is not None:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode())
            if start < 0 or start > len(items):
                raise ValueError
        except (ValueError, UnicodeDecodeError) as exc:
            raise McpError(INVALID_PARAMS, f"Invalid cursor: {cursor!r}") from exc
    if not page_size:
        return items[start:], None
    end = start + page_size
    next_cursor = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return items[start:end], next_cursor


# -- tools -----------------------------------------------------------------------------------


async def list_tools(request: ServerRequest, params: PaginatedParams) -> ListToolsResult:
    tools = [tool.to_mcp_tool(name=key) for key, tool in request.server._iter("tools")]
    page, next_cursor = paginate(tools, params.cursor, request.server.list_page_size)
    return ListToolsResult(tools=list(page), nextCursor=next_cursor)


def _error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=message)], isError=True)


async def call_tool(request: ServerRequest, params: CallToolParams) -> Any:
    server = request.server
    tool = server._lookup_tool(params.name)
    if tool is None:
        raise McpError(INVALID_PARAMS, f"Unknown tool: {params.name}")

    async def run(ctx: Context) -> Any:
        try:
            result = await tool._invoke(
                params.arguments or {}, ctx, strict=server.strict_input_validation
            )
        except (ValidationError, ToolError) as exc:
            return _error_result(str(exc))
        except McpError:
            raise
        except Exception as exc:
            logger.exception("Error calling tool %r", params.name)
            if server.mask_error_details:
                return _error_result(f"Error calling tool {params.name!r}")
            return _error_result(f"Error calling tool {params.name!r}: {exc}")
        return result.to_mcp_result()

    salient = {"name": params.name, "arguments": params.arguments}
    return await _with_input(request, params, salient, run)


def _mrtr() -> ModuleType:
    """`trimcp.server.mrtr`, imported on first use: hashlib, hmac and secrets would cost a
    handshake-era server (or a stdio spawn) ~5 ms. Kept here after the first call: an
    import statement in the request path costs a microsecond each time."""
    global _mrtr_module
    if _mrtr_module is None:
        from trimcp.server import mrtr

        _mrtr_module = mrtr
    return _mrtr_module


_mrtr_module: ModuleType | None = None


async def _with_input(
    request: ServerRequest, params: Any, salient: Any, body: Callable[[Context], Awaitable[Any]]
) -> Any:
    """Run `body` with the request's `Context`. In 2026-07-28, replay the MRTR answers the
    retry carries, and turn the first unanswered input into an `InputRequiredResult`."""
    server = request.server
    ctx = Context(server, request)
    mrtr_round = None
    if request.envelope.modern:
        mrtr = _mrtr()
        keys = mrtr.keys_for(server)
        mrtr_round = mrtr.begin_round(
            keys, request.method, salient, params.requestState, params.inputResponses
        )
        ctx._mrtr = mrtr_round
    token = enter_context(ctx)
    try:
        return await body(ctx)
    except BaseException as exc:
        if mrtr_round is None:
            raise
        mrtr = _mrtr()
        pending = mrtr.find_input_required(exc)
        if pending is None:
            raise
        return mrtr.input_required_result(mrtr.keys_for(server), mrtr_round, pending)
    finally:
        token.reset()


# -- resources -------------------------------------------------------------------------------


async def list_resources(request: ServerRequest, params: PaginatedParams) -> ListResourcesResult:
    items = [r.to_mcp_resource(uri=key) for key, r in request.server._iter("resources")]
    page, next_cursor = paginate(items, params.cursor, request.server.list_page_size)
    return ListResourcesResult(resources=list(page), nextCursor=next_cursor)


async def list_resource_templates(
    request: ServerRequest, params: PaginatedParams
) -> ListResourceTemplatesResult:
    items = [t.to_mcp_template(uriTemplate=key) for key, t in request.server._iter("templates")]
    page, next_cursor = paginate(items, params.cursor, request.server.list_page_size)
    return ListResourceTemplatesResult(resourceTemplates=list(page), nextCursor=next_cursor)


def _not_found(request: ServerRequest, uri: str) -> McpError:
    code = INVALID_PARAMS if request.envelope.modern else RESOURCE_NOT_FOUND
    return McpError(ErrorData(code, f"Resource not found: {uri}", {"uri": uri}))


async def read_resource(request: ServerRequest, params: ReadResourceParams) -> Any:
    server = request.server
    uri = params.uri

    async def run(ctx: Context) -> Any:
        try:
            found = server._lookup_resource(uri)
            if found is None:
                raise _not_found(request, uri)
            contents = await server._read_found(found, uri, ctx)
        except McpError:
            raise
        except NotFoundError as exc:
            raise _not_found(request, uri) from exc
        except ResourceError as exc:
            raise McpError(INTERNAL_ERROR, str(exc)) from exc
        except (ValidationError, msgspec.ValidationError) as exc:
            raise McpError(INVALID_PARAMS, f"Error reading resource {uri!r}: {exc}") from exc
        except Exception as exc:
            logger.exception("Error reading resource %r", uri)
            detail = "" if server.mask_error_details else f": {exc}"
            raise McpError(INTERNAL_ERROR, f"Error reading resource {uri!r}{detail}") from exc
        return ReadResourceResult(contents=contents)

    return await _with_input(request, params, {"uri": uri}, run)


# -- prompts ---------------------------------------------------------------------------------


async def list_prompts(request: ServerRequest, params: PaginatedParams) -> ListPromptsResult:
    items = [p.to_mcp_prompt(name=key) for key, p in request.server._iter("prompts")]
    page, next_cursor = paginate(items, params.cursor, request.server.list_page_size)
    return ListPromptsResult(prompts=list(page), nextCursor=next_cursor)


async def get_prompt(request: ServerRequest, params: GetPromptParams) -> Any:
    server = request.server
    prompt = server._lookup_prompt(params.name)
    if prompt is None:
        raise McpError(INVALID_PARAMS, f"Unknown prompt: {params.name}")

    async def run(ctx: Context) -> Any:
        try:
            return await prompt.render(params.arguments, ctx)
        except McpError:
            raise
        except (PromptError, ValidationError) as exc:
            raise McpError(INVALID_PARAMS, str(exc)) from exc
        except Exception as exc:
            logger.exception("Error rendering prompt %r", params.name)
            detail = "" if server.mask_error_details else f": {exc}"
            raise McpError(
                INTERNAL_ERROR, f"Error rendering prompt {params.name!r}{detail}"
            ) from exc

    salient = {"name": params.name, "arguments": params.arguments}
    return await _with_input(request, params, salient, run)


# -- completion, logging, ping ---------------------------------------------------------------


def _completion_owner(server: Any, ref: Any) -> tuple[Any, Any] | None:
    """The server owning the prompt or template `ref` names and the ref as that server knows
    it, found through mounts the way `prompts/get` and `resources/read` find them (latest
    mount first, a mount that lacks it passed over); None when no server has it."""
    if ref.type == "ref/prompt" and ref.name:
        field, key, own, routes = (
            "name",
            ref.name,
            server._prompts,
            server._composition.routes_named,
        )
    elif ref.type == "ref/resource" and ref.uri:
        field, key, own = "uri", ref.uri, server._templates
        routes = server._composition.routes_resource
    else:
        return server, ref
    if key in own:
        return server, ref
    for mount, child_key in routes(key):
        found = _completion_owner(mount.server, msgspec.structs.replace(ref, **{field: child_key}))
        if found is not None:
            return found
    return None


async def complete(request: ServerRequest, params: CompleteParams) -> CompleteResult:
    owner, ref = _completion_owner(request.server, params.ref) or (request.server, params.ref)
    handler = owner._completion_handler
    if handler is None:  # the component's own server has none: the parent's answers
        owner, ref, handler = request.server, params.ref, request.server._completion_handler
    if handler is None:
        return CompleteResult(completion=Completion(values=[]))
    ctx = Context(request.server, request)
    token = enter_context(ctx)
    try:
        value = await handler(ref, params.argument, params.context)
    finally:
        token.reset()
    if value is None:
        completion = Completion(values=[])
    elif isinstance(value, Completion):
        completion = value
    elif isinstance(value, list | tuple):
        completion = Completion(
            values=[str(v) for v in value][:100], total=len(value), hasMore=len(value) > 100
        )
    else:
        completion = msgspec.convert(
            value.model_dump(by_alias=True, exclude_none=True)
            if hasattr(value, "model_dump")
            else value,
            Completion,
        )
    return CompleteResult(completion=completion)


async def ping(request: ServerRequest, params: Any) -> EmptyResult:
    return EmptyResult()


HANDLERS: dict[str, tuple[type | None, Handler]] = {
    "tools/list": (PaginatedParams, list_tools),
    "tools/call": (CallToolParams, call_tool),
    "resources/list": (PaginatedParams, list_resources),
    "resources/templates/list": (PaginatedParams, list_resource_templates),
    "resources/read": (ReadResourceParams, read_resource),
    "prompts/list": (PaginatedParams, list_prompts),
    "prompts/get": (GetPromptParams, get_prompt),
    "completion/complete": (CompleteParams, complete),
    "ping": (None, ping),
}
