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

# The names of `trimcp.core.middleware` (its `__all__` is this package's).
from trimcp.core.middleware import *  # noqa: F403
from trimcp.core.middleware import __all__ as __all__
