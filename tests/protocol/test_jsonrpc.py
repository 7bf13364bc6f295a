"""The JSON-RPC codec: classification, error codes, never raising for bad input."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trimcp.protocol import jsonrpc
from trimcp.protocol.errors import INVALID_REQUEST, PARSE_ERROR


def test_request_notification_response_are_classified():
    assert isinstance(jsonrpc.decode(b'{"jsonrpc":"2.0","id":1,"method":"ping"}'), jsonrpc.Request)
    assert isinstance(jsonrpc.decode(b'{"jsonrpc":"2.0","method":"n"}'), jsonrpc.Notification)
    response = jsonrpc.decode(b'{"jsonrpc":"2.0","id":"a","result":{"x":1}}')
    assert isinstance(response, jsonrpc.Response)
    assert msgspec.json.decode(response.result) == {"x": 1}
    error = jsonrpc.decode(b'{"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"m"}}')
    assert isinstance(error, jsonrpc.ErrorResponse) and error.error.code == -1


def test_params_stay_raw_until_needed():
    request = jsonrpc.decode(b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":[1,2]}}')
    assert isinstance(request.params, msgspec.Raw)
    assert bytes(request.params) == b'{"a":[1,2]}'


def test_malformed_json_is_a_parse_error_without_id():
    message = jsonrpc.decode(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert isinstance(message, jsonrpc.Invalid)
    assert message.error.code == PARSE_ERROR and message.id is None


def test_bool_id_is_an_invalid_request():
    message = jsonrpc.decode(b'{"jsonrpc":"2.0","id":true,"method":"ping"}')
    assert isinstance(message, jsonrpc.Invalid) and message.error.code == INVALID_REQUEST


def test_null_request_id_is_refused():
    message = jsonrpc.decode(b'{"jsonrpc":"2.0","id":null,"method":"ping"}')
    assert isinstance(message, jsonrpc.Invalid) and message.error.code == INVALID_REQUEST


def test_invalid_request_keeps_the_id_when_readable():
    message = jsonrpc.decode(b'{"jsonrpc":"2.0","id":7,"method":5}')
    assert isinstance(message, jsonrpc.Invalid)
    assert (message.id, message.error.code) == (7, INVALID_REQUEST)


def test_wrong_jsonrpc_version_is_invalid():
    message = jsonrpc.decode(b'{"jsonrpc":"1.0","id":3,"method":"ping"}')
    assert isinstance(message, jsonrpc.Invalid) and message.id == 3


def test_batches_are_decoded_item_by_item():
    batch = jsonrpc.decode(
        b'[{"jsonrpc":"2.0","id":1,"method":"a"}, 5, {"jsonrpc":"2.0","method":"n"}]'
    )
    assert isinstance(batch, jsonrpc.Batch)
    kinds = [type(item) for item in batch.items]
    assert kinds == [jsonrpc.Request, jsonrpc.Invalid, jsonrpc.Notification]


def test_empty_batch_is_invalid():
    assert isinstance(jsonrpc.decode(b"[]"), jsonrpc.Invalid)


def test_encoders_produce_jsonrpc_envelopes():
    assert msgspec.json.decode(jsonrpc.encode_result(1, {"a": 1})) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"a": 1},
    }
    err = msgspec.json.decode(jsonrpc.encode_error(None, jsonrpc.ErrorData(-32700, "bad")))
    assert err == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "bad"}}
    assert msgspec.json.decode(jsonrpc.encode_notification("n")) == {
        "jsonrpc": "2.0",
        "method": "n",
    }


@given(st.binary(max_size=200))
def test_decode_never_raises_on_arbitrary_bytes(data: bytes):
    jsonrpc.decode(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(json_values)
def test_decode_never_raises_on_arbitrary_json(value):
    jsonrpc.decode(msgspec.json.encode(value))


@given(st.one_of(st.integers(), st.text()), st.text(min_size=1))
def test_request_round_trip(request_id, method):
    decoded = jsonrpc.decode(jsonrpc.encode_request(request_id, method, {"k": 1}))
    assert isinstance(decoded, jsonrpc.Request)
    assert (decoded.id, decoded.method) == (request_id, method)


def test_invalid_utf8_inside_a_string_is_an_error_not_a_crash():
    assert isinstance(jsonrpc.decode(b'"\x80"'), jsonrpc.Invalid)
    assert isinstance(jsonrpc.decode(b'{"jsonrpc":"2.0","id":1,"method":"\x80"}'), jsonrpc.Invalid)


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    "data",
    [
        DEEP,
        b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + DEEP + b"}",
        b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":{"x":' + DEEP + b"}}}",
        b'{"jsonrpc":"2.0","id":1,"result":' + DEEP + b"}",
        b'[{"jsonrpc":"2.0","method":"n"},' + DEEP + b"]",
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b"[" * 100_000,
    ],
    ids=["top", "params", "meta", "result", "batch", "objects", "unclosed"],
)
def test_message_nested_past_the_recursion_limit_is_a_parse_error(data: bytes):
    message = jsonrpc.decode(data)
    assert isinstance(message, jsonrpc.Invalid)
    assert message.error.code == PARSE_ERROR and message.id is None


def test_nested_array_in_a_batch_is_an_invalid_item_whatever_its_depth():
    for inner in (b"[]", b"[" * 900 + b"]" * 900, b'[{"jsonrpc":"2.0","method":"n"}]'):
        batch = jsonrpc.decode(b'[{"jsonrpc":"2.0","method":"n"},' + inner + b"]")
        assert isinstance(batch, jsonrpc.Batch)
        assert isinstance(batch.items[0], jsonrpc.Notification)
        nested = batch.items[1]
        assert isinstance(nested, jsonrpc.Invalid) and nested.error.code == INVALID_REQUEST


def test_invalid_utf8_is_a_parse_error():
    message = jsonrpc.decode(b'{"jsonrpc":"2.0","id":"\xff","method":"ping"}')
    assert isinstance(message, jsonrpc.Invalid) and message.error.code == PARSE_ERROR


def test_a_result_holding_an_sdk_model_is_sent_as_its_json_dump() -> None:
    mcp_types = pytest.importorskip("mcp.types")
    block = mcp_types.TextContent(type="text", text="hi")
    wire = jsonrpc.encode_result(1, {"content": [block]})
    assert json.loads(wire) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"content": [{"type": "text", "text": "hi"}]},
    }


def test_a_value_that_is_not_json_is_still_refused() -> None:
    with pytest.raises(TypeError, match="cannot encode object"):
        jsonrpc.encode_result(1, {"x": object()})
