"""The one exception tree of trimcp.

```
TrimcpError (alias FastMCPError)
├── ValidationError          arguments or values that fail validation
├── ResourceError            a resource could not be read
├── ToolError                a tool failed; its message reaches the client as an error result
├── PromptError              a prompt could not be rendered
│   └── MissingArgumentsError  required arguments absent (a ValueError too, as FastMCP raises)
├── InvalidSignature         a function cannot become a component
├── ClientError              the client side failed
├── NotFoundError            no component of that name / URI
│   └── DisabledError        it exists but is disabled
└── McpError                 a JSON-RPC error, carrying the `ErrorData` to send or that was received
    └── ProtocolError        the peer broke the protocol (raised by `trimcp.protocol`)
```

Foreign exceptions are converted once, at the dispatch boundary (`trimcp.server.dispatch`).
"""

from __future__ import annotations

from typing import Any

from trimcp.protocol.errors import INTERNAL_ERROR, ErrorData

__all__ = [
    "CLIENT_FACING_ERRORS",
    "ClientError",
    "ClientNotConnected",
    "DisabledError",
    "FastMCPError",
    "InvalidArgumentsError",
    "InvalidSignature",
    "McpError",
    "MissingArgumentsError",
    "MissingCapabilityError",
    "NotFoundError",
    "PromptError",
    "ProtocolError",
    "ResourceError",
    "ToolCallRefused",
    "ToolError",
    "TrimcpError",
    "ValidationError",
]


class TrimcpError(Exception):
    """Base of every error trimcp raises."""


FastMCPError = TrimcpError


class ValidationError(TrimcpError):
    """Arguments or values failed validation."""


class ResourceError(TrimcpError):
    """A resource could not be read."""


class ToolError(TrimcpError):
    """A tool failed; the message is sent to the client in an `isError` result."""


class PromptError(TrimcpError):
    """A prompt could not be rendered."""


class MissingArgumentsError(PromptError, ValueError):
    """A prompt was rendered without its required arguments (FastMCP's `Prompt.render`
    raises a `ValueError` for them; `except ValueError` code keeps working)."""


class InvalidSignature(TrimcpError, ValueError):
    """A function's signature cannot become a component (a `ValueError`, as FastMCP raises)."""


class InvalidArgumentsError(ValidationError, TypeError):
    """Arguments a transformed tool does not have, or required ones missing: a
    `ValidationError`, so the client gets the message as for any tool's bad arguments, and
    a `TypeError`, as FastMCP's `forward()` raises."""


class ClientError(TrimcpError):
    """The client failed (a tool call returned an error, a transport broke, ...)."""


class ClientNotConnected(ClientError, RuntimeError):
    """The client could not connect (its server process did not start, ...): also a
    `RuntimeError`, as FastMCP raises."""


class NotFoundError(TrimcpError):
    """No component has that name or URI."""


class DisabledError(NotFoundError):
    """The component exists but is disabled."""


class McpError(TrimcpError):
    """A JSON-RPC error: raised by handlers to send it, and by the client when one arrives."""

    def __init__(
        self, error: ErrorData | int, message: str | None = None, data: Any = None
    ) -> None:
        if isinstance(error, int):
            error = ErrorData(code=error, message=message or "", data=data)
        self.error = error
        super().__init__(error.message)

    @property
    def code(self) -> int:
        return self.error.code

    @classmethod
    def internal(cls, message: str) -> McpError:
        return cls(INTERNAL_ERROR, message)


class ToolCallRefused(McpError, ToolError):
    """A `tools/call` the server answered with a JSON-RPC error (-32602 for an unknown or
    disabled tool, as the specification has it; a tool's or a middleware's own `McpError`,
    with its code): a `ToolError` too, as FastMCP's client raises one (FastMCP's server
    answers such a call with an `isError` result)."""


class MissingCapabilityError(McpError, ToolError):
    """The server needed a capability the client did not declare (-32021): a `ToolError`
    too, as FastMCP reports a tool that asked for it (its client answers "Elicitation not
    supported" and the tool fails)."""


class ProtocolError(McpError):
    """The peer sent something the protocol forbids."""


CLIENT_FACING_ERRORS: tuple[type[TrimcpError], ...] = (
    ToolError,
    ResourceError,
    PromptError,
    ValidationError,
    NotFoundError,
)
"""The errors whose text is meant for the client: kept under `mask_error_details` by the
engine's fault boundary and by `ErrorHandlingMiddleware` (every other error's text is not)."""
