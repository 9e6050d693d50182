"""Waiting for another run inside a workflow, with a timeout that replays the same way.

`handle.result(timeout=…)` records its deadline (on the database's clock) as an entry in
the waiting run's history. The wait ends with the other run's result if that run ended by
the deadline, else with `ResultTimeoutError`; both are judged from recorded times (the
deadline, the other run's `finished_at`), so a replay reaches the outcome the first run did.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from durable.core import _clock as clock
from durable.core import _history as history
from durable.core import _runtime as runtime
from durable.core import store
from durable.core._context import RunContext, RunInterrupted, RunSuspended
from durable.core._outcomes import outcome_value
from durable.core._serialization import EntryInput, dumps, entry_input
from durable.core.conf import settings
from durable.errors import ResultTimeoutError, RunNotFoundError

WAIT_ENTRY = "durable.result"
ENDED = ("SUCCESS", "ERROR", "CANCELLED", "DEAD")


def result_with_deadline(waiter: RunContext, run_id: str, timeout: float) -> Any:
    """The result of run `run_id` if it ends within `timeout` seconds of the first call."""
    outcome = _read(run_id)
    entry = entry_input({"run_id": run_id, "timeout": timeout}, where="result")
    deadline = history.replay_or_run(
        waiter,
        WAIT_ENTRY,
        entry,
        lambda position: _record_deadline(waiter, position, entry, timeout, outcome.now),
        lambda recorded: datetime.fromisoformat(recorded.output["deadline"]),
    )
    waited_since = time.monotonic()
    interval = 0.01
    while True:
        ended_at = outcome.finished_at or outcome.now  # a row without its end: ended by now
        if outcome.status in ENDED and ended_at <= deadline:
            return outcome_value(
                run_id, outcome.status, outcome.output, outcome.error, outcome.cancel_reason
            )
        if outcome.status in ENDED or outcome.now >= deadline:
            raise ResultTimeoutError(
                f"run {run_id} did not end within {timeout}s (by {deadline.isoformat()}); "
                "it goes on — catch ResultTimeoutError, or wait without a timeout"
            )
        _pause(waiter, (deadline - outcome.now).total_seconds(), waited_since, interval)
        interval = min(interval * 2, 0.25)
        outcome = _read(run_id)


def _record_deadline(
    waiter: RunContext, position: int, entry: EntryInput, timeout: float, now: datetime
) -> datetime:
    """The deadline on the database's clock, recorded so every replay judges by it."""
    deadline = now + timedelta(seconds=max(timeout, 0))
    runtime.record_entry(
        waiter,
        position,
        WAIT_ENTRY,
        "wait",
        dumps({"deadline": deadline.isoformat()}, where="result"),
        clock.now(),
        step_input=entry,
    )
    return deadline


def _read(run_id: str) -> store.OutcomeAt:
    outcome = store.run_outcome_at(run_id)
    if outcome is None:
        raise RunNotFoundError(f"no run with id {run_id!r}")
    return outcome


def _pause(waiter: RunContext, remaining: float, waited_since: float, interval: float) -> None:
    """Wait a little in place; past DURABLE_SLEEP_INLINE_SECONDS, park the waiting run."""
    waiter.check_interrupted()
    if time.monotonic() - waited_since > settings.DURABLE_SLEEP_INLINE_SECONDS:
        pause = min(settings.DURABLE_POLL_SECONDS, remaining)
        raise RunSuspended(waiter.run_id, clock.deadline(pause))
    if waiter.cancelled.wait(min(interval, remaining)):
        raise RunInterrupted(waiter.run_id)
