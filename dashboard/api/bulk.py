"""Bulk jobs: preview what an action would touch, start a job, list the jobs (the Jobs
page), read one's progress, pause, resume or abort it. A job is a durable workflow on the executors
(`durable.operations.start_bulk_job`): one request starts it, it goes on by itself, and a
repeated start request returns the same job.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, QueryDict
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import ConfigDict

from dashboard import bulk
from dashboard.api.actions import REASON, Reason
from dashboard.api.auth import actor
from dashboard.api.parsing import Body
from dashboard.api.problems import ERRORS, ApiProblem, Problem, invalid_form
from dashboard.api.runs import RunFilterQuery, parse_filter
from dashboard.forms import BulkForm, BulkStartForm, filter_params
from dashboard.queries.runs import RunFilter
from dashboard.views.debug import bulk_preview_lines
from durable import operations
from durable.errors import DurableError, RequestIdConflictError
from durable.models import BulkJob

router = Router(tags=["bulk"])


class Filter(RunFilterQuery):
    model_config = ConfigDict(extra="forbid")  # the filter of a body (see Body)

    cursor: str = Field(default="", exclude=True)
    limit: int = Field(default=50, exclude=True)


class BulkTarget(Body):
    action: Literal["cancel", "resume", "hold", "release", "restart", "fork"]
    scope: Literal["selected", "matching"]
    run_ids: list[str] = Field([], max_length=1000)
    filter: Filter = Filter()


class BulkPreview(Schema):
    action: str
    total: int
    eligible: int
    refused: int
    breakdown: dict[str, int]
    replay_preview: list[str]
    as_of: datetime
    token: uuid.UUID  # send it back to start the job: one job per preview


class BulkStart(BulkTarget):
    reason: Reason = REASON
    token: uuid.UUID
    as_of: datetime
    total: int = Field(..., ge=0, le=10**9)


class JobStatus(Schema):
    id: uuid.UUID
    action: str
    state: str
    stop_reason: str
    total: int
    done: int
    refused: dict[str, Any]
    results: dict[str, str]  # a few origin -> resulting run pairs
    processed: int
    left: int
    percent: int
    finished: bool

    @staticmethod
    def resolve_results(job: BulkJob) -> dict[str, str]:
        return job.samples


class JobListed(JobStatus):
    actor: str  # who started it: each batch is audited as them
    reason: str
    created_at: datetime
    finished_at: datetime | None


def _form(form_class: type, payload: BulkTarget, **extra: Any):
    data = QueryDict(mutable=True)
    data.update({"action": payload.action, "scope": payload.scope, **extra})
    data.setlist("run_ids", payload.run_ids)
    form = form_class(data)
    if not form.is_valid():
        raise invalid_form(form)
    return form


def _target(payload: BulkTarget) -> RunFilter:
    if payload.scope == "selected":
        return RunFilter(ids=tuple(payload.run_ids))
    return parse_filter(payload.filter.dict())


@router.post(
    "/bulk/preview", response={200: BulkPreview, ERRORS: Problem}, summary="Preview a bulk action"
)
def preview(request: HttpRequest, payload: BulkTarget) -> dict[str, Any]:
    """How many runs the action would change and refuse, and which steps would run again.
    Changes nothing."""
    _form(BulkForm, payload)
    run_filter = _target(payload)
    breakdown = bulk.breakdown(payload.action, run_filter)
    total, eligible = sum(breakdown.values()), bulk.eligible_count(payload.action, breakdown)
    return {
        "action": payload.action,
        "total": total,
        "eligible": eligible,
        "refused": total - eligible,
        "breakdown": breakdown,
        "as_of": timezone.now(),
        "replay_preview": bulk_preview_lines(
            payload.action, run_filter, bulk.ELIGIBLE[payload.action]
        ),
        "token": uuid.uuid4(),
    }


class JobsQuery(Schema):
    limit: int = Field(100, ge=1, le=1000, description="jobs at most (the Jobs page shows 100)")


@router.get("/bulk", response={200: list[JobListed], ERRORS: Problem}, summary="Bulk jobs")
def jobs(request: HttpRequest, query: Query[JobsQuery]) -> list[BulkJob]:
    """The newest bulk jobs first, as the Jobs page lists them."""
    return operations.list_jobs(query.limit)


@router.post("/bulk", response={200: JobStatus, ERRORS: Problem}, summary="Start a bulk job")
def start(request: HttpRequest, payload: BulkStart) -> BulkJob:
    """Start the previewed job and run its first batch; sent again, it continues the job.
    A job belongs to the token that started it."""
    form = _form(
        BulkStartForm,
        payload,
        token=str(payload.token),
        reason=payload.reason,
        as_of=payload.as_of.isoformat(),
        total=str(payload.total),
    )
    data, run_filter, owner = form.cleaned_data, _target(payload), actor(request)[:150]
    matching = payload.scope == "matching"
    run_ids = bulk.matching_ids(run_filter, data["as_of"]) if matching else list(data["run_ids"])
    selection = {"filter": filter_params(run_filter)} if matching else {"ticked": len(run_ids)}
    try:
        return bulk.start(
            owner, payload.token, run_ids, action=payload.action, reason=data["reason"],
            as_of=data["as_of"], selection=selection,
        )  # fmt: skip
    except RequestIdConflictError as exc:
        raise ApiProblem(
            409,
            f"This preview token already started a bulk {exc.action} job ({exc.job_id}); "
            f"nothing else was started. To {payload.action} these runs, preview the "
            f"{payload.action} (POST bulk/preview) and send its token.",
        ) from exc
    except DurableError as exc:
        raise ApiProblem(400, str(exc)) from exc


class JobControl(Body):
    reason: str = Field("", max_length=500, description="why, for the audit log (optional)")


@router.post(
    "/bulk/{uuid:job_id}/{verb}",
    response={200: JobStatus, ERRORS: Problem},
    summary="Pause, resume or abort a bulk job",
)
def control(
    request: HttpRequest,
    job_id: uuid.UUID,
    verb: Literal["pause", "resume", "abort"],
    payload: JobControl | None = None,
) -> BulkJob:
    call = {"pause": operations.pause_job, "resume": operations.resume_job,
            "abort": operations.abort_job}[verb]  # fmt: skip
    reason = payload.reason if payload is not None else ""
    try:
        return call(str(job_id), actor=actor(request), reason=reason)
    except DurableError as exc:
        raise ApiProblem(409 if "can't" in str(exc) else 404, str(exc)) from exc


@router.get(
    "/bulk/{uuid:job_id}",
    response={200: JobStatus, ERRORS: Problem},
    summary="A bulk job's progress",
)
def progress(request: HttpRequest, job_id: uuid.UUID) -> BulkJob:
    job = BulkJob.objects.filter(id=job_id).first()
    if job is None:
        raise ApiProblem(404, "No such bulk job: start it from a preview.")
    return job
