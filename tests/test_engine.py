"""`RequestEngine` (`trimcp.runtime.engine`) on its own, on asyncio and trio: the one
exception boundary, both ways to serve a request, cancellation, batches and correlation.

The transports over it are tested end to end elsewhere (test_server_protocol, test_shutdown,
test_http_streamable, test_request_limits, test_error_boundary); here each rule is pinned
where it lives, with in-memory senders and gated handlers.
"""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from trimcp.exceptions import McpError
from trimcp.protocol.errors import INTERNAL_ERROR, INVALID_PARAMS, REQUEST_CANCELLED, ErrorData
from trimcp.protocol.jsonrpc import Batch, ErrorResponse, Notification, Request, Response
from trimcp.protocol.requests import CUT_AT_SHUTDOWN, DUPLICATE_ID, SharedLimit, busy_error
from trimcp.runtime.engine import PeerClosed, RequestEngine

pytestmark = pytest.mark.anyio

SECRET = "SECRET-do-not-send"


class Gates:
    """A handler: method `gate-<name>` waits for `open(name)`; `boom` raises; `bad` raises
    `McpError`; `unencodable` returns what JSON cannot carry; anything else echoes."""

    def __init__(self) -> None:
        self.entered: dict[str, anyio.Event] = {}
        self.gates: dict[str, anyio.Event] = {}

    def entry(self, name: str) -> anyio.Event:
        return self.entered.setdefault(name, anyio.Event())

    def gate(self, name: str) -> anyio.Event:
        return self.gates.setdefault(name, anyio.Event())

    async def __call__(self, request: Request, channel: Any) -> Any:
        method = request.method
        if method.startswith("gate-"):
            self.entry(method[5:]).set()
            await self.gate(method[5:]).wait()
        elif method == "boom":
            raise RuntimeError(SECRET)
        elif method == "bad":
            raise McpError(INVALID_PARAMS, "bad params")
        elif method == "unencodable":
            return {"value": object()}
        return {"method": method, "channel": channel}


def masking_policy(request: Request, exc: Exception) -> tuple[Any, ErrorData | None]:
    return None, ErrorData(INTERNAL_ERROR, "masked")


def request(request_id: Any, method: str) -> Request:
    return Request(request_id, method)


def decode(data: bytes) -> Any:
    return msgspec.json.decode(data)


# -- the exception boundary ----------------------------------------------------------------


async def test_the_boundary_encodes_results_passes_mcp_errors_and_hands_the_rest_to_the_policy():
    engine = RequestEngine(Gates(), fault=masking_policy)
    answer = await engine.respond(request(1, "echo"), "chan")
    assert isinstance(answer, bytes)
    assert decode(answer)["result"] == {"method": "echo", "channel": "chan"}
    assert await engine.respond(request(2, "bad"), None) == ErrorData(INVALID_PARAMS, "bad params")
    assert await engine.respond(request(3, "boom"), None) == ErrorData(INTERNAL_ERROR, "masked")
    # a result JSON cannot carry is a fault like any other
    assert await engine.respond(request(4, "unencodable"), None) == ErrorData(
        INTERNAL_ERROR, "masked"
    )


async def test_a_policy_may_answer_a_fault_with_a_result():
    def as_result(request: Request, exc: Exception) -> tuple[Any, ErrorData | None]:
        return {"isError": True}, None

    engine = RequestEngine(Gates(), fault=as_result)
    answer = await engine.respond(request(1, "boom"), None)
    assert isinstance(answer, bytes) and decode(answer)["result"] == {"isError": True}


async def test_a_broken_policy_still_answers_a_bare_internal_error_without_the_text():
    def broken(request: Request, exc: Exception) -> tuple[Any, ErrorData | None]:
        raise ValueError(str(exc))

    engine = RequestEngine(Gates(), fault=broken)
    answer = await engine.respond(request(1, "boom"), None)
    assert answer == ErrorData(INTERNAL_ERROR, "Internal error")


async def test_the_default_policy_never_sends_the_text_of_an_exception():
    answer = await RequestEngine(Gates()).respond(request(1, "boom"), None)
    assert isinstance(answer, ErrorData) and SECRET not in answer.message


# -- serving under the request's own scope (HTTP, batches) ---------------------------------


async def test_serve_returns_the_answer_and_frees_the_id():
    engine = RequestEngine(Gates())
    assert engine.admit(1) is None
    answer = await engine.serve(request(1, "echo"), None, scope=anyio.CancelScope())
    assert isinstance(answer, bytes) and len(engine) == 0
    assert engine.admit(1) is None


async def test_a_request_cancelled_by_its_id_gets_no_answer_and_one_cut_at_shutdown_gets_it():
    gates = Gates()
    engine = RequestEngine(gates)
    answers: dict[str, Any] = {}

    async def serve(request_id: int, name: str) -> None:
        engine.admit(request_id)
        answers[name] = await engine.serve(
            request(request_id, f"gate-{name}"), None, scope=anyio.CancelScope()
        )

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve, 1, "one")
            tg.start_soon(serve, 2, "two")
            await gates.entry("one").wait()
            await gates.entry("two").wait()
            assert sorted(engine.inflight_ids()) == [1, 2]  # type: ignore[type-var]
            assert engine.cancel(1)  # notifications/cancelled
            assert not engine.cancel(1)  # once
            assert engine.inflight_ids() == [2]
            assert engine.cancel_inflight(CUT_AT_SHUTDOWN) == 1
    assert answers == {"one": None, "two": CUT_AT_SHUTDOWN}
    assert len(engine) == 0


async def test_an_unkeyed_engine_admits_equal_ids_and_cancels_by_key():
    gates = Gates()
    engine = RequestEngine(gates, keyed=False)
    first, second = anyio.CancelScope(), anyio.CancelScope()
    assert engine.admit(first) is None and engine.admit(second) is None
    answers: dict[str, Any] = {}

    async def serve(scope: anyio.CancelScope, name: str) -> None:
        answers[name] = await engine.serve(request(1, f"gate-{name}"), None, scope=scope, key=scope)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve, first, "a")
            tg.start_soon(serve, second, "b")
            await gates.entry("a").wait()
            await gates.entry("b").wait()
            engine.cancel(first)  # a disconnect
            gates.gate("b").set()
    assert answers["a"] is None and isinstance(answers["b"], bytes)


async def test_the_session_limit_and_the_shared_limit_refuse_with_their_own_errors():
    shared = SharedLimit(2, busy_error("on this server"))
    mine = RequestEngine(Gates(), limit=1, refusal=busy_error("for this session"), shared=shared)
    other = RequestEngine(Gates(), limit=5, shared=shared)
    assert mine.admit(1) is None
    assert mine.admit(2) is mine.refusal
    assert mine.admit(1) is mine.refusal  # the limit answers first, as HTTP's 429 does
    assert other.admit(1) is None
    assert other.admit(2) is shared.refusal and other.full()
    assert RequestEngine(Gates()).admit(1) is None


async def test_a_duplicate_id_in_flight_is_refused():
    engine = RequestEngine(Gates())
    engine.admit("x")
    assert engine.admit("x") is DUPLICATE_ID


# -- serving on a worker's scope (stdio, in-memory, legacy SSE) ----------------------------


async def test_serve_queued_writes_the_answer_and_a_cut_one_after_unwinding():
    gates = Gates()
    engine = RequestEngine(gates)
    written: list[Any] = []

    async def send(data: bytes) -> None:
        written.append(decode(data))

    async def worker(request_id: int, method: str) -> None:
        engine.admit(request_id)
        with anyio.CancelScope() as scope:
            spent = await engine.serve_queued(scope, request(request_id, method), None, send)
            assert not spent

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, 1, "echo")
            tg.start_soon(worker, 2, "gate-held")
            await gates.entry("held").wait()
            engine.cancel_inflight(CUT_AT_SHUTDOWN)
            await engine.wait_idle()  # waits for the cut answer to be written
    by_id = {message["id"]: message for message in written}
    assert by_id[1]["result"]["method"] == "echo"
    assert by_id[2]["error"] == {"code": REQUEST_CANCELLED, "message": CUT_AT_SHUTDOWN.message}


async def test_serve_queued_of_a_request_cancelled_while_queued_never_runs_it():
    gates = Gates()
    engine = RequestEngine(gates)
    written: list[bytes] = []

    async def send(data: bytes) -> None:
        written.append(data)

    engine.admit(1)
    assert engine.cancel(1)  # notifications/cancelled before a worker took it
    with anyio.CancelScope() as scope:
        assert not await engine.serve_queued(scope, request(1, "gate-never"), None, send)
    assert written == [] and "never" not in gates.entered and len(engine) == 0


async def test_wait_idle_returns_at_once_with_nothing_in_flight_and_after_close():
    engine = RequestEngine(Gates())
    with anyio.fail_after(5):
        await engine.wait_idle()
        engine.admit(1)
        engine.close()
        await engine.wait_idle()
    assert len(engine) == 0 and engine.closed


# -- batches -------------------------------------------------------------------------------


async def test_a_batch_is_served_concurrently_and_answered_in_one_reply():
    gates = Gates()
    engine = RequestEngine(gates, limit=4)
    engine.admit("busy-elsewhere")  # one in flight outside the batch
    notified: list[str] = []
    replies: list[list[Any]] = []

    async def notify(notification: Notification) -> None:
        notified.append(notification.method)

    async def write(batch_replies: list[bytes]) -> None:
        replies.append([decode(reply) for reply in batch_replies])

    batch = Batch(
        [
            request(1, "echo"),
            request(2, "boom"),
            request(2, "echo"),  # a duplicate of an id in flight: refused alone
            Notification("notifications/initialized"),
            request(3, "echo"),
            request(4, "echo"),  # past the limit (4 with "busy-elsewhere", 1, 2 and 3)
        ]
    )
    with anyio.fail_after(5):
        await engine.serve_batch(batch, channel=lambda r: None, notify=notify, write=write)
    by_id: dict[Any, list[Any]] = {}
    for reply in replies[0]:
        by_id.setdefault(reply["id"], []).append(reply)
    assert by_id[1][0]["result"]["method"] == "echo"
    assert {r["error"]["code"] for r in by_id[2]} == {INTERNAL_ERROR, DUPLICATE_ID.code}
    assert by_id[3][0]["result"]["method"] == "echo"
    assert by_id[4][0]["error"]["message"] == engine.refusal.message
    assert notified == ["notifications/initialized"]
    assert list(engine.inflight_ids()) == ["busy-elsewhere"]


@pytest.mark.parametrize("cancelled", [None, ErrorData(REQUEST_CANCELLED, "Request cancelled")])
async def test_a_batch_request_cut_at_shutdown_is_answered_in_the_reply_others_as_the_transport_says(
    cancelled: ErrorData | None,
):
    gates = Gates()
    engine = RequestEngine(gates)
    replies: list[Any] = []

    async def write(batch_replies: list[bytes]) -> None:
        replies.extend(decode(reply) for reply in batch_replies)

    async def notify(notification: Notification) -> None:
        pass

    async def serve() -> None:
        await engine.serve_batch(
            batch, channel=lambda r: None, notify=notify, write=write, cancelled=cancelled
        )

    batch = Batch([request(1, "gate-cut"), request(2, "gate-cancelled"), request(3, "quick")])
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(serve)
            await gates.entry("cut").wait()
            await gates.entry("cancelled").wait()
            assert engine.cancel(2)  # notifications/cancelled
            engine.cancel_inflight(CUT_AT_SHUTDOWN)
            await engine.wait_idle()  # the batch's requests stay in flight until its reply
    by_id = {reply["id"]: reply for reply in replies}
    assert by_id[1]["error"]["message"] == CUT_AT_SHUTDOWN.message
    assert by_id[3]["result"]["method"] == "quick"
    if cancelled is None:
        assert 2 not in by_id  # a stream leaves a cancelled request unanswered
    else:
        assert by_id[2]["error"]["message"] == "Request cancelled"


async def test_a_batch_item_limit_refuses_the_requests_past_it():
    engine = RequestEngine(Gates(), refusal=busy_error("for this session"))
    replies: list[Any] = []

    async def write(batch_replies: list[bytes]) -> None:
        replies.extend(decode(reply) for reply in batch_replies)

    async def notify(notification: Notification) -> None:
        pass

    batch = Batch([request(n, "echo") for n in range(4)])
    with anyio.fail_after(5):
        await engine.serve_batch(
            batch, channel=lambda r: None, notify=notify, write=write, item_limit=2
        )
    assert sorted(r["id"] for r in replies if "result" in r) == [0, 1]
    assert sorted(r["id"] for r in replies if "error" in r) == [2, 3]


# -- outbound correlation ------------------------------------------------------------------


async def test_an_outbound_request_gets_its_answer_or_its_error():
    engine = RequestEngine(Gates(), id_prefix="s")
    sent: list[Any] = []

    async def send(data: bytes) -> None:
        message = decode(data)
        sent.append(message)
        if message["method"] == "ok":
            engine.resolve(Response(message["id"], msgspec.Raw(b'{"x":1}')))
        else:
            engine.resolve(ErrorResponse(message["id"], ErrorData(INVALID_PARAMS, "no")))

    with anyio.fail_after(5):
        assert bytes(await engine.request(send, "ok")) == b'{"x":1}'
        with pytest.raises(McpError) as caught:
            await engine.request(send, "refused")
    assert caught.value.error == ErrorData(INVALID_PARAMS, "no")
    assert [m["id"] for m in sent] == ["s0", "s1"]
    assert not engine.resolve(Response("s0", msgspec.Raw(b"{}")))  # late: nobody waits


async def test_an_outbound_request_that_times_out_is_announced_cancelled():
    engine = RequestEngine(Gates())
    sent: list[Any] = []
    cancels: list[Any] = []

    async def send(data: bytes) -> None:
        sent.append(decode(data))

    async def send_cancel(data: bytes) -> None:
        cancels.append(decode(data))

    with anyio.fail_after(5), pytest.raises(TimeoutError):
        await engine.request(send, "slow", timeout=0.01, send_cancel=send_cancel)
    assert cancels[0]["method"] == "notifications/cancelled"
    assert cancels[0]["params"]["requestId"] == sent[0]["id"]


async def test_closing_fails_waiting_requests_with_peer_closed_and_refuses_new_ones():
    engine = RequestEngine(Gates())
    outcome: list[BaseException] = []
    sent = anyio.Event()

    async def send(data: bytes) -> None:
        sent.set()

    async def wait() -> None:
        try:
            await engine.request(send, "never")
        except PeerClosed as exc:
            outcome.append(exc)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await sent.wait()
            engine.close("session ended")
    assert str(outcome[0]) == "session ended"
    with pytest.raises(PeerClosed):
        await engine.request(send, "after")


async def test_a_request_that_could_not_be_sent_is_peer_closed_and_not_announced():
    engine = RequestEngine(Gates())
    cancels: list[bytes] = []

    async def send(data: bytes) -> None:
        raise anyio.BrokenResourceError

    async def send_cancel(data: bytes) -> None:
        cancels.append(data)

    with pytest.raises(PeerClosed):
        await engine.request(send, "x", send_cancel=send_cancel)
    assert cancels == []
