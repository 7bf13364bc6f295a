"""MCP-level middleware (FastMCP's `fastmcp.server.middleware`): hooks around every request.

```python
from trimcp.core.middleware import Middleware, MiddlewareContext

class Audit(Middleware):
    async def on_call_tool(self, context: MiddlewareContext, call_next):
        print("calling", context.message.name)
        return await call_next(context)

mcp.add_middleware(Audit())
```

Hooks see what FastMCP's see: a list hook gets the components and returns those to list,
`on_call_tool` gets the `ToolResult`, `on_read_resource` the `ReadResourceContents`,
`on_initialize` the handshake. FastMCP's ready-made middleware lives in the submodules
`timing`, `logging`, `error_handling`, `rate_limiting`, `tool_injection`, `caching` (not
imported here, so that `import trimcp` stays cheap); the caches and the rate limiters keep
their state in any `trimcp.storage` store (`cache_storage=`, `storage=`), which several
processes may share. docs/middleware.md is the guide.
"""

from __future__ import annotations

# The names of `trimcp.core.middleware` (its `__all__` is this package's).
from trimcp.core.middleware import *  # noqa: F403
from trimcp.core.middleware import __all__ as __all__
