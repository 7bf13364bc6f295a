"""`BearerAuth`: send `Authorization: Bearer <token>` on every request.

It meets the `Auth` protocol of httpx2 and httpx by shape rather than by inheritance, so this
module imports neither: it is callable (both libraries wrap a callable as a `FunctionAuth`) and
has the `auth_flow` generators their `Auth` drives.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any

from pydantic import SecretStr

__all__ = ["BearerAuth"]


class BearerAuth:
    """Send `Authorization: Bearer <token>` on every request.

    Args:
        token: The bearer token (without the `Bearer ` prefix). Kept as a `SecretStr`, as in
            FastMCP: `auth.token.get_secret_value()` reads it, `repr` never shows it.
    """

    requires_request_body = False
    requires_response_body = False

    def __init__(self, token: str) -> None:
        self.token = SecretStr(token)

    def _apply(self, request: Any) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        return request

    def __call__(self, request: Any) -> Any:
        return self._apply(request)

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        yield self._apply(request)

    def sync_auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        yield self._apply(request)

    async def async_auth_flow(self, request: Any) -> AsyncGenerator[Any, Any]:
        yield self._apply(request)

    def __repr__(self) -> str:
        return "BearerAuth(token='**********')"
