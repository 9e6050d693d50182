"""The cron ticker: each executor's timed duty that starts the runs of due schedule ticks.

Every schedule is a row of `durable_schedule` (code schedules are added when first seen).
An executor fires a schedule only if it can run it: a code schedule it declares itself, an
API schedule whose workflow it has registered. Each tick is claimed with a conditional write
on `last_tick_at` (see `store_schedules.claim_tick`) in the transaction that starts its runs,
and a tick's run id is derived from it, so executors together start exactly one run per tick.

Missed ticks (all executors down) follow the schedule's `missed` policy and are counted in
`missed_ticks`: "latest" (default) runs the most recent one once; "all" runs every one,
oldest first (after a longer outage the newest MAX_CATCH_UP); "skip" runs none. Due ticks
are found by walking back from now, so a month-long outage costs no more than a minute's.
Ticks that fall while a schedule is paused are neither run nor counted as missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction

from durable.core import _clock as clock
from durable.core import _registry as registry
from durable.core._isolated import run_isolated
from durable.core.store import _schedules as store_schedules
from durable.core.store._schedules import ScheduleRow
from durable.schedules import _cron as cron
from durable.schedules import _declared as schedules

logger = logging.getLogger("durable")


@dataclass(frozen=True)
class Plan:
    """What firing one schedule means in this process: which code, on which cron."""

    workflow: Callable[..., Any] | str
    cron: str
    policy: str


def fire_due(now: datetime | None = None) -> list[str]:
    """Start the runs of every due tick this executor wins; returns their run ids."""
    now = now or clock.now()
    rows = store_schedules.all_schedules()
    _add_new_code_schedules({row.name for row in rows}, now)
    started: list[str] = []
    for row in rows:  # one schedule's failure never holds back the others
        plan = _plan(row)
        if plan is not None:
            fired = run_isolated(f"schedule {row.name}", partial(_fire, row, plan, now))
            started.extend(fired or [])
    return started


def _add_new_code_schedules(known: set[str], now: datetime) -> None:
    """A declaration seen for the first time starts with its next tick; it does not backfill."""
    for declared in schedules.registered():
        if declared.name not in known:
            baseline = cron.latest_tick(declared.cron, now)
            run_isolated(
                f"schedule {declared.name}",
                partial(
                    store_schedules.add_code_schedule,
                    declared.name,
                    declared.cron,
                    declared.missed,
                    baseline,
                ),
            )


def _plan(row: ScheduleRow) -> Plan | None:
    """None when this process does not fire the schedule: paused, or not its code."""
    if row.paused:
        return None
    if row.source == "code":
        declared = schedules.declared(row.name)
        return None if declared is None else Plan(declared.workflow, declared.cron, declared.missed)
    if not registry.is_registered(row.workflow):
        return None  # an executor that serves the workflow starts its ticks
    return Plan(row.workflow, row.cron, row.missed_policy)


def _fire(row: ScheduleRow, plan: Plan, now: datetime) -> list[str]:
    if row.last_tick_at is None:  # a row from before ticks were counted: start from now
        baseline = cron.latest_tick(plan.cron, now)
        store_schedules.claim_tick(row, plan.cron, plan.policy, baseline, 0)
        return []
    due = cron.due_ticks(plan.cron, row.last_tick_at, now)
    if not due.ticks:
        return []
    chosen = cron.ticks_to_run(due, plan.policy)
    missed = due.total - len(chosen)
    with transaction.atomic():
        if not store_schedules.claim_tick(row, plan.cron, plan.policy, due.ticks[-1], missed):
            return []
        run_ids = [start_tick(plan.workflow, row, tick) for tick in chosen]
    if missed:
        logger.warning("schedule %s missed %d tick(s) (policy %r)", row.name, missed, plan.policy)
    return run_ids


def start_tick(
    workflow: Callable[..., Any] | str, schedule: Any, tick: datetime, run_id: str | None = None
) -> str:
    """Start `workflow(tick, *args, **kwargs)` with the schedule's input and queue, as the
    tick's own run id unless told otherwise (a start with an existing id starts nothing)."""
    from durable.core._start import start

    run_input = schedule.input or {}
    return start(
        workflow,
        tick.isoformat(),
        *run_input.get("args", []),
        run_id=run_id or cron.run_id_for(schedule.name, tick),
        queue=schedule.queue,
        **run_input.get("kwargs", {}),
    ).run_id
