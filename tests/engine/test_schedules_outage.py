"""After an outage longer than any walk over ticks, schedules catch up as documented, fast."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

import durable
from durable.models import Run, Schedule
from durable.schedules import _cron as cron
from durable.schedules import _declared as declared_schedules
from durable.schedules import _ticker as ticker

NOW = datetime(2026, 11, 29, 9, 30, 20, tzinfo=UTC)
MONTH_AGO = NOW - timedelta(days=30)


def every_minute(scheduled_at: str) -> str:
    return scheduled_at


@pytest.fixture
def per_minute(monkeypatch, settings, transactional_db):
    """A per-minute schedule whose executors were all down for 30 days."""
    settings.DURABLE_EXECUTOR = "external"
    monkeypatch.setattr(declared_schedules, "_schedules", {})

    def declare(missed: str) -> None:
        durable.scheduled("* * * * *", name="tests.every_minute", missed=missed)(every_minute)
        Schedule.objects.create(
            name="tests.every_minute", workflow="tests.every_minute", cron="* * * * *",
            missed_policy=missed,
            last_tick_at=MONTH_AGO.replace(second=0), missed_ticks=0,
        )  # fmt: skip

    return declare


def test_latest_runs_the_newest_tick_exactly_once_after_a_month_down(per_minute):
    per_minute("latest")
    started = time.monotonic()
    first = ticker.fire_due(NOW)
    assert time.monotonic() - started < 0.5
    assert first == ["tests.every_minute@20261129T093000Z"]
    assert ticker.fire_due(NOW + timedelta(seconds=5)) == []
    assert Run.objects.count() == 1
    assert Schedule.objects.get().missed_ticks == pytest.approx(43_200 - 1, abs=2)


def test_all_runs_at_most_its_documented_count_ending_with_the_newest_tick(per_minute):
    per_minute("all")
    started = time.monotonic()
    run_ids = ticker.fire_due(NOW)
    assert time.monotonic() - started < 5
    assert len(run_ids) == cron.MAX_CATCH_UP
    assert run_ids[-1] == "tests.every_minute@20261129T093000Z"
    assert ticker.fire_due(NOW + timedelta(seconds=5)) == []
    assert Run.objects.count() == cron.MAX_CATCH_UP


def test_finding_due_ticks_after_a_long_outage_takes_milliseconds():
    started = time.perf_counter()
    due = cron.due_ticks("* * * * *", NOW - timedelta(days=365), NOW)
    assert time.perf_counter() - started < 0.1
    assert due.ticks[-1] == datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
    assert due.total == pytest.approx(525_600, rel=0.001)
