"""Getting a notification out: one delivery row per attempt per destination, claimed with
a conditional write (status pending → sending), so two executors never send the same
attempt; a failed attempt schedules the next one with exponential backoff.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

from durable.core.conf import settings
from durable.models import AlertDelivery, AlertIncident, AlertRule, DeliveryStatus
from durable.observability.alerting import _destinations as destinations

logger = logging.getLogger("durable")

CLAIM_DUE = """
-- claim_due_deliveries --
-- Take pending attempts that are due (alert_delivery_due_idx); SKIP LOCKED and the status
-- change decide which executor sends each; next_attempt_at becomes the claim's time.
-- statement_timestamp(), as Django's Now() that wrote next_attempt_at, so a retry due at
-- once is due inside one transaction too
UPDATE durable_alertdelivery SET status = 'sending', next_attempt_at = statement_timestamp()
WHERE id IN (
    SELECT id FROM durable_alertdelivery
    WHERE status = 'pending' AND next_attempt_at <= statement_timestamp()
    ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING id
"""

REQUEUE_STUCK = """
-- requeue_stuck_deliveries --
-- An executor that died while sending left its attempt 'sending': a claim older than
-- %(stuck)s seconds (a send takes at most DURABLE_ALERT_TIMEOUT_SECONDS) is pending again
UPDATE durable_alertdelivery SET status = 'pending'
WHERE status = 'sending'
  AND next_attempt_at < statement_timestamp() - make_interval(secs => %(stuck)s)
"""

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


def claim_due(limit: int = 20) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(REQUEUE_STUCK, {"stuck": STUCK_SECONDS})
        cursor.execute(CLAIM_DUE, {"limit": limit})
        return [row[0] for row in cursor.fetchall()]


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
