"""Change notifications: resource-updated to the handshake-era sessions that subscribed to the
URI (`resources/subscribe`), and 2026-07-28 `subscriptions/listen` -- a request that stays open
and carries, tagged with its id, only the change notifications its client opted in to.

`Listener` is one listen request, whatever carries it: the stdio/in-memory connection forwards
its inbox as notifications on the wire (`ServerConnection`), the HTTP endpoint as the events of
the request's SSE response (`trimcp.http.streams`). Either way it sits in the server's
notification fan-out (`FastMCP.add_notification_sink`) next to the sessions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import msgspec

from trimcp.protocol.envelope import SUBSCRIPTION_ID_KEY
from trimcp.protocol.jsonrpc import RequestId
from trimcp.types.results import Result

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["LISTEN_KINDS", "ListenParams", "Listener", "NotificationSink"]


class NotificationSink(Protocol):
    """What the server's change fan-out (`FastMCP.add_notification_sink`) holds: a session of either
    transport or a `Listener`, each deciding what it forwards."""

    def post_notification(self, method: str, params: Any = None) -> None: ...


logger = logging.getLogger("trimcp.server")

LISTEN_KINDS = {
    "notifications/tools/list_changed": "toolsListChanged",
    "notifications/prompts/list_changed": "promptsListChanged",
    "notifications/resources/list_changed": "resourcesListChanged",
}
"""Notification method -> the `SubscriptionFilter` key that opts in to it."""


class ListenParams(msgspec.Struct):
    notifications: dict[str, Any] = msgspec.field(default_factory=dict)
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")


class Listener:
    """One `subscriptions/listen` request, fed by the server's change fan-out."""

    __slots__ = (
        "__weakref__",
        "honoured",
        "inbox",
        "methods",
        "outbox",
        "resources",
        "subscription_id",
    )

    def __init__(self, subscription_id: RequestId, wanted: dict[str, Any]) -> None:
        self.subscription_id = subscription_id
        # What the acknowledgement promises: only what the client asked for and we honour.
        honoured: dict[str, Any] = {
            key: True for key in LISTEN_KINDS.values() if wanted.get(key) is True
        }
        uris = wanted.get("resourceSubscriptions")
        self.resources = (
            {u for u in uris if isinstance(u, str)} if isinstance(uris, list) else set()
        )
        if self.resources:
            honoured["resourceSubscriptions"] = sorted(self.resources)
        self.honoured = honoured
        self.methods = {m for m, key in LISTEN_KINDS.items() if key in honoured}
        self.outbox, self.inbox = anyio.create_memory_object_stream[tuple[str, dict[str, Any]]](64)

    def tagged(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """`params` with the subscription id in its `_meta` (every message of the stream)."""
        tagged = dict(params or {})
        tagged["_meta"] = {**tagged.get("_meta", {}), SUBSCRIPTION_ID_KEY: self.subscription_id}
        return tagged

    def acknowledgement(self) -> tuple[str, dict[str, Any]]:
        return "notifications/subscriptions/acknowledged", self.tagged(
            {"notifications": self.honoured}
        )

    def post_notification(self, method: str, params: Any = None) -> None:
        if method == "notifications/resources/updated":
            if not (isinstance(params, dict) and params.get("uri") in self.resources):
                return
        elif method not in self.methods:
            return
        try:
            self.outbox.send_nowait((method, self.tagged(params)))
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            logger.debug("listen stream %r: %s dropped", self.subscription_id, method)

    def close(self) -> None:
        self.outbox.close()

    def cancellation(self, reason: str) -> tuple[str, dict[str, Any]]:
        """The `notifications/cancelled` a server sends on stdio when it tears this
        subscription down (the only cancellation a server may send), tagged like every
        message of the stream."""
        return "notifications/cancelled", self.tagged(
            {"requestId": self.subscription_id, "reason": reason}
        )

    @contextmanager
    def attached(self, server: FastMCP) -> Iterator[Listener]:
        """In `server`'s change fan-out for the block; closed after it."""
        server.add_notification_sink(self)
        try:
            yield self
        finally:
            server.remove_notification_sink(self)
            self.close()

    def final_result(self) -> Result:
        """What ends the listen request when the server ends it (before `finish_modern`)."""
        return Result(meta={SUBSCRIPTION_ID_KEY: self.subscription_id})
