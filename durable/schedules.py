"""Scheduled workflows: `@durable.scheduled("*/5 * * * *")` starts one run per cron tick.

Cron expressions are parsed by croniter, in UTC. Each tick is claimed with a conditional
write on `durable_schedule.last_tick_at`, and its run id is derived from the tick, so
several executors together start exactly one run per tick.

Missed ticks (all executors down) follow the schedule's `missed` policy and are counted in
`durable_schedule.missed_ticks`:
- "latest" (default): run the most recent missed tick once, skip the older ones;
- "all": run every missed tick, oldest first; after a longer outage, the newest
  MAX_CATCH_UP of them (the older ones are counted as missed);
- "skip": run none of them; wait for the next tick.
A new schedule starts with the first tick after it is first seen; it does not backfill.
Due ticks are found by walking back from now, so a month-long outage costs no more to catch
up on than a minute's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from django.db import transaction

from durable import clock, store_primitives
from durable.decorators import workflow
from durable.duties import run_isolated

logger = logging.getLogger("durable")

MISSED_POLICIES = ("latest", "all", "skip")
MAX_CATCH_UP = 100


@dataclass(frozen=True)
class ScheduleDefinition:
    workflow: Callable[..., Any]
    name: str
    cron: str
    missed: str


_schedules: dict[str, ScheduleDefinition] = {}


def scheduled(cron: str, *, missed: str = "latest", name: str | None = None, **options: Any):
    """Make a workflow run on a cron schedule; it receives the tick as an ISO-8601 string."""
    if not croniter.is_valid(cron):
        raise ValueError(f"invalid cron expression {cron!r}; e.g. '*/5 * * * *' (every 5 min)")
    if missed not in MISSED_POLICIES:
        raise ValueError(f"missed must be one of {MISSED_POLICIES}, not {missed!r}")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = workflow(name=name, **options)(func)
        definition_name = wrapped.__durable_workflow__.name
        _check_run_ids(definition_name)
        _schedules[definition_name] = ScheduleDefinition(wrapped, definition_name, cron, missed)
        return wrapped

    return decorate


def _check_run_ids(name: str) -> None:
    """A tick's run id is derived from the workflow's name: refuse names that cannot form one
    (a nested function's `<locals>`, a space) here, not at every tick."""
    from durable.api import validate_run_id
    from durable.errors import InvalidRunIdError

    try:
        validate_run_id(run_id_for(name, datetime(2000, 1, 1, tzinfo=UTC)))
    except InvalidRunIdError:
        raise ValueError(
            f"scheduled workflow {name!r} cannot name its runs ({name!r} + '@<tick>'); give it "
            "a name of letters, digits and ._:@/+=-, e.g. @durable.scheduled(..., "
            "name='reports.nightly'), and define it at module level"
        ) from None


def registered() -> list[ScheduleDefinition]:
    return list(_schedules.values())


def run_id_for(name: str, tick: datetime) -> str:
    return f"{name}@{tick.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True)
class DueTicks:
    """The newest due ticks (oldest first, at most MAX_CATCH_UP) and how many were due in
    all: exact while the walk back reaches the last tick, estimated from the cron's spacing
    beyond it (a per-minute cron down for 30 days has 43,200)."""

    ticks: list[datetime]
    total: int


def due_ticks(cron: str, last: datetime, now: datetime, limit: int = MAX_CATCH_UP) -> DueTicks:
    """Ticks after `last` up to and including `now`, found by walking back from `now`, so
    the cost is `limit` steps however long the outage was."""
    iterator = croniter(cron, now + timedelta(microseconds=1))
    newest_first: list[datetime] = []
    while len(newest_first) <= limit:  # one beyond the limit tells whether more were due
        tick = iterator.get_prev(datetime)
        if tick <= last:
            return DueTicks(newest_first[::-1], len(newest_first))
        newest_first.append(tick)
    return DueTicks(newest_first[:limit][::-1], _estimate_total(newest_first, last))


def _estimate_total(newest_first: list[datetime], last: datetime) -> int:
    """Ticks walked plus those between `last` and the oldest walked, at the walked spacing."""
    oldest = newest_first[-1]
    spacing = (newest_first[0] - oldest) / (len(newest_first) - 1)
    return len(newest_first) + max(int((oldest - last) / spacing) - 1, 0)


def ticks_to_run(due: DueTicks, policy: str) -> list[datetime]:
    if policy == "all":
        return due.ticks[-MAX_CATCH_UP:]
    if policy == "skip":
        return due.ticks[-1:] if due.total == 1 else []
    return due.ticks[-1:]


def fire_due(now: datetime | None = None) -> list[str]:
    """Start the runs of every due tick this executor wins; returns their run ids."""
    now = now or clock.now()
    started: list[str] = []
    for schedule in registered():  # one schedule's failure never holds back the others
        fired = run_isolated(f"schedule {schedule.name}", lambda s=schedule: _fire(s, now))
        started.extend(fired or [])
    return started


def _fire(schedule: ScheduleDefinition, now: datetime) -> list[str]:
    from durable.api import start

    last = store_primitives.last_tick(schedule.name)
    if last is None:  # first sighting: remember the latest past tick, do not backfill
        baseline = croniter(schedule.cron, now).get_prev(datetime)
        store_primitives.claim_tick(schedule.name, schedule.cron, schedule.missed, baseline, 0)
        return []
    due = due_ticks(schedule.cron, last, now)
    if not due.ticks:
        return []
    chosen = ticks_to_run(due, schedule.missed)
    missed = due.total - len(chosen)
    with transaction.atomic():
        if not store_primitives.claim_tick(
            schedule.name, schedule.cron, schedule.missed, due.ticks[-1], missed
        ):
            return []
        run_ids = [
            start(
                schedule.workflow, tick.isoformat(), run_id=run_id_for(schedule.name, tick)
            ).run_id
            for tick in chosen
        ]
    if missed:
        logger.warning(
            "schedule %s missed %d tick(s) (policy %r)", schedule.name, missed, schedule.missed
        )
    return run_ids
