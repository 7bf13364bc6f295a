"""Prompts: message templates rendered from string arguments, and the `PromptManager`
(`trimcp.prompts.prompt_manager`). The names load on first use (`trimcp._lazy`), so that
`FastMCP` imports its `PromptManager` without the component machinery."""

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
