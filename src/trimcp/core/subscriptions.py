"""Change notifications: resource-updated to the handshake-era sessions that subscribed to the
URI (`resources/subscribe`), and 2026-07-28 `subscriptions/listen` -- a request that stays open
and carries, tagged with its id, only the change notifications its client opted in to.

`ChangeFanout` is a server's change fan-out (what `FastMCP.add_notification_sink` and the
managers' change hooks reach): the sinks that receive its list-changed and resource-updated
notifications, and the event loop those are sent from when a change is made in a worker thread.

`Listener` is one listen request, whatever carries it: the stdio/in-memory connection forwards
its inbox as notifications on the wire (`ServerConnection`), the HTTP endpoint as the events of
the request's SSE response (`trimcp.http.streams`). Either way it sits in the server's
fan-out next to the sessions.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import msgspec

from trimcp._backend import running_backend, threadsafe_scheduler
from trimcp.protocol.envelope import SUBSCRIPTION_ID_KEY
from trimcp.protocol.jsonrpc import RequestId
from trimcp.types.results import Result

if TYPE_CHECKING:
    from trimcp.server.server import FastMCP

__all__ = ["LISTEN_KINDS", "ChangeFanout", "ListenParams", "Listener", "NotificationSink"]


class NotificationSink(Protocol):
    """What the server's change fan-out (`FastMCP.add_notification_sink`) holds: a session of either
    transport or a `Listener`, each deciding what it forwards."""

    def post_notification(self, method: str, params: Any = None) -> None: ...


logger = logging.getLogger("trimcp.server")


class ChangeFanout:
    """A server's change notifications, queued to every sink that is attached (held weakly:
    a sink that is collected drops out). Safe from any thread once `capture_event_loop` ran:
    a sync tool that adds a component runs in a worker thread, so the fan-out hops to the
    loop."""

    __slots__ = ("_loop_scheduler", "_sinks")

    def __init__(self) -> None:
        self._sinks: weakref.WeakSet[NotificationSink] = weakref.WeakSet()
        self._loop_scheduler: Callable[[Callable[[], None]], object] | None = None

    def add(self, sink: NotificationSink) -> None:
        self._sinks.add(sink)

    def discard(self, sink: NotificationSink) -> None:
        self._sinks.discard(sink)

    def __len__(self) -> int:
        return len(self._sinks)

    def capture_event_loop(self) -> None:
        """Remember the running event loop: changes made in other threads notify from it."""
        self._loop_scheduler = threadsafe_scheduler()

    def notify(self, method: str, params: Any = None) -> None:
        """Queue `method` (with `params`) to every sink; each decides whether it forwards it."""
        if not self._sinks:
            return
        if running_backend() is None:
            schedule = self._loop_scheduler
            if schedule is None:
                logger.warning("%s not sent: the server's event loop is unknown", method)
            else:
                schedule(lambda: self.notify(method, params))
            return
        for sink in list(self._sinks):
            sink.post_notification(method, params)

    def lists_changed(self) -> None:
        """Every kind's list changed (a visibility rule, a mount)."""
        for kind in ("tools", "resources", "prompts"):
            self.notify(f"notifications/{kind}/list_changed")

    def notifier(self, method: str) -> Callable[[], None]:
        """A callback that queues `method` (a manager's `on_change`)."""
        return lambda: self.notify(method)


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
        "forward",
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
        self.forward: Callable[[str, dict[str, Any]], None] | None = None
        """Set by a carrier that takes each notification at once rather than reading `inbox`
        (stdio and in-memory, so that a change made during a request can be written before
        that request's result)."""

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
        if self.forward is not None:
            self.forward(method, self.tagged(params))
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
