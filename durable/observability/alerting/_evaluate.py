"""The alerting duty: claim each due rule with a conditional write, compare what its
condition finds with its open incidents, and notify once per incident — on opening, again
after the rule's re-notify interval, and once more when it resolves.

Runs on the executors' timed duties (registered in `durable.apps`); no daemon of its own.
Muted failure groups are skipped entirely: they neither open, re-notify nor resolve.
"""

from __future__ import annotations

import logging

from django.db import connection

from durable.core.conf import settings
from durable.models import AlertKind, AlertRule, IncidentStatus
from durable.observability.alerting import _conditions as conditions
from durable.observability.alerting import _delivery as delivery
from durable.observability.alerting import _incidents as incidents
from durable.observability.alerting import _rules as rules
from durable.observability.alerting import _triage as triage

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
            incidents.renotify(rule, open_incidents[key], finding)
        else:
            incidents.open_incident(rule, finding)
    for key, incident in open_incidents.items():
        if key not in found and key not in muted:
            incidents.resolve(rule, incident)
