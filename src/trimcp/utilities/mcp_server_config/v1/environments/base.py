"""The base of a `fastmcp.json` environment: how to wrap a command so it runs with the
server's dependencies."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["Environment"]


class Environment(BaseModel, ABC):
    """Where a server runs (FastMCP's `Environment`)."""

    type: str = Field(description="Environment type identifier")

    @abstractmethod
    def build_command(self, command: list[str]) -> list[str]:
        """`command` wrapped so it runs in this environment."""

    async def prepare(self, output_dir: Path | None = None) -> None:
        """Set the environment up ahead of time (nothing to do by default)."""
