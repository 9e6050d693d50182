"""An incident's life: opened (a trigger to every destination), re-notified after the
rule's interval, resolved when its condition clears. Each step is claimed with a
conditional write, so whichever executor (or operator action) gets there first notifies,
and only once.
"""

from __future__ import annotations

import hashlib

from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse

from durable.core.conf import settings
from durable.core.store import _alerts as store_alerts
from durable.models import AlertIncident, AlertRule, IncidentStatus
from durable.observability.alerting import _delivery as delivery
from durable.observability.alerting._conditions import Finding
from durable.observability.alerting._destinations import Message


def dedup_key(rule: AlertRule, key: str) -> str:
    """Stable for a rule and a subject: PagerDuty folds trigger, re-notify and resolve."""
    return f"durable-{rule.id}-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _message(rule: AlertRule, incident: AlertIncident, event: str) -> Message:
    return Message(
        event=event,
        rule=rule.name,
        kind=rule.kind,
        dedup_key=incident.dedup_key,
        summary=incident.summary,
        details=incident.details,
        link=incident_link(incident.id),
    )


def incident_link(incident_id: int) -> str:
    """The incident's dashboard page at DURABLE_SITE_URL, for on-call to open from the
    message. None is guessed from the server's own host name (it would not open from a
    phone): "" without the setting, or where the dashboard's URLs are not installed."""
    site = settings.DURABLE_SITE_URL
    if not site:
        return ""
    try:
        path = reverse("dashboard:alert_incident", args=[incident_id])
    except NoReverseMatch:
        return ""
    return site.rstrip("/") + path


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
            store_alerts.stamp_incident_notified(incident.id)
            delivery.enqueue(rule, _message(rule, incident, "trigger"), incident)
    except IntegrityError:  # another executor opened it first (alert_incident_open_uniq)
        return


def renotify(rule: AlertRule, incident: AlertIncident, finding: Finding) -> None:
    with transaction.atomic():
        if not store_alerts.claim_incident_renotify(incident.id, max(rule.renotify_seconds, 1)):
            return
        incident.summary, incident.details = finding.summary[:1000], finding.details
        incident.save(update_fields=["summary", "details"])
        delivery.enqueue(rule, _message(rule, incident, "renotify"), incident)


def resolve(rule: AlertRule, incident: AlertIncident) -> list[int]:
    with transaction.atomic():
        if store_alerts.claim_incident_resolve(incident.id):
            return delivery.enqueue(rule, _message(rule, incident, "resolve"), incident)
    return []


def resolve_all(rule: AlertRule) -> list[int]:
    """Resolve every open incident of `rule` (it is being disabled or deleted); returns the
    ids of the resolve deliveries queued."""
    ids: list[int] = []
    for incident in rule.incidents.filter(status=IncidentStatus.OPEN):
        ids += resolve(rule, incident)
    return ids
