"""Sampling requests (`sampling/createMessage`): what a sampling handler is given."""

from __future__ import annotations

from typing import Any

import msgspec

from trimcp.types.base import Payload
from trimcp.types.misc import SamplingMessage

__all__ = ["CreateMessageRequestParams", "ModelHint", "ModelPreferences"]


class ModelHint(Payload, kw_only=True):
    name: str | None = None


class ModelPreferences(Payload, kw_only=True):
    hints: list[ModelHint] | None = None
    costPriority: float | None = None
    speedPriority: float | None = None
    intelligencePriority: float | None = None


class CreateMessageRequestParams(Payload, kw_only=True):
    meta: dict[str, Any] | None = msgspec.field(default=None, name="_meta")
    messages: list[SamplingMessage]
    modelPreferences: ModelPreferences | None = None
    systemPrompt: str | None = None
    includeContext: str | None = None
    temperature: float | None = None
    maxTokens: int | None = None
    stopSequences: list[str] | None = None
    metadata: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    toolChoice: dict[str, Any] | None = None
