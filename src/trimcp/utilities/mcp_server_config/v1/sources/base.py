"""The base of a `fastmcp.json` source: where the server's code comes from."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["Source"]


class Source(BaseModel, ABC):
    """Where a server is loaded from (FastMCP's `Source`)."""

    type: str = Field(description="Source type identifier")

    async def prepare(self) -> None:
        """Fetch what loading needs (nothing for local files)."""

    @abstractmethod
    async def load_server(self) -> Any:
        """The server object (after `prepare()`)."""
