"""Prompts: message templates rendered from string arguments, and the `PromptManager`
(`trimcp.prompts.prompt_manager`).

The names load on first use, so that `FastMCP`, whose `PromptManager` lives here, can be
imported without the component machinery (`import trimcp` stays cheap)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

_LAZY = {
    "FunctionPrompt": "trimcp.prompts.prompt",
    "Message": "trimcp.prompts.prompt",
    "Prompt": "trimcp.prompts.prompt",
    "PromptArgument": "trimcp.prompts.prompt",
    "PromptManager": "trimcp.prompts.prompt_manager",
    "PromptMessage": "trimcp.prompts.prompt",
    "PromptResult": "trimcp.prompts.prompt",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trimcp.prompts' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
