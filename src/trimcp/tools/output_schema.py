"""Output schemas, FastMCP 2.13's rules: `output_schema_for` (the schema of a function's
return annotation, non-object types wrapped as `{"result": ...}` and marked
`x-fastmcp-wrap-result`), `is_object_schema`, and the deprecation warning for
`output_schema=False`."""

from __future__ import annotations

import inspect
from typing import Any, get_args

from trimcp.utilities import fast_schema
from trimcp.utilities.json_schema import compress_schema

__all__ = ["WRAP_KEY", "is_object_schema", "output_schema_for", "warn_output_schema_false"]

WRAP_KEY = "x-fastmcp-wrap-result"
"""Marks an output schema whose structured content is `{"result": value}`."""
_FOREIGN_CONTENT_NAMES = frozenset(
    {"TextContent", "ImageContent", "AudioContent", "ResourceLink", "EmbeddedResource"}
)
_NO_OUTPUT_SCHEMA = (inspect.Parameter.empty, None, type(None), Any, ...)


def warn_output_schema_false() -> None:
    """FastMCP's `DeprecationWarning` for `output_schema=False` (2.11.4: use `None`), unless
    the `deprecation_warnings` setting is off."""
    from trimcp.settings import settings

    if settings.deprecation_warnings:
        import warnings

        warnings.warn(
            "Passing output_schema=False is deprecated. Use output_schema=None instead.",
            DeprecationWarning,
            stacklevel=3,
        )


def is_object_schema(schema: dict[str, Any]) -> bool:
    """Whether `schema` describes a JSON object (MCP output schemas must)."""
    return (
        schema.get("type") == "object"
        or "properties" in schema
        or ("$ref" in schema and "$defs" in schema)
    )


def _mentions_content(tp: Any) -> bool:
    import pydantic

    from trimcp.tools.tool import ToolResult
    from trimcp.utilities.types import CONTENT_STRUCTS, Audio, File, Image

    if tp in (Image, Audio, File, ToolResult):
        return True
    if isinstance(tp, type) and (
        issubclass(tp, CONTENT_STRUCTS)
        or (issubclass(tp, pydantic.BaseModel) and tp.__name__ in _FOREIGN_CONTENT_NAMES)
    ):
        return True
    return any(_mentions_content(arg) for arg in get_args(tp))


def output_schema_for(annotation: Any) -> dict[str, Any] | None:
    """FastMCP's output schema for a return annotation: object types as they are, others
    wrapped as `{"result": ...}` and marked `x-fastmcp-wrap-result`; `None` for no
    annotation, `None`, `Any`, content types and types pydantic cannot describe."""
    if annotation in _NO_OUTPUT_SCHEMA or isinstance(annotation, str):
        return None
    node = fast_schema.compile_type(annotation)
    if node is not None:
        return fast_schema.output_schema(node)  # what the code below gives, sans pydantic
    if _mentions_content(annotation):
        return None
    import pydantic

    from trimcp.utilities.types import get_cached_typeadapter

    try:
        schema = get_cached_typeadapter(annotation).json_schema(mode="serialization")
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError):
        return None
    if not is_object_schema(schema):
        defs = schema.pop("$defs", None)
        schema = {
            "type": "object",
            "properties": {"result": schema},
            "required": ["result"],
            WRAP_KEY: True,
        }
        if defs:
            schema["$defs"] = defs
    return compress_schema(schema, prune_titles=True)
