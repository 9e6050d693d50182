"""The state of the run executing on this thread: its history and its position in it."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

from durable.core import _async_runs as async_runs
from durable.core import _clock as clock
from durable.core._registry import WorkflowDefinition
from durable.core.store._durations import ACTIVE_KINDS
from durable.core.store._steps import RecordedStep  # the shape of a checkpoint, read back
from durable.errors import NonDeterminismError


# Who is executing on this thread, for log lines, traces and primitives that note the step
# they ran in (set around a run and each step attempt by durable.observability._observe)
class RunTags(NamedTuple):
    run_id: str
    workflow: str
    version: str
    executor_id: str
    traced: bool = False  # spans record for this execution: asked once, not per step


class StepTags(NamedTuple):  # a tuple: built on every step attempt
    step: str
    position: int
    attempt: int
    cpu_started: float = 0.0  # time.thread_time() when the attempt began


current_run: ContextVar[RunTags | None] = ContextVar("durable_log_run", default=None)
current_step: ContextVar[StepTags | None] = ContextVar("durable_log_step", default=None)


class RunInterrupted(BaseException):  # noqa: N818 - control flow, not an error for users
    """The run lost its claim (cancelled, or its lease went to another executor).

    A BaseException so that a workflow's `except Exception:` cannot swallow it.
    """


class RunSuspended(RunInterrupted):
    """The run waits (a long durable sleep) and gives its thread back until `wake_at`."""

    def __init__(
        self, run_id: str, wake_at: datetime, on_parked: Callable[[], None] | None = None
    ) -> None:
        super().__init__(run_id)
        self.wake_at = wake_at
        self.on_parked = on_parked  # called once the run is parked (to catch a racing wake-up)


class RunReleased(RunInterrupted):
    """The run goes back to the queue at once, unfinished and with no recovery counted: its
    executor is shutting down, or could not reach the database for DURABLE_DB_RETRY_SECONDS."""


class RunGivenBack(RunInterrupted):
    """A checkpoint could not be written (a non-transient error): the run is given back as
    if its executor had died (a recovery counted), since this one cannot go on with it."""


class RunHeld(Exception):  # noqa: N818 - the why of a RunReleased, never raised alone
    """An operator held the run (`durable.operations.hold`): it stops at this boundary."""


class RunTimedOut(RunInterrupted):
    """The run's deadline passed; it ends CANCELLED with `reason`, and so do its children."""

    def __init__(self, run_id: str, reason: str) -> None:
        super().__init__(run_id)
        self.reason = reason


class HistoryTally:
    """The totals a run's end writes (`steps_done`, `active_ms`), kept by an execution that
    saw its run's history empty at the claim and so wrote every row of it since: the end
    then writes them without reading the history back (half of a short run's finish,
    docs/performance.md). Once a write's fate is not certain (inside a transaction that may
    still roll back, an attempt whose row may be missing) the totals are unknown and the end
    sums the history as before. Shared by the copies async steps run under."""

    __slots__ = ("_held", "_holder", "_lock", "active_ms", "database", "known", "steps")

    def __init__(self, database: Any = None) -> None:
        """`database`: the executing thread's Django connection, for an execution that saw
        the history empty (None: the totals are unknown from the start). It is asked whether
        a write is inside a transaction without the `connection` proxy's thread-local lookup
        (1.5 µs a step)."""
        self.steps = 0
        self.active_ms = 0.0
        self.database = database
        self.known = database is not None
        self._lock = threading.Lock()
        self._held: list[tuple[str, str, float]] | None = None  # see hold()
        self._holder = 0

    def wrote_entry(self, kind: str, status: str, duration_ms: float) -> None:
        """A checkpoint was written: counted; a successful step's time is active time."""
        if self._held is not None and threading.get_ident() == self._holder:
            self._held.append((kind, status, duration_ms))
            return
        if self._countable():
            with self._lock:
                self.steps += 1
                if status == "SUCCESS" and kind in ACTIVE_KINDS:
                    self.active_ms += duration_ms

    def wrote_attempt(self, started_at: datetime, finished_at: datetime) -> None:
        """A failed attempt's row was written: its time is active time."""
        if self._countable():
            with self._lock:
                self.active_ms += (finished_at - started_at).total_seconds() * 1000

    def hold(self) -> bool:
        """Hold this thread's counts for the transaction the engine opens around a
        primitive's writes and its entry (`runtime.record_atomically`): they count once it
        commits (`count_held`), not never. False when they cannot: the totals are unknown
        already, or a transaction of the workflow's own is open around the primitive (it may
        still roll back, and the write counts as any write inside it)."""
        if not self.known or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return False
        self._held, self._holder = [], threading.get_ident()
        return True

    def hold_again(self) -> None:
        """The held transaction is tried again from its start: its last try's counts go."""
        if self._held is not None:
            self._held.clear()

    def count_held(self, committed: bool) -> None:
        """The held transaction ended: its counts are added if it `committed`, else dropped
        (rolled back, or about to be tried again)."""
        held, self._held = self._held, None
        if committed and held:
            for entry in held:
                self.wrote_entry(*entry)

    def lose(self) -> None:
        """A write whose fate is not certain: the end sums the history instead."""
        self.known = False

    def totals(self) -> tuple[int | None, float | None]:
        """(steps_done, active_ms) for the run's end; (None, None) when unknown."""
        with self._lock:
            return (self.steps, self.active_ms) if self.known else (None, None)

    def _countable(self) -> bool:
        """Whether a write just made counts: not inside a transaction, which may still roll
        it back (the totals are then unknown from here on)."""
        if self.known and self.database.in_atomic_block:
            self.known = False
        return self.known


@dataclass
class RunContext:
    run_id: str
    workflow: WorkflowDefinition
    executor_id: str
    recorded: dict[int, RecordedStep]
    cancelled: threading.Event = field(default_factory=threading.Event)
    # an operator's hold, heard from a checkpoint: stop at the next boundary (an Event, as
    # `cancelled`, so the copies async steps run under share it)
    held: threading.Event = field(default_factory=threading.Event)
    deadline_at: datetime | None = None
    position: int = 0
    in_step: bool = False
    nondeterminism: NonDeterminismError | None = None
    # failed attempts already recorded at positions without a checkpoint (a resume or a
    # recovery re-runs that step), and how many of them came before the last resume
    prior_attempts: dict[int, int] = field(default_factory=dict)
    attempts_before_resume: int = 0
    deaths: dict[int, int] = field(default_factory=dict)  # attempts lost there since then
    draining: threading.Event | None = None  # set while the executor shuts down
    # the last step's checkpoint, held back to be written with the run's end (core/_steps.py)
    last_checkpoint: Any = None
    tally: HistoryTally = field(default_factory=HistoryTally)

    def next_position(self, *, on_loop: bool = False) -> int:
        """The next history position; `on_loop`: taken by an async step at its call."""
        if not on_loop and async_runs.on_loop():
            raise async_runs.SyncPrimitiveOnLoop(self.workflow.name)
        position = self.position
        self.position += 1
        return position

    def attempts_before(self, position: int) -> tuple[int, int]:
        """(the highest attempt number used at `position`, failed or lost to an executor's
        death; of those, the ones that spent no retry: before the last resume, or deaths):
        attempt numbers go on from the first, the retry budget from the second."""
        prior = self.prior_attempts.get(position, 0)
        spent_elsewhere = min(self.attempts_before_resume, prior) + self.deaths.get(position, 0)
        return prior, min(spent_elsewhere, prior)

    def stop_if_cancelled(self, run_status: str | None) -> None:
        """After a checkpoint write: None (not written) means the run is no longer ours; a
        CANCELLED run keeps the checkpoint of the step that was in flight and stops at
        this boundary, even if its executor never heard the cancel's notice; a HELD one
        is given back to the queue there, and no executor claims it until released."""
        if run_status is None:
            raise RunInterrupted(self.run_id)
        if run_status == "CANCELLED":
            self.cancelled.set()
        if run_status == "HELD":  # back to the queue at the next boundary, not here: this
            self.held.set()  # write may be inside a transaction step, whose commit must stand

    def check_interrupted(self) -> None:
        """Called at every step boundary: cancellation and timeouts take effect here."""
        if self.cancelled.is_set():
            raise RunInterrupted(self.run_id)
        if self.held.is_set():  # back to the queue, where it waits until released
            raise RunReleased(self.run_id) from RunHeld("held by an operator")
        if self.draining is not None and self.draining.is_set():
            raise RunReleased(self.run_id)
        if self.deadline_at is not None and clock.now() >= self.deadline_at:
            raise RunTimedOut(
                self.run_id, f"timed out: its deadline {self.deadline_at.isoformat()} passed"
            )


_current: ContextVar[RunContext | None] = ContextVar("durable_run_context", default=None)

F = TypeVar("F", bound=Callable[..., Any])


def current() -> RunContext | None:
    return _current.get()


def activate(context: RunContext) -> Any:
    return _current.set(context)


def deactivate(token: Any) -> None:
    _current.reset(token)


def in_async_step() -> bool:
    """True in the body of an `async def` step, on its run's event loop."""
    run_context = _current.get()
    return run_context is not None and run_context.in_step and async_runs.on_loop()


def plain_in_async_steps(primitive: F) -> F:
    """Let a sync primitive be a plain call in an `async def` step (docs/async.md), as in a
    sync step: there it runs on the run thread while the loop waits, which is where the
    step's checkpoint is written too (the loop must not touch Django's connection)."""

    @functools.wraps(primitive)
    def call(*args: Any, **kwargs: Any) -> Any:
        if in_async_step():
            return async_runs.call_blocking(primitive, *args, **kwargs)
        return primitive(*args, **kwargs)

    return call  # type: ignore[return-value]


def at_call_in_async_runs(start: F) -> F:
    """Let a quick sync call (a child's start) work anywhere in an async run: on its event
    loop it runs on the run thread while the loop waits, so in the workflow body it takes
    its history position at the call, as `durable.start_async` does."""

    @functools.wraps(start)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _current.get() is not None and async_runs.on_loop():
            return async_runs.call_blocking(start, *args, **kwargs)
        return start(*args, **kwargs)

    return call  # type: ignore[return-value]
