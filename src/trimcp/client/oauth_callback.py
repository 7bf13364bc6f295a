"""The page a browser lands on at the end of a CLI OAuth flow (FastMCP's
`fastmcp.client.oauth_callback`).

Owns what the local callback endpoint does with a redirect's query, apart from serving it:

```
CallbackResponse         the redirect's query (code, state, error, error_description)
OAuthCallbackResult      what the waiting flow receives: code and state, or an error
respond_to_callback      query -> (HTTP status, page), filling an OAuthCallbackResult
create_callback_html     the page: success (with the server URL) or failure (with the reason)
```

Everything shown on the page (the authorization server's `error_description`, the server
URL, the title) is text, escaped by `trimcp.utilities.ui`: a query string cannot put markup
or script on a page served from `127.0.0.1`.

Serving the endpoint (`create_oauth_callback_server`) belongs with the OAuth client flow,
which trimcp has not built yet (`trimcp.client.auth.OAuth` refuses to be constructed): it
raises `NotImplementedError` until the authorization issue builds both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from trimcp.utilities.ui import (
    HELPER_TEXT_STYLES,
    INFO_BOX_STYLES,
    STATUS_MESSAGE_STYLES,
    create_info_box,
    create_logo,
    create_page,
    create_status_message,
)

__all__ = [
    "CallbackResponse",
    "OAuthCallbackResult",
    "create_callback_html",
    "create_oauth_callback_server",
    "respond_to_callback",
]

ACCESS_DENIED_MESSAGE = "Access was denied by the authorization server."
NO_CODE_MESSAGE = "No authorization code was received from the server."
NO_STATE_MESSAGE = "The OAuth server did not return the expected state parameter."

_SERVER_MESSAGE = (
    "trimcp does not serve the OAuth callback endpoint (create_oauth_callback_server) yet: it "
    "belongs to the OAuth client flow, which the later authorization issue builds. The page "
    "builders (create_callback_html, respond_to_callback) work today."
)


def create_callback_html(
    message: str,
    *,
    is_success: bool = True,
    title: str = "trimcp OAuth",
    server_url: str | None = None,
) -> str:
    """The callback page, every value in it escaped.

    Args:
        message: on failure, the reason shown (text); unused on success.
        is_success: `True` for "Authentication successful", `False` for "failed".
        title: the page title.
        server_url: on success, shown as "Connected to: <server_url>".
    """
    if is_success:
        heading = "Authentication successful"
        detail = (
            create_info_box(f"Connected to: {server_url}", centered=True, monospace=True)
            if server_url
            else ""
        )
    else:
        heading = "Authentication failed"
        detail = create_info_box(message, is_error=True, centered=True, monospace=True)
    content = (
        '<div class="container">\n'
        f"{create_logo()}\n"
        f"{create_status_message(heading, is_success=is_success)}\n"
        f"{detail}\n"
        '<div class="close-instruction">You can safely close this tab now.</div>\n'
        "</div>"
    )
    return create_page(
        content,
        title=title,
        additional_styles=STATUS_MESSAGE_STYLES + INFO_BOX_STYLES + HELPER_TEXT_STYLES,
    )


@dataclass
class CallbackResponse:
    """The query an authorization server redirects the browser back with."""

    code: str | None = None
    state: str | None = None
    error: str | None = None
    error_description: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> CallbackResponse:
        """The known parameters of `data`; any other is ignored."""
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_dict(self) -> dict[str, str]:
        """The parameters that are present."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


@dataclass
class OAuthCallbackResult:
    """What the waiting flow receives: `code` and `state`, or `error`."""

    code: str | None = None
    state: str | None = None
    error: Exception | None = None


def respond_to_callback(
    query: Mapping[str, str],
    *,
    server_url: str | None = None,
    result: OAuthCallbackResult | None = None,
) -> tuple[int, str]:
    """The callback endpoint's answer to a redirect's `query`: `(status, page)`.

    An `error` parameter (its `error_description` shown, or a fixed message for
    `access_denied`), a missing `code` or a missing `state` is a failure: 400, and `result`
    (if given) gets a `RuntimeError` with the message the page shows. Otherwise 200, and
    `result` gets the code and state.
    """
    callback = CallbackResponse.from_dict(query)
    if callback.error:
        if callback.error == "access_denied":
            failure = ACCESS_DENIED_MESSAGE
        else:
            failure = f"Authorization failed: {callback.error_description or 'Unknown error'}"
    elif not callback.code:
        failure = NO_CODE_MESSAGE
    elif callback.state is None:
        failure = NO_STATE_MESSAGE
    else:
        if result is not None:
            result.code, result.state = callback.code, callback.state
        return 200, create_callback_html("", is_success=True, server_url=server_url)
    if result is not None:
        result.error = RuntimeError(failure)
    return 400, create_callback_html(failure, is_success=False)


def create_oauth_callback_server(*args: Any, **kwargs: Any) -> NoReturn:
    """FastMCP's callback server: raises `NotImplementedError` (see the module docstring)."""
    raise NotImplementedError(_SERVER_MESSAGE)
