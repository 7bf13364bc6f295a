"""`ParsedCallable`: a user function made callable with JSON arguments.

Everything about the function is worked out once, in `ParsedCallable.from_function`: its
name and description, whether it is a coroutine function, which parameter wants the
`Context`, the pydantic model that validates its arguments and the JSON schema of that
model. `ParsedCallable.call` (the hot path of every tool, resource template and prompt)
only validates, injects the context and calls: coroutine functions on the event loop,
sync functions in a worker thread so they never block it (or, made with `in_thread=False`,
on the loop's thread, in a copy of the caller's context as a worker would run them).

The argument model's fields have private names (`p0`, `p1`, ...) and the parameter names
as aliases, so a parameter may be called `json`, `copy` or `model_config` without
colliding with pydantic's own attributes.

Signatures made only of simple types (`int`, `str`, `list[float]`, `Literal[...]`,
`X | None`, ... see `trimcp.utilities.fast_schema`) never touch pydantic: their schema is
generated directly (identical to pydantic's) and their arguments are validated by msgspec
with a pydantic-compatible fallback. pydantic is imported only for the first signature
that needs it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
from collections.abc import Callable, Collection, Mapping
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Union, get_args, get_origin

from trimcp.exceptions import InvalidSignature, ValidationError
from trimcp.runtime.threads import run_sync as run_in_worker
from trimcp.utilities import fast_schema
from trimcp.utilities.context_slot import ContextBase, current_context
from trimcp.utilities.json_schema import compress_schema, dereference_refs

if TYPE_CHECKING:
    import pydantic
    from pydantic.fields import FieldInfo

__all__ = ["ParsedCallable", "parse_docstring_params"]

_EMPTY = inspect.Parameter.empty


class _ArgumentValidator(Protocol):
    """What `ParsedCallable` uses of a model's `__pydantic_validator__` (a pydantic-core
    `SchemaValidator`, or pydantic's plugin wrapper around one)."""

    def validate_python(self, input: Any, /, *, strict: bool | None = None) -> Any: ...


class ParsedCallable:
    """A function, its argument validator and its input schema, prepared for JSON calls.

    Attributes:
        fn: the function as given (bound method, `functools.partial`, callable object, ...).
        name: `fn.__name__` (the class name for callable objects); may be `"<lambda>"`.
        description: the cleaned docstring, or `None`.
        is_async: whether calling `fn` returns a coroutine.
        in_thread: whether a sync `fn` runs in a worker thread (the default) or inline on
            the event loop's thread (FastMCP's `run_in_thread=False`).
        context_kwarg: the parameter that receives the `Context`, or `None`.
        parameters_schema: JSON schema of the arguments clients send.
        return_annotation: the evaluated return annotation (`inspect.Parameter.empty`
            when there is none).
    """

    __slots__ = (
        "_context_has_default",
        "_fast",
        "_fields",
        "_invoke",
        "_positional_defaults",
        "_positional_only",
        "_validator",
        "context_kwarg",
        "description",
        "fn",
        "in_thread",
        "is_async",
        "name",
        "parameters_schema",
        "return_annotation",
    )

    fn: Callable[..., Any]
    name: str
    description: str | None
    is_async: bool
    in_thread: bool
    context_kwarg: str | None
    parameters_schema: dict[str, Any]
    return_annotation: Any
    _context_has_default: bool
    _fast: fast_schema.FastArguments | None
    _fields: tuple[tuple[str, str], ...]
    _invoke: Callable[..., Any]
    _positional_defaults: dict[str, Any]
    _positional_only: tuple[str, ...]
    _validator: _ArgumentValidator | None  # set exactly when `_fast` is None

    def __init__(self) -> None:
        raise TypeError("use ParsedCallable.from_function()")

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        exclude_args: Collection[str] = (),
        dereference: bool = False,
        used_as: str | None = None,
        in_thread: bool = True,
    ) -> ParsedCallable:
        """Inspect `fn` once and build its validator and schema.

        Args:
            fn: the user's function.
            exclude_args: parameters hidden from clients; each must have a default.
            dereference: inline `$defs` into the schema (recursive ones stay).
            used_as: what `fn` becomes (`"tools"`, `"prompts"`, `"resources"`), for the
                messages: "Functions with *args are not supported as tools".
            in_thread: False runs a sync `fn` on the event loop's thread: for functions
                with thread affinity, or quick enough that a thread hand-over would cost
                more than the call (it blocks the loop while it runs).

        Raises:
            InvalidSignature: `*args`/`**kwargs`, an excluded parameter without a default or
                missing, more than one `Context` parameter, or an annotation pydantic
                cannot turn into a schema.
        """
        self = object.__new__(cls)
        invoke = fn.__func__ if isinstance(fn, staticmethod) else fn
        target = _inspection_target(invoke)
        self.fn = fn
        self.name = _name_of(invoke)
        self.description = _doc_of(invoke)
        self.is_async = _is_async(invoke, target)
        self.in_thread = in_thread
        self._invoke = invoke

        sig = _resolve_signature(target, self.name)
        self.return_annotation = sig.return_annotation
        exclude = set(exclude_args)
        unknown = exclude - sig.parameters.keys()
        if unknown:
            raise InvalidSignature(
                f"{self.name}: exclude_args names no parameter: {', '.join(sorted(unknown))}"
            )
        doc_params = parse_docstring_params(self.description or "")
        params: list[tuple[str, inspect.Parameter]] = []
        names: list[tuple[str, str]] = []
        self.context_kwarg = None
        self._context_has_default = False
        positional_only: list[str] = []
        positional_defaults: dict[str, Any] = {}
        for index, param in enumerate(sig.parameters.values()):
            if param.kind in _VARIADIC:
                star = "*args" if param.kind is inspect.Parameter.VAR_POSITIONAL else "**kwargs"
                raise InvalidSignature(
                    f"{self.name}: Functions with {star} are not supported"
                    + (f" as {used_as}" if used_as else "")
                )
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                positional_only.append(param.name)
                positional_defaults[param.name] = param.default
            if is_class_member_of_type(param.annotation, ContextBase):
                if self.context_kwarg is not None:
                    raise InvalidSignature(f"{self.name}: more than one Context parameter")
                self.context_kwarg = param.name
                self._context_has_default = param.default is not _EMPTY
                continue
            if param.name in exclude:
                if param.default is _EMPTY:
                    raise InvalidSignature(
                        f"{self.name}: excluded parameter {param.name!r} must have a default"
                    )
                continue
            internal = f"p{index}"
            params.append((internal, param))
            names.append((internal, param.name))

        self._fast = _fast_arguments(f"{self.name}_arguments", params, doc_params)
        if self._fast is not None:
            self.parameters_schema = self._fast.schema()
            self._validator = None
        else:
            schema, self._validator = _pydantic_arguments(self.name, params, doc_params)
            self.parameters_schema = dereference_refs(schema) if dereference else schema
        self._fields = tuple(names)
        self._positional_only = tuple(positional_only)
        self._positional_defaults = positional_defaults
        return self

    def with_in_thread(self, in_thread: bool) -> ParsedCallable:
        """This callable with `in_thread` set: itself if it already is, else a copy (one is
        shared by the copies of a tool, so it is never changed in place)."""
        if in_thread is self.in_thread:
            return self
        clone = object.__new__(ParsedCallable)
        for name in ParsedCallable.__slots__:
            setattr(clone, name, getattr(self, name))
        clone.in_thread = in_thread
        return clone

    def __repr__(self) -> str:
        return f"<ParsedCallable {self.name}>"

    def __copy__(self) -> ParsedCallable:
        return self  # immutable once built

    def __deepcopy__(self, memo: dict[int, Any]) -> ParsedCallable:
        return self

    def validate(
        self, arguments: Mapping[str, Any] | None, *, strict: bool = False
    ) -> dict[str, Any]:
        """Validate JSON `arguments` (lax: `"5"` is accepted for an `int`) into keyword
        arguments for `fn`, defaults filled in. `strict=True` refuses such coercions.

        Raises:
            ValidationError: naming each bad argument and what is wrong with it.
        """
        fast = self._fast
        if fast is not None:
            try:
                return fast.validate({} if arguments is None else arguments, strict)
            except fast_schema.ArgumentErrors as exc:
                raise ValidationError(fast_schema.format_errors(exc.errors)) from None
        import pydantic

        validator = self._validator
        assert validator is not None  # `from_function` sets one when there is no `_fast`
        try:
            model = validator.validate_python({} if arguments is None else arguments, strict=strict)
        except pydantic.ValidationError as exc:
            raise ValidationError(format_validation_error(exc)) from exc
        values = model.__dict__
        return {name: values[internal] for internal, name in self._fields}

    async def call(
        self, arguments: Mapping[str, Any] | None, context: Any = None, *, strict: bool = False
    ) -> Any:
        """Validate `arguments`, inject `context` (default: the request's, if any), call.

        Coroutine functions run on the loop; sync functions run in a worker thread, or inline
        when not `in_thread` (if one returns an awaitable, it is awaited). The function's
        exceptions propagate unchanged.
        """
        kwargs = self.validate(arguments, strict=strict)
        if self.context_kwarg is not None:
            if context is None:
                context = _current_context()
            if context is not None or not self._context_has_default:
                kwargs[self.context_kwarg] = context
        if not self._positional_only and self.is_async:  # the usual coroutine function
            return await self._invoke(**kwargs)
        args: list[Any] = []
        for name in self._positional_only:
            args.append(kwargs.pop(name) if name in kwargs else self._positional_defaults[name])
        if self.is_async:
            return await self._invoke(*args, **kwargs)
        if self.in_thread:
            result = await run_in_worker(self._invoke, *args, **kwargs)
        else:  # in a context of its own, as in a worker: what it sets stays with the call
            result = contextvars.copy_context().run(self._invoke, *args, **kwargs)
        if type(result) not in _NEVER_AWAITABLE and inspect.isawaitable(result):
            result = await result
        return result


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
# what sync tools mostly return; `inspect.isawaitable` would try the `Awaitable` ABC on each
_NEVER_AWAITABLE = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict})


def _fast_arguments(
    title: str, params: list[tuple[str, inspect.Parameter]], doc_params: dict[str, str]
) -> fast_schema.FastArguments | None:
    """The pydantic-free validator, when every parameter is simple (else `None`)."""
    fields = []
    for internal, param in params:
        annotation = Any if param.annotation is _EMPTY else param.annotation
        described = fast_schema.description_of(annotation)
        if described is None:
            return None
        base, description = described
        node = fast_schema.compile_type(base)
        if node is None:
            return None
        default = param.default
        if default is _EMPTY:
            default = fast_schema.MISSING
        elif fast_schema.jsonable_default(default) is fast_schema.NOT_JSONABLE:
            return None  # `Field(...)` defaults included
        if description is None:
            description = doc_params.get(param.name) or None
        fields.append(fast_schema.Field(internal, param.name, node, base, default, description))
    return fast_schema.FastArguments(title, fields)


def _pydantic_arguments(
    name: str, params: list[tuple[str, inspect.Parameter]], doc_params: dict[str, str]
) -> tuple[dict[str, Any], _ArgumentValidator]:
    """The input schema and the `SchemaValidator` of a pydantic argument model."""
    import pydantic

    fields = {internal: _field_for(param, doc_params.get(param.name)) for internal, param in params}
    try:
        model = pydantic.create_model(  # type: ignore[call-overload]
            f"{name}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
        )
        schema = model.model_json_schema(by_alias=True)
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
        raise InvalidSignature(f"{name}: unsupported parameter type: {exc}") from exc
    schema = compress_schema(schema, prune_titles=True)
    schema.setdefault("properties", {})
    return schema, model.__pydantic_validator__


def format_validation_error(exc: pydantic.ValidationError) -> str:
    """`Invalid arguments: 'x': Input should be a valid integer (got 'abc'); 'y': Missing
    required argument`."""
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"])
        text = error["msg"]
        if error["type"] == "missing" and len(error["loc"]) == 1:
            text = fast_schema.MISSING_ARGUMENT
        if error["type"] not in ("missing", "extra_forbidden") and error["loc"]:
            got = repr(error.get("input"))
            text += f" (got {got if len(got) <= 60 else got[:57] + '...'})"
        parts.append(f"{where!r}: {text}" if where else text)
    return "Invalid arguments: " + "; ".join(parts)


def _current_context() -> ContextBase | None:
    return current_context.get()


def _inspection_target(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What `inspect.signature` should look at: a callable object's bound `__call__`."""
    if inspect.isroutine(fn) or isinstance(fn, functools.partial):
        return fn
    call: Callable[..., Any] | None = getattr(fn, "__call__", None)  # noqa: B004 - the bound method
    if call is None:
        raise InvalidSignature(f"{fn!r} is not callable")
    return call


def _name_of(fn: Any) -> str:
    if isinstance(fn, functools.partial):
        return _name_of(fn.func)
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def _doc_of(fn: Any) -> str | None:
    if isinstance(fn, functools.partial):
        return _doc_of(fn.func)
    return inspect.getdoc(fn) or None


def _is_async(fn: Any, target: Any) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(target)


def _resolve_signature(target: Callable[..., Any], name: str) -> inspect.Signature:
    """The signature with string annotations evaluated.

    When `eval_str` fails (a name only imported under `TYPE_CHECKING`, say), each string
    annotation is evaluated alone, with `Context` known, so that the context parameter is
    still found; a parameter annotation that cannot be evaluated is an error.
    """
    try:
        return inspect.signature(target, eval_str=True)
    except NameError:
        pass
    except (TypeError, ValueError) as exc:
        raise InvalidSignature(f"{name}: cannot read the signature: {exc}") from exc
    sig = inspect.signature(target)
    base: Any = target
    while isinstance(base, functools.partial):
        base = base.func
    base = inspect.unwrap(getattr(base, "__func__", base))
    namespace = {"Context": ContextBase, **getattr(base, "__globals__", {})}
    params = []
    for param in sig.parameters.values():
        if isinstance(param.annotation, str):
            try:
                param = param.replace(annotation=eval(param.annotation, namespace))
            except Exception as exc:
                raise InvalidSignature(
                    f"{name}: cannot evaluate the annotation of {param.name!r}: {exc}"
                ) from exc
        params.append(param)
    ret = sig.return_annotation
    if isinstance(ret, str):
        try:
            ret = eval(ret, namespace)
        except Exception:
            ret = _EMPTY  # an unknown return type only costs the output schema
    return sig.replace(parameters=params, return_annotation=ret)


def is_class_member_of_type(cls: Any, base: type) -> bool:
    """`trimcp.utilities.types.is_class_member_of_type`, here so that finding the
    `Context` parameter does not import that module (and pydantic with it)."""
    origin = get_origin(cls)
    if origin is UnionType or origin is Union:
        return any(is_class_member_of_type(arg, base) for arg in get_args(cls))
    if origin is Annotated:
        return is_class_member_of_type(get_args(cls)[0], base)
    if origin is not None:
        return False
    try:
        return isinstance(cls, type) and issubclass(cls, base)
    except TypeError:
        return False


def _field_for(param: inspect.Parameter, doc: str | None) -> tuple[Any, FieldInfo]:
    """The `(annotation, FieldInfo)` of one argument-model field."""
    import pydantic
    from pydantic.fields import FieldInfo

    annotation = Any if param.annotation is _EMPTY else param.annotation
    described = False
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        if len(metadata) == 1 and isinstance(metadata[0], str):
            # FastMCP reads `Annotated[int, "the count"]` as a description
            annotation = Annotated[base, pydantic.Field(description=metadata[0])]
            described = True
        else:
            described = any(
                isinstance(m, FieldInfo) and m.description is not None for m in metadata
            )
    default = param.default
    if isinstance(default, FieldInfo):  # `x: int = Field(description=...)`
        described = described or default.description is not None
        annotation = Annotated[annotation, default]
        default = _EMPTY
    options: dict[str, Any] = {"alias": param.name}
    if default is not _EMPTY:
        options["default"] = default
    if doc and not described:
        options["description"] = doc
    return annotation, pydantic.Field(**options)


_GOOGLE_HEADER = re.compile(
    r"^(\s*)(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments):\s*$"
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?::.*)?$")
_SPHINX_ENTRY = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def parse_docstring_params(doc: str) -> dict[str, str]:
    """Parameter descriptions from a Google (`Args:`), NumPy (`Parameters` + `---`) or
    Sphinx (`:param x:`) docstring; continuation lines are joined with spaces."""
    lines = doc.expandtabs().splitlines()
    found: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        google = _GOOGLE_HEADER.match(line)
        numpy = (
            line.strip() in ("Parameters", "Other Parameters", "Keyword Arguments")
            and i + 1 < len(lines)
            and set(lines[i + 1].strip()) == {"-"}
        )
        sphinx = _SPHINX_ENTRY.match(line)
        if sphinx:
            found[sphinx.group(1)] = sphinx.group(2).strip()
        if not (google or numpy):
            i += 1
            continue
        header_indent = _indent(line)
        i += 2 if numpy else 1
        entry_indent: int | None = None
        current: str | None = None
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            indent = _indent(line)
            if google and indent <= header_indent:
                break
            if numpy and i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}:
                break  # the next NumPy section's header
            if entry_indent is None:
                entry_indent = indent
            if indent < entry_indent:
                break
            if indent == entry_indent:
                match = (_GOOGLE_ENTRY if google else _NUMPY_ENTRY).match(line.strip())
                current = match.group(1) if match else None
                if current is not None:
                    first = match.group(2) if google and match else ""
                    found[current] = (first or "").strip()
            elif current is not None:
                found[current] = f"{found[current]} {line.strip()}".strip()
            i += 1
    return found


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
