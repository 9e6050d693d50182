"""The engine records a run's active time with its final status, in the same statement."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

import durable
from dashboard.queries.hotspots import hotspots
from durable import operations
from durable.models import Attempt, Run
from tests.dashboard import workflows
from tests.dashboard.conftest import wait_until_finished
from tests.dashboard.workflows import order, outage_order


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_records_its_active_time(engine):
    durable.start(order, 5, True, run_id="active-1")
    assert wait_until_finished("active-1") == "ERROR"
    run = Run.objects.get(id="active-1")
    wall = (run.finished_at - run.started_at).total_seconds() * 1000
    assert run.active_ms is not None and 0 < run.active_ms <= wall


@pytest.mark.django_db(transaction=True)
def test_a_run_resumed_later_records_seconds_of_work_not_the_wait(engine, viewer_client):
    workflows.OUTAGE["on"] = True
    durable.start(outage_order, 9, run_id="outage-1")
    assert wait_until_finished("outage-1") == "ERROR"
    time.sleep(1.5)  # parked in ERROR
    workflows.OUTAGE["on"] = False
    operations.resume("outage-1")
    assert wait_until_finished("outage-1") == "SUCCESS"
    run = Run.objects.get(id="outage-1")
    wall = (run.finished_at - run.started_at).total_seconds() * 1000
    assert wall >= 1500 and run.active_ms < 500
    page = viewer_client.get("/runs/outage-1/").content.decode()
    assert '<dd id="parked-time">1.' in page  # 1.5 s or so
    # the failure that was resolved still counts, as resolved, in its hotspot
    now = timezone.now()
    [group] = hotspots(now - timedelta(hours=1), now)
    assert (group["failures"], group["still_failed"], group["resolved"]) == (1, 0, 1)
    assert Attempt.objects.get(run_id="outage-1").final
