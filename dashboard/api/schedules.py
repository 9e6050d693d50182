"""Cron schedules: list, create, update, pause, resume, trigger, delete; audited as the
token's user by `durable.schedules`, whose refusals are told in its words."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router

from dashboard import idempotency
from dashboard.api.actions import REASON, Reason
from dashboard.api.auth import actor
from dashboard.api.parsing import Body
from dashboard.api.problems import ERRORS, Problem
from dashboard.views.schedules import manual_run_id
from durable import operations
from durable import schedules as durable_schedules
from durable.errors import InvalidArgumentError, UnknownWorkflowError
from durable.models import Run

router = Router(tags=["schedules"])
NAME = Field(..., min_length=1, max_length=300)
Missed = Literal["latest", "skip", "all"]


def _info(info: Any) -> dict[str, Any]:
    return asdict(info)


@router.get(
    "/schedules", response={200: list[dict[str, Any]], ERRORS: Problem}, summary="Cron schedules"
)
def list_schedules(request: HttpRequest) -> list[dict[str, Any]]:
    """Every schedule, from code and from the API, with its last and next tick."""
    return [_info(info) for info in durable_schedules.list()]


class ScheduleCreate(Body):
    name: str = NAME
    workflow: str = Field(..., max_length=300)
    cron: str = Field(..., max_length=200)
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    missed: Missed = "latest"
    queue: str | None = Field(None, max_length=200)
    paused: bool = False
    reason: Reason = REASON


class ScheduleUpdate(Body):
    name: str = NAME
    workflow: str | None = Field(None, max_length=300)
    cron: str | None = Field(None, max_length=200)
    args: list[Any] | None = None
    kwargs: dict[str, Any] | None = None
    missed: Missed | None = None
    queue: str | None = Field(None, max_length=200)
    reason: Reason = REASON


class ScheduleAction(Body):
    name: str = NAME
    reason: Reason = REASON
    request_id: str | None = Field(None, max_length=200, description="or Idempotency-Key")


ANSWER = {200: dict[str, Any], ERRORS: Problem}


@contextmanager
def _workflow_sent(fields: dict[str, Any]) -> Iterator[None]:
    """A workflow the request names and this server does not know is a bad argument (400,
    naming the field); a schedule's stored workflow missing here stays the engine's 409."""
    try:
        yield
    except UnknownWorkflowError as exc:
        if "workflow" not in fields:
            raise
        raise InvalidArgumentError("workflow", f"{exc}; or check the name for a typo") from exc


@router.post("/schedules", response=ANSWER, summary="Create a schedule")
def create(request: HttpRequest, payload: ScheduleCreate) -> dict[str, Any]:
    """A schedule stored in PostgreSQL; its first run is at its next tick."""
    fields = payload.dict(exclude={"name", "reason"})
    with operations.acting_as(actor(request)), _workflow_sent(fields):
        return _info(durable_schedules.create(payload.name, reason=payload.reason, **fields))


@router.post("/schedules/actions/update", response=ANSWER, summary="Change a schedule")
def update(request: HttpRequest, payload: ScheduleUpdate) -> dict[str, Any]:
    """Change an API schedule's fields (those sent); a code schedule is changed in code."""
    fields = payload.dict(exclude={"name", "reason"}, exclude_unset=True)
    with operations.acting_as(actor(request)), _workflow_sent(fields):
        return _info(durable_schedules.update(payload.name, reason=payload.reason, **fields))


@router.post("/schedules/actions/pause", response=ANSWER, summary="Pause a schedule")
def pause(request: HttpRequest, payload: ScheduleAction) -> dict[str, Any]:
    with operations.acting_as(actor(request)):
        return _info(durable_schedules.pause(payload.name, reason=payload.reason))


@router.post("/schedules/actions/resume", response=ANSWER, summary="Resume a schedule")
def resume(request: HttpRequest, payload: ScheduleAction) -> dict[str, Any]:
    with operations.acting_as(actor(request)):
        return _info(durable_schedules.resume(payload.name, reason=payload.reason))


@router.post("/schedules/actions/delete", response=ANSWER, summary="Delete a schedule")
def delete(request: HttpRequest, payload: ScheduleAction) -> dict[str, Any]:
    with operations.acting_as(actor(request)):
        durable_schedules.delete(payload.name, reason=payload.reason)
    return {"deleted": payload.name}


@router.post("/schedules/actions/trigger", response=ANSWER, summary="Start a run now")
def trigger(request: HttpRequest, payload: ScheduleAction) -> dict[str, Any]:
    """One run now, paused or not; the same request id starts it once."""
    key = request.headers.get("Idempotency-Key") or payload.request_id
    username = request.user.get_username()
    rid = (
        idempotency.keyed(username, "trigger", key[:200])
        if key
        else idempotency.request_id(
            request,
            "trigger",
            [payload.name],
            None,
            acted_on=lambda r: Run.objects.filter(id=manual_run_id(payload.name, r)).exists(),
        )
    )
    run_id = manual_run_id(payload.name, rid)
    if Run.objects.filter(id=run_id).exists():
        return {"run_id": run_id, "repeated": True}
    with operations.acting_as(actor(request)):
        handle = durable_schedules.trigger(payload.name, run_id=run_id, reason=payload.reason)
    return {"run_id": handle.run_id, "repeated": False}
