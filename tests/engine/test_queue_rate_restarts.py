"""Every start counts against a queue's rate limit: resumed, recovered and woken runs too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import durable
from durable import operations
from durable.core import _runtime as runtime
from durable.executors import _recovery as recovery
from durable.models import Run

HOURLY = durable.Queue("tests-hourly", rate_limit=(2, 3600))


@durable.workflow(name="tests.hourly", queue=HOURLY.name)
def hourly(index: int) -> int:
    return index


@pytest.fixture
def six_old_runs(transactional_db, settings):
    """Six runs of a 2-per-hour queue that first started two hours ago."""
    settings.DURABLE_EXECUTOR = "external"
    run_ids = [durable.start(hourly, i, run_id=f"hourly-{i}").run_id for i in range(6)]
    Run.objects.filter(id__in=run_ids).update(
        started_at=timezone.now() - timedelta(hours=2),
        claimed_at=timezone.now() - timedelta(hours=2),
    )
    return run_ids


def admitted(run_ids: list[str]) -> list[str]:
    return [rid for rid in run_ids if runtime.claim(rid, "executor-a", ["tests.hourly"])]


def test_resuming_failed_runs_starts_no_more_than_the_rate_limit(six_old_runs):
    Run.objects.filter(id__in=six_old_runs).update(status="ERROR")
    operations.resume(six_old_runs)
    assert len(admitted(six_old_runs)) == 2


def test_recovered_runs_count_against_the_rate_limit(six_old_runs, settings):
    settings.DURABLE_MAX_RECOVERIES = 5
    Run.objects.filter(id__in=six_old_runs).update(
        status="RUNNING", executor_id="dead", lease_expires_at=timezone.now() - timedelta(1)
    )
    recovery.sweep()
    assert len(admitted(six_old_runs)) == 2


def test_woken_runs_count_against_the_rate_limit(six_old_runs):
    # parked long ago (a sleep, a delayed retry) and due now: each wake-up is a start
    assert len(admitted(six_old_runs)) == 2
