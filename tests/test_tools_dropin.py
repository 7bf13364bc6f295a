"""The tools package as FastMCP 2.13's drop-in: `ToolTransformConfig`/`ArgTransformConfig`,
the `ToolManager`'s transformations (served through a client and a mount), the package's
exports."""

from __future__ import annotations

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.exceptions import NotFoundError
from trimcp.tools import FunctionTool, Tool, ToolManager, forward, forward_raw
from trimcp.tools.tool_transform import (
    ArgTransform,
    ArgTransformConfig,
    ToolTransformConfig,
    TransformedTool,
    apply_transformations_to_tools,
)

pytestmark = pytest.mark.anyio


def add(a: int, b: int = 2) -> int:
    """Add."""
    return a + b


def test_package_exports() -> None:
    import trimcp.tools as tools
    import trimcp.tools.tool_transform as tool_transform

    for name in ("FunctionTool", "Tool", "ToolManager", "forward", "forward_raw"):
        assert name in tools.__all__
    assert tools.forward is forward and tools.forward_raw is forward_raw
    assert set(tool_transform.__all__) >= {
        "ArgTransform",
        "ArgTransformConfig",
        "ToolTransformConfig",
        "TransformedTool",
        "apply_transformations_to_tools",
        "forward",
        "forward_raw",
    }


# -- configs ---------------------------------------------------------------------------------


def test_config_applies_only_the_fields_given() -> None:
    tool = Tool.from_function(add, meta={"v": 1}, tags={"math"})
    same = ToolTransformConfig(name="plus").apply(tool)
    assert isinstance(same, TransformedTool)
    assert (same.name, same.description, same.meta, same.tags) == (
        "plus",
        "Add.",
        {"v": 1},
        {"math"},
    )
    cleared = ToolTransformConfig(description=None, meta=None, tags={"x"}).apply(tool)
    assert (cleared.name, cleared.description, cleared.meta, cleared.tags) == (
        "add",
        None,
        None,
        {"x"},
    )


def test_argument_config_becomes_arg_transform() -> None:
    assert ArgTransformConfig(name="x").to_arg_transform() == ArgTransform(name="x")
    assert ArgTransformConfig(hide=True, default=3).to_arg_transform() == ArgTransform(
        hide=True, default=3
    )
    with pytest.raises(Exception, match="extra"):
        ArgTransformConfig(nope=1)  # type: ignore[call-arg]
    config = ToolTransformConfig.model_validate(
        {"name": "plus", "arguments": {"a": {"name": "x", "description": "first"}}}
    )
    plus = config.apply(Tool.from_function(add))
    assert plus.parameters["properties"]["x"] == {"type": "integer", "description": "first"}


def test_apply_transformations_to_tools() -> None:
    tool = Tool.from_function(add)
    other = Tool.from_function(add, name="other")
    out = apply_transformations_to_tools(
        {"add": tool, "other": other}, {"add": ToolTransformConfig(name="plus")}
    )
    assert list(out) == ["plus", "other"]
    assert out["other"] is other
    assert out["plus"].name == "plus"


# -- the manager's transformations -----------------------------------------------------------


async def test_manager_transformation_added_after_the_tool_and_removed() -> None:
    manager = ToolManager()
    tool = manager.add_tool(Tool.from_function(add))
    manager.add_tool_transformation(
        "add",
        ToolTransformConfig(
            name="plus",
            arguments={"a": ArgTransformConfig(name="x"), "b": ArgTransformConfig(default=5)},
        ),
    )
    assert set(await manager.get_tools()) == {"plus"}
    assert not await manager.has_tool("add")
    result = await manager.call_tool("plus", {"x": 1})
    assert result.structured_content == {"result": 6}
    assert manager.get_tool_transformation("add") == manager.transformations["add"]
    manager.remove_tool_transformation("add")
    assert set(await manager.get_tools()) == {"add"}
    assert await manager.get_tool("add") is tool
    assert manager.transformations == {}
    manager.remove_tool_transformation("add")  # nothing to remove: no error


async def test_manager_transformation_given_before_the_tool() -> None:
    manager = ToolManager(transformations={"add": ToolTransformConfig(name="plus")})
    original = Tool.from_function(add)
    assert manager.add_tool(original) is original
    assert set(await manager.get_tools()) == {"plus"}
    transformed = await manager.get_tool("plus")
    assert isinstance(transformed, TransformedTool)
    assert transformed.parent_tool is original
    manager.remove_tool("add")  # the original's key removes both
    assert await manager.get_tools() == {}
    with pytest.raises(NotFoundError):
        manager.remove_tool("add")


async def test_manager_transformation_replaced_and_refused() -> None:
    manager = ToolManager()
    manager.add_tool(Tool.from_function(add))
    manager.add_tool_transformation("add", ToolTransformConfig(name="plus"))
    manager.add_tool_transformation("add", ToolTransformConfig(name="sum"))
    assert set(await manager.get_tools()) == {"sum"}
    with pytest.raises(TypeError, match="ToolTransformConfig"):
        manager.add_tool_transformation("add", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        manager.transformations["x"] = ToolTransformConfig()  # type: ignore[index]


async def test_server_transformation_through_a_client_and_a_mount() -> None:
    child = FastMCP("child")

    @child.tool(tags={"hidden"})
    def echo(message: str):  # no return annotation: structured output from the dict
        return {"echo": message}

    child.add_tool_transformation(
        "echo",
        ToolTransformConfig(
            name="say", tags={"public"}, arguments={"message": ArgTransformConfig(name="text")}
        ),
    )
    main = FastMCP("main", include_tags={"public"})
    main.mount(child, prefix="child")
    with anyio.fail_after(10):
        async with Client(child) as client:
            assert [t.name for t in await client.list_tools()] == ["say"]
            result = await client.call_tool("say", {"text": "hi"})
            assert result.data == {"echo": "hi"}
        async with Client(main) as client:
            assert [t.name for t in await client.list_tools()] == ["child_say"]
            result = await client.call_tool("child_say", {"text": "yo"})
            assert result.structured_content == {"echo": "yo"}


async def test_transformed_tool_with_forward_registered_on_a_server() -> None:
    mcp = FastMCP("t")
    parent = Tool.from_function(add)

    async def checked(x: int, b: int = 2) -> int:
        if x < 0:
            raise ValueError("x must not be negative")
        result = await forward(x=x, b=b)
        return int(result.content[0].text)  # type: ignore[union-attr]

    mcp.add_tool(
        Tool.from_tool(
            parent,
            name="checked",
            transform_fn=checked,
            transform_args={"a": ArgTransform(name="x")},
        )
    )
    with anyio.fail_after(10):
        async with Client(mcp) as client:
            assert (await client.call_tool("checked", {"x": 3})).data == 5
            result = await client.call_tool("checked", {"x": -1}, raise_on_error=False)
            assert result.is_error
            assert "x must not be negative" in result.content[0].text  # type: ignore[union-attr]


def test_untransformed_tools_are_what_was_added() -> None:
    manager = ToolManager()
    tool = Tool.from_function(add)
    assert manager.add_tool(tool) is tool
    assert manager.find("add") is tool
    assert isinstance(tool, FunctionTool)


def test_parsed_function_reads_a_function() -> None:
    from trimcp.exceptions import InvalidSignature
    from trimcp.tools.tool import ParsedFunction

    def f(a: int, *args: int, **kwargs: int) -> list[int]:
        """Doc."""
        return [a]

    parsed = ParsedFunction.from_function(f, validate=False)
    assert (parsed.fn, parsed.name, parsed.description) == (f, "f", "Doc.")
    assert parsed.input_schema == {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
    }
    assert parsed.output_schema is not None
    assert parsed.output_schema["x-fastmcp-wrap-result"] is True
    raw = ParsedFunction.from_function(f, validate=False, wrap_non_object_output_schema=False)
    assert raw.output_schema == {"type": "array", "items": {"type": "integer"}}
    with pytest.raises(InvalidSignature, match=r"\*args"):
        ParsedFunction.from_function(f)
    with pytest.raises(InvalidSignature, match="'nope' in exclude_args does not exist"):
        ParsedFunction.from_function(add, exclude_args=["nope"])
    with pytest.raises(TypeError, match="not a callable object"):
        ParsedFunction.from_function(3)  # type: ignore[arg-type]


async def test_a_proxied_tool_transformed() -> None:
    from trimcp.client.transports import FastMCPTransport

    backend = FastMCP("backend")
    backend.add_tool(Tool.from_function(add))
    proxy = FastMCP.as_proxy(FastMCPTransport(backend))
    with anyio.fail_after(10):
        parent = (await proxy.get_tools())["add"]
        proxy.add_tool(
            Tool.from_tool(parent, name="plus", transform_args={"a": ArgTransform(name="x")})
        )
        async with Client(proxy) as client:
            assert {t.name for t in await client.list_tools()} == {"add", "plus"}
            result = await client.call_tool("plus", {"x": 1, "b": 5})
    assert result.data == 6


async def test_server_constructor_tool_transformations() -> None:
    mcp = FastMCP(
        "t",
        tool_transformations={
            "add": ToolTransformConfig(name="plus", arguments={"a": ArgTransformConfig(name="x")})
        },
    )
    mcp.add_tool(Tool.from_function(add))
    with anyio.fail_after(10):
        async with Client(mcp) as client:
            assert [t.name for t in await client.list_tools()] == ["plus"]
            assert (await client.call_tool("plus", {"x": 1})).data == 3
    mcp.remove_tool_transformation("add")
    assert set(await mcp.get_tools()) == {"add"}
