"""FastMCP's `fastmcp.server.middleware.middleware` path (from `trimcp.core.middleware`)."""

from __future__ import annotations

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext, run_middleware

__all__ = ["CallNext", "Middleware", "MiddlewareContext", "run_middleware"]
