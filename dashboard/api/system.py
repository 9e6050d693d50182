"""Failure groups (with their triage), the audit log, queues and their limits, executors
and their drains."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from django import forms
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from dashboard.api.actions import REASON, Reason
from dashboard.api.auth import actor
from dashboard.api.parsing import Body
from dashboard.api.problems import ERRORS, ApiProblem, Problem, invalid_form
from dashboard.api.triage import triage_json
from dashboard.forms import (
    WINDOWS,
    ExecutorActionForm,
    QueueLimitsForm,
    QueueResetForm,
    RaiseLimitForm,
)
from dashboard.queries import activity, hotspots
from dashboard.views.activity import AuditForm
from durable import operations, queues
from durable.errors import ExecutorNotFoundError
from durable.observability import alerting

router = Router(tags=["system"])


def _valid(form: forms.Form) -> dict[str, Any]:
    if not form.is_valid():
        raise invalid_form(form)
    return form.cleaned_data


@router.get(
    "/failures", response={200: list[dict[str, Any]], ERRORS: Problem}, summary="Failure groups"
)
def failures(request: HttpRequest, window: str = "24h") -> list[dict[str, Any]]:
    """Failures grouped by workflow, step, error type and fingerprint, with a trend and
    the group's triage (null until triaged: POST failures/actions/triage)."""
    if window not in WINDOWS:
        raise ApiProblem(
            400,
            f"window: choose one of {', '.join(WINDOWS)}.",
            [{"field": "window", "message": f"one of {', '.join(WINDOWS)}"}],
        )
    groups = hotspots.hotspots(*hotspots.window_bounds(WINDOWS[window]))
    triaged = alerting.triage.triage_for(groups)
    for group in groups:
        group["bucket"] = group["bucket"].total_seconds()
        key = (group["workflow"], group["name"], group["error_type"], group["error_fingerprint"])
        group["triage"] = triage_json(triaged.get(key))
    return groups


class AuditQuery(Schema):
    actor: str = ""
    action: str = ""
    run: str = ""
    before: int | None = None


class AuditRow(Schema):
    id: int
    actor: str
    action: str
    run_ids: list[str]
    detail: Any
    created_at: datetime


class AuditPage(Schema):
    entries: list[AuditRow]
    before: int | None  # pass as `before` for the next (older) page


@router.get("/audit", response={200: AuditPage, ERRORS: Problem}, summary="The audit log")
def audit(request: HttpRequest, query: Query[AuditQuery]) -> dict[str, Any]:
    """Operator actions, newest first, filtered by actor, action or run."""
    data = _valid(AuditForm({k: v for k, v in query.dict().items() if v not in ("", None)}))
    entries = activity.audit_entries(
        data.get("actor") or "", data.get("action") or "", data.get("run") or "", data.get("before")
    )
    more = len(entries) > activity.AUDIT_PAGE
    entries = entries[: activity.AUDIT_PAGE]
    rows = [
        {
            **{
                name: getattr(e, name) for name in ("id", "actor", "action", "detail", "created_at")
            },
            "run_ids": e.run_ids[:100],
        }
        for e in entries
    ]
    return {"entries": rows, "before": entries[-1].id if more and entries else None}


@router.get("/queues", response={200: list[dict[str, Any]], ERRORS: Problem}, summary="Queues")
def list_queues(request: HttpRequest) -> list[dict[str, Any]]:
    """Each stored queue's effective limits, where they come from, and its depth."""
    depths = {row["queue"]: row for row in activity.queue_depths()}
    return [
        {
            **asdict(item["limits"]),
            "override": item["row"].override,
            "declared": item["row"].declared,
            "enqueued": depths.get(item["row"].name, {}).get("ENQUEUED", 0),
            "running": depths.get(item["row"].name, {}).get("RUNNING", 0),
        }
        for item in activity.stored_queues()
    ]


class QueueLimits(Body):
    name: str = Field(..., max_length=200)
    concurrency: int | None = None
    worker_concurrency: int | None = None
    rate_count: int | None = None
    rate_seconds: float | None = None
    priority: bool = False
    reason: Reason = REASON


class QueueReset(Body):
    name: str = Field(..., max_length=200)
    reason: Reason = REASON


def _on_queue(request: HttpRequest, form: forms.Form, call: Callable[[str, str], Any]):
    data = _valid(form)
    if queues.stored_limits(data["name"]) is None:
        raise ApiProblem(404, f"Nothing changed: no queue {data['name']} is stored.")
    with operations.acting_as(actor(request)):
        return asdict(call(data["name"], data["reason"].strip()))


@router.post(
    "/queues/actions/set-limits",
    response={200: dict[str, Any], ERRORS: Problem},
    summary="Override a queue's limits",
)
def set_limits(request: HttpRequest, payload: QueueLimits) -> dict[str, Any]:
    """An operator's override: it wins over the code's declaration until reset."""
    form = QueueLimitsForm({k: v for k, v in payload.dict().items() if v is not None})
    return _on_queue(
        request, form, lambda name, reason: queues.set_limits(name, **form.limits(), reason=reason)
    )


@router.post(
    "/queues/actions/reset-limits",
    response={200: dict[str, Any], ERRORS: Problem},
    summary="Drop a queue's override",
)
def reset_limits(request: HttpRequest, payload: QueueReset) -> dict[str, Any]:
    form = QueueResetForm(payload.dict())
    return _on_queue(request, form, lambda name, reason: queues.reset_limits(name, reason=reason))


class RaiseLimit(Body):
    name: str = Field(..., max_length=200)
    limit: Literal["concurrency", "rate_limit"]
    value: int = Field(..., description="the new concurrency, or runs per the rate's window")
    reason: Reason = REASON


@router.post(
    "/queues/actions/raise-limit",
    response={200: dict[str, Any], ERRORS: Problem},
    summary="Raise one limit of a queue",
)
def raise_limit(request: HttpRequest, payload: RaiseLimit) -> dict[str, Any]:
    """A waiting run's way out: one limit changed, the others kept (a rate keeps its
    window), where set-limits replaces them all."""
    form = RaiseLimitForm(payload.dict())

    def call(name: str, reason: str) -> queues.Limits:
        value = form.cleaned_data["value"]
        if form.cleaned_data["limit"] == "concurrency":
            return queues.set_limits(name, concurrency=value, reason=reason)
        current = queues.stored_limits(name)
        window = ((current and current.rate_limit) or (0, 60.0))[1]
        return queues.set_limits(name, rate_limit=(value, window), reason=reason)

    return _on_queue(request, form, call)


@router.get(
    "/executors", response={200: list[dict[str, Any]], ERRORS: Problem}, summary="Executors"
)
def executors(request: HttpRequest) -> list[dict[str, Any]]:
    """Every known executor: alive, draining, runs held, workflows served."""
    fields = (
        "id",
        "kind",
        "hostname",
        "pid",
        "workflows",
        "started_at",
        "last_seen_at",
        "draining",
        "drain_release_at",
    )
    return [
        {
            **{name: getattr(row["executor"], name) for name in fields},
            "alive": row["alive"],
            "running": row["running"],
        }
        for row in activity.executors()
    ]


class Drain(Body):
    executor_id: str = Field(..., max_length=200)
    reason: Reason = REASON
    release_after: float | None = Field(None, description="seconds its runs in flight get")


class Done(Schema):
    done: str


def _on_executor(request: HttpRequest, payload: Schema, call: Callable[[str, dict], None]):
    """`call` on the form's executor; one that is not there is a 404 naming where the
    executors are listed (this API's, not the dashboard page the engine's words name)."""
    data = _valid(ExecutorActionForm({k: v for k, v in payload.dict().items() if v is not None}))
    executor_id = data["executor_id"]
    try:
        with operations.acting_as(actor(request)):
            call(executor_id, data)
    except ExecutorNotFoundError:
        listing = request.path.rsplit("/actions/", 1)[0]  # <mount>/api/executors
        raise ApiProblem(
            404,
            f"Nothing changed: no executor {executor_id!r}: it stopped, or the id is "
            f"mistyped; GET {listing} lists them",
        ) from None
    return executor_id


@router.post(
    "/executors/actions/drain", response={200: Done, ERRORS: Problem}, summary="Drain an executor"
)
def drain(request: HttpRequest, payload: Drain) -> dict[str, str]:
    """It takes no new runs; its runs in flight finish there (or move after release_after)."""
    executor_id = _on_executor(
        request,
        payload,
        lambda executor_id, data: operations.drain_executor(
            executor_id, reason=data["reason"].strip(), release_after=data["release_after"]
        ),
    )
    return {
        "done": f"Draining {executor_id}: it takes no new runs; its runs in flight finish there."
    }


@router.post(
    "/executors/actions/undrain",
    response={200: Done, ERRORS: Problem},
    summary="Undrain an executor",
)
def undrain(request: HttpRequest, payload: Drain) -> dict[str, str]:
    executor_id = _on_executor(
        request,
        payload,
        lambda executor_id, data: operations.undrain_executor(
            executor_id, reason=data["reason"].strip()
        ),
    )
    return {"done": f"Undrained {executor_id}: it takes new runs again."}
