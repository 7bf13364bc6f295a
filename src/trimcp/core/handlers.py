"""MCP methods -> handlers over the server's component managers (`server.tool_manager`,
`resource_manager`, `prompt_manager`: their public serving methods, `find` and the listings).
Era-agnostic: handlers never ask which era a request is from, except where the wire itself
differs (resource-not-found codes).

Foreign exceptions are converted here, once (shared/DESIGN.md §6): each handler converts
what its component raises, and `answer_fault` whatever reaches a transport's catch-all
(middleware, a bug). With `mask_error_details` the client never sees the text of an
unexpected exception from either; `ToolError`, `ResourceError`, `PromptError`,
`ValidationError` and `NotFoundError` carry messages meant for it and are always sent, as
FastMCP sends them.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import msgspec

from trimcp.core.context import FIRST_TRY, Context, enter_context, mrtr_round_of
from trimcp.core.listings import (
    LISTINGS,
    TwoSteps,
    list_prompts,
    list_resource_templates,
    list_resources,
    list_tools,
)
from trimcp.exceptions import (
    CLIENT_FACING_ERRORS,
    McpError,
    NotFoundError,
    PromptError,
    ResourceError,
    ToolError,
    ValidationError,
)
from trimcp.protocol.envelope import is_modern
from trimcp.protocol.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    RESOURCE_NOT_FOUND,
    ErrorData,
)
from trimcp.resources.resource import ReadResourceContents, to_read_contents
from trimcp.tools.tool import ToolResult
from trimcp.types import CallToolResult, TextContent
from trimcp.types.content import BlobResourceContents, TextResourceContents
from trimcp.types.misc import (
    CompleteParams,
    CompleteResult,
    Completion,
    EmptyResult,
    PaginatedParams,
)
from trimcp.types.prompts import GetPromptParams
from trimcp.types.resources import ReadResourceParams, ReadResourceResult
from trimcp.types.results import Result
from trimcp.types.tools import CallToolParams
from trimcp.utilities.context_slot import current_context

if TYPE_CHECKING:
    from trimcp.core.request import ServerRequest
    from trimcp.protocol.jsonrpc import Request
    from trimcp.server.server import FastMCP

__all__ = ["HANDLERS", "MIDDLEWARE_STEPS", "Handler", "answer_fault"]

logger = logging.getLogger("trimcp.server")

Handler = Callable[["ServerRequest", Any], Awaitable[Any]]


def _text(exc: BaseException) -> str:
    """`str(exc)`, which user code may make raise."""
    try:
        return str(exc)
    except Exception:
        return type(exc).__name__


def _detail(server: Any, exc: BaseException) -> str:
    """What an unexpected exception adds to the client's message: nothing when masked."""
    return "" if server.mask_error_details else f": {_text(exc)}"


# -- tools -----------------------------------------------------------------------------------


def _error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(text=message)], isError=True)


def _find_tool(request: ServerRequest, params: CallToolParams) -> Any:
    tool = request.server.tool_manager.find(params.name)
    if tool is None:
        raise McpError(INVALID_PARAMS, f"Unknown tool: {params.name}")
    return tool


async def call_tool(request: ServerRequest, params: CallToolParams) -> Any:
    server = request.server
    tool = server.tool_manager.find(params.name)  # inline: the hot path (`_find_tool`)
    if tool is None:
        raise McpError(INVALID_PARAMS, f"Unknown tool: {params.name}")
    # `_with_input` and `_run_tool` spelled out, in both eras: no coroutine between this one
    # and the tool's, no closure
    ctx = request.context or Context(server, request)
    modern = request.envelope.modern
    if modern:  # an MRTR round: the answers the retry carries
        if params.requestState is not None or request.raw_params is None:
            ctx._mrtr = _begin_round(request, params, _named_salient(params))
        elif type(server.mrtr_keys) is _keys_type:  # keys checked already
            ctx._mrtr = FIRST_TRY  # a first try: its round is made if asked for (`mrtr_round_of`)
        else:
            ctx._mrtr = first_try_round(request)  # (checks the keys)
    token = current_context.set(ctx)
    try:
        result = await tool.invoke(
            params.arguments or {}, ctx, strict=server.strict_input_validation
        )
    except (ValidationError, ToolError) as exc:
        return _error_result(str(exc))
    except McpError:
        raise
    except Exception as exc:
        return _tool_failed(server, params, exc)
    except BaseException as exc:
        if not modern:
            raise
        return _input_required(server, ctx, exc)
    finally:
        current_context.reset(token)
    return result.to_mcp_result()


def _tool_failed(server: Any, params: CallToolParams, exc: Exception) -> CallToolResult:
    """The `isError` result of a tool that raised something unexpected (logged)."""
    logger.exception("Error calling tool %r", params.name, exc_info=exc)
    return _error_result(f"Error calling tool {params.name!r}{_detail(server, exc)}")


async def _tool_result(request: ServerRequest, params: CallToolParams) -> Any:
    """`tools/call` as middleware's `call_next` gives it: the `ToolResult` (or, 2026-07-28, an
    `InputRequiredResult`). A failure raises, as FastMCP's: an unexpected exception as the
    `ToolError` "Error calling tool 'x': ..." (logged; masked per `mask_error_details`), so
    `answer_fault` answers it as `call_tool` would have."""
    server = request.server
    tool = _find_tool(request, params)

    async def run(ctx: Context) -> Any:
        try:
            return await tool.invoke(
                params.arguments or {}, ctx, strict=server.strict_input_validation
            )
        except (ValidationError, ToolError, McpError):
            raise
        except Exception as exc:
            logger.exception("Error calling tool %r", params.name)
            raise ToolError(f"Error calling tool {params.name!r}{_detail(server, exc)}") from exc

    return await _with_input(request, params, _named_salient(params), run)


def _finish_tool_call(request: ServerRequest, params: CallToolParams, result: Any) -> Any:
    return result.to_mcp_result() if isinstance(result, ToolResult) else result


def _mrtr() -> ModuleType:
    """`trimcp.core.mrtr`, imported on first use: hashlib, hmac and secrets would cost a
    handshake-era server (or a stdio spawn) ~5 ms. Kept here after the first call: an
    import statement in the request path costs a microsecond each time."""
    global _mrtr_module, _keys_type
    if _mrtr_module is None:
        from trimcp.core import mrtr

        _mrtr_module = mrtr
        _keys_type = mrtr.MrtrKeys
    return _mrtr_module


_mrtr_module: ModuleType | None = None
# `MrtrKeys` once `trimcp.core.mrtr` is imported: a server whose `mrtr_keys` are of it has had
# them checked (`keys_for`), so a first try need not (bad keys fail every request: the first
# modern `tools/call` after they are set checks them)
_keys_type: type | None = None


def _named_salient(params: CallToolParams | GetPromptParams) -> dict[str, Any]:
    """What the MRTR digest of a `tools/call` or a `prompts/get` covers: the tool or prompt
    and its arguments."""
    return {"name": params.name, "arguments": params.arguments}


def _tool_salient_of_raw(raw: Any) -> dict[str, Any]:
    """`_named_salient` of the params as the client sent them (decoded once already, so this
    cannot fail but as `decode_params` would: an `McpError`)."""
    from trimcp.core.session import decode_params  # only when a first try asks for input

    return _named_salient(decode_params(raw, CallToolParams))


def first_try_round(request: ServerRequest) -> Any:
    """The MRTR round of a `tools/call`'s first try (`FIRST_TRY`), made when the tool asks for
    input: its digest is read from the params as the client sent them."""
    server = request.server
    mrtr = _mrtr()
    mrtr.keys_for(server)  # (also on a first try: bad keys fail every request)
    return mrtr.deferred_round(
        request.method, request.raw_params, _tool_salient_of_raw, _max_rounds(mrtr, server)
    )


def _max_rounds(mrtr: ModuleType, server: Any) -> int:
    rounds = server.mrtr_max_rounds
    return mrtr.MAX_ROUNDS if rounds is None else rounds  # type: ignore[no-any-return]


def _begin_round(request: ServerRequest, params: Any, salient: Any) -> Any:
    """The MRTR round of a 2026-07-28 request: the answers its retry carries, verified
    against its `requestState` (`trimcp.core.mrtr.begin_round`)."""
    server = request.server
    mrtr = _mrtr()
    max_rounds = _max_rounds(mrtr, server)
    keys = mrtr.keys_for(server)  # (also on a first try: bad keys fail every request)
    if params.requestState is None:  # a first try: nothing to verify
        return mrtr.fresh_round(request.method, salient, max_rounds)
    return mrtr.begin_round(
        keys,
        request.method,
        salient,
        params.requestState,
        params.inputResponses,
        max_rounds=max_rounds,
    )


def _input_required(server: Any, mrtr_round: Any, exc: BaseException) -> Any:
    """The `InputRequiredResult` for the input a handler asked for (`exc`, or inside it), or
    `exc` raised again when it is something else. `mrtr_round`: the round, or the `Context`
    holding it."""
    mrtr = _mrtr()
    pending = mrtr.find_input_required(exc)
    if pending is None:
        raise exc
    if isinstance(mrtr_round, Context):  # `call_tool`'s: its round, made now if not yet
        mrtr_round = mrtr_round_of(mrtr_round)
    return mrtr.input_required_result(mrtr.keys_for(server), mrtr_round, pending)


async def _with_input(
    request: ServerRequest, params: Any, salient: Any, body: Callable[[Context], Awaitable[Any]]
) -> Any:
    """Run `body` with the request's `Context`. In 2026-07-28, replay the MRTR answers the
    retry carries, and turn the first unanswered input into an `InputRequiredResult`."""
    ctx = request.context or Context(request.server, request)
    mrtr_round = None
    if request.envelope.modern:
        mrtr_round = ctx._mrtr = _begin_round(request, params, salient)
    token = current_context.set(ctx)
    try:
        return await body(ctx)
    except BaseException as exc:
        if mrtr_round is None:
            raise
        return _input_required(request.server, mrtr_round, exc)
    finally:
        current_context.reset(token)


# -- resources -------------------------------------------------------------------------------


def _not_found(request: ServerRequest, uri: str) -> McpError:
    code = INVALID_PARAMS if request.envelope.modern else RESOURCE_NOT_FOUND
    return McpError(ErrorData(code, f"Unknown resource: {uri!r}", {"uri": uri}))  # FastMCP's words


async def read_resource(request: ServerRequest, params: ReadResourceParams) -> Any:
    return await _read(request, params, _read_result)


def _read_result(contents: list[Any]) -> ReadResourceResult:
    return ReadResourceResult(contents=contents)


async def _read(request: ServerRequest, params: ReadResourceParams, shape: Any) -> Any:
    """Read `params.uri`: its wire contents given to `shape` (the result, or what a
    middleware hook gets); failures are FastMCP's errors."""
    server = request.server
    resources = server.resource_manager
    uri = params.uri

    async def run(ctx: Context) -> Any:
        try:
            found = resources.find(uri)
            if found is None:
                raise _not_found(request, uri)
            contents = await resources.read(found, uri, ctx)
        except McpError:
            raise
        except NotFoundError as exc:
            raise _not_found(request, uri) from exc
        except ResourceError as exc:
            raise McpError(INTERNAL_ERROR, str(exc)) from exc
        except ValidationError as exc:
            raise McpError(INVALID_PARAMS, f"Error reading resource {uri!r}: {exc}") from exc
        except msgspec.ValidationError as exc:  # the URI's values, or the user's own decoding
            raise McpError(
                INVALID_PARAMS, f"Error reading resource {uri!r}{_detail(server, exc)}"
            ) from exc
        except Exception as exc:
            logger.exception("Error reading resource %r", uri)
            raise McpError(
                INTERNAL_ERROR, f"Error reading resource {uri!r}{_detail(server, exc)}"
            ) from exc
        return shape(contents)

    return await _with_input(request, params, {"uri": uri}, run)


async def _read_contents(request: ServerRequest, params: ReadResourceParams) -> Any:
    """`resources/read` as middleware's `call_next` gives it: `ReadResourceContents` (or, in
    2026-07-28, an `InputRequiredResult`)."""
    return await _read(request, params, to_read_contents)


def _finish_read(request: ServerRequest, params: ReadResourceParams, contents: Any) -> Any:
    if isinstance(contents, Result):
        return contents
    return ReadResourceResult(contents=[_wire_contents(params.uri, item) for item in contents])


def _wire_contents(uri: str, item: Any) -> Any:
    if not isinstance(item, ReadResourceContents):
        return item  # wire contents already
    if isinstance(item.content, bytes):
        blob = base64.b64encode(item.content).decode()
        return BlobResourceContents(uri=uri, mimeType=item.mime_type, meta=item.meta, blob=blob)
    return TextResourceContents(uri=uri, mimeType=item.mime_type, meta=item.meta, text=item.content)


# -- prompts ---------------------------------------------------------------------------------


async def get_prompt(request: ServerRequest, params: GetPromptParams) -> Any:
    server = request.server
    prompt = server.prompt_manager.find(params.name)
    if prompt is None:
        raise McpError(INVALID_PARAMS, f"Unknown prompt: {params.name}")

    async def run(ctx: Context) -> Any:
        try:
            return await prompt.render_result(params.arguments, ctx)
        except McpError:
            raise
        except (PromptError, ValidationError) as exc:
            raise McpError(INVALID_PARAMS, str(exc)) from exc
        except Exception as exc:
            logger.exception("Error rendering prompt %r", params.name)
            raise McpError(
                INTERNAL_ERROR, f"Error rendering prompt {params.name!r}{_detail(server, exc)}"
            ) from exc

    return await _with_input(request, params, _named_salient(params), run)


# -- completion, logging, ping ---------------------------------------------------------------


def _completion_owner(server: FastMCP, ref: Any) -> tuple[Any, Any] | None:
    """The server owning the prompt or template `ref` names and the ref as that server knows
    it, found through mounts the way `prompts/get` and `resources/read` find them (latest
    mount first, a mount that lacks it passed over); None when no server has it."""
    if ref.type == "ref/prompt" and ref.name:
        field, found = "name", server.prompt_manager.completion_owner(ref.name)
    elif ref.type == "ref/resource" and ref.uri:
        field, found = "uri", server.resource_manager.completion_owner(ref.uri)
    else:
        return server, ref
    if found is None:
        return None
    owner, key = found
    if owner is None:
        return server, ref
    return owner, msgspec.structs.replace(ref, **{field: key})


async def complete(request: ServerRequest, params: CompleteParams) -> CompleteResult:
    owner, ref = _completion_owner(request.server, params.ref) or (request.server, params.ref)
    handler = owner.completion_handler
    if handler is None:  # the component's own server has none: the parent's answers
        owner, ref, handler = request.server, params.ref, request.server.completion_handler
    if handler is None:
        return CompleteResult(completion=Completion(values=[]))
    ctx = request.context or Context(request.server, request)
    token = enter_context(ctx)
    try:
        completion = _completion(await handler(ref, params.argument, params.context))
    except McpError:
        raise
    except (ValidationError, NotFoundError) as exc:
        raise McpError(INVALID_PARAMS, str(exc)) from exc
    except Exception as exc:  # the handler, or what it returned
        logger.exception("Error completing %r", params.argument.name)
        raise McpError(
            INTERNAL_ERROR,
            f"Error completing {params.argument.name!r}{_detail(request.server, exc)}",
        ) from exc
    finally:
        token.reset()
    return CompleteResult(completion=completion)


def _completion(value: Any) -> Completion:
    if value is None:
        return Completion(values=[])
    if isinstance(value, Completion):
        return value
    if isinstance(value, list | tuple):
        return Completion(
            values=[str(v) for v in value][:100], total=len(value), hasMore=len(value) > 100
        )
    return msgspec.convert(
        value.model_dump(by_alias=True, exclude_none=True)
        if hasattr(value, "model_dump")
        else value,
        Completion,
    )


# -- faults no handler converted -------------------------------------------------------------


class _FaultParams(msgspec.Struct):
    """What the answer to a fault needs from its request's params."""

    name: Any = None
    uri: Any = None
    meta: Any = msgspec.field(default=None, name="_meta")


_fault_params = msgspec.json.Decoder(_FaultParams)


def answer_fault(server: FastMCP, request: Request, exc: Exception) -> tuple[Any, ErrorData | None]:
    """The answer to `request`, whose serving raised `exc` past its handler: an exception
    from middleware, or a bug. It is the fault policy of the one exception boundary
    (`runtime.engine.RequestEngine`, which every transport serves through), so a fault gets
    the same answer on each. Returns `(result, None)` or `(None, error)`; never raises.

    A `tools/call` gets an `isError` result, as a failing tool does (and FastMCP answers);
    anything else a JSON-RPC error: -32603 with FastMCP's wording ("Error reading resource
    'x'", "Error rendering prompt 'x'"; else "Internal error") for an unexpected exception,
    whose text follows (or, for other methods, is the message) only when
    `mask_error_details` is off; an exception of `CLIENT_FACING_ERRORS` keeps its
    message and the code its handler would give it. An unexpected exception is logged here
    with its traceback; it never reaches the client.
    """
    if isinstance(exc, McpError):
        return None, exc.error
    try:
        params = _fault_params.decode(request.params) if request.params else _FaultParams()
    except Exception:  # unreadable params (not JSON, too deep...): answered without them
        params = _FaultParams()
    modern = isinstance(params.meta, dict) and is_modern(params.meta)
    method = request.method
    public = isinstance(exc, CLIENT_FACING_ERRORS)
    if public:
        logger.debug("request %r (%s) failed: %s", request.id, method, _text(exc))
        message = _text(exc)
    else:
        logger.error("request %r (%s) failed", request.id, method, exc_info=exc)
        detail = _detail(server, exc)
        if method == "tools/call":
            message = f"Error calling tool {params.name!r}{detail}"
        elif method == "resources/read":
            message = f"Error reading resource {params.uri!r}{detail}"
        elif method == "prompts/get":
            message = f"Error rendering prompt {params.name!r}{detail}"
        else:  # the exception's own text unmasked, as the SDK sends it
            message = (
                "Internal error" if server.mask_error_details else _text(exc) or type(exc).__name__
            )
    if method == "tools/call":
        result = _error_result(message)
        return (server.finish_modern(result) if modern else result), None
    code = INTERNAL_ERROR
    if isinstance(exc, NotFoundError):
        code = RESOURCE_NOT_FOUND if method == "resources/read" and not modern else INVALID_PARAMS
    elif isinstance(exc, PromptError | ValidationError):
        code = INVALID_PARAMS
    return None, ErrorData(code, message)


async def ping(request: ServerRequest, params: Any) -> EmptyResult:
    return EmptyResult()


MIDDLEWARE_STEPS: dict[str, TwoSteps] = {
    **LISTINGS,
    "tools/call": TwoSteps(_tool_result, _finish_tool_call),
    "resources/read": TwoSteps(_read_contents, _finish_read),
}
"""The methods whose middleware hooks see FastMCP's objects rather than wire results."""

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
