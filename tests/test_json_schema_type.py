"""`trimcp.utilities.json_schema_type.json_schema_to_type`: JSON Schema -> a Python type that
pydantic validates with (FastMCP's `fastmcp.utilities.json_schema_type`)."""

from __future__ import annotations

import dataclasses
import gc
import sys
import typing
import weakref
from datetime import datetime
from typing import Any, Literal

import pytest
from pydantic import AnyUrl, BaseModel, TypeAdapter, ValidationError

from trimcp.utilities.json_schema_type import CACHE_SIZE, FORMAT_TYPES, json_schema_to_type
from trimcp.utilities.json_schema_type.names import python_name


def validate(schema: dict[str, Any], value: Any, **kwargs: Any) -> Any:
    return TypeAdapter(json_schema_to_type(schema, **kwargs)).validate_python(value)


def rejects(schema: dict[str, Any], value: Any) -> bool:
    try:
        validate(schema, value)
    except ValidationError:
        return True
    return False


# scalars


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, str),
        ({"type": "integer"}, int),
        ({"type": "number"}, float),
        ({"type": "boolean"}, bool),
        ({"type": "null"}, type(None)),
        ({}, object),
        ({"description": "anything"}, Any),
        ({"type": "string", "format": "uri-reference"}, str),
        ({"type": "string", "format": "uuid"}, str),
    ],
)
def test_scalar_schemas_map_to_python_types(schema: dict[str, Any], expected: Any) -> None:
    assert json_schema_to_type(schema) == expected


def test_const_and_enum_become_literals() -> None:
    assert json_schema_to_type({"const": "x"}) == Literal["x"]
    assert json_schema_to_type({"type": "integer", "enum": [1, 2]}) == Literal[1, 2]
    assert rejects({"enum": ["a", "b"]}, "c")


def test_an_enum_of_lists_and_objects_compares_by_value() -> None:
    schema = {"enum": [[1], {"a": 1}]}
    assert validate(schema, [1]) == [1]
    assert validate(schema, {"a": 1}) == {"a": 1}
    assert rejects(schema, [2])


@pytest.mark.parametrize(
    ("schema", "good", "bad"),
    [
        ({"type": "string", "minLength": 2, "maxLength": 3}, "abc", "abcd"),
        ({"type": "string", "pattern": "^[a-z]+$"}, "abc", "ABC"),
        ({"type": "integer", "minimum": 1, "maximum": 3}, 3, 4),
        ({"type": "number", "exclusiveMinimum": 0}, 0.1, 0),
        ({"type": "number", "exclusiveMaximum": 1}, 0.9, 1),
        ({"type": "number", "multipleOf": 0.5}, 1.5, 1.2),
        # draft 4 spelled exclusiveness as a flag on minimum/maximum
        ({"type": "number", "minimum": 0, "exclusiveMinimum": True}, 0.1, 0),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 1}, [1], []),
        ({"type": "array", "items": {"type": "integer"}, "maxItems": 1}, [1], [1, 2]),
    ],
)
def test_constraints_are_enforced(schema: dict[str, Any], good: Any, bad: Any) -> None:
    assert validate(schema, good) == good
    assert rejects(schema, bad)


def test_an_unknown_format_keeps_the_string_constraints() -> None:
    assert rejects({"type": "string", "format": "uuid", "minLength": 5}, "abc")


def test_formats_become_their_types() -> None:
    assert set(FORMAT_TYPES) == {"date-time", "email", "uri", "json"}
    assert isinstance(
        validate({"type": "string", "format": "date-time"}, "2024-01-17T12:34:56Z"), datetime
    )
    assert isinstance(validate({"type": "string", "format": "uri"}, "https://a.example"), AnyUrl)
    assert validate({"type": "string", "format": "json"}, '{"a": [1]}') == {"a": [1]}
    assert rejects({"type": "string", "format": "uri"}, "not a uri")


def test_email_format_validates_addresses() -> None:
    pytest.importorskip("email_validator")
    assert validate({"type": "string", "format": "email"}, "a@example.com") == "a@example.com"
    assert rejects({"type": "string", "format": "email"}, "not-an-email")


# unions and arrays


def test_anyof_oneof_and_type_lists_become_unions_optional_when_null_is_allowed() -> None:
    assert json_schema_to_type({"anyOf": [{"type": "string"}, {"type": "null"}]}) == str | None
    assert json_schema_to_type({"oneOf": [{"type": "string"}, {"type": "integer"}]}) == str | int
    both = json_schema_to_type({"type": ["string", "integer", "null"]})
    assert both == str | int | None
    assert TypeAdapter(both).validate_python(None) is None


def test_a_type_list_keeps_the_constraints_of_each_type() -> None:
    schema = {"type": ["string", "number"], "minLength": 3, "minimum": 0}
    assert validate(schema, "abc") == "abc"
    assert validate(schema, 5) == 5
    assert rejects(schema, "ab")
    assert rejects(schema, -1)


def test_unique_items_give_a_set_unless_the_items_cannot_be_hashed() -> None:
    assert validate(
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        [
            "a",
            "a",
        ],
    ) == {"a"}
    objects = {
        "type": "array",
        "uniqueItems": True,
        "items": {"type": "object", "properties": {"a": {"type": "integer"}}},
    }
    assert [item.a for item in validate(objects, [{"a": 1}, {"a": 2}])] == [1, 2]


def test_positional_items_validate_each_position_against_the_union() -> None:
    for keyword in ("items", "prefixItems"):
        schema = {"type": "array", keyword: [{"type": "string"}, {"type": "boolean"}]}
        assert validate(schema, ["a", True]) == ["a", True]
        assert rejects(schema, [[1]])


def test_object_without_properties_is_a_dict() -> None:
    assert json_schema_to_type({"type": "object"}) == dict[str, Any]
    assert json_schema_to_type({"type": "object", "additionalProperties": True}) == dict[str, Any]
    typed = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert json_schema_to_type(typed) == dict[str, int]
    for python_type in (dict[str, list[str]], dict[str, str | None]):
        assert json_schema_to_type(TypeAdapter(python_type).json_schema()) == python_type


# objects


PERSON = {
    "type": "object",
    "title": "Person",
    "description": "Somebody.",
    "properties": {
        "name": {"type": "string", "description": "The name."},
        "age": {"type": "integer", "minimum": 0},
    },
    "required": ["name"],
}


def test_an_object_is_a_keyword_only_dataclass_named_after_its_title() -> None:
    person = json_schema_to_type(PERSON)
    assert dataclasses.is_dataclass(person)
    assert person.__name__ == "Person"
    assert person.__doc__ == "Somebody."
    assert person(name="Ann").age is None
    with pytest.raises(TypeError):
        person("Ann")
    assert json_schema_to_type(PERSON, name="Other").__name__ == "Other"
    assert json_schema_to_type({**PERSON, "title": None}).__name__ == "Root"


def test_an_object_validates_required_optional_and_typed_fields_and_ignores_extras() -> None:
    result = validate(PERSON, {"name": "Ann", "age": 3, "extra": 1})
    assert (result.name, result.age) == ("Ann", 3)
    assert not hasattr(result, "extra")
    assert rejects(PERSON, {"age": 3})
    assert rejects(PERSON, {"name": "Ann", "age": -1})


def test_the_regenerated_schema_keeps_descriptions() -> None:
    regenerated = TypeAdapter(json_schema_to_type(PERSON)).json_schema()
    assert regenerated["description"] == "Somebody."
    assert regenerated["properties"]["name"]["description"] == "The name."
    assert regenerated["required"] == ["name"]


def test_a_name_is_refused_for_a_schema_that_is_not_an_object() -> None:
    with pytest.raises(ValueError, match="Can not apply name to non-object schema: X"):
        json_schema_to_type({"type": "string"}, name="X")


def test_properties_without_a_type_still_make_an_object() -> None:
    assert validate({"properties": {"a": {"type": "integer"}}}, {"a": "1"}).a == 1


def test_property_names_become_identifiers_and_keep_their_json_keys_as_aliases() -> None:
    schema = {
        "type": "object",
        "properties": {
            "@type": {"type": "string"},
            "first-name": {"type": "string"},
            "2nd": {"type": "string"},
            "class": {"type": "string"},
            "a_b": {"type": "string"},
            "a-b": {"type": "string"},
        },
    }
    data = {"@type": "t", "first-name": "f", "2nd": "s", "class": "c", "a_b": "1", "a-b": "2"}
    result = validate(schema, data)
    assert (result.field_type, result.first_name, result.field_2nd, result.class_) == (
        "t",
        "f",
        "s",
        "c",
    )
    assert (result.a_b, result.a_b_2) == ("1", "2")
    assert TypeAdapter(type(result)).dump_python(result, by_alias=True) == data


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("x", "x"),
        ("x_", "x_"),
        ("_x", "_x"),
        ("My Complex Type!", "My_Complex_Type"),
        ("$ref", "field_ref"),
        ("last.name", "last_name"),
        ("", "field"),
        ("None", "None_"),
    ],
)
def test_python_name_rule(text: str, name: str) -> None:
    assert python_name(text) == name


def test_additional_properties_true_with_properties_is_a_model_keeping_extras() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "json": {"type": "integer"}},
        "required": ["name"],
        "additionalProperties": True,
    }
    model = json_schema_to_type(schema)
    assert issubclass(model, BaseModel)
    result = validate(schema, {"name": "a", "json": 1, "extra": [1]})
    # `json` would shadow BaseModel.json: the attribute is renamed, the key is kept.
    assert (result.name, result.json_, result.extra) == ("a", 1, [1])
    assert result.model_dump(by_alias=True) == {"name": "a", "json": 1, "extra": [1]}
    assert rejects(schema, {"json": 1})


def test_the_same_schema_gives_the_same_class() -> None:
    schema = {
        "type": "object",
        "properties": {"inner": {"type": "object", "properties": {"a": {"type": "string"}}}},
    }
    first, second = json_schema_to_type(schema), json_schema_to_type({**schema})
    assert first is second
    assert json_schema_to_type(schema, name="Renamed") is not first
    inner = typing.get_args(first.__dataclass_fields__["inner"].type)[0]
    assert inner.__name__ == "Inner"  # an untitled object is named after its property


# defaults


def test_property_defaults_fill_missing_values_and_keep_the_type_non_nullable() -> None:
    schema = {
        "type": "object",
        "properties": {
            "flag": {"type": "boolean", "default": False},
            "tags": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
        },
    }
    first, second = validate(schema, {}), validate(schema, {})
    assert (first.flag, first.tags) == (False, ["a"])
    first.tags.append("b")
    assert second.tags == ["a"]  # each instance has its own copy
    assert "anyOf" not in TypeAdapter(type(first)).json_schema()["properties"]["flag"]


def test_an_object_default_fills_what_the_data_leaves_out_at_every_depth() -> None:
    schema = {
        "type": "object",
        "properties": {
            "user": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "default": "anonymous"},
                    "settings": {
                        "type": "object",
                        "properties": {"theme": {"type": "string", "default": "light"}},
                        "default": {"theme": "dark"},
                    },
                },
                "default": {"name": "guest", "settings": {"theme": "system"}},
            }
        },
    }
    empty = validate(schema, {})
    assert (empty.user.name, empty.user.settings.theme) == ("guest", "system")
    partial = validate(schema, {"user": {"name": "ann"}})
    assert (partial.user.name, partial.user.settings.theme) == ("ann", "system")
    explicit = validate(schema, {"user": {"settings": {}}})
    assert (explicit.user.name, explicit.user.settings.theme) == ("guest", "system")


def test_a_model_applies_defaults_too() -> None:
    schema = {
        "type": "object",
        "properties": {
            "inner": {
                "type": "object",
                "properties": {"a": {"type": "integer", "default": 1}},
                "default": {"a": 2},
            }
        },
        "additionalProperties": True,
    }
    assert validate(schema, {}).inner.a == 2


# references


def test_a_self_reference_is_a_forward_ref_to_the_class() -> None:
    schema = {
        "type": "object",
        "title": "Node",
        "properties": {"value": {"type": "integer"}, "next": {"$ref": "#"}},
    }
    node = json_schema_to_type(schema)
    forward = typing.get_args(node.__dataclass_fields__["next"].type)[0]
    assert forward.__forward_arg__ == "Node"
    result = validate(schema, {"value": 1, "next": {"value": 2, "next": {"value": 3}}})
    assert result.next.next.value == 3
    assert type(result.next.next) is node


def test_mutually_recursive_definitions_resolve_to_the_right_classes() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Person": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "pet": {"$ref": "#/$defs/Pet"}},
            },
            "Pet": {
                "type": "object",
                "properties": {"species": {"type": "string"}, "owner": {"$ref": "#/$defs/Person"}},
                "required": ["species"],
            },
        },
        "properties": {"person": {"$ref": "#/$defs/Person"}},
    }
    result = validate(
        schema, {"person": {"name": "A", "pet": {"species": "cat", "owner": {"name": "B"}}}}
    )
    assert type(result.person).__name__ == "Person"
    assert type(result.person.pet).__name__ == "Pet"
    assert type(result.person.pet.owner) is type(result.person)
    assert result.person.pet.owner.name == "B"
    with pytest.raises(ValidationError):  # the owner's pet must be a Pet, with a species
        validate(schema, {"person": {"pet": {"species": "cat", "owner": {"pet": {}}}}})


def test_a_recursive_model_resolves_its_forward_reference() -> None:
    schema = {
        "type": "object",
        "title": "Tree",
        "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
        "additionalProperties": True,
    }
    result = validate(schema, {"children": [{"children": []}], "x": 1})
    assert type(result.children[0]).__name__ == "Tree"
    assert result.x == 1


def test_a_pydantic_model_schema_round_trips() -> None:
    class Address(BaseModel):
        city: str
        zip_code: str | None = None

    class Customer(BaseModel):
        name: str
        addresses: list[Address] = []
        kind: Literal["new", "old"] = "new"

    schema = Customer.model_json_schema()
    customer = validate(schema, {"name": "A", "addresses": [{"city": "C"}]})
    assert type(customer).__name__ == "Customer"
    assert type(customer.addresses[0]).__name__ == "Address"
    assert (customer.addresses[0].zip_code, customer.kind) == (None, "new")
    assert rejects(schema, {"name": "A", "kind": "other"})


def test_all_of_merges_its_parts() -> None:
    schema = {
        "$defs": {"Base": {"type": "object", "properties": {"a": {"type": "integer"}}}},
        "allOf": [
            {"$ref": "#/$defs/Base"},
            {"properties": {"b": {"type": "string"}}, "required": ["b"]},
        ],
    }
    result = validate(schema, {"a": "1", "b": "x"})
    assert (result.a, result.b) == (1, "x")
    assert rejects(schema, {"a": 1})


def test_unresolvable_and_cyclic_non_object_references_accept_anything() -> None:
    assert json_schema_to_type({"$ref": "#/$defs/Missing"}) is object
    assert json_schema_to_type({"$ref": "https://example.com/schema"}) is object
    cyclic = {
        "$defs": {"A": {"type": "array", "items": {"$ref": "#/$defs/A"}}},
        "$ref": "#/$defs/A",
    }
    assert json_schema_to_type(cyclic) == list[Any]


def test_a_reference_to_the_root_from_a_class_of_the_same_name_finds_the_root() -> None:
    schema = {
        "type": "object",
        "title": "Item",
        "properties": {
            "label": {"type": "string"},
            "child": {
                "type": "object",
                "title": "Item",
                "properties": {"size": {"type": "integer"}, "parent": {"$ref": "#"}},
            },
        },
    }
    result = validate(schema, {"child": {"size": 1, "parent": {"label": "top"}}})
    assert type(result.child.parent) is type(result)
    assert result.child.parent.label == "top"
    assert type(result.child) is not type(result)


def _mutual(tag: str, *, models: bool = False) -> dict[str, Any]:
    """Person <-> Pet, each a class holding a placeholder for the other; `tag` makes the
    schema distinct (a cache key of its own)."""
    extra = {"additionalProperties": True} if models else {}
    return {
        "type": "object",
        "description": tag,
        "$defs": {
            "Person": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "pet": {"$ref": "#/$defs/Pet"}},
                **extra,
            },
            "Pet": {
                "type": "object",
                "properties": {
                    "species": {"type": "string"},
                    "owners": {
                        "type": "array",
                        "items": {"$ref": "#/$defs/Person"},
                        "maxItems": 3,
                    },
                },
                "required": ["species"],
                **extra,
            },
        },
        "properties": {"person": {"$ref": "#/$defs/Person"}},
    }


@pytest.mark.parametrize("models", [False, True], ids=["dataclasses", "models"])
def test_mutually_recursive_classes_leave_no_module_behind(models: bool) -> None:
    before = set(sys.modules)
    root = json_schema_to_type(_mutual("no module", models=models))
    assert set(sys.modules) == before
    data = {"person": {"name": "A", "pet": {"species": "cat", "owners": [{"name": "B"}]}}}
    result = TypeAdapter(root).validate_python(data)
    assert type(result.person.pet.owners[0]) is type(result.person)
    with pytest.raises(ValidationError):  # the owner's pet must be a Pet, with a species
        TypeAdapter(root).validate_python(
            {"person": {"pet": {"species": "c", "owners": [{"pet": {}}]}}}
        )


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    gc.collect()
    kept = json_schema_to_type(_mutual("kept"))
    first = weakref.ref(json_schema_to_type(_mutual("evicted")))
    for i in range(CACHE_SIZE):
        assert json_schema_to_type(_mutual("kept")) is kept  # used again: stays
        json_schema_to_type(_mutual(f"filler {i}"))
    gc.collect()
    assert first() is None  # dropped from the cache, and nothing else held it
    assert json_schema_to_type(_mutual("kept")) is kept


def test_an_evicted_type_still_validates() -> None:
    held = json_schema_to_type(_mutual("held", models=True))
    for i in range(CACHE_SIZE + 1):
        json_schema_to_type(_mutual(f"evicting {i}"))
    assert json_schema_to_type(_mutual("held", models=True)) is not held  # built anew
    result = TypeAdapter(held).validate_python({"person": {"pet": {"species": "dog"}}})
    assert result.person.pet.species == "dog"
