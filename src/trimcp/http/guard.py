"""`OriginGuard`: `Origin` and `Host` validation in front of the MCP endpoints.

The MCP specification says servers MUST validate the `Origin` header on every incoming
connection (a browser page on another site must not drive a local server), and SHOULD defend
local servers against DNS rebinding, where a hostile page's name resolves to 127.0.0.1 and
the browser sends `Host: evil.example`.

Rules:

- `Origin` present and not allowed -> 403 with a JSON-RPC-shaped error body. Allowed:
  `allowed_origins` (exact `scheme://host[:port]`, `scheme://host:*` for any port, or `"*"`
  for every origin); and, when the server is bound to a loopback address, the loopback
  origins `http(s)://localhost|127.0.0.1|[::1]` on any port. No `Origin` header (a
  non-browser client) is allowed.
- When bound to a loopback address and `host_origin_protection` is on, `Host` must name a
  loopback host (any port) or be in `allowed_hosts` (`host`, `host:port` or `host:*`).
- More than one `Origin` header -> 403, more than one `Host` header -> 400 (RFC 9112 section
  3.2: "more than one Host header line"), whatever their values and settings: which one would
  count is exactly what an attacker chooses (the official SDK reads the first, a proxy may read
  the last).

Where the server is bound is `bound_host` when given (the address `run_http` bound), else the
local address of each connection (`scope["server"]`): an app mounted in another server whose
connection arrived on 127.0.0.1 counts as bound to loopback. A reverse proxy on the same
machine that forwards a public `Host` then needs `allowed_hosts` (or
`host_origin_protection=False`).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from trimcp.http.asgi import ASGIApp, Receive, Scope, Send

__all__ = ["SECOND_HOST", "SECOND_ORIGIN", "OriginGuard", "is_loopback_host", "reject"]

# Keys under which `trimcp.http.wire.wanted_headers` keeps a second `Origin` / `Host` header
# (no header name has a space: they cannot collide with one)
SECOND_ORIGIN = b" origin"
SECOND_HOST = b" host"

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@functools.lru_cache(maxsize=256)
def is_loopback_host(host: str | None) -> bool:
    """`localhost`, `127.x.x.x`, `::1` (bracketed or not)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_authority(authority: str) -> tuple[str, str | None]:
    """`Host:8000` -> ("host", "8000"); `[::1]:80` -> ("[::1]", "80"), lower-cased."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return authority, None
        host, rest = authority[: end + 1], authority[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else None
    host, sep, port = authority.partition(":")
    return host, port if sep else None


def _forbidden_body(message: str) -> bytes:
    return msgspec.json.encode(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    )


_ORIGIN_FORBIDDEN = _forbidden_body("Forbidden: Origin not allowed")
_HOST_FORBIDDEN = _forbidden_body("Forbidden: Host not allowed")
_ORIGINS_FORBIDDEN = _forbidden_body("Forbidden: more than one Origin header")
_HOSTS_BAD_REQUEST = _forbidden_body("Bad Request: more than one Host header")
_CACHE_LIMIT = 256


class OriginGuard:
    """ASGI middleware validating `Origin` (always) and `Host` (loopback binds).

    Args:
        app: the protected ASGI app.
        allowed_origins: extra origins to accept (`"*"` accepts every origin).
        allowed_hosts: extra `Host` values to accept on loopback binds.
        host_origin_protection: turns the `Host` (DNS-rebinding) check off when `False`. The
            `Origin` check stays on regardless: the MCP specification makes it a MUST; to
            accept every origin say so explicitly with `allowed_origins=["*"]`.
        bound_host: the address the server is bound to; `None` reads each connection's local
            address from the scope.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_origins: Iterable[str] | None = None,
        allowed_hosts: Iterable[str] | None = None,
        host_origin_protection: bool = True,
        bound_host: str | None = None,
    ) -> None:
        self.app = app
        origins = [o.strip().rstrip("/").lower() for o in allowed_origins or ()]
        self.allow_any_origin = "*" in origins
        self._origins = frozenset(o for o in origins if not o.endswith(":*"))
        self._origin_prefixes = tuple(o[:-1] for o in origins if o.endswith(":*"))  # "...:"
        hosts = [h.strip().lower() for h in allowed_hosts or ()]
        self.allow_any_host = "*" in hosts
        self._hosts = frozenset(h for h in hosts if not h.endswith(":*"))
        self._host_names = frozenset(h[:-2] for h in hosts if h.endswith(":*"))
        self.host_origin_protection = host_origin_protection
        self._bound_loopback: bool | None = (
            None if bound_host is None else is_loopback_host(bound_host)
        )
        # `check`'s answers per (origin, host[, server address]): clients send a handful
        # of distinct values
        self._decisions: dict[tuple[Any, ...], tuple[bytes, int] | None] = {}

    def _loopback(self, scope: Scope) -> bool:
        if self._bound_loopback is not None:
            return self._bound_loopback
        server = scope.get("server")
        return server is not None and is_loopback_host(server[0])

    def origin_allowed(self, origin: str, *, loopback: bool) -> bool:
        if self.allow_any_origin:
            return True
        origin = origin.strip().rstrip("/").lower()
        if origin in self._origins:
            return True
        if any(origin.startswith(p) and origin[len(p) :].isdigit() for p in self._origin_prefixes):
            return True
        if loopback:
            scheme, sep, authority = origin.partition("://")
            if sep and scheme in ("http", "https"):
                host, port = _split_authority(authority)
                if host in _LOOPBACK_NAMES and (port is None or port.isdigit()):
                    return True
        return False

    def host_allowed(self, host_header: str) -> bool:
        if self.allow_any_host:
            return True
        value = host_header.strip().lower()
        host, port = _split_authority(value)
        if port is not None and not port.isdigit():
            return False
        if host in _LOOPBACK_NAMES:
            return True
        return value in self._hosts or host in self._hosts or host in self._host_names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        origin: bytes | None = None
        host: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"origin":
                if origin is not None:
                    await reject(scope, send, _ORIGINS_FORBIDDEN)
                    return
                origin = value
            elif name == b"host":
                if host is not None:
                    await reject(scope, send, _HOSTS_BAD_REQUEST, status=400)
                    return
                host = value
        if origin is not None or host is not None:
            refused = self.check(scope, {b"origin": origin, b"host": host})
            if refused is not None:
                await reject(scope, send, refused[0], status=refused[1])
                return
        await self.app(scope, receive, send)

    def check(
        self, scope: Scope, headers: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, int] | None:
        """For an endpoint that reads its headers once (`trimcp.http.wire.wanted_headers`:
        `origin`, `host`, and a second of either under `SECOND_ORIGIN`/`SECOND_HOST`) and
        checks them here instead of behind this middleware: the answer (body, status) refusing
        the request, as `__call__` would give it (`reject` sends it), or None.

        `refusal`, memoised: one dict lookup per request, the decision kept per (origin, host,
        server address) when the bound host is not known, else per (origin, host)."""
        if SECOND_ORIGIN in headers:
            return _ORIGINS_FORBIDDEN, 403
        if SECOND_HOST in headers:
            return _HOSTS_BAD_REQUEST, 400
        origin = headers.get(b"origin")
        host = headers.get(b"host")
        if self._bound_loopback is None:
            server = scope.get("server")
            key: tuple[Any, ...] = (origin, host, None if server is None else server[0])
        else:
            key = (origin, host)
        decisions = self._decisions
        if key in decisions:
            return decisions[key]
        refused = self.refusal(scope, origin, host)
        if len(decisions) < _CACHE_LIMIT:
            decisions[key] = refused
        return refused

    def refusal(
        self, scope: Scope, origin: bytes | None, host: bytes | None
    ) -> tuple[bytes, int] | None:
        """The answer (body, status) refusing a request with these `Origin` and `Host`
        values (None: absent), or None when it may pass."""
        loopback = self._loopback(scope)
        if origin is not None and not self.origin_allowed(
            origin.decode("latin-1"), loopback=loopback
        ):
            return _ORIGIN_FORBIDDEN, 403
        if (
            host is not None
            and loopback
            and self.host_origin_protection
            and not self.host_allowed(host.decode("latin-1"))
        ):
            return _HOST_FORBIDDEN, 403
        return None


async def reject(scope: Scope, send: Send, body: bytes, status: int = 403) -> None:
    """Send a refusal (`OriginGuard.check`'s answer)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send(
        {"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body}
    )
