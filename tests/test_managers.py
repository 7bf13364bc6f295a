"""`ToolManager`, `ResourceManager`, `PromptManager`: FastMCP 2.13's methods (has, get, list,
add, remove, call/read/render) on a manager alone, owned by a server, through mounted servers
and their prefixes, under visibility rules, and on a proxy."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from trimcp import Client, FastMCP
from trimcp.exceptions import NotFoundError, PromptError, ResourceError, ToolError
from trimcp.prompts import Prompt
from trimcp.prompts.prompt_manager import PromptManager
from trimcp.resources import Resource, ResourceTemplate
from trimcp.resources.resource_manager import ResourceManager
from trimcp.resources.template import FunctionResourceTemplate
from trimcp.server.proxy import ProxyPromptManager, ProxyResourceManager, ProxyToolManager
from trimcp.tools import Tool
from trimcp.tools.tool_manager import ToolManager
from trimcp.utilities.registry import Visibility

pytestmark = pytest.mark.anyio


def add(a: int, b: int) -> int:
    return a + b


def boom(x: int) -> int:
    raise ValueError("secret details")


def child_server() -> FastMCP:
    child = FastMCP("child")
    child.tool(add)

    @child.tool(tags={"internal"})
    def hidden_later() -> str:
        return "h"

    @child.resource("data://config")
    def config() -> str:
        return "cfg"

    @child.resource("users://{user_id}/profile")
    def profile(user_id: str) -> str:
        return f"profile {user_id}"

    @child.prompt
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    return child


# -- a manager alone (FastMCP's own tests construct them so) ---------------------------------


async def test_tool_manager_alone_adds_lists_gets_calls_and_removes() -> None:
    manager = ToolManager()
    tool = manager.add_tool(Tool.from_function(add))
    assert await manager.has_tool("add")
    assert await manager.get_tool("add") is tool
    assert await manager.get_tools() == {"add": tool}
    assert "add" in manager._tools  # FastMCP's raw map
    result = await manager.call_tool("add", {"a": 1, "b": 2})
    assert result.structured_content == {"result": 3}
    manager.remove_tool("add")
    assert not await manager.has_tool("add")
    with pytest.raises(NotFoundError, match="Tool 'add' not found"):
        await manager.get_tool("add")
    with pytest.raises(NotFoundError, match="Tool 'missing' not found"):
        manager.remove_tool("missing")
    with pytest.raises(NotFoundError, match="Tool 'add' not found"):
        await manager.call_tool("add", {})


@pytest.mark.parametrize("mask", [False, True])
async def test_tool_manager_call_wraps_unexpected_errors_and_masks_their_text(mask: bool) -> None:
    manager = ToolManager(mask_error_details=mask)
    manager.add_tool(Tool.from_function(boom))

    def fails() -> None:
        raise ToolError("meant for the client")

    manager.add_tool(Tool.from_function(fails))
    with pytest.raises(ToolError, match="Error calling tool 'boom'") as caught:
        await manager.call_tool("boom", {"x": 1})
    assert ("secret details" in str(caught.value)) is not mask
    with pytest.raises(ToolError, match=r"^meant for the client$"):
        await manager.call_tool("fails", {})


@pytest.mark.parametrize("behavior", ["warn", "error", "replace", "ignore"])
async def test_manager_duplicate_policies(behavior: str, caplog: pytest.LogCaptureFixture) -> None:
    manager = ToolManager(duplicate_behavior=behavior)  # type: ignore[arg-type]
    first = manager.add_tool(Tool.from_function(add))
    second = Tool.from_function(add)
    with caplog.at_level(logging.WARNING, logger="trimcp.server"):
        if behavior == "error":
            with pytest.raises(ValueError, match="already exists: add"):
                manager.add_tool(second)
            return
        kept = manager.add_tool(second)
    assert kept is (first if behavior == "ignore" else second)
    assert (await manager.get_tool("add")) is kept
    assert ("already exists" in caplog.text) is (behavior == "warn")


async def test_manager_refuses_a_transformation_that_is_not_a_config() -> None:
    with pytest.raises(TypeError):
        ToolManager(transformations={"add": object()})
    with pytest.raises(TypeError):
        ToolManager().add_tool_transformation("add", object())
    assert ToolManager().transformations == {}


async def test_deprecated_from_fn_methods_warn_and_register() -> None:
    tools, resources, prompts = ToolManager(), ResourceManager(), PromptManager()
    with pytest.warns(DeprecationWarning):
        tools.add_tool_from_fn(add, name="plus")
    with pytest.warns(DeprecationWarning):
        resources.add_resource_or_template_from_fn(lambda: "v", "data://v", name="v")
    with pytest.warns(DeprecationWarning):
        resources.add_resource_or_template_from_fn(lambda x: x, "items://{x}", name="item")
    with pytest.warns(DeprecationWarning):
        prompts.add_prompt_from_fn(lambda: "hi", name="hi")
    assert set(await tools.get_tools()) == {"plus"}
    assert set(await resources.get_resources()) == {"data://v"}
    assert set(await resources.get_resource_templates()) == {"items://{x}"}
    assert set(await prompts.get_prompts()) == {"hi"}


async def test_resource_manager_alone_reads_resources_and_templates() -> None:
    manager = ResourceManager()
    manager.add_resource(Resource.from_function(lambda: "cfg", "data://config", name="config"))
    manager.add_template(
        ResourceTemplate.from_function(lambda user_id: f"u{user_id}", "users://{user_id}", name="u")
    )
    assert await manager.has_resource("data://config")
    assert await manager.has_resource("users://7")
    assert not await manager.has_resource("users://")
    assert await manager.read_resource("data://config") == "cfg"
    assert await manager.read_resource("users://7") == "u7"
    made = await manager.get_resource("users://7")
    assert made.uri == "users://7"
    with pytest.raises(NotFoundError, match="Unknown resource"):
        await manager.get_resource("nothing://here")
    manager.remove_resource("users://{user_id}")
    assert not await manager.has_resource("users://7")
    with pytest.raises(NotFoundError):
        manager.remove_resource("users://{user_id}")


async def test_a_template_registered_under_a_key_of_its_own_matches_the_key() -> None:
    """FastMCP's rule: `model_copy(key=...)` moves where a template answers."""
    manager = ResourceManager()

    def greet(name: str) -> str:
        return f"Hello, {name}!"

    template = ResourceTemplate.from_function(greet, "greet://{name}", name="greeter")
    manager.add_template(template.model_copy(key="custom://greet/{name}"))
    assert await manager.read_resource("custom://greet/world") == "Hello, world!"
    assert (await manager.get_resource("custom://greet/world")).uri == "custom://greet/world"
    assert not await manager.has_resource("greet://world")


@pytest.mark.parametrize("mask", [False, True])
async def test_resource_manager_wraps_unexpected_errors(mask: bool) -> None:
    manager = ResourceManager(mask_error_details=mask)

    def broken() -> str:
        raise ValueError("secret details")

    def refused() -> str:
        raise ResourceError("meant for the client")

    manager.add_resource(Resource.from_function(broken, "data://broken"))
    manager.add_resource(Resource.from_function(refused, "data://refused"))
    with pytest.raises(ResourceError, match="Error reading resource 'data://broken'") as caught:
        await manager.read_resource("data://broken")
    assert ("secret details" in str(caught.value)) is not mask
    with pytest.raises(ResourceError, match=r"^meant for the client$"):
        await manager.read_resource("data://refused")


async def test_prompt_manager_alone_renders_and_wraps_errors() -> None:
    manager = PromptManager(mask_error_details=True)
    manager.add_prompt(Prompt.from_function(lambda name: f"Hello, {name}!", name="greet"))

    def broken() -> str:
        raise ValueError("secret details")

    manager.add_prompt(Prompt.from_function(broken))
    result = await manager.render_prompt("greet", {"name": "Ann"})
    assert result.messages[0].content.text == "Hello, Ann!"
    with pytest.raises(PromptError, match="Missing required arguments"):
        await manager.render_prompt("greet")
    with pytest.raises(PromptError, match="Error rendering prompt 'broken'") as caught:
        await manager.render_prompt("broken")
    assert "secret details" not in str(caught.value)
    with pytest.raises(NotFoundError, match="Unknown prompt: nope"):
        await manager.render_prompt("nope")
    manager.remove_prompt("greet")
    assert not await manager.has_prompt("greet")


async def test_wrapped_errors_are_logged_and_cancellation_is_never_wrapped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = ToolManager(mask_error_details=True)
    manager.add_tool(Tool.from_function(boom))
    entered = anyio.Event()

    async def hang() -> str:
        entered.set()
        await anyio.sleep_forever()
        return "never"

    manager.add_tool(Tool.from_function(hang))
    with caplog.at_level(logging.ERROR, logger="trimcp.server"), pytest.raises(ToolError):
        await manager.call_tool("boom", {"x": 1})
    # the server's log keeps what the client does not see
    assert "Error calling tool 'boom'" in caplog.text and "secret details" in caplog.text
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(manager.call_tool, "hang", {})
            await entered.wait()
            tg.cancel_scope.cancel()  # a ToolError here would escape the task group
    assert "hang" not in caplog.text


class BrokenTemplate(FunctionResourceTemplate):
    async def create_resource(
        self, uri: str, params: dict[str, Any], context: Any = None
    ) -> Resource:
        raise RuntimeError("secret details")


@pytest.mark.parametrize("mask", [False, True])
async def test_get_resource_turns_a_failing_template_into_a_value_error(mask: bool) -> None:
    """FastMCP's `get_resource` rule: a template's `ResourceError` passes, anything else is a
    `ValueError`, its text hidden under masking."""
    manager = ResourceManager(mask_error_details=mask)
    manager.add_template(BrokenTemplate.from_function(lambda x: x, "broken://{x}", name="b"))
    with pytest.raises(ValueError, match=r"^Error creating resource from template") as caught:
        await manager.get_resource("broken://1")
    assert ("secret details" in str(caught.value)) is not mask
    assert isinstance(caught.value.__cause__, RuntimeError)


async def test_completion_owner_is_found_through_nested_mounts() -> None:
    inner = child_server()
    middle = FastMCP("middle")
    middle.mount(inner, prefix="inner")
    top = FastMCP("top")
    top.mount(middle, prefix="outer")

    @top.prompt
    def own() -> str:
        return "mine"

    prompts, resources = top.prompt_manager, top.resource_manager
    assert prompts.completion_owner("own") == (None, "own")
    assert prompts.completion_owner("outer_inner_greet") == (inner, "greet")
    assert prompts.completion_owner("outer_greet") is None
    uri = "users://outer/inner/{user_id}/profile"
    assert resources.completion_owner(uri) == (inner, "users://{user_id}/profile")
    assert resources.completion_owner("users://{user_id}/profile") is None
    inner.disable(names={"greet"})  # a hidden prompt's handler still owns it (FastMCP's rule)
    assert prompts.completion_owner("outer_inner_greet") == (inner, "greet")


async def test_a_manager_alone_takes_the_options_a_server_shares() -> None:
    changes: list[str] = []
    visibility = Visibility(exclude_tags={"internal"})

    def note() -> None:
        changes.append("changed")

    tools = ToolManager(visibility=visibility, on_change=note)
    prompts = PromptManager(visibility=visibility, on_change=note)
    resources = ResourceManager(
        visibility=visibility, on_change=note, prefix_format=lambda: "protocol"
    )
    tools.add_tool(Tool.from_function(add, tags={"internal"}))
    prompts.add_prompt(Prompt.from_function(lambda: "hi", name="hi"))
    resources.add_resource(Resource.from_function(lambda: "v", "data://v", name="v"))
    assert changes == ["changed"] * 3
    assert not await tools.has_tool("add")  # the shared visibility hides it
    assert tools.visibility is prompts.visibility is resources.visibility is visibility
    assert resources.rules.prefix_format() == "protocol"
    assert repr(tools) == "ToolManager(1 tools, 0 mounts)"
    assert repr(resources) == "ResourceManager(1 resources, 0 templates, 0 mounts)"
    assert tools.duplicate_behavior == prompts.duplicate_behavior == "warn"


# -- owned by a server -----------------------------------------------------------------------


async def test_server_owns_its_managers_under_fastmcp_names_and_delegates() -> None:
    mcp = FastMCP("s", on_duplicate_tools="error", mask_error_details=True)
    assert mcp._tool_manager is mcp.tool_manager
    assert mcp._resource_manager is mcp.resource_manager
    assert mcp._prompt_manager is mcp.prompt_manager
    assert mcp.tool_manager.duplicate_behavior == "error"
    assert mcp.tool_manager.mask_error_details
    mcp.tool_manager.add_tool(Tool.from_function(add))  # the manager's registry is the server's
    assert "add" in await mcp.get_tools()
    assert (await mcp.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
    mcp.remove_tool("add")
    assert not await mcp.tool_manager.has_tool("add")


async def test_server_getters_of_single_components_see_mounts() -> None:
    parent = FastMCP("parent")
    parent.mount(child_server(), prefix="child")
    assert (await parent.get_resource("data://child/config")).name == "child_config"
    template = await parent.get_resource_template("users://child/{user_id}/profile")
    assert template.name == "child_profile"
    assert (await parent.get_prompt("child_greet")).key == "child_greet"
    with pytest.raises(NotFoundError, match="Unknown resource: users://child/1/profile"):
        await parent.get_resource("users://child/1/profile")  # templates are not matched
    with pytest.raises(NotFoundError, match="Unknown resource template"):
        await parent.get_resource_template("users://{user_id}/profile")
    with pytest.raises(NotFoundError, match="Unknown prompt: greet"):
        await parent.get_prompt("greet")
    with pytest.raises(TypeError):
        parent.add_tool_transformation("child_add", object())


async def test_a_tool_added_through_the_manager_notifies_connected_clients() -> None:
    mcp = FastMCP("t")
    seen = anyio.Event()

    async def on_message(message: object) -> None:
        if "tools/list_changed" in repr(message) or "ToolListChanged" in repr(message):
            seen.set()

    async with Client(mcp, protocol="legacy", message_handler=on_message) as client:
        await client.list_tools()
        mcp.tool_manager.add_tool(Tool.from_function(add))
        with anyio.fail_after(5):
            await seen.wait()
        assert [t.name for t in await client.list_tools()] == ["add"]


async def test_managers_see_mounted_components_under_their_prefixes() -> None:
    parent = FastMCP("parent")
    parent.mount(child_server(), prefix="child")
    tools, resources, prompts = parent.tool_manager, parent.resource_manager, parent.prompt_manager

    assert await tools.has_tool("child_add")
    assert not await tools.has_tool("add")
    tool = await tools.get_tool("child_add")
    assert tool.key == "child_add" and tool.name == "add"
    assert set(await tools.get_tools()) == {"child_add", "child_hidden_later"}
    assert (await tools.call_tool("child_add", {"a": 1, "b": 2})).structured_content == {
        "result": 3
    }
    assert "child_add" not in tools._tools  # the raw map holds the server's own tools only

    assert await resources.has_resource("data://child/config")
    assert await resources.read_resource("data://child/config") == "cfg"
    assert await resources.read_resource("users://child/9/profile") == "profile 9"
    listed = await resources.get_resources()
    assert listed["data://child/config"].name == "child_config"
    assert set(await resources.get_resource_templates()) == {"users://child/{user_id}/profile"}

    assert await prompts.has_prompt("child_greet")
    rendered = await prompts.render_prompt("child_greet", {"name": "Bo"})
    assert rendered.messages[0].content.text == "Hello, Bo!"
    assert (await prompts.get_prompt("child_greet")).key == "child_greet"


async def test_resource_manager_follows_the_protocol_prefix_format() -> None:
    parent = FastMCP("parent", resource_prefix_format="protocol")
    parent.mount(child_server(), prefix="child")
    resources = parent.resource_manager
    assert set(await resources.get_resources()) == {"child+data://config"}
    assert await resources.read_resource("child+users://4/profile") == "profile 4"
    assert not await resources.has_resource("data://child/config")


async def test_managers_apply_visibility_of_child_and_parent() -> None:
    child = child_server()
    parent = FastMCP("parent", exclude_tags={"internal"})
    parent.mount(child, prefix="child")
    tools = parent.tool_manager
    assert not await tools.has_tool("child_hidden_later")  # the parent's tag filter
    child.disable(names={"add"})  # the child's rule applies at once
    assert not await tools.has_tool("child_add")
    child.enable(names={"add"})
    parent.disable(keys={"tool:child_add"})  # the parent's rule, by its prefixed key
    assert not await tools.has_tool("child_add")
    assert await child.tool_manager.has_tool("add")
    with pytest.raises(NotFoundError):
        await tools.call_tool("child_add", {"a": 1, "b": 1})
    assert await tools.get_tools() == {}


async def test_a_local_component_shadows_a_mounted_one_and_the_latest_mount_wins() -> None:
    first, second = FastMCP("first"), FastMCP("second")

    @first.tool(name="who")
    def who_first() -> str:
        return "first"

    @second.tool(name="who")
    def who_second() -> str:
        return "second"

    parent = FastMCP("parent")
    parent.mount(first, prefix="m")
    parent.mount(second, prefix="m")
    result = await parent.tool_manager.call_tool("m_who", {})
    assert result.structured_content == {"result": "second"}

    @parent.tool(name="m_who", enabled=False)
    def local() -> str:
        return "local"

    # A local key shadows the mounts even when hidden (FastMCP's precedence).
    assert not await parent.tool_manager.has_tool("m_who")
    assert "m_who" not in await parent.tool_manager.get_tools()


async def test_nested_mounts_resolve_through_every_level() -> None:
    middle = FastMCP("middle")
    middle.mount(child_server(), prefix="inner")
    top = FastMCP("top")
    top.mount(middle, prefix="outer")
    assert await top.tool_manager.has_tool("outer_inner_add")
    assert await top.resource_manager.read_resource("data://outer/inner/config") == "cfg"
    assert await top.prompt_manager.has_prompt("outer_inner_greet")
    with anyio.fail_after(10):
        async with Client(top) as client:
            result = await client.call_tool("outer_inner_add", {"a": 4, "b": 5})
            assert result.data == 9


async def test_removing_from_the_raw_map_is_seen_through_mounts() -> None:
    """FastMCP's tests edit `_tool_manager._tools` directly; the parent's cached view of its
    mounts must not keep what they removed."""
    child = child_server()
    parent = FastMCP("parent")
    parent.mount(child, prefix="child")
    assert "child_add" in await parent.get_tools()
    child._tool_manager._tools.pop("add")
    assert "child_add" not in await parent.get_tools()
    assert not await parent.tool_manager.has_tool("child_add")


# -- a proxy's managers ----------------------------------------------------------------------


async def test_proxy_managers_list_the_backend_and_forward_unknown_names() -> None:
    proxy = FastMCP.as_proxy(child_server())
    assert isinstance(proxy.tool_manager, ProxyToolManager)
    assert isinstance(proxy.resource_manager, ProxyResourceManager)
    assert isinstance(proxy.prompt_manager, ProxyPromptManager)
    with anyio.fail_after(20):
        assert set(await proxy.tool_manager.get_tools()) == {"add", "hidden_later"}
        assert set(await proxy.resource_manager.get_resources()) == {"data://config"}
        assert set(await proxy.prompt_manager.get_prompts()) == {"greet"}
        result = await proxy.tool_manager.call_tool("add", {"a": 20, "b": 22})
        assert result.structured_content == {"result": 42}
        # A name the cache does not know is forwarded: the backend's answer decides.
        assert proxy.tool_manager.find("not_listed") is not None
        with pytest.raises(ToolError, match="Unknown tool"):
            await proxy.tool_manager.call_tool("not_listed", {})
