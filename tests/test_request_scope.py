"""The per-request cancel scope of `trimcp._backend.cancel_scope_class()` (`TrioRequestScope` on
trio, a lean stand-in for trio's own scope in trio's cancellation tree; on asyncio
`RequestScope`, which touches no anyio bookkeeping): the same contract on both backends as
anyio's scopes keep, for what the HTTP endpoint uses of it."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from trimcp._backend import cancel_scope_class

pytestmark = pytest.mark.anyio

WAIT = 5


@pytest.fixture(autouse=True)
def no_scope_left_listed(anyio_backend: str) -> Any:
    """trio: every request scope a test entered is off `open_lazy` once left (no task is
    kept there)."""
    yield
    if anyio_backend == "trio":
        from trimcp._backend_trio import trio_request_scope_class

        assert not getattr(trio_request_scope_class(), "open_lazy", {})


async def test_a_cancel_lands_on_the_next_wait_and_is_swallowed_at_the_exit() -> None:
    scope = cancel_scope_class()()
    reached = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:

            async def request() -> None:
                with scope:
                    reached.append("in")
                    await anyio.sleep_forever()
                reached.append("after")  # the scope swallowed its own cancellation

            tg.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
    assert reached == ["in", "after"]
    assert scope.cancel_called and scope.cancelled_caught
    await anyio.lowlevel.checkpoint()  # this task can still wait: no cancellation is left pending


async def test_a_cancel_before_entering_lands_at_the_first_wait() -> None:
    scope = cancel_scope_class()()
    scope.cancel()
    with anyio.fail_after(WAIT):
        with scope:
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    await anyio.lowlevel.checkpoint()


async def test_a_request_that_never_waits_ends_as_if_nothing_happened() -> None:
    scope = cancel_scope_class()()
    with scope:
        scope.cancel()  # from the request itself, with no wait after it
    assert scope.cancel_called and not scope.cancelled_caught
    await anyio.lowlevel.checkpoint()  # nothing left pending on this task


async def test_a_shielded_scope_inside_holds_and_the_cancel_lands_after_it() -> None:
    scope = cancel_scope_class()()
    released = anyio.Event()
    steps: list[str] = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:

            async def request() -> None:
                with scope:
                    with anyio.CancelScope(shield=True):
                        await released.wait()  # not interrupted by the request's cancel
                        steps.append("cleanup done")
                    steps.append("past the shield")
                    await anyio.sleep_forever()
                steps.append("after")

            tg.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
            for _ in range(5):  # several turns of the loop: the shield keeps holding
                await anyio.lowlevel.checkpoint()
            assert steps == []
            released.set()
    assert steps == ["cleanup done", "past the shield", "after"]
    assert scope.cancelled_caught


async def test_task_groups_inside_are_cancelled_with_the_request() -> None:
    scope = cancel_scope_class()()
    children_cancelled = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as outer:

            async def child() -> None:
                try:
                    await anyio.sleep_forever()
                except anyio.get_cancelled_exc_class():
                    children_cancelled.append(True)
                    raise

            async def request() -> None:
                with scope:
                    async with anyio.create_task_group() as inner:
                        inner.start_soon(child)
                        inner.start_soon(child)
                        await anyio.sleep_forever()

            outer.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
    assert children_cancelled == [True, True] and scope.cancelled_caught


async def test_a_cancel_reaches_a_wait_inside_scopes_entered_in_the_request() -> None:
    """The request waits two scopes deep (a deadline, a plain scope) when it is cancelled: the
    cancellation reaches it through both and is the request's own at the exit. (trio: the
    request scope's status is put in above those scopes only when it is cancelled.)"""
    scope = cancel_scope_class()()
    steps: list[str] = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:

            async def request() -> None:
                with scope:
                    with anyio.move_on_after(WAIT * 10) as deadline:
                        with anyio.CancelScope() as plain:
                            await anyio.sleep_forever()
                        steps.append(f"plain caught: {plain.cancelled_caught}")
                    steps.append(f"deadline caught: {deadline.cancelled_caught}")
                steps.append("after")

            tg.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
    assert steps == ["after"]  # the inner scopes let it through; the request's scope took it
    assert scope.cancelled_caught
    await anyio.lowlevel.checkpoint()


async def test_a_cancel_from_inside_a_nested_scope_lands_at_the_next_wait() -> None:
    scope = cancel_scope_class()()
    steps: list[str] = []
    with anyio.fail_after(WAIT):
        with scope:
            with anyio.CancelScope():  # noqa: ASYNC100 (a scope to be nested in, no wait)
                scope.cancel()  # the request cancelling itself, one scope deep
                steps.append("no wait yet: still running")
            steps.append("left the inner scope")
            await anyio.sleep_forever()
    assert steps == ["no wait yet: still running", "left the inner scope"]
    assert scope.cancelled_caught
    await anyio.lowlevel.checkpoint()


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_a_request_in_a_task_that_moves_nursery_is_still_cancelled() -> None:
    """trio: a task that `nursery.start()` made enters a request scope before `started()`
    moves it, and its cancel statuses, to the nursery: the cancel still lands."""
    import trio
    import trio.testing

    scope = cancel_scope_class()()
    steps: list[str] = []
    with anyio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:

            async def request(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
                with scope:
                    task_status.started()
                    await trio.sleep_forever()
                steps.append("after")

            await nursery.start(request)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
    assert steps == ["after"] and scope.cancelled_caught


@pytest.mark.parametrize("cancelled", ["outer", "inner"])
async def test_request_scopes_nested_directly(cancelled: str) -> None:
    """Two request scopes, one straight inside the other (trio: both would have the task's
    status as their parent): the one cancelled ends what it encloses and takes the cancel."""
    outer, inner = cancel_scope_class()(), cancel_scope_class()()
    steps: list[str] = []
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:

            async def request() -> None:
                with outer:
                    with inner:
                        await anyio.sleep_forever()
                    steps.append("inner done")
                    await anyio.lowlevel.checkpoint()  # cut here if the outer one is cancelled
                steps.append("after")

            tg.start_soon(request)
            await anyio.wait_all_tasks_blocked()
            (outer if cancelled == "outer" else inner).cancel()
    if cancelled == "outer":
        assert steps == ["after"]
        assert outer.cancelled_caught and not inner.cancel_called and not inner.cancelled_caught
    else:
        assert steps == ["inner done", "after"]
        assert inner.cancelled_caught and not outer.cancel_called and not outer.cancelled_caught
    await anyio.lowlevel.checkpoint()


async def test_a_cancel_after_the_exit_changes_nothing() -> None:
    scope = cancel_scope_class()()
    with scope:
        await anyio.lowlevel.checkpoint()
    scope.cancel()
    assert scope.cancel_called and not scope.cancelled_caught
    await anyio.lowlevel.checkpoint()  # this task is not cancelled


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_a_request_scope_cancelled_is_seen_as_a_past_deadline() -> None:
    import math

    scope = cancel_scope_class()()
    with scope:
        assert anyio.current_effective_deadline() == math.inf
        scope.cancel()
        assert anyio.current_effective_deadline() == -math.inf
    assert anyio.current_effective_deadline() == math.inf


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_misnesting_is_refused_as_trio_refuses_it() -> None:
    """Leaving a request scope while a scope entered inside it is still open: what trio's own
    scope does in its place, step by step (refused; the task back where it was; the scope
    left open abandoned, so that leaving it later is quiet; a second exit refused)."""
    import trio

    async def misnest(outer: Any) -> list[str]:
        seen = []
        inner = trio.CancelScope()
        outer.__enter__()
        inner.__enter__()
        try:
            outer.__exit__(None, None, None)
        except RuntimeError:
            seen.append("refused")
        seen.append(f"deadline {trio.current_effective_deadline()}")
        try:
            inner.__exit__(None, None, None)
            seen.append("inner left quietly")
        except RuntimeError:
            seen.append("inner refused")
        await trio.lowlevel.checkpoint()
        seen.append("not cancelled")
        try:
            outer.__exit__(None, None, None)
        except RuntimeError:
            seen.append("second exit refused")
        return seen

    ours = await misnest(cancel_scope_class()())
    assert ours == await misnest(trio.CancelScope())
    assert ours == [
        "refused",
        "deadline inf",
        "inner left quietly",
        "not cancelled",
        "second exit refused",
    ]


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.parametrize(
    ("kinds", "order"),
    [("RR", "01"), ("RTR", "021"), ("RTR", "012"), ("RRR", "120"), ("RRR", "102")],
)
async def test_trio_misnested_request_scopes_behave_as_trio_scopes(kinds: str, order: str) -> None:
    """Scopes entered by hand (R: a request scope, T: trio's) and left in the wrong order:
    each exit refused or not, and the task afterwards, as with trio's scopes in their place."""
    import trio

    async def run(request_scope: Any) -> list[str]:
        scopes = [request_scope() if kind == "R" else trio.CancelScope() for kind in kinds]
        for scope in scopes:
            scope.__enter__()
        seen = []
        for index in order:
            try:
                scopes[int(index)].__exit__(None, None, None)
                seen.append("ok")
            except RuntimeError:
                seen.append("refused")
        seen.append(f"deadline {trio.current_effective_deadline()}")
        await trio.lowlevel.checkpoint()
        return seen

    assert await run(cancel_scope_class()) == await run(trio.CancelScope)


async def test_a_scope_is_entered_once() -> None:
    scope = cancel_scope_class()()
    with scope:
        pass
    with pytest.raises(RuntimeError), scope:
        pass


async def test_a_cancel_from_outside_the_request_still_propagates() -> None:
    """An enclosing scope cancelled too (the server's shutdown cutting everything): the
    request's scope must not swallow what is not only its own."""
    scope = cancel_scope_class()()
    after: list[str] = []
    with anyio.fail_after(WAIT):
        with anyio.CancelScope() as enclosing:
            async with anyio.create_task_group() as tg:

                async def request() -> None:
                    with scope:
                        await anyio.sleep_forever()
                    after.append("not reached when the enclosing scope was cancelled too")

                tg.start_soon(request)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
                enclosing.cancel()
    assert enclosing.cancelled_caught
    assert scope.cancel_called


async def test_a_timeout_inside_the_request_is_the_requests_own_business() -> None:
    scope = cancel_scope_class()()
    with anyio.fail_after(WAIT):
        with scope:
            with anyio.move_on_after(0.01) as inner:
                await anyio.sleep_forever()
            assert inner.cancelled_caught
            await anyio.lowlevel.checkpoint()
    assert not scope.cancel_called and not scope.cancelled_caught


async def test_deadlines_outside_are_seen_inside_and_the_scope_adds_none() -> None:
    scope = cancel_scope_class()()
    with anyio.fail_after(WAIT):
        outer = anyio.current_effective_deadline()
        with scope:
            assert anyio.current_effective_deadline() == outer  # no deadline of its own
            with anyio.move_on_after(WAIT / 2):
                assert anyio.current_effective_deadline() < outer
                await anyio.lowlevel.checkpoint()
            await anyio.lowlevel.checkpoint()
        assert anyio.current_effective_deadline() == outer
    assert not scope.cancel_called


async def test_cancelled_in_a_group_with_another_error_keeps_the_error() -> None:
    """Cancelled raised beside another error (a task group inside the request): the scope takes
    its own cancellation and lets the other error through."""
    scope = cancel_scope_class()()
    errors: list[BaseException] = []
    with anyio.fail_after(WAIT):
        try:
            with scope:
                async with anyio.create_task_group() as tg:

                    async def fails() -> None:
                        await anyio.wait_all_tasks_blocked()
                        scope.cancel()
                        raise ValueError("boom")

                    tg.start_soon(fails)
                    await anyio.sleep_forever()
        except BaseException as exc:  # the group (or the bare error, collapsed)
            errors.append(exc)
    assert len(errors) == 1
    error = errors[0]
    leaves = list(error.exceptions) if isinstance(error, BaseExceptionGroup) else [error]
    assert any(isinstance(leaf, ValueError) for leaf in leaves)
    assert not any(isinstance(leaf, anyio.get_cancelled_exc_class()) for leaf in leaves)


def test_scopes_made_for_one_asyncio_loop_work_on_another() -> None:
    """`cancel_scope_class()` binds its scopes to the loop it was called on (a cheaper task
    lookup); an app whose endpoint made them in one loop and serves in another still works."""
    import asyncio

    async def make() -> Any:
        return cancel_scope_class()

    factory = asyncio.run(make())

    async def use() -> bool:
        scope = factory()
        with scope:
            await asyncio.sleep(0)
            scope.cancel()
            await asyncio.sleep(0)
        return bool(scope.cancelled_caught)

    assert asyncio.run(use())
