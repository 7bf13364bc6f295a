"""`trimcp.server.elicitation`: requested schemas per response type, and parsing answers back.

Expected schemas follow the 2025-11-25 `PrimitiveSchemaDefinition` and the conformance scenarios
`elicitation-sep1330-enums` and `elicitation-sep1034-defaults`, with FastMCP 2.13's titles (the
class name or "ScalarElicitationType" on the object, pydantic's title or "Value" on a property)
and its `enumNames` for Enums.
"""

from __future__ import annotations

import datetime
import enum
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional

import pytest
import typing_extensions
from pydantic import AnyUrl, BaseModel, Field

from trimcp.exceptions import ValidationError
from trimcp.server.elicitation import (
    AcceptedElicitation,
    CancelledElicitation,
    DeclinedElicitation,
    ElicitationSpec,
    elicitation_schema,
    parse_elicit_result,
    url_elicitation_params,
)
from trimcp.types.misc import ElicitResult


class Priority(enum.Enum):
    """How urgent it is."""

    LOW = "low"
    HIGH = "high"


class Level(enum.IntEnum):
    ONE = 1
    TWO = 2


def wrapped(prop: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    """FastMCP's `ScalarElicitationType(value: T)` schema; `prop` without a title gets "Value"."""
    schema: dict[str, Any] = {
        "type": "object",
        "title": "ScalarElicitationType",
        "properties": {"value": {"title": "Value", **prop}},
    }
    if required:
        schema["required"] = ["value"]
    return schema


# --------------------------------------------------------------------------- scalar / shorthand


@pytest.mark.parametrize(
    ("response_type", "prop"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (["low", "medium", "high"], {"type": "string", "enum": ["low", "medium", "high"]}),
        (Literal["yes", "no"], {"type": "string", "enum": ["yes", "no"]}),
        (Literal["only"], {"type": "string", "enum": ["only"]}),
        (
            Priority,  # an Enum keeps its class name and docstring, and adds enumNames
            {
                "type": "string",
                "title": "Priority",
                "description": "How urgent it is.",
                "enum": ["low", "high"],
                "enumNames": ["Low", "High"],
            },
        ),
        (
            {"low": "Low priority", "high": {"title": "High priority"}},
            {
                "type": "string",
                "oneOf": [
                    {"const": "low", "title": "Low priority"},
                    {"const": "high", "title": "High priority"},
                ],
            },
        ),
        ([["a", "b"]], {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}),
        (
            [{"a": {"title": "Alpha"}, "b": "Beta"}],
            {
                "type": "array",
                "items": {
                    "anyOf": [{"const": "a", "title": "Alpha"}, {"const": "b", "title": "Beta"}]
                },
            },
        ),
        (
            list[Literal["a", "b"]],
            {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
        ),
        (list[Priority], {"type": "array", "items": {"type": "string", "enum": ["low", "high"]}}),
        (
            Annotated[str, Field(description="Your name", min_length=2)],
            {"type": "string", "description": "Your name", "minLength": 2},
        ),
    ],
)
def test_wrapped_response_types_request_a_single_value_property(
    response_type: Any, prop: dict[str, Any]
) -> None:
    spec = elicitation_schema(response_type)
    assert spec.wrapped is True
    assert spec.requested_schema == wrapped(prop)


def test_none_requests_an_empty_object() -> None:
    spec = elicitation_schema(None)
    assert spec.wrapped is False
    assert spec.requested_schema == {"type": "object", "properties": {}}


def test_optional_scalar_is_not_required() -> None:
    assert elicitation_schema(Optional[int]).requested_schema == wrapped(  # noqa: UP045
        {"type": "integer"}, required=False
    )


def test_scalar_with_default_is_not_required_and_advertises_the_default() -> None:
    spec = elicitation_schema(Annotated[str, Field(default="anon")])
    assert spec.requested_schema == wrapped({"type": "string", "default": "anon"}, required=False)
    assert spec.parse({}) == "anon"


# --------------------------------------------------------------------------- conformance shapes


class Sep1330Enums(BaseModel):
    untitledSingle: Literal["option1", "option2", "option3"]
    titledSingle: Annotated[
        str,
        Field(
            json_schema_extra={
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                ]
            }
        ),
    ]
    legacyEnum: Annotated[
        Literal["opt1", "opt2", "opt3"],
        Field(json_schema_extra={"enumNames": ["Option One", "Option Two", "Option Three"]}),
    ]
    untitledMulti: list[Literal["option1", "option2", "option3"]]
    titledMulti: Annotated[
        list[str],
        Field(
            json_schema_extra={
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                    ]
                }
            }
        ),
    ]


def test_sep1330_enum_variants_have_the_spec_shapes() -> None:
    spec = elicitation_schema(Sep1330Enums)
    assert spec.wrapped is False
    assert spec.requested_schema == {
        "type": "object",
        "title": "Sep1330Enums",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "title": "Untitledsingle",
                "enum": ["option1", "option2", "option3"],
            },
            "titledSingle": {
                "type": "string",
                "title": "Titledsingle",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "title": "Legacyenum",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "title": "Untitledmulti",
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "title": "Titledmulti",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                    ]
                },
            },
        },
        "required": [
            "untitledSingle",
            "titledSingle",
            "legacyEnum",
            "untitledMulti",
            "titledMulti",
        ],
    }


def test_sep1330_answer_parses_into_the_model() -> None:
    spec = elicitation_schema(Sep1330Enums)
    result = parse_elicit_result(
        {
            "action": "accept",
            "content": {
                "untitledSingle": "option1",
                "titledSingle": "value1",
                "legacyEnum": "opt1",
                "untitledMulti": ["option1", "option2"],
                "titledMulti": ["value1", "value2"],
            },
        },
        spec,
    )
    assert isinstance(result, AcceptedElicitation)
    assert result.data == Sep1330Enums(
        untitledSingle="option1",
        titledSingle="value1",
        legacyEnum="opt1",
        untitledMulti=["option1", "option2"],
        titledMulti=["value1", "value2"],
    )


def test_titled_options_on_plain_str_fields_are_enforced() -> None:
    spec = elicitation_schema(Sep1330Enums)
    content = {
        "untitledSingle": "option1",
        "titledSingle": "value9",
        "legacyEnum": "opt1",
        "untitledMulti": [],
        "titledMulti": ["value1", "nope"],
    }
    with pytest.raises(ValidationError, match="titledSingle: 'value9' is not one of the options"):
        spec.parse(content)
    content["titledSingle"] = "value2"
    with pytest.raises(ValidationError, match=r"titledMulti: \['nope'\] not among the options"):
        spec.parse(content)


@dataclass
class Sep1034Defaults:
    name: str = "John Doe"
    age: int = 30
    score: float = 95.5
    status: Literal["active", "inactive", "pending"] = "active"
    verified: bool = True


def test_sep1034_defaults_are_advertised_for_every_primitive() -> None:
    assert elicitation_schema(Sep1034Defaults).requested_schema == {
        "type": "object",
        "title": "Sep1034Defaults",
        "properties": {
            "name": {"type": "string", "title": "Name", "default": "John Doe"},
            "age": {"type": "integer", "title": "Age", "default": 30},
            "score": {"type": "number", "title": "Score", "default": 95.5},
            "status": {
                "type": "string",
                "title": "Status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "title": "Verified", "default": True},
        },
    }


def test_sep1034_answer_parses_into_the_dataclass() -> None:
    spec = elicitation_schema(Sep1034Defaults)
    content = {
        "name": "Jane Smith",
        "age": 25,
        "score": 88.0,
        "status": "inactive",
        "verified": False,
    }
    assert spec.parse(content) == Sep1034Defaults("Jane Smith", 25, 88.0, "inactive", False)
    assert spec.parse({}) == Sep1034Defaults()


# --------------------------------------------------------------------------- structured types


class Profile(BaseModel):
    """About you."""

    email: str = Field(title="E-mail", description="Where we write to", max_length=80)
    homepage: AnyUrl
    born: datetime.date
    seen_at: datetime.datetime | None = None
    age: int = Field(ge=0, lt=150)
    ratio: float = Field(default=0.5, ge=0, le=1)
    code: str = Field(pattern=r"^[A-Z]+$")
    ident: int = 0
    priority: Priority = Priority.HIGH
    tags: set[Priority] = Field(default_factory=set)
    nickname: str | None = None
    note: Optional[str]  # noqa: UP045  (nullable but without a default)

    model_config = {"json_schema_extra": {"x-top": 1}}


def test_pydantic_model_is_flattened_to_spec_keywords() -> None:
    assert elicitation_schema(Profile).requested_schema == {
        "type": "object",
        "title": "Profile",
        "description": "About you.",
        "properties": {
            "email": {
                "type": "string",
                "title": "E-mail",
                "description": "Where we write to",
                "maxLength": 80,
            },
            "homepage": {"type": "string", "title": "Homepage", "format": "uri", "minLength": 1},
            "born": {"type": "string", "title": "Born", "format": "date"},
            "seen_at": {"type": "string", "title": "Seen At", "format": "date-time"},
            "age": {"type": "integer", "title": "Age", "minimum": 0},
            "ratio": {
                "type": "number",
                "title": "Ratio",
                "minimum": 0,
                "maximum": 1,
                "default": 0.5,
            },
            "code": {"type": "string", "title": "Code"},
            "ident": {"type": "integer", "title": "Ident", "default": 0},
            "priority": {
                "type": "string",
                "title": "Priority",
                "description": "How urgent it is.",
                "enum": ["low", "high"],
                "enumNames": ["Low", "High"],
                "default": "high",
            },
            "tags": {
                "type": "array",
                "title": "Tags",
                "items": {"type": "string", "enum": ["low", "high"]},
            },
            "nickname": {"type": "string", "title": "Nickname"},
            "note": {"type": "string", "title": "Note"},
        },
        "required": ["email", "homepage", "born", "age", "code"],
    }


def test_pydantic_model_answer_becomes_an_instance_with_enum_members() -> None:
    spec = elicitation_schema(Profile)
    data = spec.parse(
        {
            "email": "a@b.c",
            "homepage": "https://example.com/",
            "born": "2000-01-02",
            "age": 30,
            "code": "ABC",
            "priority": "low",
            "tags": ["low", "high"],
        }
    )
    assert isinstance(data, Profile)
    assert data.born == datetime.date(2000, 1, 2)
    assert data.priority is Priority.LOW
    assert data.tags == {Priority.LOW, Priority.HIGH}
    assert data.note is None and data.nickname is None


def test_constraints_dropped_from_the_schema_are_still_enforced() -> None:
    spec = elicitation_schema(Profile)
    base = {"email": "a@b.c", "homepage": "https://x.org", "born": "2000-01-02", "age": 150}
    base["code"] = "ABC"
    with pytest.raises(ValidationError, match="age: Input should be less than 150"):
        spec.parse(base)
    with pytest.raises(ValidationError, match="code: String should match pattern"):
        spec.parse({**base, "age": 1, "code": "abc"})


class Contact(typing.TypedDict):
    name: str
    phone: typing_extensions.NotRequired[str]
    kind: Literal["home", "work"]


class LooseContact(typing_extensions.TypedDict, total=False):
    name: str
    vip: bool


def test_typeddict_schema_and_answer_is_a_dict() -> None:
    spec = elicitation_schema(Contact)
    assert spec.requested_schema == {
        "type": "object",
        "title": "Contact",
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "phone": {"type": "string", "title": "Phone"},
            "kind": {"type": "string", "title": "Kind", "enum": ["home", "work"]},
        },
        "required": ["name", "kind"],
    }
    assert spec.parse({"name": "Ann", "kind": "work"}) == {"name": "Ann", "kind": "work"}
    loose = elicitation_schema(LooseContact)
    assert loose.requested_schema == {
        "type": "object",
        "title": "LooseContact",
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "vip": {"type": "boolean", "title": "Vip"},
        },
    }
    assert loose.parse({"vip": True}) == {"vip": True}


@dataclass
class Address:
    street: str


@dataclass
class WithNestedDataclass:
    name: str
    address: Address


class Inner(BaseModel):
    x: int


class WithNestedModel(BaseModel):
    inner: Inner


class WithListOfModels(BaseModel):
    items: list[Inner]


class WithDict(BaseModel):
    extra: dict[str, str]


class WithFreeList(BaseModel):
    tags: list[str]


class WithUnion(BaseModel):
    amount: int | str


class WithIntEnum(BaseModel):
    level: Level


class WithAny(BaseModel):
    anything: Any


@dataclass
class WithOptionalNested:
    address: Address | None = None


@pytest.mark.parametrize(
    ("response_type", "message"),
    [
        (WithNestedDataclass, "field 'address' is a nested object"),
        (WithOptionalNested, "field 'address' is a nested object"),
        (WithNestedModel, "field 'inner' is a nested object"),
        (WithListOfModels, "field 'items' is an array of objects"),
        (WithDict, "field 'extra' is a nested object"),
        (WithFreeList, "field 'tags' is an array of free values"),
        (WithUnion, "field 'amount' is a union of several types"),
        (WithIntEnum, "field 'level' offers non-string options"),
        (WithAny, "field 'anything' has no primitive JSON type"),
    ],
)
def test_non_flat_fields_are_rejected_naming_the_field(response_type: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message) as info:
        elicitation_schema(response_type)
    assert "elicitation" in str(info.value)
    assert response_type.__name__ in str(info.value)


@pytest.mark.parametrize(
    ("response_type", "message"),
    [
        (dict, "is a nested object"),
        (list[str], "array of free values"),
        (int | str, "union of several types"),
        (Literal[1, 2], "non-string options"),
        (Level, "non-string options"),
        (object, "no primitive JSON type"),
        ([], "non-empty list of strings"),
        (["a", 1], "non-empty list of strings"),
        ({}, "cannot be empty"),
        ({"a": 1}, "maps string values"),
    ],
)
def test_unsupported_response_types_raise_type_error(response_type: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        elicitation_schema(response_type)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("response_type", "value", "expected"),
    [
        (str, "Ann", "Ann"),
        (int, 42, 42),
        (float, 1.5, 1.5),
        (bool, True, True),
        (["low", "high"], "high", "high"),
        (Literal["yes", "no"], "no", "no"),
        (Priority, "low", Priority.LOW),
        ({"a": "Alpha", "b": "Beta"}, "b", "b"),
        ([["a", "b"]], ["b", "a"], ["b", "a"]),
        ([{"a": "Alpha", "b": "Beta"}], ["a"], ["a"]),
        (list[Priority], ["high"], [Priority.HIGH]),
        (Optional[int], 3, 3),  # noqa: UP045
    ],
)
def test_wrapped_answers_are_unwrapped(response_type: Any, value: Any, expected: Any) -> None:
    spec = elicitation_schema(response_type)
    result = parse_elicit_result({"action": "accept", "content": {"value": value}}, spec)
    assert result == AcceptedElicitation(data=expected)
    assert result.action == "accept"
    if isinstance(expected, enum.Enum):
        assert result.data is expected


def test_optional_scalar_absent_is_none() -> None:
    spec = elicitation_schema(Optional[int])  # noqa: UP045
    assert spec.parse({}) is None


def test_approval_accepts_with_no_data() -> None:
    spec = elicitation_schema(None)
    assert parse_elicit_result({"action": "accept"}, spec) == AcceptedElicitation(data=None)
    assert parse_elicit_result({"action": "accept", "content": {}}, spec).data is None
    with pytest.raises(ValidationError, match="expected an empty response"):
        parse_elicit_result({"action": "accept", "content": {"x": 1}}, spec)


@pytest.mark.parametrize("response_type", [None, str, Sep1034Defaults, ["a", "b"]])
def test_decline_and_cancel_carry_no_data(response_type: Any) -> None:
    spec = elicitation_schema(response_type)
    declined = parse_elicit_result({"action": "decline"}, spec)
    cancelled = parse_elicit_result({"action": "cancel", "content": {"value": "ignored"}}, spec)
    assert declined == DeclinedElicitation()
    assert (declined.action, declined.data) == ("decline", None)
    assert cancelled == CancelledElicitation()
    assert (cancelled.action, cancelled.data) == ("cancel", None)


@pytest.mark.parametrize(
    ("response_type", "content", "message"),
    [
        (int, {"value": "many"}, "value: Input should be a valid integer"),
        (str, {}, "value: Field required"),
        (str, None, "value: Field required"),
        (bool, {"value": [1]}, "value: Input should be a valid boolean"),
        (["low", "high"], {"value": "medium"}, "value: 'medium' is not one of the options"),
        (Priority, {"value": "medium"}, "value: 'medium' is not one of the options"),
        ([["a", "b"]], {"value": "a"}, "value: expected a list of options"),
        ([["a", "b"]], {"value": ["a", "c"]}, r"value: \['c'\] not among the options"),
        (Sep1034Defaults, {"age": "old"}, "age: Input should be a valid integer"),
        (Contact, {"kind": "work"}, "name: Field required"),
        (Sep1034Defaults, ["not", "an", "object"], "content must be an object"),
    ],
)
def test_bad_content_is_rejected_with_a_clear_message(
    response_type: Any, content: Any, message: str
) -> None:
    spec = elicitation_schema(response_type)
    with pytest.raises(ValidationError, match=message) as info:
        parse_elicit_result({"action": "accept", "content": content}, spec)
    assert str(info.value).startswith("Elicitation response")


@pytest.mark.parametrize("action", ["ok", None, "ACCEPT"])
def test_unknown_action_is_rejected(action: Any) -> None:
    with pytest.raises(ValidationError, match="unknown action"):
        parse_elicit_result({"action": action}, elicitation_schema(str))


def test_wire_result_objects_are_accepted_too() -> None:
    result = parse_elicit_result(
        ElicitResult(action="accept", content={"value": 7}), elicitation_schema(int)
    )
    assert result == AcceptedElicitation(data=7)


def test_results_are_pattern_matchable() -> None:
    spec = elicitation_schema(str)

    def describe(raw: dict[str, Any]) -> str:
        match parse_elicit_result(raw, spec):
            case AcceptedElicitation(data=name):
                return f"Hello {name}!"
            case DeclinedElicitation():
                return "No name provided"
            case CancelledElicitation():
                return "Operation cancelled"
        return "unreachable"

    assert describe({"action": "accept", "content": {"value": "Ann"}}) == "Hello Ann!"
    assert describe({"action": "decline"}) == "No name provided"
    assert describe({"action": "cancel"}) == "Operation cancelled"


def test_generic_accepted_elicitation_can_be_subscripted() -> None:
    assert AcceptedElicitation[int](data=1) == AcceptedElicitation(data=1)


# --------------------------------------------------------------------------- caching, URL mode


def test_specs_are_built_once_per_type_and_per_shorthand() -> None:
    assert elicitation_schema(Sep1034Defaults) is elicitation_schema(Sep1034Defaults)
    assert elicitation_schema(["x", "y"]) is elicitation_schema(["x", "y"])
    assert elicitation_schema(["x", "y"]) is not elicitation_schema(["y", "x"])
    assert isinstance(elicitation_schema(int), ElicitationSpec)


@dataclass
class WithFactory:
    tags: list[Literal["a", "b"]] = field(default_factory=lambda: ["a"])


def test_unhashable_annotated_metadata_still_works() -> None:
    # a dict in Annotated metadata makes the type unhashable: built uncached
    tp = Annotated[str, {"note": "unhashable"}]
    assert elicitation_schema(tp).requested_schema == wrapped({"type": "string"})
    assert elicitation_schema(WithFactory).parse({}) == WithFactory(["a"])


def test_url_elicitation_params_per_era() -> None:
    assert url_elicitation_params("Sign in", "https://x.org/auth") == {
        "mode": "url",
        "message": "Sign in",
        "url": "https://x.org/auth",
    }
    assert url_elicitation_params("Sign in", "https://x.org/auth", "el-1") == {
        "mode": "url",
        "message": "Sign in",
        "url": "https://x.org/auth",
        "elicitationId": "el-1",
    }


def test_get_elicitation_schema_is_fastmcps_name_for_the_requested_schema() -> None:
    from dataclasses import dataclass

    from trimcp.server.elicitation import get_elicitation_schema

    @dataclass
    class Booking:
        date: str
        guests: int

    schema = get_elicitation_schema(Booking)
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"date", "guests"}
    schema["properties"].clear()  # a copy: the cached spec is untouched
    assert set(get_elicitation_schema(Booking)["properties"]) == {"date", "guests"}
    with pytest.raises(TypeError):
        get_elicitation_schema(dict[str, list[dict[str, int]]])


# --------------------------------------------------------------------------- FastMCP's titles


class TaskStatus(enum.Enum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"


class Shown(enum.Enum):
    Low = "Low"
    High = "High"


@dataclass
class TaskUpdate:
    status: TaskStatus
    shown: Shown = Shown.Low
    level: Literal["x", "y"] = "x"


def test_enum_names_are_added_when_member_names_read_differently_from_values() -> None:
    props = elicitation_schema(TaskUpdate).requested_schema["properties"]
    assert props["status"]["enumNames"] == ["Not Started", "In Progress"]
    assert "enumNames" not in props["shown"]  # names equal to the values add nothing
    assert "enumNames" not in props["level"]  # a Literal has no member names
    assert props["status"]["title"] == "TaskStatus"  # an Enum field is titled by its class


def test_scalar_schema_is_fastmcps_scalar_elicitation_type() -> None:
    # FastMCP 2.13's tests compare this schema whole
    assert elicitation_schema(int).requested_schema == {
        "properties": {"value": {"title": "Value", "type": "integer"}},
        "required": ["value"],
        "title": "ScalarElicitationType",
        "type": "object",
    }


def test_a_field_title_overrides_the_enum_class_name() -> None:
    class Ticket(BaseModel):
        status: TaskStatus = Field(title="State", description="Where it stands")

    prop = elicitation_schema(Ticket).requested_schema["properties"]["status"]
    assert prop["title"] == "State"
    assert prop["description"] == "Where it stands"
