"""What a `Client` is made with, beyond its transport: timeouts and `ClientOptions`."""

from __future__ import annotations

import datetime
from typing import Any, Literal, NamedTuple

from trimcp.client.session import Handlers

__all__ = ["ClientOptions", "Timeout", "seconds"]

Timeout = float | datetime.timedelta | None
"""A timeout in seconds, or a `timedelta`; `None` for none."""


def seconds(timeout: Timeout) -> float | None:
    """`timeout` in seconds."""
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    return timeout


class ClientOptions(NamedTuple):
    """What a `Client` was made with, beyond its transport (`Client.options`): enough to make
    a like client over another transport (what a proxy does for each backend session)."""

    handlers: Handlers
    timeout: float | None
    client_info: dict[str, Any]
    protocol: Literal["auto", "modern", "legacy"]
