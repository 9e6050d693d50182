"""Triage of failure groups, the way error trackers triage exceptions: an owner, an
acknowledgement, a mute (until a time, or until a code version ships: an executor of that
version heartbeats), a ticket link and notes. Every change is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from durable.core.conf import settings
from durable.core.store import _alerts as store_alerts
from durable.errors import InvalidArgumentError
from durable.models import AuditEntry, FailureGroupTriage
from durable.observability.alerting._conditions import group_key

TRIAGE_FIELDS = (
    "owner",
    "acknowledged",
    "muted_until",
    "muted_until_version",
    "ticket_url",
    "notes",
)


def version_served(workflow: str, version: str) -> bool:
    alive = 2 * float(settings.DURABLE_LEASE_SECONDS)
    return store_alerts.version_served(workflow, version, alive)


def muted_group_keys() -> set[str]:
    """The failure groups that send no notifications now."""
    muted = FailureGroupTriage.objects.filter(Q(muted_until__gt=Now()) | ~Q(muted_until_version=""))
    return {group_key(t.workflow, t.step, t.error_type, t.fingerprint) for t in muted}


def lift_shipped_mutes() -> int:
    """End "muted until version V ships" once an executor of V is live; audited."""
    lifted = 0
    waiting = FailureGroupTriage.objects.exclude(muted_until_version="")
    for workflow, version in set(waiting.values_list("workflow", "muted_until_version")):
        if not version_served(workflow, version):
            continue
        for triage in waiting.filter(workflow=workflow, muted_until_version=version):
            with transaction.atomic():
                claimed = FailureGroupTriage.objects.filter(
                    id=triage.id, muted_until_version=version
                ).update(muted_until_version="", updated_at=Now())
                if claimed:
                    _audit("durable", triage, {"unmuted": f"version {version} is live"})
                    lifted += 1
    return lifted


def _audit(actor: str, triage: FailureGroupTriage, changes: dict[str, Any]) -> None:
    AuditEntry.objects.create(
        actor=actor,
        action="failure_group_triage",
        detail={
            "workflow": triage.workflow,
            "step": triage.step,
            "error_type": triage.error_type,
            "fingerprint": triage.fingerprint,
            "changes": changes,
        },
    )


def group_of(incident_key: str) -> tuple[str, str, str, str] | None:
    """The failure group an incident is about (workflow, step, error type, fingerprint)."""
    if not incident_key.startswith("group:"):
        return None
    parts = incident_key.removeprefix("group:").split("|", 3)
    return (parts[0], parts[1], parts[2], parts[3]) if len(parts) == 4 else None


def get(group: tuple[str, str, str, str]) -> FailureGroupTriage | None:
    workflow, step, error_type, fingerprint = group
    rows = FailureGroupTriage.objects.filter(
        workflow=workflow, step=step, error_type=error_type, fingerprint=fingerprint
    )
    return rows.first()


def triage_for(groups: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], FailureGroupTriage]:
    """Triage rows for the Failures page's groups, keyed like them."""
    if not groups:
        return {}
    query = Q()
    for g in groups:
        query |= Q(
            workflow=g["workflow"],
            step=g["name"],
            error_type=g["error_type"],
            fingerprint=g["error_fingerprint"],
        )
    rows = FailureGroupTriage.objects.filter(query)
    return {(t.workflow, t.step, t.error_type, t.fingerprint): t for t in rows}


def update(
    group: tuple[str, str, str, str], changes: dict[str, Any], *, actor: str
) -> FailureGroupTriage:
    """Apply `changes` (a subset of TRIAGE_FIELDS; acknowledged is a bool) to one group's
    triage; audited with what changed."""
    unknown = sorted(set(changes) - set(TRIAGE_FIELDS))
    if unknown:
        raise InvalidArgumentError("changes", f"unknown triage fields {unknown}: {TRIAGE_FIELDS}")
    workflow, step, error_type, fingerprint = group
    with transaction.atomic():
        triage, _ = FailureGroupTriage.objects.select_for_update().get_or_create(
            workflow=workflow, step=step, error_type=error_type, fingerprint=fingerprint
        )
        changed: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "acknowledged":
                if bool(value) != bool(triage.acknowledged_at):
                    triage.acknowledged_at = timezone.now() if value else None
                    triage.acknowledged_by = actor if value else ""
                    changed[name] = bool(value)
                continue
            if getattr(triage, name) != value:
                setattr(triage, name, value)
                changed[name] = value.isoformat() if isinstance(value, datetime) else value
        if changed:
            triage.updated_at = timezone.now()
            triage.save()
            _audit(actor, triage, changed)
    return triage
