"""FastMCP 2.13's `fastmcp.utilities.types` and `fastmcp.utilities.json_schema` behaviours
(issue 16): `replace_type`, string descriptions in `get_cached_typeadapter`, the media
helpers' errors and MIME types, nested `additionalProperties` pruning; and
`fastmcp.utilities.logging` (`get_logger`, `configure_logging`, `temporary_log_level`)."""

from __future__ import annotations

import base64
import importlib.util
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import pydantic
import pytest

from trimcp.settings import settings
from trimcp.utilities.json_schema import compress_schema
from trimcp.utilities.logging import configure_logging, get_logger, temporary_log_level
from trimcp.utilities.types import (
    Audio,
    FastMCPBaseModel,
    File,
    Image,
    get_cached_typeadapter,
    get_fn_name,
    replace_type,
)


@pytest.mark.parametrize(
    ("given", "mapping", "expected"),
    [
        (int, {}, int),
        (int, {int: str}, str),
        (list[int], {int: str}, list[str]),
        (list[int], {int: float, list[int]: bool}, bool),
        (list[int | bool], {int: str}, list[str | bool]),
        (Optional[int], {int: str}, Optional[str]),  # noqa: UP045 (typing.Union spelling)
        (Union[int, bytes], {int: str}, Union[str, bytes]),  # noqa: UP007
        (dict[str, list[int]], {int: float}, dict[str, list[float]]),
        (Annotated[int, "x"], {int: str}, Annotated[str, "x"]),
        (Literal["a", "b"], {str: int}, Literal["a", "b"]),
        (Callable[[int], int], {int: str}, Callable[[str], str]),
    ],
)
def test_replace_type_rewrites_nested_types(
    given: object, mapping: dict[object, object], expected: object
) -> None:
    assert replace_type(given, mapping) == expected


def test_string_in_annotated_becomes_the_parameter_description() -> None:
    def greet(
        name: Annotated[str, "who to greet"],
        times: Annotated[int, "how often", "extra"] = 1,
        loud: Annotated[bool, pydantic.Field(description="shout")] = False,
    ) -> str:
        return name * times

    schema = get_cached_typeadapter(greet).json_schema()
    assert schema["properties"]["name"]["description"] == "who to greet"
    assert "description" not in schema["properties"]["times"]
    assert schema["properties"]["loud"]["description"] == "shout"
    # the copy behaves as the function
    assert get_cached_typeadapter(greet).validate_python({"name": "a", "times": 2}) == "aa"
    assert get_fn_name(greet) == "greet"


def test_string_descriptions_on_bound_methods() -> None:
    class Greeter:
        def greet(self, name: Annotated[str, "who"]) -> str:
            return f"hi {name}"

    adapter = get_cached_typeadapter(Greeter().greet)
    assert adapter.json_schema()["properties"]["name"]["description"] == "who"
    assert adapter.validate_python({"name": "x"}) == "hi x"


def test_fastmcp_base_model_refuses_unknown_fields() -> None:
    class Thing(FastMCPBaseModel):
        a: int

    with pytest.raises(pydantic.ValidationError):
        Thing(a=1, b=2)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("helper", "method", "message"),
    [
        (Image, "to_image_content", "No image data available"),
        (Audio, "to_audio_content", "No audio data available"),
        (File, "to_resource_content", "No resource data available"),
    ],
)
def test_media_without_data_says_what_is_missing(
    helper: type[Image | Audio | File], method: str, message: str
) -> None:
    media = helper(data=b"x")
    media.data = None
    with pytest.raises(ValueError, match=message):
        getattr(media, method)()


@pytest.mark.parametrize(
    ("suffix", "mime"),
    [(".png", "image/png"), (".webp", "image/webp"), (".nope", "application/octet-stream")],
)
def test_image_mime_type_from_suffix(tmp_path: Path, suffix: str, mime: str) -> None:
    path = tmp_path / f"picture{suffix}"
    path.write_bytes(b"img")
    image = Image(path=path)
    assert image.mime_type == mime
    content = image.to_image_content()
    assert content.mimeType == mime
    assert content.data == base64.b64encode(b"img").decode()


def test_text_file_becomes_text_resource() -> None:
    resource = File(data=b"hello", format="plain").to_resource_content().resource
    assert resource.mimeType == "text/plain"
    assert getattr(resource, "text", None) == "hello"


def test_compress_schema_drops_closed_objects_at_every_level() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "additionalProperties": False,  # a property of that name is not a keyword
            "foo": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"bar": {"$ref": "#/$defs/Bar"}},
            },
        },
        "$defs": {"Bar": {"type": "object", "additionalProperties": False}},
    }
    result = compress_schema(schema)
    assert "additionalProperties" not in result
    assert result["properties"]["additionalProperties"] is False
    assert "additionalProperties" not in result["properties"]["foo"]
    assert result["$defs"]["Bar"] == {"type": "object"}
    assert schema["additionalProperties"] is False  # the argument is untouched
    kept = compress_schema(schema, prune_additional_properties=False)
    assert kept["properties"]["foo"]["additionalProperties"] is False


def test_get_logger_names_loggers_under_trimcp() -> None:
    assert get_logger("server").name == "trimcp.server"
    assert get_logger("trimcp.http").name == "trimcp.http"
    assert get_logger("fastmcp.tools").name == "trimcp.tools"


@pytest.fixture
def scratch_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("trimcp.test_utilities_dropin")
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def test_configure_logging_splits_tracebacks_and_stops_propagation(
    scratch_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", scratch_logger)
    configure_logging("DEBUG", scratch_logger)  # reconfiguring replaces, never duplicates
    assert len(scratch_logger.handlers) == 2
    assert scratch_logger.propagate is False
    assert scratch_logger.level == logging.DEBUG
    scratch_logger.debug("plain message")
    try:
        raise ZeroDivisionError("boom")
    except ZeroDivisionError:
        scratch_logger.exception("with traceback")
    err = capsys.readouterr().err
    assert err.count("plain message") == 1
    assert err.count("with traceback") == 1
    assert "ZeroDivisionError: boom" in err


@pytest.mark.skipif(importlib.util.find_spec("rich") is not None, reason="rich is installed")
def test_rich_options_without_rich_are_refused(scratch_logger: logging.Logger) -> None:
    with pytest.raises(ImportError, match="rich is not installed"):
        configure_logging(logger=scratch_logger, tracebacks_max_frames=20)


def test_configure_logging_does_nothing_when_logging_is_disabled(
    scratch_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "log_enabled", False, raising=False)
    configure_logging("DEBUG", scratch_logger)
    assert scratch_logger.handlers == []


def test_temporary_log_level_restores_the_logger(scratch_logger: logging.Logger) -> None:
    existing = logging.NullHandler()
    scratch_logger.addHandler(existing)
    scratch_logger.setLevel(logging.ERROR)
    with temporary_log_level("debug", scratch_logger):
        assert scratch_logger.level == logging.DEBUG
        assert existing not in scratch_logger.handlers
    assert scratch_logger.level == logging.ERROR
    assert scratch_logger.handlers == [existing]
    assert scratch_logger.propagate is True
    with temporary_log_level(None, scratch_logger):
        assert scratch_logger.level == logging.ERROR
