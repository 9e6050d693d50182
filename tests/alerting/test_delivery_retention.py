"""Alert delivery rows are pruned by age (DURABLE_ALERT_DELIVERY_RETENTION), hourly on the
executors' duties: finished attempts (sent or failed) older than the retention go, attempts
still to be sent stay whatever their age, and "" keeps every row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from durable.core import _checks as checks
from durable.executors import duties
from durable.models import AlertDelivery
from durable.observability import alerting
from tests.alerting.conftest import rule

DAY = timedelta(days=1)


def _delivery(status: str, age: timedelta, **fields) -> int:
    made = rule(destinations=[{"kind": "webhook", "url": "http://127.0.0.1:9/hook"}])
    at = timezone.now() - age
    finished = at if status in ("sent", "failed") else None
    delivery = AlertDelivery.objects.create(
        rule=made, destination=0, destination_kind="webhook", event="trigger", status=status,
        next_attempt_at=at, finished_at=finished, **fields,
    )  # fmt: skip
    AlertDelivery.objects.filter(id=delivery.id).update(created_at=at)  # db_default: set after
    return delivery.id


def test_finished_deliveries_past_the_retention_are_pruned_and_the_others_kept(db, settings):
    settings.DURABLE_ALERT_DELIVERY_RETENTION = "30d"
    old_sent, old_failed = _delivery("sent", 40 * DAY), _delivery("failed", 31 * DAY)
    kept = [_delivery("sent", 29 * DAY), _delivery("failed", DAY),
            _delivery("pending", 40 * DAY), _delivery("sending", 40 * DAY)]  # fmt: skip
    assert alerting.prune_deliveries() == 2
    remaining = set(AlertDelivery.objects.values_list("id", flat=True))
    assert remaining == set(kept) and not remaining & {old_sent, old_failed}


def test_an_empty_retention_keeps_every_delivery(db, settings):
    settings.DURABLE_ALERT_DELIVERY_RETENTION = ""
    _delivery("sent", 400 * DAY)
    assert alerting.prune_deliveries() == 0 and AlertDelivery.objects.count() == 1


def test_the_default_keeps_thirty_days(db):
    _delivery("sent", 31 * DAY)
    kept = _delivery("sent", 29 * DAY)
    alerting.prune_deliveries()
    assert list(AlertDelivery.objects.values_list("id", flat=True)) == [kept]


@pytest.mark.parametrize("kind", duties.EXECUTOR_KINDS)
def test_every_executor_kind_prunes_hourly(kind):
    (pruning,) = [duty for duty in duties.engine_duties(kind) if duty.name == "prune alerts"]
    assert pruning.every == 3600 and pruning.run is alerting.prune_deliveries


def test_an_unparsable_retention_is_a_system_check_error(settings):
    settings.DURABLE_ALERT_DELIVERY_RETENTION = "a month"
    (error,) = checks.check_retention()
    assert error.id == "durable.E012" and "DURABLE_ALERT_DELIVERY_RETENTION" in error.msg
