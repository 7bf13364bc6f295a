"""FastMCP's timing middleware (`fastmcp.server.middleware.timing`): how long requests take,
logged.

- `TimingMiddleware`: every request, as "Request tools/call completed in 1.23ms" (or
  "failed after ...ms: <error>"), on the `trimcp.timing` logger.
- `DetailedTimingMiddleware`: per operation ("Tool 'add' completed in ...", "Resource 'x'",
  "Prompt 'p'", "List tools", ...), on `trimcp.timing.detailed`.

Names, URIs and error texts come from the client: a name is written as Python's `repr`
(`'add'`, as FastMCP writes it, for an ordinary name), so quotes and line breaks in it are
escaped, and an error text with a line break or another control character is escaped too. A
client cannot forge a log line.

```python
mcp.add_middleware(TimingMiddleware())
```
"""

from __future__ import annotations

import logging
import time
from typing import Any

from trimcp.core.middleware import CallNext, Middleware, MiddlewareContext

__all__ = ["DetailedTimingMiddleware", "TimingMiddleware"]


def _one_line(text: str) -> str:
    """`text`, its control characters (line breaks) escaped when it has any."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


async def _timed(
    logger: logging.Logger,
    level: int,
    what: str,
    context: MiddlewareContext[Any],
    call_next: CallNext[Any, Any],
) -> Any:
    """`call_next(context)`, its duration logged as `what` completed (or failed)."""
    start = time.perf_counter()
    try:
        result = await call_next(context)
    except Exception as exc:
        elapsed = (time.perf_counter() - start) * 1000
        logger.log(level, "%s failed after %.2fms: %s", what, elapsed, _one_line(str(exc)))
        raise
    logger.log(level, "%s completed in %.2fms", what, (time.perf_counter() - start) * 1000)
    return result


class TimingMiddleware(Middleware):
    """Logs how long each request took (notifications are not timed).

    Args:
        logger: Where to log (default: the `trimcp.timing` logger).
        log_level: The level of the records (default: INFO).
    """

    def __init__(self, logger: logging.Logger | None = None, log_level: int = logging.INFO):
        self.logger = logger or logging.getLogger("trimcp.timing")
        self.log_level = log_level

    async def on_request(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        what = f"Request {context.method or 'unknown'}"
        return await _timed(self.logger, self.log_level, what, context, call_next)


class DetailedTimingMiddleware(Middleware):
    """Logs how long each operation took, named by what it did (the tool, resource or prompt).

    Args:
        logger: Where to log (default: the `trimcp.timing.detailed` logger).
        log_level: The level of the records (default: INFO).
    """

    def __init__(self, logger: logging.Logger | None = None, log_level: int = logging.INFO):
        self.logger = logger or logging.getLogger("trimcp.timing.detailed")
        self.log_level = log_level

    async def _time(
        self, what: str, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await _timed(self.logger, self.log_level, what, context, call_next)

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        name = getattr(context.message, "name", "unknown")
        return await self._time(f"Tool {str(name)!r}", context, call_next)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        uri = getattr(context.message, "uri", "unknown")
        return await self._time(f"Resource {str(uri)!r}", context, call_next)

    async def on_get_prompt(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        name = getattr(context.message, "name", "unknown")
        return await self._time(f"Prompt {str(name)!r}", context, call_next)

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._time("List tools", context, call_next)

    async def on_list_resources(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._time("List resources", context, call_next)

    async def on_list_resource_templates(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._time("List resource templates", context, call_next)

    async def on_list_prompts(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._time("List prompts", context, call_next)
