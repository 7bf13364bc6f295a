"""Resource-updated notifications: to handshake-era sessions that subscribed to the URI
(`resources/subscribe`) and to 2026-07-28 `subscriptions/listen` streams that named it."""

from __future__ import annotations

from typing import Any

__all__ = ["notify_resource_updated"]


def notify_resource_updated(server: Any, uri: str) -> None:
    """Tell every subscriber of `uri` that the resource changed (safe from loop code)."""
    params = {"uri": str(uri)}
    for connection in list(server._connections):
        connection.post_notification("notifications/resources/updated", params)
