"""HTTP client transports: streamable HTTP (every era) and the legacy HTTP+SSE transport.

```
ClientTransport
├── StreamableHttpTransport   POST per message; JSON or SSE answers; optional GET stream
└── SSETransport              2024-11-05: one GET event stream, POST to its `endpoint`
```

Both turn HTTP into a `MessageStream` for the client session: `send(bytes)` hands a message to
the server, `receive()` returns the next message from the server. The HTTP library (httpx2,
which runs on asyncio and trio) is imported when a connection opens, never at `import trimcp`.

The code is split by what it owns: `trimcp.client.streamable_http` (`StreamableHttpTransport`
and its theory of operation), `trimcp.client.sse` (`SSETransport`) and
`trimcp.client.http_base` (options, constants and message helpers both share). This module
re-exports their public names, so `from trimcp.client.http import ...` keeps working.
"""

from __future__ import annotations

from trimcp.client.http_base import ACCEPT_POST as ACCEPT_POST
from trimcp.client.http_base import ACCEPT_SSE as ACCEPT_SSE
from trimcp.client.http_base import CONNECTION_ERROR
from trimcp.client.http_base import DEFAULT_RETRY_MS as DEFAULT_RETRY_MS
from trimcp.client.http_base import DEFAULT_SSE_READ_TIMEOUT as DEFAULT_SSE_READ_TIMEOUT
from trimcp.client.http_base import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from trimcp.client.http_base import MAX_RECONNECTS as MAX_RECONNECTS
from trimcp.client.sse import SSETransport
from trimcp.client.streamable_http import StreamableHttpTransport, encode_header_value

__all__ = [
    "CONNECTION_ERROR",
    "SSETransport",
    "StreamableHttpTransport",
    "encode_header_value",
]
