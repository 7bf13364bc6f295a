"""OpenTelemetry for the requests a server serves: a span each, and three metrics.

When `opentelemetry-api` is installed (`pip install trimcp[otel]`), every request a server
session serves, on every transport and in both eras, gets a `SERVER` span and is counted:

- the span is named after the method and, for `tools/call` and `prompts/get`, the component
  (`"tools/call add"`: the MCP semantic conventions' `{mcp.method.name} {target}`; a
  resource's URI is an attribute, not part of the name, as they advise). Attributes:
  `mcp.method.name`, `gen_ai.tool.name` / `gen_ai.prompt.name` / `mcp.resource.uri`,
  `jsonrpc.request.id`, `mcp.session.id` (when the request belongs to a session),
  `mcp.protocol.version`, `trimcp.protocol.era` (`"handshake"` or `"modern"`),
  `trimcp.transport`, and the outcome: `trimcp.outcome` is `"ok"`, `"error"` (a JSON-RPC
  error; `rpc.response.status_code` holds its code, `error.type` too), `"tool_error"` (a
  `tools/call` answered with `isError`; `error.type` is `"tool_error"`), `"exception"`
  (an exception left the handler; `error.type` is its class, and the engine's fault policy
  answers it) or `"cancelled"` (by the client, a disconnect or shutdown). The span's status is `ERROR` for all but `"ok"`.
- its parent is the W3C trace context (`traceparent`, `tracestate`) the request carries in
  `params._meta`, as the conventions ask MCP instrumentations to propagate it, or else the
  HTTP request's headers; without either, the current context. The globally configured
  propagator reads them (W3C trace context by default).
- metrics: `mcp.server.operation.duration` (histogram, seconds), `trimcp.server.requests`
  and `trimcp.server.errors` (counters), with the method, the tool or prompt name, the
  protocol version and `error.type` as attributes.

Spans and metrics go to the global tracer and meter providers (set them up as usual with
`opentelemetry-sdk`), or to those given to `configure()`; `configure(enabled=False)` turns
it all off, as does the environment variable `TRIMCP_OTEL=0` (read at import). Either
applies to the sessions made afterwards.

Cost. Nothing here is imported by `import trimcp`, and OpenTelemetry is imported only when
a server session is made after the application imported OpenTelemetry's API itself (as any
tracer or meter provider setup does), gave `configure()` a provider, or set `TRIMCP_OTEL=1`:
an application that does not use OpenTelemetry never pays its import (some 20-40 ms), even
with the package installed. Without it, a session serves as if this module did not exist: the check is
made once per session, not per request. With it, a session's `handle_request` is wrapped
by `RequestTelemetry.traced`; while no provider is set up (the API installed, the SDK not
configured) a request pays that wrapper and a clock read (well under a microsecond), and
nothing else; the providers are looked at again once a second.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import msgspec

from trimcp.exceptions import McpError
from trimcp.protocol.envelope import PROTOCOL_VERSION_KEY

__all__ = ["RequestTelemetry", "configure", "request_telemetry"]

TRACE_KEYS = ("traceparent", "tracestate")
"""The W3C trace-context keys read from `params._meta` and from HTTP headers."""

_TARGETS = {"tools/call": "gen_ai.tool.name", "prompts/get": "gen_ai.prompt.name"}
_URIS = frozenset({"resources/read", "resources/subscribe", "resources/unsubscribe"})


class _Peek(msgspec.Struct):
    """What a span needs of a request's params; the rest is skipped unread. Typed loosely,
    so that an odd field of another method does not cost the span its trace context."""

    name: Any = None
    uri: Any = None
    meta: Any = msgspec.field(default=None, name="_meta")


_peek_decoder = msgspec.json.Decoder(_Peek)
_EMPTY = _Peek()

_OFF = frozenset({"0", "false", "no", "off"})
# `TRIMCP_OTEL=1`: report even before the application imported OpenTelemetry (auto-instrumented
# processes whose providers come from the environment)
_FORCED = os.environ.get("TRIMCP_OTEL", "").lower() in {"1", "true", "yes", "on"}
_options: dict[str, Any] = {
    # `TRIMCP_OTEL=0` (or `FASTMCP_OTEL=0`) turns it off without code
    "enabled": os.environ.get("TRIMCP_OTEL", os.environ.get("FASTMCP_OTEL", "1")).lower()
    not in _OFF,
    "tracer_provider": None,
    "meter_provider": None,
}
_resolved = False
_current: RequestTelemetry | None = None


def configure(
    *, enabled: bool = True, tracer_provider: Any = None, meter_provider: Any = None
) -> None:
    """Choose how server sessions made from now on report: off (`enabled=False`), or to
    these providers (None: OpenTelemetry's global ones, looked up at each use)."""
    global _resolved, _current
    _options.update(enabled=enabled, tracer_provider=tracer_provider, meter_provider=meter_provider)
    _resolved = False
    _current = None


def request_telemetry() -> RequestTelemetry | None:
    """What a new session reports through, or None (OpenTelemetry not installed, not in use,
    or turned off). OpenTelemetry is in use once the application has imported its API (as
    any setup of a tracer or meter provider does), when `configure()` was given a provider,
    or with `TRIMCP_OTEL=1`; until then nothing is imported and the question is asked again
    at the next session (a `sys.modules` lookup). Once decided, kept until `configure()`."""
    global _resolved, _current
    if not _resolved:
        if not _options["enabled"]:
            _current = None
        elif _in_use():
            _current = _build() if _installed() else None
        else:
            return None  # not in use (yet): no import, asked again at the next session
        _resolved = True
    return _current


def _in_use() -> bool:
    return (
        "opentelemetry.trace" in sys.modules
        or "opentelemetry.metrics" in sys.modules
        or _options["tracer_provider"] is not None
        or _options["meter_provider"] is not None
        or _FORCED
    )


def _installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.trace") is not None
    except (ImportError, ValueError):  # a parent that is no package, or blocked
        return False


def _build() -> RequestTelemetry:
    from opentelemetry import metrics, trace

    from trimcp import __version__

    tracer = trace.get_tracer("trimcp", __version__, tracer_provider=_options["tracer_provider"])
    meter = metrics.get_meter("trimcp", __version__, meter_provider=_options["meter_provider"])
    given = _options["tracer_provider"] is not None or _options["meter_provider"] is not None
    return RequestTelemetry(tracer, meter, live=given)


Handler = Callable[[Any, Any], Awaitable[Any]]


class RequestTelemetry:
    """Spans and metrics for the requests of server sessions (see the module docstring).

    Until a tracer or meter provider is configured (OpenTelemetry's global ones are
    stand-ins until then, and any span made through them records nothing), a request is
    served as it is; the providers are looked at again at most once a second, so one set
    up after serving began counts within a second. Once one is, it is for good (the globals
    can be set once) and the looking stops."""

    def __init__(self, tracer: Any, meter: Any, *, live: bool = False) -> None:
        from opentelemetry import context, metrics, propagate, trace

        self.tracer = tracer
        self.duration = meter.create_histogram(
            "mcp.server.operation.duration",
            unit="s",
            description="How long the server took to answer an MCP request",
        )
        self.requests = meter.create_counter(
            "trimcp.server.requests", unit="{request}", description="MCP requests served"
        )
        self.errors = meter.create_counter(
            "trimcp.server.errors",
            unit="{request}",
            description="MCP requests answered with an error, an isError result or an exception",
        )
        self.live = live
        self._next_check = 0.0
        self._trace = trace
        self._metrics = metrics
        self._attach = context.attach
        self._detach = context.detach
        self._extract = propagate.extract
        self._server_kind = trace.SpanKind.SERVER
        self._error_code = trace.StatusCode.ERROR
        self._status = trace.Status

    def configured(self) -> bool:
        """Whether a tracer or meter provider is set up: checked until one is, at most once
        a second (asking OpenTelemetry reads the environment, a microsecond or two)."""
        if self.live:
            return True
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + 1.0
        trace = self._trace
        tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        # the metrics API's stand-in is a private class: known by its name
        metering = type(self._metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider"
        self.live = tracing or metering
        return self.live

    def traced(self, session: Any, handle: Handler) -> Handler:
        """`handle` (a session's `handle_request`) inside a span per request. The wrapper
        is no coroutine of its own: it returns `handle`'s, or `serve`'s."""

        def handle_request(request: Any, channel: Any) -> Awaitable[Any]:
            if self.live or self.configured():
                return self.serve(handle, session, request, channel)
            return handle(request, channel)

        return handle_request

    async def serve(self, handle: Handler, session: Any, request: Any, channel: Any) -> Any:
        """`await handle(request, channel)` inside the request's span, counted."""
        method = request.method
        peek = _peek(request.params)
        attributes: dict[str, Any] = {
            "mcp.method.name": method,
            "jsonrpc.request.id": str(request.id),
            "trimcp.transport": str(getattr(channel, "transport", "")),
        }
        metric_attributes = {"mcp.method.name": method}
        name = method
        target_key = _TARGETS.get(method)
        if target_key is not None and isinstance(peek.name, str):
            attributes[target_key] = metric_attributes[target_key] = peek.name
            name = f"{method} {peek.name}"
        elif method in _URIS and isinstance(peek.uri, str):
            attributes["mcp.resource.uri"] = peek.uri
        meta = peek.meta if isinstance(peek.meta, dict) else None
        session_id = _session_id(session, channel)
        if session_id is not None:
            attributes["mcp.session.id"] = session_id
        parent = self._parent(meta, channel)
        trace = self._trace
        span = self.tracer.start_span(
            name, context=parent, kind=self._server_kind, attributes=attributes
        )
        token = self._attach(trace.set_span_in_context(span, parent))
        outcome, error_type = "ok", None
        start = time.perf_counter()
        try:
            result = await handle(request, channel)
        except McpError as exc:
            outcome, error_type = "error", str(exc.error.code)
            span.set_status(self._status(self._error_code, exc.error.message))
            raise
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                outcome, error_type = "cancelled", "cancelled"
            else:
                outcome, error_type = "exception", type(exc).__qualname__
                span.record_exception(exc)
            span.set_status(self._status(self._error_code, f"{error_type}: {exc}"))
            raise
        else:
            if getattr(result, "isError", None) is True:
                outcome, error_type = "tool_error", "tool_error"
                span.set_status(self._status(self._error_code))
        finally:
            elapsed = time.perf_counter() - start
            self._detach(token)
            version, era = _version(session, meta)
            ending = {"trimcp.protocol.era": era, "trimcp.outcome": outcome}
            if version is not None:
                ending["mcp.protocol.version"] = metric_attributes["mcp.protocol.version"] = version
            if error_type is not None:
                ending["error.type"] = metric_attributes["error.type"] = error_type
                if outcome == "error":
                    ending["rpc.response.status_code"] = error_type
                self.errors.add(1, metric_attributes)
            span.set_attributes(ending)
            span.end()
            self.requests.add(1, metric_attributes)
            self.duration.record(elapsed, metric_attributes)
        return result

    def _parent(self, meta: dict[str, Any] | None, channel: Any) -> Any:
        """The trace context to continue: `_meta`'s, else the HTTP headers', else None
        (the current one)."""
        if meta is not None and isinstance(meta.get("traceparent"), str):
            return self._extract({k: meta[k] for k in TRACE_KEYS if isinstance(meta.get(k), str)})
        headers = _trace_headers(channel)
        if headers:
            return self._extract(headers)
        return None


def _peek(raw: Any) -> _Peek:
    if raw is None:
        return _EMPTY
    try:
        return _peek_decoder.decode(raw)
    except Exception:  # params of another shape: the span goes without them
        return _EMPTY


def _session_id(session: Any, channel: Any) -> str | None:
    """The transport's session id (HTTP), or the session's own for a connection that is
    one session (stdio, in memory); None for requests that belong to no session."""
    found = getattr(channel, "session_id", None)
    if isinstance(found, str):
        return found
    if session is not None and not getattr(session, "shared", True):
        made = session.session_id
        return made if isinstance(made, str) else None
    return None


def _version(session: Any, meta: dict[str, Any] | None) -> tuple[str | None, str]:
    """The protocol version and era the request was served in."""
    if meta is not None:
        version = meta.get(PROTOCOL_VERSION_KEY)
        if isinstance(version, str):
            return version, "modern"
    return getattr(session, "protocol_version", None), "handshake"


def _trace_headers(channel: Any) -> dict[str, str] | None:
    """The trace-context headers of the HTTP request a channel belongs to (its ASGI scope),
    or None."""
    extra = getattr(channel, "extra", None)
    scope = extra.get("scope") if isinstance(extra, dict) else None
    if not isinstance(scope, dict):
        return None
    found = {}
    for key, value in scope.get("headers", ()):
        if key in (b"traceparent", b"tracestate"):
            found[key.decode("latin-1")] = value.decode("latin-1")
    return found or None
