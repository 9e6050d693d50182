"""Failure-group triage, as the Failures page's form: owner, acknowledgement, mute until a
time or until a version ships, ticket URL, notes. The dashboard's form checks the fields
(the same words); only the fields sent change, so a bot can acknowledge without knowing
the notes; `durable.observability.alerting` audits what changed, naming the token's user.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from dashboard.alert_forms import TriageForm
from dashboard.api.auth import actor
from dashboard.api.problems import ERRORS, Problem, invalid_form
from durable.models import FailureGroupTriage
from durable.observability import alerting

router = Router(tags=["failures"])


class Group(Schema):
    """A failure group, as `GET failures` names it (`name` there is the step)."""

    workflow: str = Field(..., max_length=300)
    step: str = Field(..., max_length=300)
    error_type: str = Field(..., max_length=300)
    fingerprint: str = Field(..., max_length=64)


class TriageChange(Group):
    model_config = ConfigDict(extra="forbid")  # a request body (dashboard.api.parsing.Body)

    owner: str | None = Field(None, description="a dashboard user's name; empty: nobody")
    acknowledged: bool | None = None
    muted_until: str | None = Field(
        None, description="an ISO 8601 time notifications stay muted until; null: unmuted"
    )
    muted_until_version: str | None = Field(
        None, description="muted until an executor serving workflow@version is live"
    )
    ticket_url: str | None = None
    notes: str | None = None


class TriageState(Group):
    owner: str
    acknowledged_by: str
    acknowledged_at: datetime | None
    muted_until: datetime | None
    muted_until_version: str
    ticket_url: str
    notes: str
    updated_at: datetime


def triage_json(triage: FailureGroupTriage | None) -> dict[str, Any] | None:
    """One group's triage as the failures list and the triage answer show it."""
    return TriageState.model_validate(triage).model_dump() if triage is not None else None


@router.post(
    "/failures/actions/triage",
    response={200: TriageState, ERRORS: Problem},
    summary="Triage a failure group",
)
def triage(request: HttpRequest, payload: TriageChange) -> FailureGroupTriage:
    """Change the fields sent (null or "" clears one); sent again, nothing changes and
    nothing more is audited."""
    sent = payload.dict(exclude_unset=True)
    form = TriageForm({name: "" if value is None else value for name, value in sent.items()})
    if not form.is_valid():
        raise invalid_form(form)
    changes = {name: value for name, value in form.changes().items() if name in sent}
    return alerting.triage.update(form.group(), changes, actor=actor(request)[:150])
