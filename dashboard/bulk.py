"""Bulk jobs: one action over thousands of runs, a batch per request, resumable by cursor.

The browser drives the job: each request asks for the next batch of job <id>; the job's
state (cursor, totals) lives in a `BulkJob` row, so nothing the browser sends can skew it.
Each batch goes through `durable.operations` (audited as the operator) in the transaction
that advances the job, so a repeated request never repeats a batch. Runs created after the
job started are never touched, so "restart all" cannot chase its own new runs, and a run
another operator restarted since the preview is refused, not restarted twice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction

from dashboard.models import BulkJob
from dashboard.queries.runs import Cursor, RunFilter, filtered_runs
from durable import operations
from durable.models import RunStatus

BATCH = 200
RESULT_SAMPLES = 20
REASON_SAMPLES = 3

ELIGIBLE = {
    "cancel": RunStatus.active(),
    "resume": RunStatus.resumable(),
    "restart": tuple(RunStatus.values),
}

PAST = {"cancel": "cancelled", "resume": "resumed", "restart": "restarted"}


def eligible_count(action: str, breakdown: dict[str, int]) -> int:
    """How many runs of a status breakdown the action would change (the rest are refused)."""
    return sum(count for status, count in breakdown.items() if status in ELIGIBLE[action])


def record(job: BulkJob, outcome: operations.BulkResult) -> None:
    """Add one batch's outcome to the job's totals; keep a few samples of each."""
    job.done += outcome.done_count
    job.skipped += outcome.skipped_count
    for run_id, new_id in outcome.done.items():
        if len(job.results) < RESULT_SAMPLES:
            job.results[run_id] = new_id
    for run_id, reason in outcome.refused.items():
        _sample(job.refused, _grouped(reason), run_id)


def _sample(groups: dict[str, Any], reason: str, run_id: str) -> None:
    """Count `run_id` under `reason`, keeping a few ids of each group as examples."""
    entry = groups.setdefault(reason, {"count": 0, "runs": []})
    entry["count"] += 1
    if len(entry["runs"]) < REASON_SAMPLES:
        entry["runs"].append(run_id)


# "alice restarted it at 10:01:02 UTC as run 9f…, after …": one group for all such runs
_RUN_SPECIFIC = re.compile(r" at \d\d:\d\d:\d\d UTC as run \S+,")


def _grouped(reason: str) -> str:
    return _RUN_SPECIFIC.sub("", reason)[:500]


def start_job(token: uuid.UUID, owner: str, **fields: Any) -> BulkJob:
    """The job of this preview form; submitting the form twice continues the same job."""
    job, _ = BulkJob.objects.get_or_create(id=token, owner=owner, defaults=fields)
    return job


def advance(job_id: uuid.UUID, owner: str) -> BulkJob | None:
    """Apply the action to the job's next batch; None if the owner has no such job."""
    with transaction.atomic():
        job = BulkJob.objects.select_for_update().filter(id=job_id, owner=owner).first()
        if job is None or job.finished:
            return job
        run_ids = _next_ids(job)
        outcome = None
        if run_ids:
            outcome = apply(job.action, run_ids, owner, job.reason, since=job.as_of,
                            include_superseded=job.include_superseded)  # fmt: skip
            record(job, outcome)
        job.save()
    if job.action == "cancel" and outcome is not None and outcome.done:
        _confirm_stopped(job, list(outcome.done))
    return job


def _confirm_stopped(job: BulkJob, run_ids: list[str]) -> None:
    """Once the batch has committed, wait for the executors of the runs it cancelled (the
    cancel inside the job's transaction could not): the ones that did not confirm are kept
    with the job, grouped by why, so the page says so rather than pretend."""
    for run_id, why in operations.confirm_stopped(run_ids).items():
        _sample(job.unconfirmed, why, run_id)
    if job.unconfirmed:
        job.save(update_fields=["unconfirmed"])


def _next_ids(job: BulkJob) -> list[str]:
    """The ids of the next batch; moves the job's position past them."""
    if job.scope == "selected":
        run_ids = job.run_ids[job.offset : job.offset + BATCH]
        job.offset += len(run_ids)
        job.finished = job.offset >= len(job.run_ids)
        return run_ids
    run_ids, cursor = next_matching(
        job_filter(job), job.as_of, Cursor.decode(job.cursor) if job.cursor else None
    )
    job.cursor = cursor.encode() if cursor else ""
    job.finished = len(run_ids) < BATCH
    return run_ids


def job_filter(job: BulkJob) -> RunFilter:
    from dashboard.forms import RunFilterForm

    form = RunFilterForm(job.params)
    form.is_valid()
    return form.run_filter()


def next_matching(
    run_filter: RunFilter, as_of: datetime, cursor: Cursor | None
) -> tuple[list[str], Cursor | None]:
    """The next batch of matching run ids in (created_at, id) order, and the cursor after it."""
    runs = filtered_runs(run_filter).filter(created_at__lte=as_of)
    if cursor is not None:
        runs = runs.filter(created_at__lte=cursor.created_at).exclude(
            created_at=cursor.created_at, id__gte=cursor.run_id
        )
    rows = list(runs.order_by("-created_at", "-id").values_list("created_at", "id")[:BATCH])
    if not rows:
        return [], None
    last_created, last_id = rows[-1]
    return [run_id for _, run_id in rows], Cursor(last_created, last_id)


def apply(
    action: str,
    run_ids: list[str],
    actor: str,
    reason: str = "",
    since: datetime | None = None,
    include_superseded: bool = False,
) -> operations.BulkResult:
    """Apply one action to one batch, attributed to `actor`, with `reason`, in the audit log;
    a restart refuses runs restarted or forked since `since` (by another job or operator)
    and skips those restarted or forked before, unless `include_superseded`."""
    call: Callable[..., operations.BulkResult] = {  # each takes run ids and a reason
        "cancel": operations.cancel,
        "resume": operations.resume,
        "restart": operations.restart,
    }[action]
    with operations.acting_as(actor):
        reason = reason or f"bulk {action} by {actor}"
        if action == "restart":
            return call(run_ids, reason=reason, unless_derived_since=since,
                        include_superseded=include_superseded)  # fmt: skip
        return call(run_ids, reason=reason)
