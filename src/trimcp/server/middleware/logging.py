"""FastMCP's logging middleware (`fastmcp.server.middleware.logging`): one record when a
message arrives and one when it is answered (or failed), as FastMCP writes them.

- `LoggingMiddleware`: `key=value` text ("event=request_start method=tools/call
  source=client"), on `trimcp.middleware.logging`.
- `StructuredLoggingMiddleware`: the same facts as one JSON object per record, on
  `trimcp.middleware.structured_logging`.

Each record carries `event` (`request_start`, `request_success`, `request_error`; or the
`notification_` ones), `method`, `source`, and after the call `duration_ms` (and `error`).
Optionally the message itself (`include_payloads`, cut at `max_payload_length`), its length
(`include_payload_length`) and a token estimate (`estimate_payload_tokens`: length // 4).
`methods` limits the logging to those methods. Failures are logged at ERROR.

The payload is the message as JSON text from `default_serializer` (pydantic's serializer, as
FastMCP's: what JSON cannot hold becomes its `str()`), or from `payload_serializer`; one that
fails is logged as a warning and the default is used.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
import pydantic_core

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext

__all__ = [
    "BaseLoggingMiddleware",
    "LoggingMiddleware",
    "StructuredLoggingMiddleware",
    "default_serializer",
]

Fields = dict[str, str | int | float]


def _plain(value: Any) -> Any:
    """What JSON cannot hold, in a form it can (serialized further by the caller)."""
    if isinstance(value, msgspec.Struct):  # a trimcp payload: its wire form
        return msgspec.to_builtins(value, enc_hook=str)
    dump = getattr(value, "model_dump", None)  # a trimcp component: its public fields
    if callable(dump):
        return dump()
    return str(value)


def default_serializer(data: Any) -> str:
    """`data` as compact JSON text, as FastMCP writes it (pydantic's serializer: `mcp.types`
    models by alias); what JSON cannot hold is written as its `str()`."""
    return pydantic_core.to_json(data, fallback=_plain).decode()


class BaseLoggingMiddleware(Middleware):
    """What both logging middlewares share; they differ in their options' defaults and in
    how a record is written (`structured_logging`)."""

    logger: logging.Logger
    log_level: int
    include_payloads: bool
    include_payload_length: bool
    estimate_payload_tokens: bool
    max_payload_length: int | None
    methods: list[str] | None
    structured_logging: bool
    payload_serializer: Callable[[Any], str] | None

    async def on_message(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        if self.methods and context.method not in self.methods:
            return await call_next(context)
        self._log(self._before(context))
        start = time.perf_counter()
        try:
            result = await call_next(context)
        except Exception as error:
            fields = self._after(context, start, "error")
            fields["error"] = str(error)
            self._log(fields, logging.ERROR)
            raise
        self._log(self._after(context, start, "success"))
        return result

    def _payload_text(self, context: MiddlewareContext[Any]) -> str:
        if self.payload_serializer is not None:
            try:
                return self.payload_serializer(context.message)
            except Exception as exc:
                self.logger.warning(
                    f"Failed to serialize payload due to {exc}: "
                    f"{context.type} {context.method} {context.source}."
                )
        return default_serializer(context.message)

    def _base(self, context: MiddlewareContext[Any], event: str) -> Fields:
        return {
            "event": f"{context.type}_{event}",
            "method": context.method or "unknown",
            "source": context.source,
        }

    def _before(self, context: MiddlewareContext[Any]) -> Fields:
        fields = self._base(context, "start")
        if not (
            self.include_payloads or self.include_payload_length or self.estimate_payload_tokens
        ):
            return fields
        payload = self._payload_text(context)
        if self.estimate_payload_tokens:
            fields["payload_tokens"] = len(payload) // 4
        if self.include_payload_length:
            fields["payload_length"] = len(payload)
        if self.include_payloads:
            if self.max_payload_length and len(payload) > self.max_payload_length:
                payload = payload[: self.max_payload_length] + "..."
            fields["payload"] = payload
            fields["payload_type"] = type(context.message).__name__
        return fields

    def _after(self, context: MiddlewareContext[Any], start: float, event: str) -> Fields:
        fields = self._base(context, event)
        fields["duration_ms"] = round((time.perf_counter() - start) * 1000, 2)
        return fields

    def _formatted(self, fields: Fields) -> str:
        if self.structured_logging:
            return json.dumps(fields)
        return " ".join(f"{key}={_printable(value)}" for key, value in fields.items())

    def _log(self, fields: Fields, level: int | None = None) -> None:
        self.logger.log(level or self.log_level, self._formatted(fields))


def _printable(value: Any) -> Any:
    """`value`, with a string's line breaks and other control characters escaped: a tool
    name or URI a client sends cannot write a log line of its own."""
    if isinstance(value, str) and not value.isprintable():
        return value.encode("unicode_escape").decode("ascii")
    return value


class LoggingMiddleware(BaseLoggingMiddleware):
    """Logs every message as `key=value` text (see the module docstring for the options)."""

    def __init__(
        self,
        *,
        logger: logging.Logger | None = None,
        log_level: int = logging.INFO,
        include_payloads: bool = False,
        include_payload_length: bool = False,
        estimate_payload_tokens: bool = False,
        max_payload_length: int = 1000,
        methods: list[str] | None = None,
        payload_serializer: Callable[[Any], str] | None = None,
    ):
        self.logger = logger or logging.getLogger("trimcp.middleware.logging")
        self.log_level = log_level
        self.include_payloads = include_payloads
        self.include_payload_length = include_payload_length
        self.estimate_payload_tokens = estimate_payload_tokens
        self.max_payload_length = max_payload_length
        self.methods = methods
        self.payload_serializer = payload_serializer
        self.structured_logging = False


class StructuredLoggingMiddleware(BaseLoggingMiddleware):
    """Logs every message as one JSON object (payloads are never cut)."""

    def __init__(
        self,
        *,
        logger: logging.Logger | None = None,
        log_level: int = logging.INFO,
        include_payloads: bool = False,
        include_payload_length: bool = False,
        estimate_payload_tokens: bool = False,
        methods: list[str] | None = None,
        payload_serializer: Callable[[Any], str] | None = None,
    ):
        self.logger = logger or logging.getLogger("trimcp.middleware.structured_logging")
        self.log_level = log_level
        self.include_payloads = include_payloads
        self.include_payload_length = include_payload_length
        self.estimate_payload_tokens = estimate_payload_tokens
        self.max_payload_length = None
        self.methods = methods
        self.payload_serializer = payload_serializer
        self.structured_logging = True
