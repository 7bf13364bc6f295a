"""Client-side HTTP authentication: `BearerAuth` and the `auth="token"` shorthand.

Nothing here imports the HTTP library: `BearerAuth` is a plain callable, which httpx2 (and
httpx) accept as an auth (`FunctionAuth`), and it also has the `auth_flow` generator of their
`Auth` protocol for code that drives it by hand.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from trimcp.exceptions import ClientError

__all__ = ["BearerAuth", "resolve_auth"]


class BearerAuth:
    """Send `Authorization: Bearer <token>` on every request.

    Args:
        token: The bearer token (without the `Bearer ` prefix).
    """

    def __init__(self, token: str) -> None:
        self.token = token

    def _apply(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request

    def __call__(self, request: Any) -> Any:
        return self._apply(request)

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        yield self._apply(request)

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"  # never print the secret


def resolve_auth(auth: Any) -> Any:
    """What an HTTP transport hands to the HTTP client for `auth=`.

    - `None` -> no auth
    - a string -> `BearerAuth(string)` (FastMCP's shorthand); `"oauth"` is not supported yet
    - anything else (an httpx2 `Auth`, a callable) -> itself
    """
    if auth is None:
        return None
    if isinstance(auth, str):
        if auth == "oauth":
            raise ClientError('auth="oauth" is not supported by trimcp yet; pass a bearer token')
        return BearerAuth(auth)
    return auth
