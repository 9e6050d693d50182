"""Getting a notification out: one delivery row per attempt per destination, claimed with
a conditional write (status pending → sending), so two executors never send the same
attempt; a failed attempt schedules the next one with exponential backoff.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models.functions import Now
from django.utils import timezone

from durable.core._validation import parse_age
from durable.core.conf import settings
from durable.core.store import _alerts as store_alerts
from durable.models import AlertDelivery, AlertIncident, AlertRule, DeliveryStatus
from durable.observability.alerting import _destinations as destinations

logger = logging.getLogger("durable")

STUCK_SECONDS = 300


def enqueue(
    rule: AlertRule, message: destinations.Message, incident: AlertIncident | None = None
) -> list[int]:
    """One pending delivery per destination of `rule`; returns their ids."""
    ids = []
    for index, destination in enumerate(rule.destinations or []):
        delivery = AlertDelivery.objects.create(
            rule=rule,
            incident=incident,
            destination=index,
            destination_kind=destination.get("kind", ""),
            event=message.event,
            payload=destinations.payload(destination, message),
        )
        ids.append(delivery.id)
    return ids


def prune_finished(batch_size: int = 1000) -> int:
    """With DURABLE_ALERT_DELIVERY_RETENTION set (e.g. "30d"), delete the attempts sent or
    failed longer ago than that, a batch per statement; returns how many went."""
    if not settings.DURABLE_ALERT_DELIVERY_RETENTION:
        return 0
    cutoff = timezone.now() - parse_age(settings.DURABLE_ALERT_DELIVERY_RETENTION)
    deleted = 0
    while (batch := store_alerts.prune_deliveries(cutoff, batch_size)) > 0:
        deleted += batch
        if batch < batch_size:
            break
    if deleted:
        logger.info("pruned %d alert delivery attempt(s) older than %s", deleted,
                    settings.DURABLE_ALERT_DELIVERY_RETENTION)  # fmt: skip
    return deleted


def claim_due(limit: int = 20) -> list[int]:
    return store_alerts.claim_due_deliveries(limit, STUCK_SECONDS)


def deliver_due() -> int:
    """Send every due attempt this executor claims; returns how many were sent."""
    return sum(attempt(delivery_id) for delivery_id in claim_due())


def claim(ids: list[int]) -> list[int]:
    """Claim these pending deliveries (for "Send a test", sent at once)."""
    pending = AlertDelivery.objects.filter(status=DeliveryStatus.PENDING)
    return [i for i in ids if pending.filter(id=i).update(status=DeliveryStatus.SENDING) == 1]


def attempt(delivery_id: int) -> bool:
    """Send one claimed delivery; record the answer; schedule a retry if it failed."""
    delivery = AlertDelivery.objects.select_related("rule").get(id=delivery_id)
    rule_destinations = delivery.rule.destinations or []
    try:
        if delivery.destination >= len(rule_destinations):
            raise destinations.DeliveryFailed("the destination was removed from the rule")
        answer = destinations.send(rule_destinations[delivery.destination], delivery.payload)
    except destinations.DeliveryFailed as exc:
        _failed(delivery, str(exc))
        return False
    except Exception as exc:  # e-mail backends raise their own types; never the secret
        _failed(delivery, f"{type(exc).__name__} sending {delivery.destination_kind}")
        return False
    delivery.status = DeliveryStatus.SENT
    delivery.response = answer[:500]
    delivery.finished_at = timezone.now()
    delivery.save(update_fields=["status", "response", "finished_at"])
    return True


def _failed(delivery: AlertDelivery, reason: str) -> None:
    attempts = int(settings.DURABLE_ALERT_DELIVERY_ATTEMPTS)
    retry = delivery.attempt < attempts and delivery.event != "test"
    delivery.status = DeliveryStatus.FAILED
    delivery.response = (reason + ("; retrying" if retry else "; giving up"))[:500]
    delivery.finished_at = timezone.now()
    delivery.save(update_fields=["status", "response", "finished_at"])
    logger.warning(
        "alert rule %r: %s delivery attempt %d failed: %s",
        delivery.rule.name,
        delivery.destination_kind,
        delivery.attempt,
        delivery.response,
    )
    if retry:
        backoff = float(settings.DURABLE_ALERT_RETRY_SECONDS) * 2 ** (delivery.attempt - 1)
        AlertDelivery.objects.create(
            rule=delivery.rule,
            incident=delivery.incident,
            destination=delivery.destination,
            destination_kind=delivery.destination_kind,
            event=delivery.event,
            attempt=delivery.attempt + 1,
            payload=delivery.payload,
            next_attempt_at=Now() + timedelta(seconds=backoff),  # the database's clock
        )
