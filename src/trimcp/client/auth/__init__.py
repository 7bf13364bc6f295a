"""Client-side HTTP authentication (FastMCP's `fastmcp.client.auth`).

```
BearerAuth   auth/bearer.py   `Authorization: Bearer <token>` on every request
OAuth        auth/oauth.py    FastMCP's OAuth flow: refused until the authorization work
```

`resolve_auth` turns what a user passes as `auth=` into what the HTTP client is given. Nothing
here imports the HTTP library.
"""

from __future__ import annotations

from typing import Any

from trimcp.client.auth.bearer import BearerAuth
from trimcp.client.auth.oauth import OAuth, refuse_oauth

__all__ = ["BearerAuth", "OAuth", "resolve_auth"]


def resolve_auth(auth: Any) -> Any:
    """What an HTTP transport hands to the HTTP client for `auth=`.

    - `None` -> no auth
    - `"oauth"` -> `NotImplementedError` (FastMCP's OAuth flow is not built yet)
    - any other string -> `BearerAuth(string)` (FastMCP's shorthand)
    - anything else (a `BearerAuth`, an httpx2 `Auth`, a callable) -> itself
    """
    if auth is None:
        return None
    if isinstance(auth, str):
        if auth == "oauth":
            refuse_oauth()
        return BearerAuth(auth)
    return auth
