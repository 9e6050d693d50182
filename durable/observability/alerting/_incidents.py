"""An incident's life: opened (a trigger to every destination), re-notified after the
rule's interval, resolved when its condition clears. Each step is claimed with a
conditional write, so whichever executor (or operator action) gets there first notifies,
and only once.
"""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, connection, transaction

from durable.models import AlertIncident, AlertRule, IncidentStatus
from durable.observability.alerting import _delivery as delivery
from durable.observability.alerting._conditions import Finding
from durable.observability.alerting._destinations import Message

CLAIM_RENOTIFY = """
-- claim_incident_renotify --
-- Take the re-notification of one open incident whose interval has passed
UPDATE durable_alertincident SET last_notified_at = now()
WHERE id = %(id)s AND status = 'open'
  AND last_notified_at <= now() - make_interval(secs => %(renotify)s)
RETURNING id
"""

CLAIM_RESOLVE = """
-- claim_incident_resolve --
-- Close one open incident; the row count says whether this executor closed it
UPDATE durable_alertincident SET status = 'resolved', resolved_at = now()
WHERE id = %(id)s AND status = 'open'
RETURNING id
"""


def dedup_key(rule: AlertRule, key: str) -> str:
    """Stable for a rule and a subject: PagerDuty folds trigger, re-notify and resolve."""
    return f"durable-{rule.id}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _claimed(sql: str, params: dict) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def _message(rule: AlertRule, incident: AlertIncident, event: str) -> Message:
    return Message(
        event=event,
        rule=rule.name,
        kind=rule.kind,
        dedup_key=incident.dedup_key,
        summary=incident.summary,
        details=incident.details,
    )


def open_incident(rule: AlertRule, finding: Finding) -> None:
    try:
        with transaction.atomic():
            incident = AlertIncident.objects.create(
                rule=rule,
                key=finding.key,
                dedup_key=dedup_key(rule, finding.key),
                summary=finding.summary[:1000],
                details=finding.details,
            )
            # last_notified_at from the database's clock, as the re-notify claim reads it
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE durable_alertincident SET last_notified_at = now() WHERE id = %s",
                    [incident.id],
                )
            delivery.enqueue(rule, _message(rule, incident, "trigger"), incident)
    except IntegrityError:  # another executor opened it first (alert_incident_open_uniq)
        return


def renotify(rule: AlertRule, incident: AlertIncident, finding: Finding) -> None:
    params = {"id": incident.id, "renotify": max(rule.renotify_seconds, 1)}
    with transaction.atomic():
        if not _claimed(CLAIM_RENOTIFY, params):
            return
        incident.summary, incident.details = finding.summary[:1000], finding.details
        incident.save(update_fields=["summary", "details"])
        delivery.enqueue(rule, _message(rule, incident, "renotify"), incident)


def resolve(rule: AlertRule, incident: AlertIncident) -> list[int]:
    with transaction.atomic():
        if _claimed(CLAIM_RESOLVE, {"id": incident.id}):
            return delivery.enqueue(rule, _message(rule, incident, "resolve"), incident)
    return []


def resolve_all(rule: AlertRule) -> list[int]:
    """Resolve every open incident of `rule` (it is being disabled or deleted); returns the
    ids of the resolve deliveries queued."""
    ids: list[int] = []
    for incident in rule.incidents.filter(status=IncidentStatus.OPEN):
        ids += resolve(rule, incident)
    return ids
