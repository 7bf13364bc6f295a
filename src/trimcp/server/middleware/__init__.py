"""MCP-level middleware (FastMCP's `fastmcp.server.middleware`): hooks around every request.

```python
from trimcp.core.middleware import Middleware, MiddlewareContext

class Audit(Middleware):
    async def on_call_tool(self, context: MiddlewareContext, call_next):
        print("calling", context.message.name)
        return await call_next(context)

mcp.add_middleware(Audit())
```
"""

from __future__ import annotations

from trimcp.core.middleware import (
    CallNext,
    Middleware,
    MiddlewareContext,
    run_middleware,
)

__all__ = ["CallNext", "Middleware", "MiddlewareContext", "run_middleware"]
