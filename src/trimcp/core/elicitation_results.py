"""What an elicitation gives back, and the request of URL mode: `AcceptedElicitation`,
`DeclinedElicitation`, `CancelledElicitation` (FastMCP's result types), the parsing of the
client's `ElicitResult` into one, and the `elicitation/create` params of URL mode. The schema
side (`requestedSchema`, the response types) is `trimcp.core.elicitation`, which re-exports
these names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from trimcp.exceptions import ValidationError

if TYPE_CHECKING:
    from trimcp.core.elicitation import ElicitationSpec

__all__ = [
    "AcceptedElicitation",
    "CancelledElicitation",
    "DeclinedElicitation",
    "ElicitationResult",
    "parse_elicit_result",
    "url_elicitation_params",
]

T = TypeVar("T")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)  # no slots: `AcceptedElicitation[int](...)` sets `__orig_class__`
class AcceptedElicitation(Generic[T]):
    """The user accepted and submitted `data` (already validated into the response type)."""

    data: T
    action: Literal["accept"] = field(default="accept", init=False)


@dataclass(frozen=True, slots=True)
class DeclinedElicitation:
    """The user explicitly declined; `data` is always `None`."""

    action: Literal["decline"] = field(default="decline", init=False)
    data: None = field(default=None, init=False)


@dataclass(frozen=True, slots=True)
class CancelledElicitation:
    """The user dismissed the request without choosing; `data` is always `None`."""

    action: Literal["cancel"] = field(default="cancel", init=False)
    data: None = field(default=None, init=False)


ElicitationResult = AcceptedElicitation[Any] | DeclinedElicitation | CancelledElicitation


# --------------------------------------------------------------------------- result parsing


def parse_elicit_result(result: Any, spec: ElicitationSpec[T]) -> ElicitationResult:
    """Turn the client's `ElicitResult` (a dict, or an object with `action`/`content`) into a result.

    Raises:
        ValidationError: unknown action, or accepted content that does not match the schema.
    """
    if isinstance(result, Mapping):
        action, content = result.get("action"), result.get("content")
    else:
        action, content = getattr(result, "action", None), getattr(result, "content", None)
    if action == "accept":
        return AcceptedElicitation(data=spec.parse(content))
    if action == "decline":
        return DeclinedElicitation()
    if action == "cancel":
        return CancelledElicitation()
    raise ValidationError(
        f"Elicitation result has unknown action {action!r}; expected 'accept', 'decline' or 'cancel'"
    )


def url_elicitation_params(
    message: str, url: str, elicitation_id: str | None = None
) -> dict[str, Any]:
    """`elicitation/create` params for URL mode.

    `elicitation_id` is required by 2025-11-25 and absent from 2026-07-28: the caller picks per era.
    """
    params: dict[str, Any] = {"mode": "url", "message": message, "url": url}
    if elicitation_id is not None:
        params["elicitationId"] = elicitation_id
    return params
