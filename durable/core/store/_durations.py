"""A run's active time: time spent executing its steps and attempts, apart from parked time.

Started → finished is not execution time: a run resumed an hour after it failed has been
parked for that hour (as it is while ENQUEUED, sleeping or waiting for a message). Active
time sums what the history records as executed by this run: its successful step and
transaction checkpoints (not inherited ones, which a fork copies from its origin) plus
every failed attempt (a failed checkpoint's time is its last attempt, already counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

ACTIVE_KINDS = ("step", "transaction")

# SQL for one run's active time in ms; `{run}` is the run row's alias in the statement (its
# history is read from its one partition: docs/partitioning.md). Inline, as the pages read
# it: a page's connection lives for one request, and a function's cached plan would be made
# anew at each (PostgreSQL plans every daily partition for either, once), unless the
# statement also bounds the runs' creation times by constants (`active_ms_within_sql`)
_ACTIVE_MS = """(
    (SELECT coalesce(sum(s.duration_ms), 0) FROM durable_step s
     WHERE s.run_id = {run}.id AND s.run_created_at = {run}.created_at{within}
       AND s.status = 'SUCCESS' AND s.kind IN ('step', 'transaction')
       AND s.position >= coalesce({run}.forked_from_step, 0))
  + (SELECT coalesce(sum(extract(epoch FROM a.finished_at - a.started_at) * 1000), 0)
     FROM durable_attempt a
     WHERE a.run_id = {run}.id AND a.run_created_at = {run}.created_at{within}))"""
ACTIVE_MS_SQL = _ACTIVE_MS.replace("{within}", "")


def active_ms_within_sql(run: str, within: str) -> str:
    """ACTIVE_MS_SQL for `run` with `within`, a condition on the history rows'
    run_created_at, added to each of its reads: given as constants, bounds on the runs'
    creation times let the planner prune the other days' partitions, which the run row's
    own `created_at` prunes only as the statement runs, after every partition was planned."""
    return _ACTIVE_MS.replace("{within}", f" AND {within}").format(run=run)


# A run's count of checkpoints, for the statements an executor sends on its long-lived
# connection (a sleeping run given back, a shutdown's release): through `durable_run_totals`
# (migration 0035), whose cached generic plan prunes the other partitions before any scan is
# set up; inline, PostgreSQL planned every daily partition at every call
STEPS_DONE_SQL = """(SELECT totals.steps
    FROM durable_run_totals({run}.id, {run}.created_at, 0) totals)"""


# A run's totals at its end, `(steps, active_ms)` rows for `{run}`: those its execution kept
# when it wrote the whole history itself (`steps_done` and `active_ms` given: a run whose
# claim found none, core/_context.HistoryTally), else summed from its one partition by
# `durable_run_totals`. Each branch is gated by a one-time filter: with the kept totals
# given the function is never called (it was half of a short run's finish, performance.md)
TOTALS_AT_END_SQL = """(
        SELECT %(steps_done)s::bigint AS steps, %(active_ms)s::float8 AS active_ms
        WHERE %(steps_done)s::bigint IS NOT NULL AND coalesce({run}.forked_from_step, 0) = 0
        UNION ALL
        SELECT summed.steps, summed.active_ms
        FROM durable_run_totals({run}.id, {run}.created_at,
                                coalesce({run}.forked_from_step, 0)) summed
        WHERE %(steps_done)s::bigint IS NULL OR coalesce({run}.forked_from_step, 0) <> 0)"""


def active_ms(steps: Iterable[Any], attempts: Iterable[Any], inherited: int = 0) -> float:
    """The same sum as ACTIVE_MS_SQL, over rows already loaded (run page, CLI)."""
    total = sum(
        step.duration_ms
        for step in steps
        if step.status == "SUCCESS" and step.kind in ACTIVE_KINDS and step.position >= inherited
    )
    return total + sum(
        (attempt.finished_at - attempt.started_at).total_seconds() * 1000 for attempt in attempts
    )


def retry_resumes_at(attempt: Any, claimed_at: datetime | None = None) -> datetime | None:
    """When the step after a failed attempt starts again: its finish plus the backoff it
    chose (`error["retry_delay_seconds"]`); the wait between is parked, not active. A
    backoff from before the run's last claim (a cancel and resume, a recovery during it)
    was never waited out: the step runs again since that claim."""
    if attempt.finished_at is None:
        return None
    if claimed_at is not None and attempt.finished_at < claimed_at:
        return attempt.finished_at
    try:
        delay = float((attempt.error or {}).get("retry_delay_seconds") or 0)
        return attempt.finished_at + timedelta(seconds=min(max(delay, 0.0), 10**8))
    except (TypeError, ValueError, OverflowError, AttributeError):
        return attempt.finished_at


def in_flight_ms(run: Any, steps: list[Any], attempts: list[Any], now: datetime) -> float:
    """A RUNNING run's current, unrecorded work: since it was claimed, its last entry, or
    the end of a retry's backoff (waiting it out is parked time)."""
    if run.status != "RUNNING":
        return 0.0
    claimed_at = getattr(run, "claimed_at", None)
    marks = [run.updated_at, *(s.finished_at for s in steps),
             *(retry_resumes_at(a, claimed_at) for a in attempts)]  # fmt: skip
    since = max(mark for mark in marks if mark is not None)
    return max((now - since).total_seconds() * 1000, 0.0)


def split(run: Any, steps: list[Any], attempts: list[Any], now: datetime) -> dict[str, float]:
    """Active and parked ms of a run since it first started (queue wait before it is apart)."""
    if run.started_at is None:
        return {"active": 0.0, "parked": 0.0}
    if run.status in ("ENQUEUED", "RUNNING") or run.active_ms is None:
        active = active_ms(steps, attempts, run.forked_from_step or 0)
        active += in_flight_ms(run, steps, attempts, now)
    else:
        active = run.active_ms
    wall = ((run.finished_at or now) - run.started_at).total_seconds() * 1000
    return {"active": active, "parked": max(wall - active, 0.0)}
