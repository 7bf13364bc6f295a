"""The pydantic-free path of `ParsedCallable` and `FunctionTool` (`fast_schema`): for simple
signatures it must give exactly what the pydantic path gives (schemas with their key order,
validated arguments, error messages, output schemas, result text), and it must not import
pydantic at all."""

from __future__ import annotations

import enum
import json
import random
import subprocess
import sys
import typing
from typing import Annotated, Any, Literal, Optional, Union

import pytest

from trimcp.exceptions import ValidationError
from trimcp.server.context import Context
from trimcp.tools.tool import FunctionTool, output_schema_for
from trimcp.utilities import callables, fast_schema, plain_values
from trimcp.utilities.callables import ParsedCallable
from trimcp.utilities.types import default_serializer, to_jsonable


def s_scalars(a: int, b: float, c: str, d: bool, e: None) -> None: ...


def s_defaults(
    a: int = 1, b: float = 1, c: str = "x", d: bool = True, e: None = None, f: float = 2.5
) -> None: ...


def s_optional(
    a: int | None,
    b: Optional[str] = None,  # noqa: UP045
    c: Union[float, None] = 1.5,  # noqa: UP007
    d: None | bool = False,  # noqa: RUF036
    e: list[int] | None = None,
) -> None: ...


def s_containers(
    a: list[int],
    b: dict[str, float],
    c: list,  # type: ignore[type-arg]
    d: dict,  # type: ignore[type-arg]
    e: dict[str, Any] | None = None,
    f: list[Any] = [1, "2"],  # noqa: B006
    g: list[dict[str, list[int | None]]] | None = None,
    h: typing.List[str] = (),  # type: ignore[assignment]  # noqa: UP006
    i: typing.Dict[str, int] = {"b": 1, "a": {"z": 1, "y": [{"d": 1, "c": 2}]}},  # type: ignore[dict-item]  # noqa: UP006, B006
    j: dict[Any, Any] = {},  # noqa: B006
) -> None: ...


def s_literals(
    a: Literal["a", "b"],
    b: Literal[1, 2, 3] = 2,
    c: Literal["only"] = "only",
    d: Literal[True] = True,
    e: Literal[True, False] | None = None,
    f: Literal[0] = 0,
) -> None: ...


def s_any(a, b: Any, c=3, d: Any = None, e=[1, {"x": None}]) -> None:  # type: ignore[no-untyped-def]  # noqa: B006
    ...


def s_described(
    a: int,
    b: Annotated[str, "the b"] = "x",
    c: Annotated[list[int] | None, "the c"] = None,
    d: int = 0,
    e: Annotated[int, ""] = 1,
) -> None:
    """Describe.

    Args:
        a: the a
        b: not used: the annotation wins
        d: the d
    """


def s_context(x: int, ctx: Context, *, y: str = "") -> None: ...


def s_positional(a: int, /, b: int = 2) -> None: ...


def s_clashing(
    json: int, copy: str, model_config: bool = False, __struct_fields__: int = 0
) -> None: ...


def s_empty() -> None: ...


SIMPLE = [
    s_scalars,
    s_defaults,
    s_optional,
    s_containers,
    s_literals,
    s_any,
    s_described,
    s_context,
    s_positional,
    s_clashing,
    s_empty,
]


class Color(enum.Enum):
    RED = "red"


def n_enum(c: Color) -> None: ...


def n_constrained(a: Annotated[int, "x", "y"]) -> None: ...


def n_union(a: int | str) -> None: ...


def n_tuple(a: tuple[int, str]) -> None: ...


def n_default(a: float = float("inf")) -> None: ...


def n_int_keys(a: dict[int, int]) -> None: ...


def n_mixed_literal(a: Literal["a", 1]) -> None: ...


def n_any_optional(a: Any | None = None) -> None: ...


class MyInt(int):
    pass


def n_bytes(a: bytes) -> None: ...


NOT_SIMPLE = [
    n_enum,
    n_constrained,
    n_union,
    n_tuple,
    n_default,
    n_int_keys,
    n_mixed_literal,
    n_any_optional,
    n_bytes,
]


@pytest.fixture
def slow(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Build `ParsedCallable`s on the pydantic path."""

    def build(fn: Any) -> ParsedCallable:
        with monkeypatch.context() as patch:
            patch.setattr(callables, "_fast_arguments", lambda *args: None)
            return ParsedCallable.from_function(fn)

    return build


@pytest.mark.parametrize("fn", SIMPLE, ids=lambda f: f.__name__)
def test_simple_signatures_take_the_fast_path_with_pydantics_schema(fn: Any, slow: Any) -> None:
    fast = ParsedCallable.from_function(fn)
    assert fast._fast is not None
    reference = slow(fn)
    assert reference._fast is None
    # identical, key order included
    assert json.dumps(fast.parameters_schema) == json.dumps(reference.parameters_schema)


@pytest.mark.parametrize("fn", NOT_SIMPLE, ids=lambda f: f.__name__)
def test_other_signatures_keep_the_pydantic_path(fn: Any) -> None:
    assert ParsedCallable.from_function(fn)._fast is None


def test_dereference_is_harmless_on_the_fast_path() -> None:
    parsed = ParsedCallable.from_function(s_optional, dereference=True)
    assert parsed._fast is not None
    assert parsed.parameters_schema == ParsedCallable.from_function(s_optional).parameters_schema


_VALUES: list[Any] = [
    0, 1, 2, 3, -7, 2**70, 1.0, 0.0, 2.5, -1.5, 1e20, float("inf"), float("nan"),
    True, False, None, "", "a", "b", "x", "only", "5", " 5 ", "+5", "5.0", "5.5", "1_0",
    "1__0", "1e3", "0x1", "inf", "nan", "true", "TRUE", "yes", "off", "n", "2", "-0",
    [], [1, 2], [1, "2"], ["x", None], [None], [[1]], [{"k": [1, None]}], [{"k": ["a"]}],
    {}, {"k": 1}, {"k": "1.5"}, {"k": "x"}, {"k": None}, {"k": [1]},
    -(2**63), 2**63 - 1, 2**63, 9.3e18, -0.0, 0.5, "0.0", "-5.00", "5.", "\t5\n", "١٢",
    "Infinity", "1.5_0", "_1", "On", ["1", "2.0", True], [1.0, "x", 2**64], {"k": True},
    {"k": "2", "j": [None, "3"]}, {1: 2}, (1, 2), "\u00a07",
]  # fmt: skip


def _outcome(parsed: ParsedCallable, arguments: Any, strict: bool) -> str:
    try:
        return "ok " + repr(parsed.validate(arguments, strict=strict))  # repr: types too
    except ValidationError as exc:
        return "error " + str(exc)


@pytest.mark.parametrize("fn", SIMPLE, ids=lambda f: f.__name__)
def test_validation_matches_pydantic_lax_and_strict(fn: Any, slow: Any) -> None:
    fast = ParsedCallable.from_function(fn)
    reference = slow(fn)
    names = list(fast.parameters_schema["properties"])
    rng = random.Random(fn.__name__)
    cases: list[Any] = [None, {}, [1], "x", {"nope": 1}]
    for name in names:
        cases += [{name: value} for value in _VALUES]
    for _ in range(1500):
        cases.append(
            {name: rng.choice(_VALUES) for name in names if rng.random() < 0.85}
            | ({"extra": 1} if rng.random() < 0.05 else {})
        )
    for arguments in cases:
        for strict in (False, True):
            assert _outcome(fast, arguments, strict) == _outcome(reference, arguments, strict), (
                arguments,
                strict,
            )


def test_happy_path_and_coercions() -> None:
    def add(a: int, b: int) -> int:
        return a + b

    parsed = ParsedCallable.from_function(add)
    assert parsed.validate({"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert parsed.validate({"a": "5", "b": 2.0}) == {"a": 5, "b": 2}
    with pytest.raises(ValidationError) as info:
        parsed.validate({"a": "5", "b": 2}, strict=True)
    assert str(info.value) == "Invalid arguments: 'a': Input should be a valid integer (got '5')"
    with pytest.raises(ValidationError) as info:
        parsed.validate({"a": "x", "c": 1})
    assert str(info.value) == (
        "Invalid arguments: 'a': Input should be a valid integer, unable to parse string as "
        "an integer (got 'x'); 'b': Missing required argument; 'c': Extra inputs are not permitted"
    )


def test_mutable_defaults_are_copied_per_call() -> None:
    def f(items: list[int] = [1], mapping: dict[str, int] = {}) -> None: ...  # noqa: B006

    parsed = ParsedCallable.from_function(f)
    first = parsed.validate({})
    first["items"].append(2)
    first["mapping"]["x"] = 1
    assert parsed.validate({}) == {"items": [1], "mapping": {}}
    assert parsed.validate({"a": 1} if False else {"items": ["3"]}) == {"items": [3], "mapping": {}}


# --- tools: output schemas and results -------------------------------------------------

RETURNS = [
    int, float, str, bool, list[int], list, dict, dict[str, int], dict[str, Any],
    Optional[int], Optional[dict[str, int]], list[Optional[str]], Literal["a", "b"],  # noqa: UP045
    Literal[1], dict[str, list[float]] | None,
]  # fmt: skip


@pytest.mark.parametrize("annotation", RETURNS, ids=repr)
def test_output_schema_matches_pydantic(annotation: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert fast_schema.compile_type(annotation) is not None
    fast = output_schema_for(annotation)
    monkeypatch.setattr(fast_schema, "compile_type", lambda tp: None)
    assert json.dumps(fast) == json.dumps(output_schema_for(annotation))


PLAIN_RESULTS: list[Any] = [
    None, 0, -3, 2**63, 1.5, 0.1, 1e15, -2.5e-7, True, False, "", "héllo \n \"q\" \u2028",
    [], (), [1, "a", None, 2.5], (1, (2, 3)), {}, {"a": 1, "b": [1, {"c": None}]},
    {"t": (1, 2)}, [[], {}],
]  # fmt: skip


@pytest.mark.parametrize("value", PLAIN_RESULTS, ids=repr)
def test_plain_json_matches_default_serializer(value: Any) -> None:
    assert plain_values.is_plain(value)
    assert plain_values.plain_json(value) == default_serializer(value).encode()
    assert repr(plain_values.plain_builtins(value)) == repr(to_jsonable(value))


@pytest.mark.parametrize(
    "value", [b"x", 1e16, float("nan"), float("inf"), 2**64, {1: 2}, [object()], MyInt(1)]
)
def test_values_msgspec_would_print_differently_are_not_plain(value: Any) -> None:
    assert not plain_values.is_plain(value)


def _results(tool: FunctionTool, value: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = tool.result_from(value)
    with monkeypatch.context() as patch:
        patch.setattr(plain_values, "is_plain", lambda v: False)
        slow = tool.result_from(value)
    return fast, slow


@pytest.mark.parametrize("value", PLAIN_RESULTS, ids=repr)
@pytest.mark.parametrize("returns", [None, int, dict[str, Any]], ids=repr)
@pytest.mark.parametrize("serializer", [None, lambda v: f"<{v!r}>", lambda v: 1 / 0])
def test_plain_results_match_the_general_path(
    value: Any, returns: Any, serializer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def f() -> Any: ...

    if returns is not None:
        f.__annotations__["return"] = returns
    tool = FunctionTool.from_function(f, serializer=serializer)
    try:
        fast, slow = _results(tool, value, monkeypatch)
    except ValueError:
        with pytest.raises(ValueError, match="must be a dict"):
            with monkeypatch.context() as patch:
                patch.setattr(plain_values, "is_plain", lambda v: False)
                tool.result_from(value)
        return
    assert fast == slow
    assert json.dumps(fast.structured_content) == json.dumps(slow.structured_content)


# --- no pydantic at startup ------------------------------------------------------------

_NO_PYDANTIC = """
import sys
from trimcp import FastMCP
import trimcp.tools

mcp = FastMCP("x")

@mcp.tool
def add(a: int, b: int = 2) -> int:
    return a + b

@mcp.tool
def echo(text: str, tags: list[str] | None = None, mode: Literal["a", "b"] = "a") -> dict[str, Any]:
    return {"text": text}

@mcp.resource("data://{name}")
def data(name: str) -> str:
    return name

@mcp.prompt
def ask(topic: str) -> str:
    return topic

import anyio
async def main():
    tool = await mcp.get_tool("add") if hasattr(mcp, "get_tool") else None
    if tool is not None:
        result = await tool.run({"a": "1"})
        assert result.structured_content == {"result": 3}, result
        try:
            await tool.run({"a": "x"})
        except Exception as exc:
            assert "'a'" in str(exc)
anyio.run(main)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core")))
"""


def test_simple_server_never_imports_pydantic() -> None:
    code = "from typing import Any, Literal\n" + _NO_PYDANTIC
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr
