"""`runtime.shared.SharedContext`: one entry of a context, counted among concurrent users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from trimcp.runtime.shared import SharedContext

pytestmark = pytest.mark.anyio

LIMIT = 5


class Probe:
    """An underlying context that records its runs; `enter_gate`/`exit_gate` hold it."""

    def __init__(self) -> None:
        self.starts = 0
        self.stops = 0
        self.live: set[int] = set()
        self.enter_tasks: list[int] = []
        self.exit_tasks: list[int] = []
        self.entering = anyio.Event()
        self.exiting = anyio.Event()
        self.enter_gate: anyio.Event | None = None
        self.exit_gate: anyio.Event | None = None
        self.fail_next: Exception | None = None

    @asynccontextmanager
    async def run(self) -> AsyncIterator[int]:
        self.starts += 1
        number = self.starts
        self.enter_tasks.append(anyio.get_current_task().id)
        self.entering.set()
        if self.enter_gate is not None:
            gate, self.enter_gate = self.enter_gate, None
            await gate.wait()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.live.add(number)
        try:
            # A cancel scope held across the yield: entering and exiting in different tasks
            # would break it, as it breaks a task group in a real lifespan.
            with anyio.CancelScope():
                yield number
        finally:
            self.live.discard(number)
            self.exit_tasks.append(anyio.get_current_task().id)
            self.exiting.set()
            if self.exit_gate is not None:
                with anyio.move_on_after(LIMIT, shield=True):  # bounded should a test fail
                    await self.exit_gate.wait()
            self.stops += 1


async def test_concurrent_users_share_one_entry() -> None:
    probe = Probe()
    shared = SharedContext(probe.run)
    inside, release = [], anyio.Event()
    all_in = anyio.Event()

    async def user() -> None:
        async with shared.enter() as value:
            inside.append(value)
            if len(inside) == 3:
                all_in.set()
            await release.wait()

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(user)
            await all_in.wait()
            assert shared.users == 3 and shared.value == 1
            release.set()
    assert inside == [1, 1, 1] and (probe.starts, probe.stops) == (1, 1)
    assert shared.users == 0 and shared.value is None


async def test_the_first_user_leaving_first_keeps_the_context_for_the_others() -> None:
    probe = Probe()
    shared = SharedContext(probe.run)
    second_in, second_out = anyio.Event(), anyio.Event()
    first_done = anyio.Event()
    seen: list[bool] = []

    async def first() -> None:
        async with shared.enter():
            await second_in.wait()
        first_done.set()

    async def second() -> None:
        await probe.entering.wait()
        async with shared.enter() as value:
            second_in.set()
            await second_out.wait()
            seen.append(value in probe.live)  # still running after the first left

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            tg.start_soon(second)
            await second_in.wait()
            await anyio.wait_all_tasks_blocked()  # the first's exit is waiting for the second
            assert not first_done.is_set() and probe.stops == 0 and shared.users == 1
            second_out.set()
    assert seen == [True] and (probe.starts, probe.stops) == (1, 1)
    assert probe.enter_tasks == probe.exit_tasks  # entered and exited in the same task


async def test_a_user_joining_while_the_owner_waits_shares_the_same_run() -> None:
    probe = Probe()
    shared = SharedContext(probe.run)
    events = {name: anyio.Event() for name in ("a_in", "a_out", "b_in", "b_out", "c_in", "c_out")}
    values: list[int] = []

    async def user(entered: str, leave: str) -> None:
        async with shared.enter() as value:
            values.append(value)
            events[entered].set()
            await events[leave].wait()

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(user, "a_in", "a_out")
            await probe.entering.wait()
            tg.start_soon(user, "b_in", "b_out")
            await events["b_in"].wait()
            events["a_out"].set()  # the owner leaves first and waits for the others
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(user, "c_in", "c_out")
            await events["c_in"].wait()
            events["b_out"].set()
            await anyio.wait_all_tasks_blocked()
            assert probe.stops == 0 and shared.users == 1
            events["c_out"].set()
    assert values == [1, 1, 1] and (probe.starts, probe.stops) == (1, 1)


async def test_a_user_arriving_during_teardown_waits_and_starts_afresh() -> None:
    probe = Probe()
    probe.exit_gate = anyio.Event()
    shared = SharedContext(probe.run)
    values: list[int] = []

    async def owner() -> None:
        async with shared.enter():
            pass

    async def late() -> None:
        async with shared.enter() as value:
            values.append(value)
            assert value in probe.live

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(owner)
            await probe.exiting.wait()
            probe.exit_gate, gate = None, probe.exit_gate
            tg.start_soon(late)
            await anyio.wait_all_tasks_blocked()
            assert values == [] and probe.starts == 1  # waiting for the exit, not failing
            gate.set()
    assert values == [2] and (probe.starts, probe.stops) == (2, 2)


async def test_a_failed_entry_reaches_every_waiting_user_and_a_later_user_retries() -> None:
    probe = Probe()
    probe.enter_gate = gate = anyio.Event()
    probe.fail_next = OSError("database down")
    shared = SharedContext(probe.run)
    errors: list[BaseException] = []

    async def user() -> None:
        try:
            async with shared.enter():
                pass
        except OSError as exc:
            errors.append(exc)

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(user)
            await probe.entering.wait()
            tg.start_soon(user)
            tg.start_soon(user)
            await anyio.wait_all_tasks_blocked()
            assert shared.users == 3
            gate.set()
        assert len(errors) == 3 and all(e is errors[0] for e in errors)
        assert str(errors[0]) == "database down" and shared.users == 0
        async with shared.enter() as value:  # the next user tries again
            assert value == 2 and value in probe.live
    assert (probe.starts, probe.stops) == (2, 1)


async def test_a_cancelled_user_leaves_without_ending_the_context() -> None:
    probe = Probe()
    shared = SharedContext(probe.run)
    guest_in = anyio.Event()

    async def guest(scope: anyio.CancelScope) -> None:
        with scope:
            async with shared.enter():
                guest_in.set()
                await anyio.sleep_forever()

    with anyio.fail_after(LIMIT):
        async with shared.enter() as value, anyio.create_task_group() as tg:
            scope = anyio.CancelScope()
            tg.start_soon(guest, scope)
            await guest_in.wait()
            scope.cancel()
            await anyio.wait_all_tasks_blocked()
            assert shared.users == 1 and value in probe.live and probe.stops == 0
    assert (probe.starts, probe.stops) == (1, 1)


async def test_a_cancelled_owner_waits_for_the_others_before_exiting() -> None:
    probe = Probe()
    shared = SharedContext(probe.run)
    owner_scope = anyio.CancelScope()
    guest_in, guest_out, owner_gone = anyio.Event(), anyio.Event(), anyio.Event()
    seen: list[bool] = []

    async def owner() -> None:
        with owner_scope:
            async with shared.enter():
                await anyio.sleep_forever()
        owner_gone.set()

    async def guest() -> None:
        await probe.entering.wait()
        async with shared.enter() as value:
            guest_in.set()
            await guest_out.wait()
            seen.append(value in probe.live)

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(owner)
            tg.start_soon(guest)
            await guest_in.wait()
            owner_scope.cancel()
            await anyio.wait_all_tasks_blocked()
            assert not owner_gone.is_set() and probe.stops == 0
            guest_out.set()
    assert seen == [True] and owner_gone.is_set() and (probe.starts, probe.stops) == (1, 1)
    assert probe.enter_tasks == probe.exit_tasks


async def test_an_owner_cancelled_while_entering_leaves_the_start_to_a_waiting_user() -> None:
    probe = Probe()
    probe.enter_gate = anyio.Event()  # never set: the first entry hangs until cancelled
    shared = SharedContext(probe.run)
    owner_scope = anyio.CancelScope()
    values: list[int] = []

    async def owner() -> None:
        with owner_scope:
            async with shared.enter():
                pass  # pragma: no cover

    async def guest() -> None:
        async with shared.enter() as value:
            values.append(value)

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(owner)
            await probe.entering.wait()
            tg.start_soon(guest)
            await anyio.wait_all_tasks_blocked()
            assert shared.users == 2
            owner_scope.cancel()
    assert values == [2] and (probe.starts, probe.stops) == (2, 1)
    assert probe.enter_tasks[1] == probe.exit_tasks[0]


async def test_a_user_cancelled_while_waiting_for_the_start_does_not_disturb_it() -> None:
    probe = Probe()
    probe.enter_gate = gate = anyio.Event()
    shared = SharedContext(probe.run)
    guest_scope = anyio.CancelScope()
    entered: list[int] = []

    async def owner() -> None:
        async with shared.enter() as value:
            entered.append(value)

    async def guest() -> None:
        with guest_scope:
            async with shared.enter():
                pass  # pragma: no cover

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(owner)
            await probe.entering.wait()
            tg.start_soon(guest)
            await anyio.wait_all_tasks_blocked()
            guest_scope.cancel()
            await anyio.wait_all_tasks_blocked()
            assert shared.users == 1
            gate.set()
    assert entered == [1] and guest_scope.cancelled_caught
    assert (probe.starts, probe.stops) == (1, 1)


async def test_nested_entries_in_one_task_share_the_run() -> None:
    probe = Probe()
    shared = SharedContext(probe.run)
    with anyio.fail_after(LIMIT):
        async with shared.enter() as outer:
            async with shared.enter() as inner:
                assert inner == outer and shared.users == 2
            assert shared.users == 1 and probe.stops == 0
    assert (probe.starts, probe.stops) == (1, 1)


async def test_the_owners_error_reaches_the_context_on_exit() -> None:
    seen: list[BaseException | None] = []

    @asynccontextmanager
    async def context() -> AsyncIterator[None]:
        try:
            yield
        except BaseException as exc:
            seen.append(exc)
            raise

    shared = SharedContext(context)
    with pytest.raises(KeyError):
        async with shared.enter():
            raise KeyError("boom")
    assert len(seen) == 1 and isinstance(seen[0], KeyError)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_run_left_behind_by_an_ended_event_loop_is_not_joined(backend: str) -> None:
    probe = Probe()
    shared: SharedContext[Any] = SharedContext(probe.run)
    leaked: list[Any] = []

    async def leak() -> None:
        user = shared.enter()
        await user.__aenter__()  # never exited: a client that was never closed
        leaked.append(user)

    async def use() -> int:
        with anyio.fail_after(LIMIT):
            async with shared.enter() as value:
                return value

    anyio.run(leak, backend=backend)
    assert anyio.run(use, backend=backend) == 2


async def test_a_servers_lifespan_outlives_the_first_of_two_overlapping_clients() -> None:
    from trimcp import Client, Context, FastMCP

    runs: list[dict[str, bool]] = []

    @asynccontextmanager
    async def lifespan(server: FastMCP) -> AsyncIterator[dict[str, bool]]:
        state = {"open": True}
        runs.append(state)
        try:
            yield state
        finally:
            state["open"] = False

    mcp = FastMCP("shared", lifespan=lifespan)

    @mcp.tool
    def is_open(ctx: Context) -> bool:
        return bool(ctx.lifespan_context["open"])

    first_in, first_out, first_gone = anyio.Event(), anyio.Event(), anyio.Event()
    answers: list[bool] = []

    async def first() -> None:
        async with Client(mcp) as client:
            assert (await client.call_tool("is_open")).data is True
            first_in.set()
            await first_out.wait()
        first_gone.set()

    with anyio.fail_after(LIMIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await first_in.wait()
            async with Client(mcp) as second:
                first_out.set()
                await anyio.wait_all_tasks_blocked()  # the first has left its block
                answers.append((await second.call_tool("is_open")).data)
                assert runs[0]["open"] and mcp.lifespan_result is runs[0]
    assert answers == [True] and first_gone.is_set()
    assert len(runs) == 1 and not runs[0]["open"] and mcp.lifespan_result is None
