"""`ParsedFunction`: FastMCP 2.13's description of a function as a tool would see it (name,
description, input and output schema), public as `fastmcp.tools.tool.ParsedFunction`.

trimcp's tools are built on `trimcp.utilities.callables.ParsedCallable` (which also validates
and calls); this is the read-only view FastMCP code asks for, and what `Tool.from_tool` uses to
read a transform function, whose `*args`/`**kwargs` it leaves out of the schema.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trimcp.exceptions import InvalidSignature
from trimcp.tools.output_schema import WRAP_KEY, output_schema_for
from trimcp.utilities.callables import ParsedCallable

__all__ = ["ParsedFunction"]

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


@dataclass
class ParsedFunction:
    """A function's name, description, input schema and output schema.

    Attributes:
        fn: The function as given.
        name: Its `__name__` (a callable object's class name).
        description: Its cleaned docstring.
        input_schema: The JSON schema of its arguments (`Context` and excluded ones left out).
        output_schema: The schema of its return annotation (non-object types wrapped as
            `{"result": ...}` and marked `x-fastmcp-wrap-result`), or None.
    """

    fn: Callable[..., Any]
    name: str
    description: str | None
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        exclude_args: list[str] | None = None,
        validate: bool = True,
        wrap_non_object_output_schema: bool = True,
    ) -> ParsedFunction:
        """Read `fn`.

        Args:
            validate: Refuse `*args`/`**kwargs` (`InvalidSignature`); with False they are
                left out of the input schema.
            wrap_non_object_output_schema: False gives a non-object return type's schema
                as it is, unwrapped.
        """
        if not callable(fn):
            raise TypeError(f"{fn!r} is not a callable object")
        target: Callable[..., Any] = fn
        if not validate:
            sig = signature_of(fn)
            if any(p.kind in _VARIADIC for p in sig.parameters.values()):
                target = _without_variadics(fn, sig)
        elif exclude_args:
            params = signature_of(fn).parameters
            for arg in exclude_args:
                if arg not in params:
                    raise InvalidSignature(
                        f"Parameter '{arg}' in exclude_args does not exist in function."
                    )
                if params[arg].default is inspect.Parameter.empty:
                    raise InvalidSignature(
                        f"Parameter '{arg}' in exclude_args must have a default value."
                    )
        parsed = ParsedCallable.from_function(target, exclude_args=exclude_args or ())
        output = output_schema_for(parsed.return_annotation)
        if output is not None and not wrap_non_object_output_schema and output.get(WRAP_KEY):
            inner = dict(output["properties"]["result"])
            if "$defs" in output:
                inner["$defs"] = output["$defs"]
            output = inner
        return cls(
            fn=fn,
            name=parsed.name,
            description=parsed.description,
            input_schema=parsed.parameters_schema,
            output_schema=output,
        )


def signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    """`fn`'s signature, string annotations evaluated when they can be."""
    try:
        return inspect.signature(fn, eval_str=True)
    except NameError:
        return inspect.signature(fn)


def _without_variadics(fn: Callable[..., Any], sig: inspect.Signature) -> Callable[..., Any]:
    """A stand-in for `fn` whose signature lacks `*args` and `**kwargs` (only read)."""

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    kept = [p for p in sig.parameters.values() if p.kind not in _VARIADIC]
    stand_in.__signature__ = sig.replace(parameters=kept)  # type: ignore[attr-defined]
    stand_in.__name__ = getattr(fn, "__name__", None) or type(fn).__name__
    stand_in.__doc__ = inspect.getdoc(fn)
    return stand_in
