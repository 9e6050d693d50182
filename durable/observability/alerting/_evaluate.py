"""The alerting duty: claim each due rule with a conditional write, compare what its
condition finds with its open incidents, and notify once per incident — on opening, again
after the rule's re-notify interval, and once more when it resolves.

Runs on the executors' timed duties (registered in `durable.apps`); no daemon of its own.
Muted failure groups are skipped entirely: they neither open, re-notify nor resolve.
"""

from __future__ import annotations

import hashlib
import logging

from django.db import IntegrityError, connection, transaction

from durable.core.conf import settings
from durable.models import AlertIncident, AlertKind, AlertRule, IncidentStatus
from durable.observability.alerting import _conditions as conditions
from durable.observability.alerting import _delivery as delivery
from durable.observability.alerting import _rules as rules
from durable.observability.alerting import _triage as triage
from durable.observability.alerting._destinations import Message

logger = logging.getLogger("durable")

GROUP_KINDS = (AlertKind.NEW_FAILURE_GROUP, AlertKind.GROUP_GROWING)

CLAIM_RULES = """
-- claim_due_alert_rules --
-- Move each due, enabled rule's next evaluation forward; the executor whose UPDATE changed
-- the row evaluates it (SKIP LOCKED: a second executor skips rules being claimed)
UPDATE durable_alertrule SET next_evaluation_at = now() + make_interval(secs => %(every)s)
WHERE id IN (
    SELECT id FROM durable_alertrule
    WHERE enabled AND next_evaluation_at <= now() FOR UPDATE SKIP LOCKED
)
RETURNING id
"""

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


def run_duty() -> int:
    """What executors run: sync settings rules, lift mutes whose version shipped, evaluate
    the due rules, send due deliveries. Returns how many rules this executor evaluated."""
    rules.sync_declared()
    triage.lift_shipped_mutes()
    every = float(settings.DURABLE_ALERT_EVALUATE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_RULES, {"every": every})
        rule_ids = [row[0] for row in cursor.fetchall()]
    for rule in AlertRule.objects.filter(id__in=rule_ids):
        try:
            evaluate(rule)
        except Exception:
            logger.exception("alert rule %r: evaluation failed; the other rules go on", rule.name)
    delivery.deliver_due()
    return len(rule_ids)


def evaluate(rule: AlertRule) -> None:
    """Open, re-notify and resolve `rule`'s incidents to match what its condition finds."""
    found = {finding.key: finding for finding in conditions.findings(rule)}
    muted = triage.muted_group_keys() if rule.kind in GROUP_KINDS else set()
    open_incidents = {i.key: i for i in rule.incidents.filter(status=IncidentStatus.OPEN)}
    for key, finding in found.items():
        if key in muted:
            continue
        if key in open_incidents:
            _maybe_renotify(rule, open_incidents[key], finding)
        else:
            _open(rule, finding)
    for key, incident in open_incidents.items():
        if key not in found and key not in muted:
            _resolve(rule, incident)


def _message(rule: AlertRule, incident: AlertIncident, event: str) -> Message:
    return Message(
        event=event,
        rule=rule.name,
        kind=rule.kind,
        dedup_key=incident.dedup_key,
        summary=incident.summary,
        details=incident.details,
    )


def _open(rule: AlertRule, finding: conditions.Finding) -> None:
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


def _maybe_renotify(rule: AlertRule, incident: AlertIncident, finding: conditions.Finding) -> None:
    params = {"id": incident.id, "renotify": max(rule.renotify_seconds, 1)}
    with transaction.atomic():
        if not _claimed(CLAIM_RENOTIFY, params):
            return
        incident.summary, incident.details = finding.summary[:1000], finding.details
        incident.save(update_fields=["summary", "details"])
        delivery.enqueue(rule, _message(rule, incident, "renotify"), incident)


def _resolve(rule: AlertRule, incident: AlertIncident) -> None:
    with transaction.atomic():
        if _claimed(CLAIM_RESOLVE, {"id": incident.id}):
            delivery.enqueue(rule, _message(rule, incident, "resolve"), incident)
