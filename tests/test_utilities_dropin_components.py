"""FastMCP 2.13's `fastmcp.utilities.components` behaviours on trimcp's `Component`
(issue 16): construction checked as a pydantic model's, the key, `get_meta`, copies,
equality by value, `model_dump`, and `MirroredComponent`."""

from __future__ import annotations

import pydantic
import pytest

from trimcp.settings import settings
from trimcp.tools import Tool
from trimcp.types import Icon
from trimcp.utilities.components import (
    Component,
    FastMCPComponent,
    FastMCPMeta,
    MirroredComponent,
)


def test_fastmcp_component_is_the_base_of_every_component() -> None:
    assert FastMCPComponent is Component

    def add(a: int) -> int:
        return a

    assert isinstance(Tool.from_function(add), FastMCPComponent)


def test_construction_takes_fastmcp_fields_and_defaults() -> None:
    plain = Component(name="c")
    assert (plain.title, plain.description, plain.meta, plain.icons) == (None, None, None, None)
    assert plain.tags == set()
    assert plain.enabled is True
    assert plain.key == "c"
    full = Component(
        name="c",
        title="T",
        description="D",
        tags=["a", "b", "a"],
        meta={"x": 1},
        enabled=False,
        icons=[{"src": "https://example.com/i.png"}],
        key="k",
    )
    assert full.tags == {"a", "b"}
    assert full.enabled is False
    assert full.icons == [Icon(src="https://example.com/i.png")]
    assert (full.key, full.name) == ("k", "c")


def test_construction_is_checked_like_a_pydantic_model() -> None:
    with pytest.raises(pydantic.ValidationError):
        Component()
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        Component(name="c", unknown="x")
    with pytest.raises(pydantic.ValidationError):
        Component(name="c", enabled="not a bool")


def test_get_meta_adds_sorted_tags_keeping_upstream_fastmcp_keys() -> None:
    component = Component(name="c", meta={"_fastmcp": {"other": 1}, "x": 2}, tags=["b", "a"])
    meta = component.get_meta(include_fastmcp_meta=True)
    assert meta == {"_fastmcp": {"other": 1, "tags": ["a", "b"]}, "x": 2}
    assert component.meta == {"_fastmcp": {"other": 1}, "x": 2}  # not changed
    assert component.get_meta(include_fastmcp_meta=False) is component.meta
    assert Component(name="c").get_meta(include_fastmcp_meta=False) is None
    tags_only: FastMCPMeta = {"tags": []}
    assert Component(name="c").get_meta(include_fastmcp_meta=True) == {"_fastmcp": tags_only}


def test_get_meta_follows_the_setting_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "include_fastmcp_meta", False)
    assert Component(name="c", tags=["a"]).get_meta() is None
    monkeypatch.setattr(settings, "include_fastmcp_meta", True)
    assert Component(name="c", tags=["a"]).get_meta() == {"_fastmcp": {"tags": ["a"]}}


def test_copies_are_independent_and_equal_by_value() -> None:
    original = Component(name="c", title="T", tags=["a"], meta={"n": {"v": 1}})
    copied = original.copy()
    assert copied == original and copied is not original
    copied.name = "other"
    copied.tags.add("b")
    assert (original.name, original.tags) == ("c", {"a"})
    assert copied != original
    assert original != "c"
    updated = original.model_copy(update={"title": "New"}, key="k")
    assert (updated.title, updated.key, original.key) == ("New", "k", "c")
    shallow = original.model_copy()
    assert shallow.meta is original.meta
    deep = original.model_copy(deep=True)
    assert deep.meta == original.meta and deep.meta is not original.meta


def test_components_are_unhashable_as_fastmcp_models() -> None:
    with pytest.raises(TypeError):
        hash(Component(name="c"))


def test_model_dump_lists_public_fields() -> None:
    component = Component(name="c", description="D", key="k")
    assert component.model_dump() == {
        "name": "c",
        "title": None,
        "description": "D",
        "icons": None,
        "tags": set(),
        "meta": None,
        "enabled": True,
    }
    assert component.model_dump(exclude_none=True, exclude={"tags"}) == {
        "name": "c",
        "description": "D",
        "enabled": True,
    }
    assert component.model_dump(include={"name"}) == {"name": "c"}

    def add(a: int) -> int:
        return a

    dumped = Tool.from_function(add).model_dump(exclude_none=True, exclude={"fn"})
    assert dumped["name"] == "add"
    assert dumped["parameters"]["required"] == ["a"]


def test_repr_names_the_class_and_fields() -> None:
    text = repr(Component(name="c", title="T", description="D"))
    assert text.startswith("FastMCPComponent(")  # the bare base prints under FastMCP's name
    assert "name='c'" in text and "title='T'" in text and "description='D'" in text
    assert repr(MirroredComponent(name="m")).startswith("MirroredComponent(")


def test_mirrored_component_refuses_changes_until_copied() -> None:
    mirror = MirroredComponent(name="m", mirrored=True)
    assert isinstance(mirror, Component)
    with pytest.raises(RuntimeError, match=r"Cannot enable mirrored component 'm'.*m\.copy\(\)"):
        mirror.enable()
    with pytest.raises(RuntimeError, match="Cannot disable mirrored component"):
        mirror.disable()
    local = mirror.copy()
    assert local.mirrored is False and mirror.mirrored is True
    local.disable()
    assert local.enabled is False
    assert local.copy().mirrored is False
    plain = MirroredComponent(name="p")
    plain.disable()
    assert plain.enabled is False
