"""Tool transformation (`trimcp.tools.tool_transform`, FastMCP 2.13's): `Tool.from_tool`,
`ArgTransform`, `forward`/`forward_raw`, output schemas, and transformed tools served through
a client, a mount and the `ToolManager`'s transformations."""

from __future__ import annotations

import re
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from trimcp import Client, Context, FastMCP
from trimcp.exceptions import McpError, ToolError, ValidationError
from trimcp.tools import FunctionTool, Tool, forward, forward_raw
from trimcp.tools.tool import ToolResult
from trimcp.tools.tool_transform import ArgTransform, InvalidArgumentsError, TransformedTool

pytestmark = pytest.mark.anyio

WRAP = "x-fastmcp-wrap-result"


def add(old_x: int, old_y: int = 10) -> int:
    """Add two numbers."""
    return old_x + old_y


@pytest.fixture
def add_tool() -> FunctionTool:
    return Tool.from_function(add)


def text(result: ToolResult) -> str:
    return result.content[0].text  # type: ignore[union-attr]


# -- ArgTransform ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"default": 1, "default_factory": lambda: 1}, "both 'default' and 'default_factory'"),
        ({"default_factory": lambda: 1}, "default_factory can only be used with hide=True"),
        ({"required": True, "default": 1}, "'required=True' with 'default'"),
        ({"hide": True, "required": True}, "both 'hide=True' and 'required=True'"),
        ({"required": False}, "Cannot specify 'required=False'"),
    ],
)
def test_arg_transform_refuses_contradictions(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ArgTransform(**options)


# -- schemas ---------------------------------------------------------------------------------


def test_from_tool_keeps_the_parent_when_nothing_changes(add_tool: FunctionTool) -> None:
    new = Tool.from_tool(add_tool)
    assert isinstance(new, TransformedTool)
    assert new.parent_tool is add_tool
    assert (new.name, new.description) == ("add", "Add two numbers.")
    assert new.parameters == {
        "type": "object",
        "properties": {"old_x": {"type": "integer"}, "old_y": {"default": 10, "type": "integer"}},
        "required": ["old_x"],
    }
    assert new.output_schema == add_tool.output_schema


def test_argument_rename_description_default_examples(add_tool: FunctionTool) -> None:
    new = Tool.from_tool(
        add_tool,
        name="plus",
        description="Plus.",
        transform_args={
            "old_x": ArgTransform(name="x", description="first", examples=[1, 2]),
            "old_y": ArgTransform(name="y", default=5),
        },
    )
    assert new.name == "plus"
    assert new.description == "Plus."
    assert new.parameters["properties"] == {
        "x": {"type": "integer", "description": "first", "examples": [1, 2]},
        "y": {"type": "integer", "default": 5},
    }
    assert new.parameters["required"] == ["x"]


def test_required_type_and_removed_description() -> None:
    def f(a: int = 1, b: str = "s") -> str:
        """Doc.

        Args:
            a: the a.
        """
        return f"{a}{b}"

    parent = Tool.from_function(f)
    new = Tool.from_tool(
        parent,
        transform_args={
            "a": ArgTransform(required=True, description=None),
            "b": ArgTransform(type=int),
        },
    )
    assert new.parameters["properties"]["a"] == {"type": "integer"}
    assert new.parameters["properties"]["b"]["type"] == "integer"
    assert new.parameters["required"] == ["a"]


def test_hidden_arguments_leave_the_schema(add_tool: FunctionTool) -> None:
    new = Tool.from_tool(add_tool, transform_args={"old_y": ArgTransform(hide=True)})
    assert list(new.parameters["properties"]) == ["old_x"]
    with pytest.raises(ValueError, match="Hidden parameter 'old_x' has no default"):
        Tool.from_tool(add_tool, transform_args={"old_x": ArgTransform(hide=True)})


def test_bad_transform_args_are_refused(add_tool: FunctionTool) -> None:
    with pytest.raises(ValueError, match="Unknown arguments in transform_args: nope"):
        Tool.from_tool(add_tool, transform_args={"nope": ArgTransform(name="x")})
    with pytest.raises(ValueError, match="mapped to the same names: old_y"):
        Tool.from_tool(add_tool, transform_args={"old_x": ArgTransform(name="old_y")})
    with pytest.raises(ValueError, match="mapped to the same names: z"):
        Tool.from_tool(
            add_tool,
            transform_args={"old_x": ArgTransform(name="z"), "old_y": ArgTransform(name="z")},
        )


def test_inherited_and_overridden_fields(add_tool: FunctionTool) -> None:
    add_tool.tags = {"math"}
    add_tool.meta = {"v": 1}
    new = Tool.from_tool(add_tool, enabled=False)
    assert (new.tags, new.meta, new.enabled) == ({"math"}, {"v": 1}, False)
    new = Tool.from_tool(add_tool, tags={"other"}, meta=None, title="T", description=None)
    assert (new.tags, new.meta, new.title, new.description) == ({"other"}, None, "T", None)


def test_model_dump_names_fastmcps_fields(add_tool: FunctionTool) -> None:
    dumped = add_tool.model_dump(exclude_none=True, exclude={"fn"})
    assert dumped == {
        "name": "add",
        "description": "Add two numbers.",
        "tags": set(),
        "enabled": True,
        "parameters": add_tool.parameters,
        "output_schema": add_tool.output_schema,
    }
    assert add_tool.model_dump()["fn"] is add
    new = Tool.from_tool(add_tool, name="plus")
    assert new.model_dump(include={"name", "parent_tool"}) == {
        "name": "plus",
        "parent_tool": add_tool.model_dump(),
    }


def test_non_callable_and_deprecated_false_output_schema() -> None:
    with pytest.raises(TypeError, match="not a callable object"):
        Tool.from_function(1)  # type: ignore[arg-type]
    parent = Tool.from_function(add)
    with pytest.warns(DeprecationWarning, match="output_schema=False is deprecated"):
        assert Tool.from_function(add, output_schema=False).output_schema is None
    with pytest.warns(DeprecationWarning, match="output_schema=False is deprecated"):
        assert Tool.from_tool(parent, output_schema=False).output_schema is None


# -- running ---------------------------------------------------------------------------------


async def test_a_pure_transformation_maps_arguments_back(add_tool: FunctionTool) -> None:
    new = Tool.from_tool(
        add_tool,
        transform_args={"old_x": ArgTransform(name="x"), "old_y": ArgTransform(default=100)},
    )
    result = await new.run({"x": 1})
    assert text(result) == "101"
    assert result.structured_content == {"result": 101}
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        await new.run({"old_x": 1})
    with pytest.raises(TypeError, match="Missing required argument"):
        await new.run({})


async def test_hidden_values_reach_the_parent(add_tool: FunctionTool) -> None:
    constant = Tool.from_tool(
        add_tool, transform_args={"old_y": ArgTransform(hide=True, default=7)}
    )
    assert text(await constant.run({"old_x": 1})) == "8"
    counter = iter(range(100, 200))
    factory = Tool.from_tool(
        add_tool,
        transform_args={"old_y": ArgTransform(hide=True, default_factory=lambda: next(counter))},
    )
    assert text(await factory.run({"old_x": 0})) == "100"
    assert text(await factory.run({"old_x": 0})) == "101"  # called again on each call


async def test_parent_validation_still_applies(add_tool: FunctionTool) -> None:
    new = Tool.from_tool(add_tool, transform_args={"old_x": ArgTransform(name="x")})
    with pytest.raises(ValidationError):
        await new.run({"x": "not a number"})


async def test_transform_fn_with_forward(add_tool: FunctionTool) -> None:
    async def double_then_add(x: int, old_y: int = 3) -> int:
        result = await forward(x=x * 2, old_y=old_y)
        assert result.structured_content is not None
        return int(result.structured_content["result"])

    new = Tool.from_tool(
        add_tool,
        transform_fn=double_then_add,
        transform_args={"old_x": ArgTransform(name="x")},
    )
    assert new.parameters["properties"]["old_y"]["default"] == 10  # the parent's wins
    result = await new.run({"x": 5})
    assert text(result) == "20"
    assert result.structured_content == {"result": 20}


async def test_transform_fn_with_kwargs_and_extra_parameter(add_tool: FunctionTool) -> None:
    async def scaled(scale: int = 1, **kwargs: Any) -> str:
        result = await forward(**kwargs)
        return f"{scale} x {text(result)}"

    new = Tool.from_tool(add_tool, transform_fn=scaled)
    assert set(new.parameters["properties"]) == {"scale", "old_x", "old_y"}
    assert new.output_schema == {
        "type": "object",
        "properties": {"result": {"type": "string"}},
        "required": ["result"],
        WRAP: True,
    }
    assert text(await new.run({"old_x": 1, "old_y": 2, "scale": 3})) == "3 x 3"


async def test_transform_fn_must_take_every_argument(add_tool: FunctionTool) -> None:
    async def only_x(x: int) -> int:
        return x

    with pytest.raises(ValueError, match=r"Function missing parameters.*old_y"):
        Tool.from_tool(
            add_tool, transform_fn=only_x, transform_args={"old_x": ArgTransform(name="x")}
        )


async def test_forward_raw_uses_the_parents_names(add_tool: FunctionTool) -> None:
    async def raw(x: int, y: int = 0) -> ToolResult:
        return await forward_raw(old_x=x, old_y=y)

    new = Tool.from_tool(
        add_tool,
        transform_fn=raw,
        transform_args={"old_x": ArgTransform(name="x"), "old_y": ArgTransform(name="y")},
    )
    assert new.output_schema is None  # annotated ToolResult: the parent's is not inherited
    result = await new.run({"x": 2, "y": 3})
    assert text(result) == "5"
    assert result.structured_content == {"result": 5}


async def test_forward_outside_a_transformed_tool() -> None:
    with pytest.raises(RuntimeError, match="forward\\(\\) can only be called"):
        await forward(x=1)
    with pytest.raises(RuntimeError, match="forward_raw\\(\\) can only be called"):
        await forward_raw(x=1)


async def test_output_schema_choices(add_tool: FunctionTool) -> None:
    none = Tool.from_tool(add_tool, output_schema=None)
    result = await none.run({"old_x": 1, "old_y": 1})
    assert none.output_schema is None
    assert result.structured_content == {"result": 2}  # the parent's result as it is

    def as_dict(old_x: int, old_y: int = 0) -> dict[str, int]:
        return {"sum": old_x + old_y}

    schema = {"type": "object", "properties": {"sum": {"type": "integer"}}}
    custom = Tool.from_tool(Tool.from_function(as_dict), output_schema=schema)
    assert custom.output_schema == schema
    assert (await custom.run({"old_x": 2})).structured_content == {"sum": 2}


async def test_transformed_of_transformed_and_concurrent_calls(add_tool: FunctionTool) -> None:
    inner = Tool.from_tool(add_tool, name="inner", transform_args={"old_x": ArgTransform(name="a")})

    async def outer_fn(b: int, old_y: int = 10) -> int:
        await anyio.lowlevel.checkpoint()  # interleave the calls below
        result = await forward(b=b, old_y=old_y)
        return int(text(result))

    outer = Tool.from_tool(
        inner, transform_fn=outer_fn, transform_args={"a": ArgTransform(name="b")}
    )
    results: dict[int, str] = {}

    async def call(n: int) -> None:
        results[n] = text(await outer.run({"b": n, "old_y": 0}))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(call, n)
    assert results == {n: str(n) for n in range(20)}


# -- served ----------------------------------------------------------------------------------


def server_with_add() -> tuple[FastMCP, FunctionTool]:
    mcp = FastMCP("t")
    mcp.add_tool(Tool.from_function(add))
    tool = mcp.tool_manager.registry.get_any("add")
    assert isinstance(tool, FunctionTool)
    return mcp, tool


async def test_through_a_client_with_the_parent_disabled() -> None:
    mcp, parent = server_with_add()
    parent.disable()
    new = Tool.from_tool(
        parent,
        name="plus",
        enabled=True,
        transform_args={"old_x": ArgTransform(name="x", description="first")},
    )
    mcp.add_tool(new)
    with anyio.fail_after(10):
        async with Client(mcp) as client:
            tools = {t.name: t for t in await client.list_tools()}
            assert set(tools) == {"plus"}
            assert tools["plus"].inputSchema["properties"]["x"]["description"] == "first"
            result = await client.call_tool("plus", {"x": 1, "old_y": 2})
            assert result.data == 3
            with pytest.raises((ToolError, McpError), match="Unknown tool: add"):
                await client.call_tool("add", {"old_x": 1})
            with pytest.raises(ToolError):
                await client.call_tool("plus", {"old_x": 1})


async def test_the_context_reaches_the_parent_through_a_client() -> None:
    mcp = FastMCP("ctx")

    def whoami(ctx: Context, suffix: str = "") -> str:
        return f"{ctx.fastmcp.name}{suffix}"

    parent = Tool.from_function(whoami)

    async def shout(**kwargs: Any) -> str:
        return text(await forward(**kwargs)).upper()

    mcp.add_tool(Tool.from_tool(parent, name="shout", transform_fn=shout))
    with anyio.fail_after(10):
        async with Client(mcp) as client:
            result = await client.call_tool("shout", {"suffix": "!"})
    assert result.data == "CTX!"


async def test_through_a_mount() -> None:
    child, parent = server_with_add()
    child.add_tool(
        Tool.from_tool(parent, name="plus", transform_args={"old_x": ArgTransform(name="x")})
    )
    main = FastMCP("main")
    main.mount(child, prefix="child")
    assert {"child_add", "child_plus"} <= set(await main.get_tools())
    with anyio.fail_after(10):
        async with Client(main) as client:
            result = await client.call_tool("child_plus", {"x": 4})
    assert result.data == 14


async def test_a_sync_transform_fn_runs_in_a_worker_thread(add_tool: FunctionTool) -> None:
    import threading

    loop_thread = threading.get_ident()
    seen: list[int] = []

    def sync_fn(old_x: int, old_y: int = 0) -> int:
        seen.append(threading.get_ident())
        return old_x * old_y

    new = Tool.from_tool(add_tool, transform_fn=sync_fn)
    result = await new.run({"old_x": 3, "old_y": 4})
    assert result.structured_content == {"result": 12}
    assert seen and seen[0] != loop_thread


async def test_strict_and_context_reach_the_parent(add_tool: FunctionTool) -> None:
    new = Tool.from_tool(add_tool, transform_args={"old_x": ArgTransform(name="x")})
    assert text(await new.run({"x": "5"})) == "15"  # lax: "5" is accepted for an int
    with pytest.raises(ValidationError):
        await new.run({"x": "5"}, strict=True)

    async def raw(x: int, old_y: int = 0) -> ToolResult:
        return await forward_raw(old_x=x, old_y=old_y)

    via_raw = Tool.from_tool(
        add_tool, transform_fn=raw, transform_args={"old_x": ArgTransform(name="x")}
    )
    with pytest.raises(ValidationError):
        await via_raw.run({"x": "5"}, strict=True)

    def whoami(ctx: Context) -> str:
        return ctx.fastmcp.name

    parent = Tool.from_function(whoami)
    ctx = Context(fastmcp=FastMCP("given"))
    assert text(await Tool.from_tool(parent).run({}, ctx)) == "given"


# -- bad arguments ---------------------------------------------------------------------------


async def test_unknown_or_missing_arguments_are_validation_errors(add_tool: FunctionTool) -> None:
    new = Tool.from_tool(add_tool, transform_args={"old_x": ArgTransform(name="x")})
    with pytest.raises(InvalidArgumentsError, match=r"unexpected keyword argument\(s\): old_x"):
        await new.run({"x": 1, "old_x": 1})
    with pytest.raises(ValidationError, match=r"Missing required argument\(s\): x"):
        await new.run({})
    assert issubclass(InvalidArgumentsError, TypeError)  # as FastMCP's forward() raises


async def test_a_client_gets_the_bad_arguments_message_even_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mcp = FastMCP("masked", mask_error_details=True)
    parent = mcp.add_tool(Tool.from_function(add))
    mcp.add_tool(
        Tool.from_tool(parent, name="plus", transform_args={"old_x": ArgTransform(name="x")})
    )
    with anyio.fail_after(10), caplog.at_level("ERROR"):
        async with Client(mcp) as client:
            for arguments, message in [
                ({"x": 1, "old_x": 1}, r"Got unexpected keyword argument\(s\): old_x"),
                ({}, r"Missing required argument\(s\): x"),
            ]:
                result = await client.call_tool("plus", arguments, raise_on_error=False)
                assert result.is_error
                assert re.search(message, result.content[0].text)  # type: ignore[union-attr]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]  # not a fault


async def test_a_transform_fns_own_arguments_are_validated(add_tool: FunctionTool) -> None:
    seen: list[Any] = []

    async def scaled(scale: int, **kwargs: Any) -> str:
        seen.append(scale)
        return f"{scale * 2} {text(await forward(**kwargs))}"

    new = Tool.from_tool(add_tool, transform_fn=scaled)
    assert text(await new.run({"scale": "3", "old_x": 1})) == "6 11"  # lax: "3" became 3
    assert seen == [3]
    with pytest.raises(ValidationError, match="'scale'"):
        await new.run({"scale": "many", "old_x": 1})
    with pytest.raises(ValidationError, match="'scale'"):
        await new.run({"scale": "3", "old_x": 1}, strict=True)
    with pytest.raises(ValidationError, match="'old_x'"):  # the parent's, when forwarded
        await new.run({"scale": 3, "old_x": "1"}, strict=True)
    assert text(await new.run({"scale": 3, "old_x": 1}, strict=True)) == "6 11"


async def test_a_transform_fn_gets_values_of_its_annotated_types(add_tool: FunctionTool) -> None:
    async def double_then_add(x: int, old_y: int = 3) -> int:
        assert type(x) is int
        result = await forward(x=x * 2, old_y=old_y)
        return int(text(result))

    new = Tool.from_tool(
        add_tool, transform_fn=double_then_add, transform_args={"old_x": ArgTransform(name="x")}
    )
    assert text(await new.run({"x": "5"})) == "20"
    with pytest.raises(ValidationError):  # a function tool refuses unknown arguments too
        await new.run({"x": 5, "other": 1})


async def test_a_type_given_by_the_transformation_wins_over_the_annotation() -> None:
    def base(x: int) -> int:
        return x

    async def custom(x: str = "unused", **kwargs: Any) -> str:
        return f"{x!r} {text(await forward(x=x, **kwargs))}"

    new = Tool.from_tool(
        Tool.from_function(base),
        transform_fn=custom,
        transform_args={"x": ArgTransform(type=int, default=42)},
    )
    assert text(await new.run({})) == "42 42"  # passed as it came, the parent validates
    with pytest.raises(ValidationError):
        await new.run({"x": "not a number"})


async def test_a_transform_fn_context_parameter_gets_the_context(add_tool: FunctionTool) -> None:
    async def named(ctx: Context, old_x: int, old_y: int = 0) -> str:
        return f"{ctx.fastmcp.name}: {text(await forward(old_x=old_x, old_y=old_y))}"

    new = Tool.from_tool(add_tool, transform_fn=named)
    assert "ctx" not in new.parameters["properties"]
    ctx = Context(fastmcp=FastMCP("given"))
    assert text(await new.run({"old_x": 1, "old_y": 2}, ctx)) == "given: 3"
