"""Durable sleep: the wake-up time is a checkpoint, so a recovered run sleeps the remainder.

Short sleeps wait on the thread; long ones hand the run back to the queue until it is due.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from durable.core import _clock as clock
from durable.core import _context as context
from durable.core import _history as history
from durable.core import _runtime as runtime
from durable.core._context import RunContext, RunInterrupted, RunSuspended
from durable.core._serialization import dumps
from durable.core.conf import settings

SLEEP_STEP = "durable.sleep"


def sleep(seconds: float) -> None:
    """Sleep durably inside a workflow (a plain sleep outside one)."""
    run_context = context.current()
    if run_context is None or run_context.in_step:
        time.sleep(seconds)
        return
    wake_at = wake_up_time(run_context, run_context.next_position(), seconds)
    wait = inline_wait(run_context, wake_at)
    if wait is None:
        return
    if run_context.cancelled.wait(wait):
        raise RunInterrupted(run_context.run_id)
    run_context.check_interrupted()


def wake_up_time(run_context: RunContext, position: int, seconds: float) -> datetime:
    """The sleep's wake-up time: recorded at `position` now, or replayed from there."""
    return history.replay_or_run_at(  # no input checked: a duration may come from the clock
        run_context,
        position,
        SLEEP_STEP,
        None,
        lambda position: _record_wake_up(run_context, position, seconds),
        lambda recorded: datetime.fromisoformat(recorded.output["wake_at"]),
    )


def inline_wait(run_context: RunContext, wake_at: datetime) -> float | None:
    """Seconds to wait in place until `wake_at` (None: due already); a wait longer than
    DURABLE_SLEEP_INLINE_SECONDS parks the run instead (RunSuspended)."""
    if wake_at <= clock.now():
        return None
    run_context.check_interrupted()  # a deadline that passed while parked ends the run here
    until = wake_at if run_context.deadline_at is None else min(wake_at, run_context.deadline_at)
    wait = clock.seconds_until(until)
    if wait > settings.DURABLE_SLEEP_INLINE_SECONDS:
        raise RunSuspended(run_context.run_id, until)
    return max(wait, 0)


def _record_wake_up(run_context: RunContext, position: int, seconds: float) -> datetime:
    started_at = clock.now()
    wake_at = started_at + timedelta(seconds=max(seconds, 0))
    output = dumps({"wake_at": wake_at.isoformat(), "seconds": seconds}, where="sleep")
    runtime.record_entry(
        run_context, position, SLEEP_STEP, "sleep", output, started_at, finished_at=wake_at
    )
    return wake_at
