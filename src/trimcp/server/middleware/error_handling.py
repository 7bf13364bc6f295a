"""FastMCP's error-handling middleware (`fastmcp.server.middleware.error_handling`).

- `ErrorHandlingMiddleware`: logs every failure (counted per `"<Error>:<method>"`, with an
  optional callback), and turns exceptions that are not `McpError`s into `McpError`s with
  FastMCP's codes, by exact type: `ValueError`/`TypeError` -32602 "Invalid params",
  `FileNotFoundError`/`KeyError`/`NotFoundError` -32001 "Resource not found", `PermissionError`
  -32000 "Permission denied", `TimeoutError` -32000 "Request timeout", anything else -32603
  "Internal error" (unless `transform_errors=False`).
- `RetryMiddleware`: retries a request that failed with one of `retry_exceptions`, with
  exponential backoff (`base_delay * backoff_multiplier**attempt`, at most `max_delay`),
  sleeping with `anyio.sleep`.

Beyond FastMCP: on a server with `mask_error_details`, a transformed error keeps its code and
prefix but not the text of the exception, so the middleware never leaks what the server hides.
Only the errors whose text is written for the client keep it, the same ones the engine's own
fault boundary keeps: `ToolError`, `ResourceError`, `PromptError`, `ValidationError` and
`NotFoundError` (and their subclasses). Other trimcp errors (a `ClientError` quoting an
upstream URL with its password, say) are masked like any exception. When the official SDK is loaded, the `McpError` raised is also the SDK's, so
FastMCP code that catches `mcp.McpError` around this middleware sees it.

Cancellation and 2026-07-28 input rounds are not `Exception`s: they pass through untouched.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

import anyio

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext
from trimcp.exceptions import (
    CLIENT_FACING_ERRORS,
    McpError,
    NotFoundError,
)
from trimcp.protocol.errors import INTERNAL_ERROR, INVALID_PARAMS, ErrorData

__all__ = ["ErrorHandlingMiddleware", "RetryMiddleware"]

# FastMCP's mapping: exact exception type -> (code, message prefix)
_TRANSFORMS: dict[type[BaseException], tuple[int, str]] = {
    ValueError: (INVALID_PARAMS, "Invalid params"),
    TypeError: (INVALID_PARAMS, "Invalid params"),
    FileNotFoundError: (-32001, "Resource not found"),
    KeyError: (-32001, "Resource not found"),
    NotFoundError: (-32001, "Resource not found"),
    PermissionError: (-32000, "Permission denied"),
    TimeoutError: (-32000, "Request timeout"),
}


def _server_masks_details(context: MiddlewareContext[Any]) -> bool:
    server = getattr(context.fastmcp_context, "fastmcp", None)
    return getattr(server, "mask_error_details", False) is True


def _as_sdk_error(error: McpError) -> McpError:
    """`error`, also of the SDK's `McpError` class when `mcp` is loaded."""
    if "mcp.shared.exceptions" not in sys.modules:
        return error
    # Imported here: only programs that load the official SDK pay for the client package.
    from trimcp.client.interop import sdk_error

    return sdk_error(error)


class ErrorHandlingMiddleware(Middleware):
    """Logs failures and answers them with consistent MCP errors.

    Args:
        logger: Where to log (default: the `trimcp.errors` logger).
        include_traceback: Log the traceback too.
        error_callback: Called with `(error, context)` for each failure (its own failure is
            logged, never raised).
        transform_errors: Turn exceptions other than `McpError` into `McpError`s.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        include_traceback: bool = False,
        error_callback: Callable[[Exception, MiddlewareContext[Any]], None] | None = None,
        transform_errors: bool = True,
    ):
        self.logger = logger or logging.getLogger("trimcp.errors")
        self.include_traceback = include_traceback
        self.error_callback = error_callback
        self.transform_errors = transform_errors
        self.error_counts: dict[str, int] = {}

    async def on_message(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        try:
            return await call_next(context)
        except Exception as error:
            self._record_failure(error, context)
            transformed = self._as_mcp_error(error, context)
            if transformed is error:
                raise
            raise transformed from error

    def get_error_stats(self) -> dict[str, int]:
        """Failures counted so far, by `"<ErrorType>:<method>"` (a copy)."""
        return dict(self.error_counts)

    def _record_failure(self, error: Exception, context: MiddlewareContext[Any]) -> None:
        kind, method = type(error).__name__, context.method or "unknown"
        key = f"{kind}:{method}"
        self.error_counts[key] = self.error_counts.get(key, 0) + 1
        message = f"Error in {method}: {kind}: {error}"
        if self.include_traceback:
            message = f"{message}\n{traceback.format_exc()}"
        self.logger.error(message)
        if self.error_callback is not None:
            try:
                self.error_callback(error, context)
            except Exception as failure:
                self.logger.error(f"Error in error callback: {failure}")

    def _as_mcp_error(self, error: Exception, context: MiddlewareContext[Any]) -> Exception:
        if isinstance(error, McpError) or not self.transform_errors:
            return error
        code, prefix = _TRANSFORMS.get(type(error), (INTERNAL_ERROR, "Internal error"))
        hide = _server_masks_details(context) and not isinstance(error, CLIENT_FACING_ERRORS)
        message = prefix if hide else f"{prefix}: {error}"
        return _as_sdk_error(McpError(ErrorData(code, message)))


class RetryMiddleware(Middleware):
    """Retries requests that fail with a transient error, backing off exponentially.

    Args:
        max_retries: Retries after the first attempt.
        base_delay: Seconds before the first retry.
        max_delay: The longest wait between attempts.
        backoff_multiplier: Factor by which each wait grows.
        retry_exceptions: The exception types worth retrying.
        logger: Where retries are logged (default: the `trimcp.retry` logger).
    """

    def __init__(
        self,
        max_retries: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        backoff_multiplier: float = 2.0,
        retry_exceptions: tuple[type[Exception], ...] = (ConnectionError, TimeoutError),
        logger: logging.Logger | None = None,
    ):
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.backoff_multiplier = backoff_multiplier
        self.retry_exceptions = retry_exceptions
        self.logger = logger or logging.getLogger("trimcp.retry")

    def _backoff(self, attempt: int) -> float:
        return float(min(self.base_delay * self.backoff_multiplier**attempt, self.max_delay))

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        attempts = self.max_retries + 1
        attempt = 0
        while True:
            try:
                return await call_next(context)
            except Exception as error:
                if attempt >= self.max_retries or not isinstance(error, self.retry_exceptions):
                    raise
                delay = self._backoff(attempt)
                self.logger.warning(
                    f"Request {context.method} failed (attempt {attempt + 1}/{attempts}): "
                    f"{type(error).__name__}: {error}. Retrying in {delay:.1f}s..."
                )
            await anyio.sleep(delay)
            attempt += 1
