"""Bulk actions from the dashboard: what each action would touch, and the job that does it.

One request starts a bulk job (`durable.operations.start_bulk_job`); the executors carry it
out as a durable workflow, so closing the tab, restarting the web process or losing a
worker does not stop it. The page only polls the job's progress. The job's runs are fixed
when it starts: runs created later are never touched, so "restart all" cannot chase its own
new runs, and a run another operator restarted since the preview is refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from dashboard.queries.runs import RunFilter, filtered_runs, history_bound, status_breakdown
from durable import operations
from durable.debugging import dry_run
from durable.models import BulkJob, RunStatus, Step
from durable.operations import JOB_WORKFLOW

HELD = "HELD"  # held runs, whatever their status
NO_FAILED_STEP = "NO FAILED STEP"  # runs a fork has no step to start from
# what an action tells apart that a status does not: counted under their own label, so the
# preview counts what the action changes (`operations._holding`; a fork: `_no_failed_step`)
APART = {
    "hold": (HELD, Q(held_at__isnull=False)),
    "release": (HELD, Q(held_at__isnull=False)),
}

ELIGIBLE = {
    "cancel": RunStatus.active(),
    "resume": RunStatus.resumable(),
    "restart": tuple(RunStatus.values),
    "fork": tuple(RunStatus.values),  # from each run's first failed step, onto current code
    # held runs are ENQUEUED (or RUNNING, or ended while held): counted apart, as HELD
    "hold": RunStatus.active(),
    "release": (HELD,),
}

DRY_RUN_SAMPLE = 20  # replays on the preview page: bounded, whatever the selection
DRY_RUN_POOL = 5000  # the sample is spread over the first this many eligible runs

PAST = {"cancel": "cancelled", "resume": "resumed", "restart": "restarted", "fork": "forked",
        "hold": "held", "release": "released"}  # fmt: skip


def breakdown(action: str, run_filter: RunFilter) -> dict[str, int]:
    """The runs the preview of `action` shows, by status (see APART)."""
    apart = _no_failed_step(run_filter) if action == "fork" else APART.get(action)
    return status_breakdown(run_filter, apart)


def _no_failed_step(run_filter: RunFilter) -> tuple[str, Q]:
    """Runs a fork has no step to start from: each run's checkpoints read in its partition,
    among those of the filter's window or chosen runs (`history_bound`) when it has any."""
    failed = Step.objects.filter(
        history_bound(run_filter),
        run_id=OuterRef("id"),
        run_created_at=OuterRef("created_at"),
        status="ERROR",
    )
    return NO_FAILED_STEP, ~Exists(failed)


def eligible_count(action: str, breakdown: dict[str, int]) -> int:
    """How many runs of a status breakdown the action would change (the rest are refused)."""
    return sum(count for status, count in breakdown.items() if status in ELIGIBLE[action])


def matching_ids(run_filter: RunFilter, as_of: datetime) -> list[str]:
    """The runs the filter matched when the operator looked (oldest first)."""
    runs = filtered_runs(run_filter).filter(created_at__lte=as_of)
    runs = runs.exclude(workflow=JOB_WORKFLOW)  # another job's run: abort the job instead
    return list(runs.order_by("created_at", "id").values_list("id", flat=True))


def start(owner: str, token: uuid.UUID | None, run_ids: list[str], **options: Any) -> BulkJob:
    """The job of this preview form: submitting it twice returns the same job (the token
    is scoped to the operator, so another's token starts nothing of theirs)."""
    request_id = f"dashboard:{owner}:{token or uuid.uuid4()}"
    return operations.start_bulk_job(
        options.pop("action"), run_ids, actor=owner, request_id=request_id, **options
    )


def dry_run_lines(action: str, run_filter: RunFilter) -> list[str]:
    """Before a mass resume: replay a sample of the runs against the code deployed now and
    say which would diverge (`durable.debugging.dry_run`)."""
    if action not in dry_run.ACTIONS:
        return []
    runs = filtered_runs(run_filter).filter(status__in=ELIGIBLE[action])
    ids = list(runs.order_by("created_at", "id").values_list("id", flat=True)[:DRY_RUN_POOL])
    return dry_run.dry_run(action, ids, sample=DRY_RUN_SAMPLE).lines() if ids else []
