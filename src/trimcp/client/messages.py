"""`MessageHandler`: one object for everything the server sends unasked (FastMCP's
`fastmcp.client.messages`).

Pass an instance as `Client(message_handler=...)` and override the hooks you need. Each
notification goes to `on_message`, then `on_notification`, then its own hook
(`on_tool_list_changed`, `on_progress`, ...). `on_message` and `on_notification` receive the
whole `ServerNotification` (`.root` is the notification itself, as in FastMCP); the specific
hooks receive `message.root`. Requests from the server go to `dispatch_request` before they
are answered: `on_message`, `on_request`, then `on_ping`, `on_list_roots` or
`on_create_message` (each with a `ServerRequest`: `.id`, `.method`, `.params` as a dict). When the official SDK's `mcp.types` is loaded, the notification
is an `mcp.types.ServerNotification`, so `isinstance` checks written for FastMCP hold.
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["Message", "MessageHandler", "MessageHandlerT"]

Message: TypeAlias = Any
"""What a `MessageHandler` dispatches: a `ServerNotification` (trimcp's, or `mcp.types`')."""

_HOOKS = {
    "notifications/cancelled": "on_cancelled",
    "notifications/progress": "on_progress",
    "notifications/message": "on_logging_message",
    "notifications/tools/list_changed": "on_tool_list_changed",
    "notifications/resources/list_changed": "on_resource_list_changed",
    "notifications/prompts/list_changed": "on_prompt_list_changed",
    "notifications/resources/updated": "on_resource_updated",
}

_REQUEST_HOOKS = {
    "ping": "on_ping",
    "roots/list": "on_list_roots",
    "sampling/createMessage": "on_create_message",
}


class MessageHandler:
    """Base class of a message handler: every hook does nothing until overridden."""

    async def __call__(self, message: Message) -> None:
        await self.dispatch(message)

    async def dispatch(self, message: Message) -> None:
        """Hand `message` to `on_message`, `on_notification` and its own hook, in that order
        (an exception, as FastMCP's SDK may hand one, goes to `on_exception`)."""
        await self.on_message(message)
        if isinstance(message, Exception):
            await self.on_exception(message)
            return
        await self.on_notification(message)
        notification = getattr(message, "root", message)
        hook = _HOOKS.get(getattr(notification, "method", ""))
        if hook is not None:
            await getattr(self, hook)(notification)

    async def dispatch_request(self, request: Any) -> None:
        """A request from the server, before the client answers it: `on_message`,
        `on_request`, then `on_ping`, `on_list_roots` or `on_create_message`."""
        await self.on_message(request)
        await self.on_request(request)
        hook = _REQUEST_HOOKS.get(getattr(request, "method", ""))
        if hook is not None:
            await getattr(self, hook)(request)

    async def on_message(self, message: Message) -> None:
        pass

    async def on_request(self, message: Any) -> None:
        pass

    async def on_ping(self, message: Any) -> None:
        pass

    async def on_list_roots(self, message: Any) -> None:
        pass

    async def on_create_message(self, message: Any) -> None:
        pass

    async def on_notification(self, message: Any) -> None:
        pass

    async def on_exception(self, message: Exception) -> None:
        pass

    async def on_progress(self, message: Any) -> None:
        pass

    async def on_logging_message(self, message: Any) -> None:
        pass

    async def on_tool_list_changed(self, message: Any) -> None:
        pass

    async def on_resource_list_changed(self, message: Any) -> None:
        pass

    async def on_prompt_list_changed(self, message: Any) -> None:
        pass

    async def on_resource_updated(self, message: Any) -> None:
        pass

    async def on_cancelled(self, message: Any) -> None:
        pass


MessageHandlerT: TypeAlias = MessageHandler
