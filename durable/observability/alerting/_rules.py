"""Alert rules as people manage them: create, edit and delete from the dashboard (audited,
secrets masked in the audit), "Send a test", and rules declared in `DURABLE_ALERT_RULES`,
copied into the table as read-only rows so one evaluator serves both.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.functions import Now

from durable.core.conf import settings
from durable.core.store import _reading as reading
from durable.errors import InvalidArgumentError
from durable.models import AlertKind, AlertRule, AlertSource, AuditEntry
from durable.observability.alerting import _delivery as delivery
from durable.observability.alerting import _destinations as destinations
from durable.observability.alerting import _incidents as incidents

logger = logging.getLogger("durable")

FIELDS = ("name", "kind", "enabled", "workflow", "queue", "tag", "threshold", "renotify_seconds")


class ReadOnlyRuleError(InvalidArgumentError):
    """A rule declared in settings is changed in code, not in the dashboard."""


def masked_destinations(rule: AlertRule) -> list[dict[str, Any]]:
    return [destinations.masked_destination(d) for d in rule.destinations or []]


def _audit(actor: str, action: str, rule: AlertRule, **extra: Any) -> None:
    detail = {"rule": rule.name, "kind": rule.kind, **extra}
    detail["destinations"] = masked_destinations(rule)
    AuditEntry.objects.create(actor=actor, action=action, detail=detail)


def _check(values: dict[str, Any]) -> dict[str, Any]:
    if values.get("kind") not in AlertKind.values:
        raise InvalidArgumentError("kind", f"must be one of {', '.join(AlertKind.values)}")
    tag = values.get("tag") or ""
    if tag and "=" not in tag:
        raise InvalidArgumentError("tag", "write the tag as key=value")
    if "destinations" in values:  # absent: an update that keeps them
        values["destinations"] = [destinations.check(d) for d in values["destinations"] or []]
    return values


def save_rule(rule: AlertRule | None, values: dict[str, Any], *, actor: str) -> AlertRule:
    """Create (rule None) or update a dashboard rule; audited with secrets masked."""
    values = _check({"kind": rule.kind, **values} if rule else dict(values))
    if rule is not None and rule.source == AlertSource.SETTINGS:
        raise ReadOnlyRuleError("rule", "it is declared in DURABLE_ALERT_RULES; edit it there")
    created = rule is None
    disabling = rule is not None and rule.enabled and values.get("enabled") is False
    rule = rule or AlertRule(source=AlertSource.DASHBOARD, created_by=actor)
    for name in (*FIELDS, "destinations"):
        if name in values:
            setattr(rule, name, values[name])
    rule.updated_at = Now()
    with transaction.atomic():
        rule.save()
        rule.refresh_from_db()
        # a disabled rule is no longer evaluated: close what it opened (sent by the duty)
        resolved = len(incidents.resolve_all(rule)) if disabling else 0
        action = "alert_rule_create" if created else "alert_rule_update"
        _audit(actor, action, rule, **({"resolves_queued": resolved} if disabling else {}))
    return rule


def delete_rule(rule: AlertRule, *, actor: str) -> None:
    if rule.source == AlertSource.SETTINGS:
        raise ReadOnlyRuleError("rule", "it is declared in DURABLE_ALERT_RULES; remove it there")
    # close its open incidents first (PagerDuty would keep them open), sent at once since
    # the rule's delivery rows go with it
    _send_now(incidents.resolve_all(rule))
    with transaction.atomic():
        _audit(actor, "alert_rule_delete", rule)
        rule.delete()


def _send_now(delivery_ids: list[int]) -> None:
    for delivery_id in delivery.claim(delivery_ids):
        delivery.attempt(delivery_id)


def send_test(rule: AlertRule, *, actor: str) -> list[str]:
    """Send a test message to each destination now; returns each one's outcome line."""
    message = destinations.Message(
        event="test",
        rule=rule.name,
        kind=rule.kind,
        dedup_key=f"durable-{rule.id}-test",
        summary=f"Test of alert rule {rule.name!r}: its destinations are reachable.",
        details={"rule": rule.name},
    )
    ids = delivery.enqueue(rule, message)
    _send_now(ids)
    _audit(actor, "alert_rule_test", rule)
    return [
        f"{d.destination_kind}: {d.status} ({d.response})"
        for d in rule.deliveries.filter(id__in=ids).order_by("id")
    ]


def sync_declared() -> None:
    """Make the settings-declared rules rows (source=settings) match DURABLE_ALERT_RULES.
    It reads what it then writes on the primary, even called from a page on the replica."""
    with reading.reading_from(None):
        _sync_declared()


def _sync_declared() -> None:
    declared = list(settings.DURABLE_ALERT_RULES or [])
    names = set()
    for spec in declared:
        try:
            values = _check(dict(spec))
        except (InvalidArgumentError, TypeError) as exc:
            logger.warning("DURABLE_ALERT_RULES: rule %r skipped: %s", spec.get("name"), exc)
            names.add(str(spec.get("name")))  # still declared: its row and incidents stay
            continue
        names.add(values["name"])
        fields = {k: values[k] for k in (*FIELDS, "destinations") if k in values and k != "name"}
        existing = AlertRule.objects.filter(name=values["name"]).first()
        if existing is not None and existing.source != AlertSource.SETTINGS:
            logger.warning("DURABLE_ALERT_RULES: %r is a dashboard rule's name", values["name"])
            continue
        if existing is None:
            AlertRule.objects.create(name=values["name"], source=AlertSource.SETTINGS, **fields)
        elif any(getattr(existing, k) != v for k, v in fields.items()):
            AlertRule.objects.filter(id=existing.id).update(updated_at=Now(), **fields)
    gone = AlertRule.objects.filter(source=AlertSource.SETTINGS).exclude(name__in=names)
    for rule in gone:  # as delete_rule: no PagerDuty incident left open by a rule now gone
        _send_now(incidents.resolve_all(rule))
        rule.delete()
