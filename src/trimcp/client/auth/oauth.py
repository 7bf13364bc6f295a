"""`OAuth`: FastMCP's OAuth 2.1 client flow, which trimcp does not implement yet.

The name exists so that FastMCP code importing it fails where it is used, with a message that
says what to do instead, rather than at import time with a bare `ImportError`.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["OAuth", "OAuthClientProvider", "refuse_oauth"]

_MESSAGE = (
    "trimcp does not implement FastMCP's OAuth client flow (auth='oauth', OAuth(...)) yet: it "
    "belongs to the later authorization issue. Pass a bearer token instead "
    "(auth='<token>' or auth=BearerAuth('<token>'))."
)


def refuse_oauth() -> NoReturn:
    """Raise the `NotImplementedError` every OAuth entry point raises."""
    raise NotImplementedError(_MESSAGE)


class OAuth:
    """FastMCP's `OAuth` auth provider: constructing one raises `NotImplementedError`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        refuse_oauth()


OAuthClientProvider = OAuth
"""The SDK's base class of FastMCP's `OAuth`, which FastMCP's module re-exports: refused alike."""
