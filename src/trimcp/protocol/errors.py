"""JSON-RPC and MCP error codes, and the error object sent on the wire."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "HEADER_MISMATCH",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "MISSING_REQUIRED_CLIENT_CAPABILITY",
    "PARSE_ERROR",
    "REQUEST_CANCELLED",
    "RESOURCE_NOT_FOUND",
    "SERVER_BUSY",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "URL_ELICITATION_REQUIRED",
    "ErrorData",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# MCP-defined codes
RESOURCE_NOT_FOUND = -32002  # handshake era only; 2026-07-28 uses INVALID_PARAMS
HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
URL_ELICITATION_REQUIRED = -32042
# What a handshake-era HTTP request cancelled before its response is answered. Not an MCP
# code: LSP's RequestCancelled, which the official SDK sends in the same place.
REQUEST_CANCELLED = -32800
# A request past a concurrency limit (per session or per server), refused at once. JSON-RPC
# leaves -32000..-32099 to implementations; the official SDK uses -32000 for its own errors.
SERVER_BUSY = -32000


class ErrorData(msgspec.Struct, omit_defaults=True):
    """The `error` member of a JSON-RPC error response."""

    code: int
    message: str
    data: Any = None
