"""Property tests for every decoder of peer input (issue 14, fuzzing): each never raises
anything but its documented errors, and valid input round-trips. Sans-I/O, no event loop.

Decoders: JSON-RPC `decode` (random bytes, random JSON, deep nesting, mutated messages), the
2026-07-28 `_meta` envelope, the SSE codec, the stdio line framer, header values and their
Base64 sentinel, `Mcp-Param-*` checks, the HTTP routing decode and modern ladder, URI template
matching, MRTR `requestState`, and `Last-Event-ID`. Example counts stay modest: each property
runs well under a second.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from trimcp.core import mrtr
from trimcp.exceptions import McpError
from trimcp.http.event_store import parse_event_id, stream_of
from trimcp.http.wire import accepts_json_sse, header_version, modern_ladder, routing_of
from trimcp.protocol import jsonrpc
from trimcp.protocol.envelope import (
    CLIENT_CAPABILITIES_KEY,
    CLIENT_INFO_KEY,
    LOG_LEVEL_KEY,
    LOG_LEVELS,
    PROTOCOL_VERSION_KEY,
    Envelope,
    parse_modern,
)
from trimcp.protocol.errors import INVALID_PARAMS, INVALID_REQUEST, PARSE_ERROR, ErrorData
from trimcp.protocol.framing import LineFramer, LineTooLong
from trimcp.protocol.header_values import decode_header_value, encode_header_value
from trimcp.protocol.param_headers import check_param_headers, header_values
from trimcp.protocol.sse import ServerSentEvent, SSEDecoder, encode_event
from trimcp.resources.template import UriTemplate

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text a peer can send: msgspec refuses lone surrogates, so no peer string holds one
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=20,
)
request_ids = st.integers(min_value=-(2**63), max_value=2**63 - 1) | text
methods = st.sampled_from(["ping", "tools/call", "tools/list", "initialize"]) | text

INCOMING = (
    jsonrpc.Request,
    jsonrpc.Notification,
    jsonrpc.Response,
    jsonrpc.ErrorResponse,
    jsonrpc.Invalid,
    jsonrpc.Batch,
)


def _check_incoming(message: Any) -> None:
    assert isinstance(message, INCOMING)
    if isinstance(message, jsonrpc.Invalid):
        assert message.error.code in (PARSE_ERROR, INVALID_REQUEST)
        jsonrpc.encode_error(message.id, message.error)  # the answer is always encodable
    if isinstance(message, jsonrpc.Batch):
        assert message.items
        for item in message.items:
            assert not isinstance(item, jsonrpc.Batch)
            _check_incoming(item)


# -- JSON-RPC ----------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=200))
def test_jsonrpc_decode_of_random_bytes_never_raises(data: bytes) -> None:
    _check_incoming(jsonrpc.decode(data))


@FUZZ
@given(json_values)
def test_jsonrpc_decode_of_random_json_never_raises(value: Any) -> None:
    _check_incoming(jsonrpc.decode(msgspec.json.encode(value)))


WRAPPERS = {
    "top": lambda deep: deep,
    "params": lambda deep: b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + deep + b"}",
    "meta": lambda deep: b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"_meta":' + deep + b"}}",
    "batch": lambda deep: b'[{"jsonrpc":"2.0","method":"n"},' + deep + b"]",
    "result": lambda deep: b'{"jsonrpc":"2.0","id":1,"result":' + deep + b"}",
    "error": lambda deep: (
        b'{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","data":' + deep + b"}}"
    ),
}


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=100_000),
    opener=st.sampled_from([b"[", b'{"a":', b'{"a":[']),
    where=st.sampled_from(sorted(WRAPPERS)),
    closed=st.booleans(),
)
def test_jsonrpc_decode_of_deep_nesting_never_raises(
    depth: int, opener: bytes, where: str, closed: bool
) -> None:
    closer = {b"[": b"]", b'{"a":': b"}", b'{"a":[': b"]}"}[opener]
    deep = opener * depth + (b"1" if opener != b"[" else b"") + (closer * depth if closed else b"")
    message = jsonrpc.decode(WRAPPERS[where](deep))
    _check_incoming(message)
    if depth > 2_000:  # past any recursion limit: unreadable whatever the wrapper
        assert isinstance(message, jsonrpc.Invalid) and message.error.code == PARSE_ERROR


VALID_MESSAGES = [
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","arguments":{"x":[1,2]},'
    b'"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}',
    b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"r"}}',
    b'{"jsonrpc":"2.0","id":"x","result":{"content":[]}}',
    b'{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"no"}}',
    b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"n"}]',
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID_MESSAGES)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "splice"]))
        at = draw(st.integers(min_value=0, max_value=len(data)))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(min_value=0, max_value=255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=4))]
        else:  # a structural character where it may hurt
            data[at:at] = draw(st.sampled_from([b"[", b"{", b'"', b"\\", b"\xff", b"\\ud800"]))
    return bytes(data)


@FUZZ
@given(mutated())
def test_jsonrpc_decode_of_mutated_messages_never_raises(data: bytes) -> None:
    _check_incoming(jsonrpc.decode(data))


@FUZZ
@given(
    kind=st.sampled_from(["request", "notification", "response", "error"]),
    request_id=request_ids,
    method=methods,
    params=st.none() | st.dictionaries(text, json_values, max_size=3),
    result=json_values,
)
def test_jsonrpc_valid_messages_round_trip(
    kind: str, request_id: Any, method: str, params: Any, result: Any
) -> None:
    if kind == "request":
        message = jsonrpc.decode(jsonrpc.encode_request(request_id, method, params))
        assert isinstance(message, jsonrpc.Request)
        assert (message.id, message.method) == (request_id, method)
    elif kind == "notification":
        message = jsonrpc.decode(jsonrpc.encode_notification(method, params))
        assert isinstance(message, jsonrpc.Notification) and message.method == method
    elif kind == "response":
        message = jsonrpc.decode(jsonrpc.encode_result(request_id, result))
        assert isinstance(message, jsonrpc.Response) and message.id == request_id
        assert msgspec.json.decode(message.result) == result
        return
    else:
        error = ErrorData(-32000, method, result)
        message = jsonrpc.decode(jsonrpc.encode_error(request_id, error))
        assert isinstance(message, jsonrpc.ErrorResponse)
        assert message.id == request_id and message.error == error
        return
    got = None if message.params is None else msgspec.json.decode(message.params)
    assert got == params


# -- the `_meta` envelope (2026-07-28) -----------------------------------------------------------

meta_values = st.fixed_dictionaries(
    {},
    optional={
        PROTOCOL_VERSION_KEY: st.just("2026-07-28") | json_values,
        CLIENT_CAPABILITIES_KEY: st.just({}) | json_values,
        CLIENT_INFO_KEY: st.just({"name": "c", "version": "1"}) | json_values,
        LOG_LEVEL_KEY: st.sampled_from(LOG_LEVELS) | json_values,
        "progressToken": json_values,
        "other": json_values,
    },
)


@FUZZ
@given(meta_values)
def test_parse_modern_of_random_meta_never_raises(meta: dict[str, Any]) -> None:
    envelope = parse_modern(meta)
    assert isinstance(envelope, Envelope | ErrorData)
    if isinstance(envelope, ErrorData):
        assert envelope.code in (INVALID_PARAMS, -32022)


@FUZZ
@given(
    capabilities=st.dictionaries(text, json_values, max_size=3),
    level=st.none() | st.sampled_from(LOG_LEVELS),
    token=st.none() | st.integers() | text,
)
def test_parse_modern_of_valid_meta_keeps_every_field(
    capabilities: dict[str, Any], level: str | None, token: Any
) -> None:
    meta: dict[str, Any] = {
        PROTOCOL_VERSION_KEY: "2026-07-28",
        CLIENT_CAPABILITIES_KEY: capabilities,
    }
    if level is not None:
        meta[LOG_LEVEL_KEY] = level
    if token is not None:
        meta["progressToken"] = token
    envelope = parse_modern(meta)
    assert isinstance(envelope, Envelope) and envelope.modern
    assert envelope.client_capabilities == capabilities
    assert (envelope.log_level, envelope.progress_token) == (level, token)


# -- SSE ---------------------------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_sse_decoder_of_random_chunks_never_raises(chunks: list[bytes]) -> None:
    decoder = SSEDecoder()
    for chunk in chunks:
        for event in decoder.feed(chunk):
            assert isinstance(event, ServerSentEvent)


@FUZZ
@given(
    retry=st.text(alphabet="0123456789\u00b2\u0661", min_size=1, max_size=6000),
)
@example(retry="9" * 5_000)  # past int()'s 4,300 digits: a ValueError out of `feed`
def test_sse_decoder_ignores_a_retry_that_is_no_sane_number(retry: str) -> None:
    events = SSEDecoder().feed(f"retry: {retry}\ndata: x\n\n".encode())
    assert [e.data for e in events] == ["x"]
    sane = retry.isascii() and len(retry) <= 18
    assert events[0].retry == (int(retry) if sane else None)


sse_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@FUZZ
@given(
    data=sse_text,
    event=st.none() | sse_text,
    event_id=st.none() | sse_text,
    retry=st.none() | st.integers(min_value=-5, max_value=10**6),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=4),
)
def test_sse_events_round_trip_or_are_refused_with_value_error(
    data: str, event: str | None, event_id: str | None, retry: int | None, cuts: list[int]
) -> None:
    try:
        wire = encode_event(data, event=event, id=event_id, retry=retry)
    except ValueError:
        breaks = re.compile(r"[\r\n]")
        assert (
            (event is not None and breaks.search(event))
            or (event_id is not None and (breaks.search(event_id) or "\0" in event_id))
            or (retry is not None and retry < 0)
        )
        return
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    start = 0
    for cut in sorted(c for c in cuts if c <= len(wire)):  # split anywhere: the same events
        events += decoder.feed(wire[start:cut])
        start = cut
    events += decoder.feed(wire[start:])
    expected_data = re.sub(r"\r\n|\r|\n", "\n", data)
    assert events == [
        ServerSentEvent(
            data=expected_data,
            event=event or "message",
            id=event_id,
            retry=retry,
        )
    ]


# -- the stdio line framer -----------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=60), max_size=10), st.integers(min_value=1, max_value=80))
def test_line_framer_of_random_chunks_gives_lines_or_line_too_long(
    chunks: list[bytes], max_line: int
) -> None:
    framer = LineFramer(max_line=max_line)
    for chunk in chunks:
        framer.feed(chunk)
        while framer.pending():
            try:
                line = framer.next_line()
            except LineTooLong:
                continue
            assert line is not None and b"\n" not in line and len(line) <= max_line


# -- header values, Mcp-Param-* headers ----------------------------------------------------------


@FUZZ
@given(text)
def test_header_value_encoding_round_trips(value: str) -> None:
    encoded = encode_header_value(value)
    assert encoded.isascii() and "\n" not in encoded and "\r" not in encoded
    assert decode_header_value(encoded) == value


@FUZZ
@given(
    st.text(max_size=60)
    | st.builds(lambda s: "=?base64?" + s + "?=", st.text(max_size=40))
    | st.builds(lambda b: "=?base64?" + b.decode("latin-1") + "?=", st.binary(max_size=40))
)
@example("=?base64?\u00e9?=")  # non-ASCII payload: b64decode raised a plain ValueError
def test_header_value_decoding_never_raises(value: str) -> None:
    decoded = decode_header_value(value)
    assert decoded is None or isinstance(decoded, str)


header_schema_paths = {("region",): "Region", ("n",): "Count", ("opts", "flag"): "Flag"}
header_args = st.fixed_dictionaries(
    {},
    optional={
        "region": st.none() | text | st.integers() | json_values,
        "n": st.none() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1) | json_values,
        "opts": st.none() | st.fixed_dictionaries({}, optional={"flag": st.booleans() | text}),
    },
)


@FUZZ
@given(
    arguments=header_args,
    headers=st.dictionaries(st.sampled_from(["Region", "Count", "Flag"]), st.text(max_size=30)),
)
def test_param_header_check_of_random_headers_never_raises(
    arguments: dict[str, Any], headers: dict[str, str]
) -> None:
    reason = check_param_headers(header_schema_paths, arguments, headers.get, decode_header_value)
    assert reason is None or isinstance(reason, str)


mirrorable_args = st.fixed_dictionaries(
    {},
    optional={
        "region": st.none() | text,
        "n": st.none() | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
        "opts": st.none() | st.fixed_dictionaries({}, optional={"flag": st.booleans() | text}),
    },
)


@FUZZ
@given(mirrorable_args)
def test_param_headers_a_client_sends_pass_the_server_check(arguments: dict[str, Any]) -> None:
    sent = {
        name: encode_header_value(value)
        for name, value in header_values(header_schema_paths, arguments)
    }
    assert (
        check_param_headers(header_schema_paths, arguments, sent.get, decode_header_value) is None
    )


@FUZZ
@given(
    st.text(alphabet="0123456789+-_ \u0661\u00b2\t.e", max_size=30),
    st.integers(-(2**53) + 1, 2**53 - 1),
)
def test_integer_param_header_matches_only_its_decimal_form(header: str, value: int) -> None:
    reason = check_param_headers(
        {("n",): "N"}, {"n": value}, {"N": header}.get, decode_header_value
    )
    stripped = header.strip(" \t")
    if re.fullmatch(r"[+-]?[0-9]{1,64}", stripped) and int(stripped) == value:
        assert reason is None
    else:
        assert reason is not None


# -- HTTP routing: params, headers, the modern ladder --------------------------------------------


@FUZZ
@given(st.binary(max_size=120) | mutated() | st.builds(msgspec.json.encode, json_values))
def test_routing_decode_of_random_params_never_raises(data: bytes) -> None:
    routing = routing_of(msgspec.Raw(data))
    try:
        params = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        params = None
    if isinstance(params, dict):  # what routing reads is what the params say
        assert (routing.meta, routing.name, routing.uri) == tuple(
            params.get(key) for key in ("_meta", "name", "uri")
        )
    else:
        assert (routing.meta, routing.name, routing.uri) == (None, None, None)


header_bytes = st.binary(max_size=40) | st.sampled_from(
    [b"2026-07-28", b"tools/call", b"a", b"=?base64?YQ==?=", b"=?base64?\xc3\xa9?=", b"\xff"]
)


@FUZZ
@given(
    headers=st.dictionaries(
        st.sampled_from([b"mcp-protocol-version", b"mcp-method", b"mcp-name", b"accept"]),
        header_bytes,
    ),
    method=st.sampled_from(["tools/call", "resources/read", "tools/list"]),
    params=st.binary(max_size=80)
    | st.builds(msgspec.json.encode, meta_values.map(lambda m: {"_meta": m, "name": "a"})),
)
def test_modern_ladder_of_random_headers_and_params_never_raises(
    headers: dict[bytes, bytes], method: str, params: bytes
) -> None:
    request = jsonrpc.Request(1, method, msgspec.Raw(params))
    found = modern_ladder(headers, header_version(headers), request, routing_of(request.params))
    if found is not None:
        status, error = found
        assert status == 400 and isinstance(error, ErrorData)
    accepts_json_sse(headers.get(b"accept"))


# -- URI templates (another engineer is rewriting `match`: only "never raises" here) -----------

TEMPLATES = [
    UriTemplate("file:///{name}"),
    UriTemplate("weather://{city}/current"),
    UriTemplate("repo://{owner}/{repo}/files/{path*}"),
    UriTemplate("search://q{?term,limit}"),
]


@FUZZ
@given(
    template=st.sampled_from(TEMPLATES),
    uri=st.text(max_size=60)
    | st.builds(
        lambda prefix, tail: prefix + tail,
        st.sampled_from(["file:///", "weather://", "repo://o/r/files/", "search://q?term="]),
        st.text(alphabet="%2Fa./\x00?&=#%00..", max_size=30),
    ),
)
def test_uri_template_match_never_raises(template: UriTemplate, uri: str) -> None:
    found = template.match(uri)
    assert found is None or all(isinstance(v, str) for v in found.values())


# -- MRTR requestState --------------------------------------------------------------------------

KEYS = mrtr.MrtrKeys([b"fuzz-key"])
B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _sealed_state(answers: int = 1) -> str:
    round = mrtr.begin_round(KEYS, "tools/call", {"a": 1}, None, None)
    for index in range(answers):
        round.answers.append({"answer": index})
    result = mrtr.input_required_result(KEYS, round, mrtr.InputRequired(f"input-{answers}", {}))
    assert result.requestState is not None
    return result.requestState


@FUZZ
@given(st.text(max_size=120) | st.builds(lambda b: b.decode("latin-1"), st.binary(max_size=120)))
def test_random_request_state_is_refused_with_32602(token: str) -> None:
    with pytest.raises(McpError) as caught:
        mrtr.begin_round(KEYS, "tools/call", {"a": 1}, token, {})
    assert caught.value.error.code == INVALID_PARAMS


@FUZZ
@given(
    at=st.integers(min_value=0, max_value=10_000),
    replacement=st.text(min_size=1, max_size=3),
    responses=st.none() | json_values,
)
def test_mutated_request_state_is_refused_with_32602(
    at: int, replacement: str, responses: Any
) -> None:
    token = _sealed_state()
    at %= len(token)
    mutated_token = token[:at] + replacement + token[at + 1 :]
    if mutated_token == token:
        return
    with pytest.raises(McpError) as caught:
        mrtr.begin_round(KEYS, "tools/call", {"a": 1}, mutated_token, responses)
    assert caught.value.error.code == INVALID_PARAMS


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:5] + "!" + t[5:],  # a character base64 decoding would skip
        lambda t: t[:5] + "\n" + t[5:],
        lambda t: t + "=",  # padding
        lambda t: t[:-1] + B64URL[B64URL.index(t[-1]) ^ 1],  # the last one's unused low bit
    ],
    ids=["foreign-char", "newline", "padding", "last-char"],
)
def test_request_state_is_one_exact_string_not_any_that_decodes_alike(mutate: Any) -> None:
    token = _sealed_state()
    with pytest.raises(McpError):
        mrtr.begin_round(KEYS, "tools/call", {"a": 1}, mutate(token), {})


@FEW
@given(answer=st.dictionaries(text, json_values, max_size=3), answers=st.integers(0, 5))
def test_sealed_request_state_round_trips_its_answers(answer: dict[str, Any], answers: int) -> None:
    token = _sealed_state(answers)
    round = mrtr.begin_round(KEYS, "tools/call", {"a": 1}, token, {f"input-{answers}": answer})
    assert round.answers == [*({"answer": i} for i in range(answers)), answer]


# -- Last-Event-ID ------------------------------------------------------------------------------


@FUZZ
@given(
    st.text(max_size=60)
    | st.builds(
        lambda stream, seq: stream + "." + seq,
        st.text(max_size=20),
        st.text(alphabet="0123456789\u00b2\u0661\u0662-_+ ", max_size=5_000),
    )
)
@example("sid.0.\u00b2")  # passes str.isdigit, fails int()
@example("sid.0." + "9" * 5_000)  # past int()'s 4,300 digits
def test_last_event_id_parsing_never_raises(event_id: str) -> None:
    parsed = parse_event_id(event_id)
    assert stream_of(event_id) == (None if parsed is None else parsed[0])
    if parsed is not None:
        stream, seq = parsed
        assert stream and 0 <= seq < 10**18
        assert event_id.endswith(str(seq)) and event_id.rpartition(".")[2].isascii()


@FUZZ
@given(stream=st.text(min_size=1, max_size=40), seq=st.integers(min_value=0, max_value=10**18 - 1))
def test_event_ids_of_ours_round_trip(stream: str, seq: int) -> None:
    assert parse_event_id(f"{stream}.{seq}") == (stream, seq)
