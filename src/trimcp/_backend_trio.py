"""trio's half of `trimcp._backend.cancel_scope_class()`: a cancel scope per request that joins
trio's cancellation tree only when it is cancelled. Part of the backend seam (see
`trimcp._backend`), kept apart for its size."""

from __future__ import annotations

import functools
import math
from typing import Any

__all__ = ["trio_request_scope_class"]


@functools.cache
def trio_request_scope_class() -> type | None:
    """`TrioRequestScope` when the trio internals it builds on look as expected, else None.

    It is trio's `CancelScope` for one request without what a request never uses (deadline,
    shield, checks, context managers around each step) and without a `CancelStatus` until it
    is cancelled: entered and left, about 700 ns against trio's 5,400 (a status made and
    dropped alone costs 1,000). `cancel()` puts its status between the status the task had
    on entry and whatever the task entered since (trio's `CancelStatus.parent` setter, as
    `task_status.started()` moves statuses), or makes it the task's if it entered nothing;
    trio then delivers `Cancelled` at the next checkpoint, to everything nested that is not
    shielded, and leaving catches it (in a group too), as trio's scope does. A scope gets its
    status on entry when it is cancelled already, when its task was made by `nursery.start()`
    (it may still move nursery), and when it is entered straight inside a request scope of
    the task that has none (both would have the same parent status). Misnesting raises
    `RuntimeError` and abandons the scopes left open inside, as trio does. Only `with`,
    `cancel()`, `cancel_called` and `cancelled_caught`; trio's and anyio's scopes inside work
    as usual."""
    try:
        import trio
        from trio._core._run import GLOBAL_RUN_CONTEXT, CancelReason, CancelStatus
    except ImportError:
        return None
    # what trio reads of a scope may grow: the versions this was checked against only
    version = tuple(int(part) for part in trio.__version__.split(".")[:2] if part.isdigit())
    if not (0, 25) <= version < (0, 36):
        return None
    task_type = trio.lowlevel.Task
    if not (
        hasattr(task_type, "_activate_cancel_status")
        and hasattr(task_type, "_eventual_parent_nursery")
        and hasattr(CancelStatus, "parent_cancellation_is_visible_to_us")
        and getattr(getattr(CancelStatus, "parent", None), "fset", None) is not None
    ):
        return None
    current_task = trio.lowlevel.current_task
    run_context = GLOBAL_RUN_CONTEXT  # `.task`: `current_task()` without its Python call
    protected = trio.lowlevel.enable_ki_protection  # marks code objects: free at run time
    cancelled_type = trio.Cancelled
    explicit = CancelReason(source="explicit")

    _EXITED = object()  # `_parent` of a scope that was left
    open_lazy: dict[Any, Any] = {}  # each task's innermost scope entered without a status
    out_of_order = "Cancel scope stack corrupted: a request scope exited out of order"

    class TrioRequestScope:
        __slots__ = (
            "_cancel_called",
            "_cancel_reason",
            "_cancel_status",
            "_parent",
            "_previous",
            "_task",
            "cancelled_caught",
        )
        deadline = math.inf  # read by trio (`current_effective_deadline`)
        shield = False

        def __init__(self) -> None:
            self._cancel_status: Any = None
            self._task: Any = None  # set while entered
            self._parent: Any = None  # the task's status at `__enter__`; `_EXITED` once left
            self._cancel_called = False
            self._cancel_reason: Any = None
            self.cancelled_caught = False

        @property
        def cancel_called(self) -> bool:
            return self._cancel_called

        @protected
        def __enter__(self) -> TrioRequestScope:
            if self._parent is not None:
                raise RuntimeError("Each CancelScope may only be used for a single 'with' block")
            task = current_task()
            parent = task._cancel_status
            self._task = task
            self._parent = parent
            previous = open_lazy.get(task)
            if (
                self._cancel_called
                or task._eventual_parent_nursery is not None
                or (
                    previous is not None
                    and previous._parent is parent
                    and previous._cancel_status is None
                )
            ):
                self._previous: Any = self  # not in `open_lazy`
                self._open_status()
            else:
                self._previous = previous
                open_lazy[task] = self
            return self

        def _open_status(self) -> None:
            """Put this scope's `CancelStatus` in place: a child of the task's status at
            `__enter__`, and the parent of what the task entered since."""
            task = self._task
            parent = self._parent
            scope: Any = self  # stands in for a trio `CancelScope` (what CancelStatus reads)
            status = CancelStatus(scope=scope, parent=parent)
            self._cancel_status = status
            current = task._cancel_status
            if current is parent:
                task._activate_cancel_status(status)
                return
            while current is not None and current.parent is not parent:
                current = current.parent
            if current is not None:  # else misnested: `__exit__` says so
                current.parent = status

        def _unlist(self) -> None:
            """Leaving: off `open_lazy`, with the scopes listed above it (left open inside
            it: misnested), so the scope entered before it is its task's again."""
            previous = self._previous
            if previous is self:  # never listed
                return
            self._previous = self
            task = self._task
            top = open_lazy.get(task)
            while top is not None and top is not self:
                top = top._previous
            if top is not None:  # (else taken off with an outer scope already)
                if previous is None:
                    del open_lazy[task]
                else:
                    open_lazy[task] = previous

        def _leave(self) -> None:
            """Left (whatever it raises): off `open_lazy`, not entered any more."""
            self._unlist()
            self._task = None
            self._parent = _EXITED

        @protected
        def cancel(self) -> None:
            if self._cancel_called:
                return
            self._cancel_called = True
            if self._cancel_reason is None:
                self._cancel_reason = explicit
            if self._cancel_status is not None:
                self._cancel_status.recalculate()
            elif self._task is not None:  # entered, not left: the status it needs, now
                self._open_status()

        @protected
        def __exit__(self, etype: Any, exc: BaseException | None, tb: Any) -> bool:
            task = self._task
            if task is None:
                raise RuntimeError("this request scope was exited already (or never entered)")
            status = self._cancel_status
            if status is None:  # never cancelled while entered (nearly every request)
                parent = self._parent
                if task._cancel_status is parent and run_context.task is task:
                    previous = self._previous
                    if previous is not self:
                        if open_lazy.get(task) is not self:
                            self._unlist()  # (inner scopes left listed: misnested)
                        elif previous is None:  # `_unlist`, inline
                            del open_lazy[task]
                        else:
                            open_lazy[task] = previous
                    self._task = None
                    self._parent = _EXITED
                    return False
                if parent.abandoned_by_misnesting:  # left open in a misnested scope: quiet
                    self._leave()
                    self.cancelled_caught = isinstance(exc, cancelled_type)
                    return self.cancelled_caught
                if run_context.task is not task or not parent.encloses(task._cancel_status):
                    self._unlist()  # (the scope stays entered for trio: nothing changed)
                    raise RuntimeError(out_of_order)
                self._open_status()  # what was left open inside is abandoned below
                status = self._cancel_status
            current = current_task()
            inner = open_lazy.get(current)
            if inner is not None and inner._parent is status and inner._cancel_status is None:
                inner._open_status()  # a request scope left open inside: abandoned below
            abandoned = False
            if current._cancel_status is not status:
                if status.abandoned_by_misnesting:  # left open in a misnested scope: quiet
                    abandoned = True
                elif not status.encloses(current._cancel_status):
                    self._unlist()  # (the scope stays entered for trio: nothing changed)
                    raise RuntimeError(out_of_order)
                else:  # inner scopes still open: abandoned (cancelled), as trio does
                    current._activate_cancel_status(status.parent)
                    status.close()
                    self._cancel_status = None
                    self._leave()
                    raise RuntimeError(out_of_order)
            else:
                current._activate_cancel_status(status.parent)
            self._leave()
            caught = abandoned or (
                exc is not None
                and status.effectively_cancelled
                and not status.parent_cancellation_is_visible_to_us
            )
            status.close()
            self._cancel_status = None
            if not caught:
                return False
            if isinstance(exc, cancelled_type):
                self.cancelled_caught = True
                return True
            if isinstance(exc, BaseExceptionGroup):
                matched, rest = exc.split(cancelled_type)
                if matched is not None:
                    self.cancelled_caught = True
                if rest is None:
                    return True
                if rest is not exc:
                    context = rest.__context__
                    try:
                        raise rest
                    finally:  # as trio keeps it: not the group it was split from
                        rest.__context__ = context
                        del rest, exc, matched  # no cycle through this frame
            return False

    TrioRequestScope.open_lazy = open_lazy  # type: ignore[attr-defined]  # (for tests)
    return TrioRequestScope
