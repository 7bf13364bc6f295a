"""`ToolTransformConfig` and `ArgTransformConfig`: tool transformations as data (pydantic
models, FastMCP 2.13's), for `FastMCP(tool_transformations=...)`, `add_tool_transformation`
and configuration files. Re-exported by `trimcp.tools.tool_transform`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from trimcp.tools.tool_transform import ArgTransform, TransformedTool

if TYPE_CHECKING:
    from trimcp.tools.tool import Tool

__all__ = ["ArgTransformConfig", "ToolTransformConfig"]


def _set_or_empty(value: Any) -> Any:
    return set() if value is None else value


class ArgTransformConfig(BaseModel):
    """One argument's transformation, as data (`to_arg_transform()` makes the
    `ArgTransform`); only the fields given are applied."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="The new name for the argument.")
    description: str | None = Field(
        default=None, description="The new description for the argument."
    )
    default: str | int | float | bool | None = Field(
        default=None, description="The new default value for the argument."
    )
    hide: bool = Field(default=False, description="Whether to hide the argument from the tool.")
    required: Literal[True] | None = Field(
        default=None, description="Whether the argument is required."
    )
    examples: Any | None = Field(default=None, description="Examples of the argument.")

    def to_arg_transform(self) -> ArgTransform:
        return ArgTransform(**self.model_dump(exclude_unset=True))


class ToolTransformConfig(BaseModel):
    """A tool's transformation, as data; `apply(tool)` makes the `TransformedTool`. Fields
    not given keep the tool's."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="The new name for the tool.")
    title: str | None = Field(default=None, description="The new title of the tool.")
    description: str | None = Field(default=None, description="The new description of the tool.")
    tags: Annotated[set[str], BeforeValidator(_set_or_empty)] = Field(
        default_factory=set, description="The new tags for the tool."
    )
    meta: dict[str, Any] | None = Field(
        default=None, description="The new meta information for the tool."
    )
    enabled: bool = Field(default=True, description="Whether the tool is enabled.")
    arguments: dict[str, ArgTransformConfig] = Field(
        default_factory=dict,
        description="A dictionary of argument transforms to apply to the tool.",
    )

    def apply(self, tool: Tool) -> TransformedTool:
        changes = self.model_dump(exclude_unset=True, exclude={"arguments"})
        return TransformedTool.from_tool(
            tool,
            **changes,
            transform_args={k: v.to_arg_transform() for k, v in self.arguments.items()},
        )
