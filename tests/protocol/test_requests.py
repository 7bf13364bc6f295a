"""The sans-I/O request tables (`trimcp.protocol.requests`), with no event loop.

Requests go in, decisions come out: what to refuse, what to cancel, whether a request that
finished was cut, which waiter an answer is for.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimcp.protocol.errors import INVALID_REQUEST, REQUEST_CANCELLED, SERVER_BUSY, ErrorData
from trimcp.protocol.requests import (
    CUT_AT_SHUTDOWN,
    DUPLICATE_ID,
    Cut,
    InflightTable,
    OutboundTable,
    RequestPhase,
    SharedLimit,
    busy_error,
)

CUT = ErrorData(REQUEST_CANCELLED, "cut")


class Handle:
    """Stands for the runtime's cancel scope: the table never touches it."""

    def __init__(self, name: str) -> None:
        self.name = name


# -- inbound: admission --------------------------------------------------------------------


def test_a_request_is_admitted_queued_and_its_id_cannot_be_reused_while_in_flight() -> None:
    table: InflightTable[Handle] = InflightTable()
    assert table.admit(1) is None
    assert table.phase(1) is RequestPhase.QUEUED
    assert table.admit(1) is DUPLICATE_ID
    assert DUPLICATE_ID.code == INVALID_REQUEST
    assert len(table) == 1  # the refused one never entered


def test_an_id_is_free_again_once_its_request_finished() -> None:
    table: InflightTable[Handle] = InflightTable()
    table.admit("a")
    table.start("a", Handle("a"))
    assert table.answering("a") is None
    assert table.finish("a") is True  # the table is empty
    assert table.admit("a") is None


def test_past_the_limit_a_request_is_refused_busy_and_costs_nothing() -> None:
    refusal = busy_error("for this session")
    table: InflightTable[Handle] = InflightTable(limit=2, refusal=refusal)
    assert table.admit(1) is None and table.admit(2) is None
    assert table.full()
    assert table.admit(3) is refusal
    assert refusal.code == SERVER_BUSY
    assert 3 not in table and len(table) == 2


def test_the_limit_is_checked_before_the_duplicate_id() -> None:
    # over HTTP a batch past the session's limit gets busy for every request, duplicates too
    table: InflightTable[Handle] = InflightTable(limit=1)
    table.admit(1)
    assert table.admit(1) is table.refusal


def test_a_shared_limit_counts_the_requests_of_every_table_and_is_released_on_finish() -> None:
    shared = SharedLimit(2, busy_error("on this server"))
    first: InflightTable[Handle] = InflightTable(limit=10, shared=shared)
    second: InflightTable[Handle] = InflightTable(limit=10, shared=shared)
    assert first.admit(1) is None and second.admit(1) is None  # ids are per table
    assert shared.count == 2 and first.full()
    assert second.admit(2) is shared.refusal
    first.start(1, Handle("1"))
    first.answering(1)
    first.finish(1)
    assert shared.count == 1
    assert second.admit(2) is None


def test_the_own_limit_answers_before_the_shared_one() -> None:
    shared = SharedLimit(1, busy_error("on this server"))
    table: InflightTable[Handle] = InflightTable(limit=1, shared=shared)
    table.admit(1)
    assert table.admit(2) is table.refusal  # the more specific answer (HTTP 429, not 503)


def test_clearing_a_table_releases_its_share_and_later_finishes_are_no_ops() -> None:
    shared = SharedLimit(None, busy_error("on this server"))
    table: InflightTable[Handle] = InflightTable(shared=shared)
    for n in range(3):
        table.admit(n)
    table.clear()
    assert shared.count == 0 and len(table) == 0
    assert table.finish(1) is True
    assert shared.count == 0


# -- inbound: running, answering, cancelling -----------------------------------------------


def test_a_running_request_is_cancelled_through_its_handle_and_its_cut_wins() -> None:
    table: InflightTable[Handle] = InflightTable()
    handle = Handle("scope")
    table.admit(7)
    assert table.start(7, handle) is None
    assert table.phase(7) is RequestPhase.RUNNING
    decision = table.cancel(7, CUT)
    assert decision.cancelled and decision.handle is handle
    assert table.phase(7) is RequestPhase.CANCELLED
    cut = table.answering(7)  # the handler is done: it was cut, answer the cut
    assert isinstance(cut, Cut) and cut.answer is CUT
    assert len(table) == 1  # in flight until the cut answer is written
    table.finish(7)
    assert len(table) == 0


def test_a_queued_request_cancelled_never_starts() -> None:
    table: InflightTable[Handle] = InflightTable()
    table.admit(1)
    decision = table.cancel(1)
    assert decision.cancelled and decision.handle is None  # nothing running to cancel
    cut = table.start(1, Handle("1"))
    assert cut is not None and cut.answer is None  # cancelled: not run, not answered


def test_an_answering_request_can_no_longer_be_cancelled() -> None:
    table: InflightTable[Handle] = InflightTable()
    table.admit(1)
    table.start(1, Handle("1"))
    assert table.answering(1) is None
    assert table.phase(1) is RequestPhase.ANSWERING
    assert table.cancel(1, CUT) == (False, None)
    assert table.cancellable() == []


def test_unknown_and_already_cancelled_requests_are_left_alone() -> None:
    table: InflightTable[Handle] = InflightTable()
    assert table.cancel("nope") == (False, None)
    table.admit(1)
    table.start(1, Handle("1"))
    assert table.cancel(1).cancelled
    assert table.cancel(1, CUT) == (False, None)
    cut = table.answering(1)
    assert cut is not None and cut.answer is None  # the first decision stands


def test_cancel_all_cuts_every_cancellable_request_with_the_answer_and_returns_the_running_handles() -> (
    None
):
    table: InflightTable[Handle] = InflightTable()
    running, answering = Handle("running"), Handle("answering")
    for key in ("queued", "running", "answering"):
        table.admit(key)
    table.start("running", running)
    table.start("answering", answering)
    table.answering("answering")
    assert sorted(table.cancellable()) == ["queued", "running"]  # type: ignore[type-var]
    assert table.cancel_all(CUT_AT_SHUTDOWN) == [running]
    assert table.cancellable() == []
    for key in ("queued", "running"):
        cut = table.answering(key)
        assert cut is not None and cut.answer is CUT_AT_SHUTDOWN
    assert CUT_AT_SHUTDOWN.code == REQUEST_CANCELLED


def test_a_request_the_table_no_longer_holds_finishes_as_cut_without_an_answer() -> None:
    table: InflightTable[Handle] = InflightTable()
    table.admit(1)
    table.start(1, Handle("1"))
    table.clear()  # the connection went away while it ran
    cut = table.answering(1)
    assert cut is not None and cut.answer is None
    assert table.phase(1) is None


def test_keys_need_not_be_request_ids() -> None:
    # stateless HTTP: ids are not unique across clients, so each request is keyed by a token
    table: InflightTable[Handle] = InflightTable()
    first, second = Handle("a"), Handle("b")
    assert table.admit(first) is None and table.admit(second) is None
    assert table.cancel(second).cancelled


# -- a property: whatever happens, the table's count and limit stay consistent --------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["admit", "start", "answering", "finish", "cancel", "cancel_all"]),
        st.integers(min_value=0, max_value=5),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(operations, st.integers(min_value=0, max_value=4))
def test_the_table_never_exceeds_its_limit_and_cancellable_requests_are_queued_or_running(
    ops: list[tuple[str, int]], limit: int
) -> None:
    shared = SharedLimit(limit + 1, busy_error("on this server"))
    table: InflightTable[Handle] = InflightTable(limit=limit, shared=shared)
    for op, key in ops:
        if op == "admit":
            before = key in table
            refused = table.admit(key)
            if before:
                assert refused is not None
        elif op == "start" and table.phase(key) is RequestPhase.QUEUED:
            assert table.start(key, Handle(str(key))) is None
        elif op == "answering" and table.phase(key) in (
            RequestPhase.RUNNING,
            RequestPhase.CANCELLED,
        ):
            was_cut = table.phase(key) is RequestPhase.CANCELLED
            assert (table.answering(key) is not None) == was_cut
        elif op == "finish":
            table.finish(key)
        elif op == "cancel":
            phase = table.phase(key)
            decision = table.cancel(key)
            assert decision.cancelled == (phase in (RequestPhase.QUEUED, RequestPhase.RUNNING))
            assert (decision.handle is not None) == (phase is RequestPhase.RUNNING)
        elif op == "cancel_all":
            table.cancel_all(CUT)
        assert len(table) <= limit
        assert shared.count == len(table)
        for cancellable in table.cancellable():
            assert table.phase(cancellable) in (RequestPhase.QUEUED, RequestPhase.RUNNING)


# -- outbound ------------------------------------------------------------------------------


def test_outbound_ids_count_up_with_the_prefix_or_as_integers() -> None:
    # from 0, as the official SDK numbers (its first request after initialize is 1)
    assert [OutboundTable[object]().next_id() for _ in range(2)] == [0, 0]
    table: OutboundTable[object] = OutboundTable(prefix="s")
    assert [table.next_id(), table.next_id()] == ["s0", "s1"]
    plain: OutboundTable[object] = OutboundTable()
    assert [plain.next_id(), plain.next_id()] == [0, 1]


def test_an_answer_finds_its_waiter_and_a_late_or_unknown_one_finds_none() -> None:
    table: OutboundTable[str] = OutboundTable()
    rid = table.next_id()
    table.expect(rid, "waiter")
    assert table.resolve(rid) == "waiter"
    assert table.resolve(None) is None  # the peer could not read something we sent
    assert table.resolve(999) is None
    table.forget(rid)  # answered (or timed out): a late answer finds nobody
    assert table.resolve(rid) is None
    assert len(table) == 0


def test_fail_all_hands_back_every_waiter_once() -> None:
    table: OutboundTable[str] = OutboundTable()
    for name in ("a", "b"):
        table.expect(table.next_id(), name)
    assert sorted(table.fail_all()) == ["a", "b"]
    assert table.fail_all() == []


@pytest.mark.parametrize("answer", [None, CUT])
def test_a_cut_remembers_its_answer(answer: ErrorData | None) -> None:
    assert Cut(answer).answer is answer


def test_pop_answers_and_finishes_at_once_and_reports_a_cut() -> None:
    shared = SharedLimit(None, busy_error("on this server"))
    table: InflightTable[Handle] = InflightTable(shared=shared)
    for key in (1, 2):
        table.admit(key)
        table.start(key, Handle(str(key)))
    table.cancel(2, CUT)
    assert table.pop(1) is None
    cut = table.pop(2)
    assert cut is not None and cut.answer is CUT
    assert len(table) == 0 and shared.count == 0
    gone = table.pop(1)  # no longer held: cut without an answer, nothing counted twice
    assert gone is not None and gone.answer is None and shared.count == 0
