"""Starlette's routing, under the path `FastMCP.custom_route` imports it from (until it
imports `starlette.routing` itself)."""

from starlette.routing import Mount, Route, Router

__all__ = ["Mount", "Route", "Router"]
