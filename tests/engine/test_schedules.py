"""Each cron tick starts exactly one run, whatever the number of executors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import durable
from durable.models import Run, Schedule
from durable.schedules import _cron as cron
from durable.schedules import _declared as declared_schedules
from durable.schedules import _ticker as ticker


def every_five_minutes(scheduled_at: str) -> str:
    return scheduled_at


@pytest.fixture
def only_this_schedule(monkeypatch):
    """Schedule only inside these tests, so no executor elsewhere fires it."""
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    durable.scheduled("*/5 * * * *", name="tests.every_five_minutes")(every_five_minutes)


T0 = datetime(2026, 11, 1, 12, 2, tzinfo=UTC)


def test_a_new_schedule_starts_at_its_next_tick_without_backfilling(
    transactional_db, only_this_schedule, settings
):
    settings.DURABLE_EXECUTOR = "external"
    assert ticker.fire_due(T0) == []
    assert Schedule.objects.get().last_tick_at == datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    assert ticker.fire_due(T0 + timedelta(minutes=1)) == []
    started = ticker.fire_due(T0 + timedelta(minutes=3))
    assert started == ["tests.every_five_minutes@20261101T120500Z"]
    assert Run.objects.get(id=started[0]).input["args"] == ["2026-11-01T12:05:00+00:00"]


def test_several_executors_firing_the_same_tick_start_one_run(
    transactional_db, only_this_schedule, settings
):
    settings.DURABLE_EXECUTOR = "external"
    ticker.fire_due(T0)
    later = T0 + timedelta(minutes=4)
    results = [ticker.fire_due(later) for _ in range(3)]
    assert sorted(map(len, results)) == [0, 0, 1]
    assert Run.objects.count() == 1


def test_missed_ticks_after_downtime_run_once_and_are_counted(
    transactional_db, only_this_schedule, settings
):
    settings.DURABLE_EXECUTOR = "external"
    ticker.fire_due(T0)
    started = ticker.fire_due(T0 + timedelta(hours=1))
    assert started == ["tests.every_five_minutes@20261101T130000Z"]
    assert Schedule.objects.get().missed_ticks == 11


def test_the_all_policy_catches_up_every_missed_tick():
    due = cron.due_ticks("*/5 * * * *", T0, T0 + timedelta(minutes=20))
    assert (len(due.ticks), due.total) == (4, 4)
    assert cron.ticks_to_run(due, "all") == due.ticks
    assert cron.ticks_to_run(due, "skip") == []
    one = cron.DueTicks(due.ticks[:1], 1)
    assert cron.ticks_to_run(one, "skip") == due.ticks[:1]


def test_a_bad_cron_expression_is_refused_with_an_example():
    with pytest.raises(ValueError, match=r"\*/5"):
        durable.scheduled("every five minutes")
