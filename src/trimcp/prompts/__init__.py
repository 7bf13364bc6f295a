"""Prompts: message templates rendered from string arguments, and the `PromptManager`
(`trimcp.prompts.prompt_manager`).

The names load on first use, so that `FastMCP`, whose `PromptManager` lives here, can be
imported without the component machinery (`import trimcp` stays cheap)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trimcp._lazy import lazy_exports

if TYPE_CHECKING:
    from trimcp.prompts.prompt import (
        FunctionPrompt,
        Message,
        Prompt,
        PromptArgument,
        PromptMessage,
        PromptResult,
    )
    from trimcp.prompts.prompt_manager import PromptManager

__all__ = [
    "FunctionPrompt",
    "Message",
    "Prompt",
    "PromptArgument",
    "PromptManager",
    "PromptMessage",
    "PromptResult",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "trimcp.prompts.prompt": (
            "FunctionPrompt",
            "Message",
            "Prompt",
            "PromptArgument",
            "PromptMessage",
            "PromptResult",
        ),
        "trimcp.prompts.prompt_manager": ("PromptManager",),
    },
)
