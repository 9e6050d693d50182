"""Waiting inside a workflow for what another party does (a message, an event), up to a
timeout, without holding a thread for long.

A wait that fits in DURABLE_SLEEP_INLINE_SECONDS polls on its thread. A longer one records
its deadline as an entry of its own (`<name>.wait`, just before the result's entry) and
parks the run, ENQUEUED, as a long sleep does: no thread is held, and a recovered run keeps
its deadline instead of restarting the timeout. A message sent to a parked receiver makes
it due at once (`messaging.send`); a run waiting for an event looks again every
DURABLE_PARKED_POLL_SECONDS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from durable.core import _clock as clock
from durable.core import _history as history
from durable.core import _runtime as runtime
from durable.core._context import RunContext, RunInterrupted, RunSuspended
from durable.core._serialization import EntryInput, dumps
from durable.core.conf import settings

# given the position of the result's entry: (found, value), having recorded it when found
Attempt = Callable[[int], tuple[bool, Any]]


def wait(
    run_context: RunContext,
    name: str,
    kind: str,
    attempt: Attempt,
    timeout: float,
    detail: EntryInput,
    *,
    recheck: float | None = None,
    on_parked: Callable[[], None] | None = None,
) -> Any:
    """What `attempt` finds, or None once the timeout (durable, once recorded) has passed.

    `recheck`: park at most this long between looks; `on_parked`: called once parked, to
    wake the run if what it waits for came while it was parking."""
    position = run_context.next_position()
    until = _recorded_deadline(run_context, position, f"{name}.wait", detail)
    if until is not None:
        position = run_context.next_position()
    recorded = history.recorded_entry(run_context, position, name, detail)
    if recorded is not None:
        return recorded.output
    run_context.check_interrupted()
    found, value = attempt(position)
    if found:
        return value
    if until is None and timeout > settings.DURABLE_SLEEP_INLINE_SECONDS:
        until = clock.deadline(timeout)
        output = dumps({"until": until.isoformat(), "timeout": timeout}, where=name)
        started_at = clock.now()
        runtime.record_entry(
            run_context, position, f"{name}.wait", kind, output, started_at, step_input=detail
        )
        raise RunSuspended(run_context.run_id, _park_until(run_context, until, recheck), on_parked)
    remaining = timeout if until is None else clock.seconds_until(until)
    if until is not None and remaining > settings.DURABLE_SLEEP_INLINE_SECONDS:
        raise RunSuspended(run_context.run_id, _park_until(run_context, until, recheck), on_parked)
    found, value = poll(run_context, lambda: attempt(position), remaining)
    if found:
        return value
    runtime.record_entry(run_context, position, name, kind, "null", clock.now(), step_input=detail)
    return None


def _recorded_deadline(
    run_context: RunContext, position: int, name: str, detail: EntryInput
) -> datetime | None:
    recorded = run_context.recorded.get(position)
    if recorded is None or recorded.name != name:
        return None
    history.recorded_entry(run_context, position, name, detail)  # the same wait, or it says
    return datetime.fromisoformat(recorded.output["until"])


def _park_until(run_context: RunContext, until: datetime, recheck: float | None) -> datetime:
    """Wake at the wait's deadline, the run's own deadline, or the next re-check."""
    wake_at = until
    if run_context.deadline_at is not None:
        wake_at = min(wake_at, run_context.deadline_at)
    if recheck is not None:
        wake_at = min(wake_at, clock.deadline(recheck))
    return wake_at


def poll(
    run_context: RunContext | None, attempt: Callable[[], tuple[bool, Any]], timeout: float
) -> tuple[bool, Any]:
    """Try until found or timed out, backing off from 20 ms to 1 s between tries."""
    deadline = time.monotonic() + max(timeout, 0)
    interval = 0.02
    while True:
        found, value = attempt()
        remaining = deadline - time.monotonic()
        if found or remaining <= 0:
            return found, value
        wait_for = min(interval, remaining)
        if run_context is None:
            time.sleep(wait_for)
        else:
            if run_context.cancelled.wait(wait_for):
                raise RunInterrupted(run_context.run_id)
            run_context.check_interrupted()
        interval = min(interval * 2, 1.0)
