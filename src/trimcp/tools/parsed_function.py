"""`ParsedFunction`: FastMCP 2.13's description of a function as a tool would see it (name,
description, input and output schema), public as `fastmcp.tools.tool.ParsedFunction`.

trimcp's tools are built on `trimcp.utilities.callables.ParsedCallable` (which also validates
and calls); this is the read-only view FastMCP code asks for. `TransformFunction` is how `Tool.from_tool`
reads a transform function (its `*args`/`**kwargs` left out of the schema) and validates the
arguments of a call to it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from trimcp.exceptions import InvalidSignature
from trimcp.tools.output_schema import WRAP_KEY, output_schema_for
from trimcp.utilities.callables import ParsedCallable

__all__ = ["ParsedFunction", "TransformFunction", "parse_leniently", "signature_of"]

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
        if not validate:
            parsed = parse_leniently(fn, exclude_args=exclude_args or ())
            return cls.from_parsed(fn, parsed, wrap=wrap_non_object_output_schema)
        if exclude_args:
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
        parsed = ParsedCallable.from_function(fn, exclude_args=exclude_args or (), used_as="tools")
        return cls.from_parsed(fn, parsed, wrap=wrap_non_object_output_schema)

    @classmethod
    def from_parsed(
        cls, fn: Callable[..., Any], parsed: ParsedCallable, *, wrap: bool = True
    ) -> ParsedFunction:
        """The description of `fn`, read from its `ParsedCallable`; `wrap` as
        `wrap_non_object_output_schema`."""
        output = output_schema_for(parsed.return_annotation)
        if output is not None and not wrap and output.get(WRAP_KEY):
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


def parse_leniently(
    fn: Callable[..., Any],
    *,
    exclude_args: Collection[str] = (),
    leave_out: Collection[str] = (),
) -> ParsedCallable:
    """`fn`'s `ParsedCallable` with its `*args` and `**kwargs`, and the parameters named in
    `leave_out`, left out (of the schema and of what `validate` takes): how `Tool.from_tool`
    reads a `transform_fn`."""
    sig = signature_of(fn)
    target = fn
    if leave_out or any(p.kind in _VARIADIC for p in sig.parameters.values()):
        target = _stand_in(fn, sig, leave_out)
    return ParsedCallable.from_function(target, exclude_args=exclude_args)


# Property keywords that describe an argument without changing which values fit it.
_DESCRIPTIVE = frozenset({"title", "description", "default", "examples"})


class TransformFunction:
    """A `transform_fn` read once: its schema and output schema, and how a call's
    arguments reach it.

    A parameter whose type the tool's input schema states as the function does (the
    usual case) is validated as a function tool's argument is (`ParsedCallable.validate`,
    lax or strict); one the transformation gave another type (`ArgTransform(type=...)`
    wins over the function's annotation) is passed as it came, and validated by the
    parent when forwarded. What goes to the function's `**kwargs` is passed as it came
    too; without `**kwargs`, an argument the function does not take is refused as a
    function tool refuses it. A `Context` parameter gets the request's context.

    Attributes:
        fn: The function.
        parsed: Its `ParsedCallable` (`*args`/`**kwargs` left out): the schema it declares.
        output_schema: The schema of its return annotation (wrapped when not an object).
        return_annotation: Its return annotation, as its signature gives it.
        takes_kwargs: Whether it has `**kwargs`.
    """

    __slots__ = (
        "fn",
        "output_schema",
        "parsed",
        "passed",
        "return_annotation",
        "takes_kwargs",
        "validated",
        "validator",
    )

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.parsed = parse_leniently(fn)
        self.output_schema = output_schema_for(self.parsed.return_annotation)
        sig = signature_of(fn)
        self.return_annotation = sig.return_annotation
        self.takes_kwargs = any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()
        )
        self.validator = self.parsed
        self.validated = frozenset(self.parsed.parameters_schema.get("properties", ()))
        self.passed: frozenset[str] = frozenset()

    def check_against(self, schema: dict[str, Any]) -> None:
        """Take the tool's input `schema` into account: the parameters it types otherwise
        than the function are passed as they come (see the class docstring)."""
        own = self.parsed.parameters_schema.get("properties", {})
        final = schema.get("properties", {})
        retyped = frozenset(
            name
            for name, prop in own.items()
            if isinstance(final.get(name), dict) and _shape(final[name]) != _shape(prop)
        )
        if retyped:
            self.validator = parse_leniently(self.fn, leave_out=retyped)
            self.validated = frozenset(own) - retyped
            self.passed = retyped

    def arguments(self, arguments: dict[str, Any], context: Any, *, strict: bool) -> dict[str, Any]:
        """The keyword arguments to call the function with.

        Raises:
            ValidationError: As `ParsedCallable.validate` raises it.
        """
        if self.takes_kwargs:
            checked = {k: v for k, v in arguments.items() if k in self.validated}
            passed = {k: v for k, v in arguments.items() if k not in self.validated}
        elif self.passed:
            checked = {k: v for k, v in arguments.items() if k not in self.passed}
            passed = {k: v for k, v in arguments.items() if k in self.passed}
        else:
            checked, passed = arguments, {}
        kwargs = self.validator.validate(checked, strict=strict)
        kwargs.update(passed)
        if self.validator.context_kwarg is not None and context is not None:
            kwargs[self.validator.context_kwarg] = context
        return kwargs


def _shape(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k not in _DESCRIPTIVE}


def signature_of(fn: Callable[..., Any]) -> inspect.Signature:
    """`fn`'s signature, string annotations evaluated when they can be."""
    try:
        return inspect.signature(fn, eval_str=True)
    except NameError:
        return inspect.signature(fn)


def _stand_in(
    fn: Callable[..., Any], sig: inspect.Signature, leave_out: Collection[str]
) -> Callable[..., Any]:
    """A stand-in for `fn` whose signature lacks `*args`, `**kwargs` and the parameters in
    `leave_out` (only read and validated for, never called)."""

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    kept = [
        p for p in sig.parameters.values() if p.kind not in _VARIADIC and p.name not in leave_out
    ]
    stand_in.__signature__ = sig.replace(parameters=kept)  # type: ignore[attr-defined]
    stand_in.__name__ = getattr(fn, "__name__", None) or type(fn).__name__
    stand_in.__doc__ = inspect.getdoc(fn)
    return stand_in
