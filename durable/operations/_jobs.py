"""Bulk jobs: an operator action over many runs, carried out batch by batch by a run of the
internal workflow `durable.bulk_job` (`_job_workflow`), so it outlives the tab that started it.

`next_batch` is the job's one step: in one transaction it locks the job row, decides
whether to act now (state, canary, concurrency cap, rate) and, if so, applies the action to
the next batch as the operator who started the job (request id `job:<id>`, so even a batch
replayed outside its step is not repeated), then moves the job past it.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q

from durable.core import _clock as clock
from durable.core import _validation as validation
from durable.core._audit import acting_as, current_actor
from durable.core._start import start as start_run
from durable.errors import (
    DurableError,
    InvalidArgumentError,
    OperationRefused,
    RequestIdConflictError,
)
from durable.models import AuditEntry, BulkJob, JobState, Run, RunStatus
from durable.operations._batches import BulkResult, run_id_list
from durable.operations._cancel_confirmation import confirm_stopped
from durable.primitives._messaging import send

WORKFLOW = "durable.bulk_job"
CONTROL_TOPIC = "durable.bulk_job.control"
BATCH = 200
PAUSED_WAIT = 60.0  # a paused job listens this long for its resume, then looks again
BUSY_WAIT = 0.5  # seconds before a job held by its concurrency cap or canary looks again
RESULT_SAMPLES = 20
REASON_SAMPLES = 3
FILTER_FIELDS = ("workflow", "status", "queue")
# what a batch changes on the job row (never the selection, `run_ids`)
PROGRESS_FIELDS = ["state", "stop_reason", "offset", "done", "refused", "skipped", "results",
                   "samples", "canary_passed", "paced_at", "paced_count", "updated_at",
                   "finished_at"]  # fmt: skip

# the actions a job can carry out: name -> call(batch, reason, request_id, job); filled in
# by `durable.operations`, whose public functions they are
ACTIONS: dict[str, Callable[[list[str], str, str, BulkJob], BulkResult]] = {}
DERIVING = ("restart", "fork")  # their results are new runs
REPEATING = ("resume", "restart", "fork")  # their results run again: capped, canaried


class JobNotFoundError(InvalidArgumentError):
    def __init__(self, job_id: Any) -> None:
        super().__init__("job", f"no bulk job {str(job_id)[:80]!r}; `durable jobs` lists them")


def start(
    action: str,
    run_ids: Any = None,
    *,
    filter: dict[str, str] | None = None,  # noqa: A002 - the operator's word for it
    actor: str | None = None,
    reason: str = "",
    request_id: str | uuid.UUID | None = None,
    include_superseded: bool = False,
    rate: float | None = None,
    concurrency: int | None = None,
    canary: int | None = None,
    canary_max_failed: float = 0.0,
    selection: dict[str, Any] | None = None,
    as_of: datetime | None = None,
) -> BulkJob:
    """Start a bulk job: `action` (cancel, resume, hold, release, restart, fork) over
    `run_ids`, or over the runs matching `filter` ({workflow, status, queue}) now, carried
    out by the executors as a durable workflow (it goes on whatever happens to the
    caller). A restart or fork refuses runs restarted or forked since `as_of` (default:
    the job's start).

    `rate` caps runs per second; `concurrency` caps the job's resumed or restarted runs in
    flight; `canary` does that many first, waits for their outcome and stops the job by
    itself if more than `canary_max_failed` percent did not succeed. Each batch is audited
    as `actor`. A repeated `request_id` returns the job it started."""
    if action not in ACTIONS:
        raise InvalidArgumentError(
            "action", f"must be one of {', '.join(ACTIONS)}, not {action!r:.40}"
        )
    validation.free_text("reason", reason)
    options = _options(rate, concurrency, canary, canary_max_failed)
    job_id = _job_id(request_id)
    existing = BulkJob.objects.filter(id=job_id).first()
    if existing is not None:
        return _same_request(existing, action, request_id)
    ids = selected(run_ids, filter)
    with transaction.atomic():
        job, created = BulkJob.objects.get_or_create(id=job_id, defaults={
            "run_id": f"durable-job-{job_id}", "actor": current_actor(actor), "action": action,
            "reason": reason, "run_ids": ids, "total": len(ids),
            "selection": selection or ({"filter": filter} if filter else {"run_ids": len(ids)}),
            "include_superseded": bool(include_superseded), "as_of": as_of, **options,
        })  # fmt: skip
        if created:
            # first in its queue: a job must not wait behind the runs it resumes
            start_run(WORKFLOW, str(job.id), run_id=job.run_id, priority=validation.INT32[1])
            _audit(job, "bulk_job_start", job.actor, {"total": job.total, **options})
    return job if created else _same_request(job, action, request_id)


def _same_request(job: BulkJob, action: str, request_id: Any) -> BulkJob:
    """The job a repeated request id started, if it is the same action."""
    if job.action != action:
        raise RequestIdConflictError(
            f"request id {str(request_id)[:200]!r} already started bulk job {job.id} to "
            f"{job.action} {job.total} run(s); a {action} needs a request id of its own",
            job_id=str(job.id),
            action=job.action,
        )
    return job


def _options(rate: Any, concurrency: Any, canary: Any, canary_max_failed: Any) -> dict[str, Any]:
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)
                             or not 0 < rate < 1e6):  # fmt: skip
        raise InvalidArgumentError("rate", "must be a number of runs per second above 0")
    for name, value in (("concurrency", concurrency), ("canary", canary)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 < value < 2**31):  # fmt: skip
            raise InvalidArgumentError(name, "must be a whole number above 0")
    if isinstance(canary_max_failed, bool) or not isinstance(canary_max_failed, int | float) \
            or not 0 <= canary_max_failed <= 100:  # fmt: skip
        raise InvalidArgumentError("canary_max_failed", "must be a percentage from 0 to 100")
    return {"rate": None if rate is None else float(rate), "concurrency": concurrency,
            "canary": canary, "canary_max_failed": float(canary_max_failed)}  # fmt: skip


def _job_id(request_id: str | uuid.UUID | None) -> uuid.UUID:
    if request_id is None:
        return uuid.uuid4()
    if isinstance(request_id, uuid.UUID):
        return request_id
    validation.text("request_id", request_id)
    try:
        return uuid.UUID(request_id)
    except ValueError:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"durable-bulk-job:{request_id}")


def selected(run_ids: Any, filter: dict[str, str] | None) -> list[str]:  # noqa: A002
    """The job's runs, fixed now: runs created later are never touched (a restart cannot
    chase its own new runs)."""
    if (run_ids is None) == (filter is None):
        raise InvalidArgumentError("run_ids", "give either run ids or a filter")
    if run_ids is not None:
        return [str(run_id) for run_id in run_id_list(run_ids)]  # bad ids are refused per batch
    if not isinstance(filter, dict) or not filter or set(filter) - set(FILTER_FIELDS):
        raise InvalidArgumentError(
            "filter", f"must map some of {', '.join(FILTER_FIELDS)} to values"
        )
    query = Q()
    for field, value in filter.items():
        query &= Q(**{field: validation.text(field, value)})
    runs = Run.objects.filter(query).exclude(workflow=WORKFLOW).order_by("created_at", "id")
    return list(runs.values_list("id", flat=True))


def get(job_id: Any) -> BulkJob:
    try:
        job = BulkJob.objects.filter(id=uuid.UUID(str(job_id))).first()
    except ValueError:
        job = None
    if job is None:
        raise JobNotFoundError(job_id)
    return job


def control(job_id: Any, verb: str, actor: str | None = None, reason: str = "") -> BulkJob:
    """Pause, resume or abort a job (audited); its run hears at once."""
    validation.free_text("reason", reason)
    target = {"pause": JobState.PAUSED, "resume": JobState.RUNNING, "abort": JobState.ABORTED}
    allowed = {"pause": (JobState.RUNNING,), "resume": (JobState.PAUSED,),
               "abort": (JobState.RUNNING, JobState.PAUSED)}  # fmt: skip
    job = get(job_id)
    with transaction.atomic():
        changed = BulkJob.objects.filter(id=job.id, state__in=allowed[verb]).update(
            state=target[verb], updated_at=clock.now(),
            **({"finished_at": clock.now()} if verb == "abort" else {}),
        )  # fmt: skip
        job.refresh_from_db()
        if not changed:
            raise OperationRefused(job.run_id, f"the job is {job.state.lower()}: it can't {verb}")
        _audit(job, f"bulk_job_{verb}", current_actor(actor), {"reason": reason})
        send(job.run_id, verb, topic=CONTROL_TOPIC)
    return job


def abort_with_their_runs(run_ids: list[str], reason: str) -> None:
    """Jobs whose own run was cancelled (named on its own, or taken by a selection) end
    ABORTED with it: nothing carries them on any more, and "running" would show for ever."""
    now = clock.now()
    BulkJob.objects.filter(
        run_id__in=run_ids, state__in=(JobState.RUNNING, JobState.PAUSED)
    ).update(
        state=JobState.ABORTED, finished_at=now, updated_at=now,
        stop_reason=f"its run was cancelled: {reason}",
    )  # fmt: skip


def _audit(job: BulkJob, action: str, actor: str, detail: dict[str, Any]) -> None:
    detail = {"job": str(job.id), "job_action": job.action, **detail}
    AuditEntry.objects.create(actor=actor, action=action, run_ids=[], detail=detail)


def next_batch(job_id: str) -> dict[str, Any]:
    """Act on the job's next batch, or say how long to wait first: {"over": bool,
    "wait": seconds, "listen": wait for a control message}. Runs inside the step's
    transaction: the batch, the job's progress and the checkpoint commit together."""
    # the selection stays in the database: each batch reads its slice (a job of a million
    # runs does not load, nor rewrite, its ids at every step)
    job = BulkJob.objects.select_for_update().defer("run_ids").get(id=job_id)
    if job.finished:
        return {"over": True, "state": job.state}
    if job.state == JobState.PAUSED:
        return {"over": False, "wait": PAUSED_WAIT, "listen": True}
    wait = _canary_verdict(job) if _judging_canary(job) else None
    if wait is None:
        wait = _held_back(job)
    if wait is None and job.offset < job.total:
        wait = _act(job)  # the job finishes at the next step, once what follows a batch
    elif job.offset >= job.total and not _judging_canary(job) and job.state == JobState.RUNNING:
        _finish(job, JobState.FINISHED)  # (a cancel's confirmation) has been done
    job.updated_at = clock.now()
    job.save(update_fields=PROGRESS_FIELDS)
    return {"over": job.finished, "state": job.state, "wait": wait or 0.0, "listen": False,
            "cancelled": getattr(job, "cancelled_now", [])}  # fmt: skip


def confirm_cancels(job_id: str, run_ids: list[str]) -> int:
    """After a cancel batch committed: wait for the executors of the runs it stopped
    (`_cancel_confirmation`); those that did not confirm are kept with the job, grouped by
    why, so its page says so rather than pretend. Returns how many were not confirmed."""
    unconfirmed = confirm_stopped(run_ids)
    if unconfirmed:
        with transaction.atomic():
            job = BulkJob.objects.select_for_update().defer("run_ids").get(id=job_id)
            for run_id, why in unconfirmed.items():
                _sample(job.unconfirmed, why, run_id)
            job.save(update_fields=["unconfirmed"])
    return len(unconfirmed)


def _judging_canary(job: BulkJob) -> bool:
    return bool(job.canary) and not job.canary_passed and job.action in REPEATING \
        and job.offset >= min(job.canary, job.total) and job.state == JobState.RUNNING  # fmt: skip


def _canary_verdict(job: BulkJob) -> float | None:
    """None once the canary's runs all ended and few enough failed; else seconds to wait
    (the job stops itself, saying why, when too many failed again)."""
    canary_runs = job.results[: job.canary]
    statuses = list(Run.objects.filter(id__in=canary_runs).values_list("status", flat=True))
    if any(status not in RunStatus.terminal() for status in statuses):
        return BUSY_WAIT
    failed = sum(status != RunStatus.SUCCESS for status in statuses)
    if statuses and 100 * failed / len(statuses) > job.canary_max_failed:
        job.stop_reason = (
            f"canary failed: {failed} of the first {len(statuses)} runs "
            f"{'restarted' if job.action != 'resume' else 'resumed'} did not succeed "
            f"(more than {job.canary_max_failed:g}% allowed); the rest were left alone"
        )
        _finish(job, JobState.STOPPED)
        return 0.0
    job.canary_passed = True
    return None


def _held_back(job: BulkJob) -> float | None:
    """Seconds to wait for the concurrency cap or the rate, or None to act now."""
    if job.concurrency and job.action in REPEATING and _in_flight(job) >= job.concurrency:
        return BUSY_WAIT
    if job.rate:  # runs acted on: one skipped as superseded or refused reaches nothing
        anchor = job.paced_at or job.created_at
        due = anchor + timedelta(seconds=(job.done - job.paced_count) / job.rate)
        wait = clock.seconds_until(due)
        if wait > 0:
            return wait
        if wait < -1.0:  # after a pause or the canary's wait: pace from now, no burst
            job.paced_at, job.paced_count = clock.now(), job.done
    return None


def _in_flight(job: BulkJob) -> int:
    active = RunStatus.active()
    return Run.objects.filter(id__in=job.results, status__in=active).count()


def _batch_size(job: BulkJob) -> int:
    size = BATCH
    if job.rate:  # about four batches a second: the pace stays even
        size = max(1, min(size, math.floor(job.rate / 4)))
    if job.concurrency and job.action in REPEATING:
        size = min(size, max(1, job.concurrency - _in_flight(job)))
    if job.canary and not job.canary_passed and job.action in REPEATING:
        size = min(size, max(1, job.canary - job.offset))
    return size


def _act(job: BulkJob) -> float:
    """Apply the action to the next batch; an error that would recur on every try (a
    refused option, a bug) stops the job, saying why, instead of failing its run."""
    end = job.offset + _batch_size(job)
    batch = BulkJob.objects.filter(id=job.id).values_list(
        f"run_ids__{job.offset}_{end}", flat=True
    )[0]
    try:
        with acting_as(job.actor), transaction.atomic():
            outcome = ACTIONS[job.action](batch, job.reason or f"bulk {job.action} by {job.actor}",
                                          f"job:{job.id}", job)  # fmt: skip
    except DurableError as exc:
        job.stop_reason = f"stopped at run {job.offset + 1} of {job.total}: {exc}"
        _finish(job, JobState.STOPPED)
        return 0.0
    job.offset += len(batch)
    _record(job, outcome)
    if job.action == "cancel":
        job.cancelled_now = list(outcome.done)
    return 0.0


def _record(job: BulkJob, outcome: BulkResult) -> None:
    job.done += outcome.done_count
    job.skipped += outcome.skipped_count
    if job.action in REPEATING and (job.concurrency or job.canary):  # only they read it
        job.results = [*job.results, *outcome.done.values()]
    for run_id, new_id in outcome.done.items():
        if len(job.samples) < RESULT_SAMPLES:
            job.samples[run_id] = new_id
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


def _finish(job: BulkJob, state: str) -> None:
    job.state = state
    job.finished_at = clock.now()
