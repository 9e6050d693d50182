"""One failing timed duty (a broken schedule) never stalls an executor's other duties."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import durable
from durable import schedules
from durable.executors import _sweeper as sweeper
from durable.executors import duties
from durable.models import Run, Schedule
from durable.schedules import _declared as declared_schedules
from durable.schedules import _ticker as ticker
from tests.engine.workflows import sum_three


def test_a_scheduled_workflow_whose_name_cannot_form_a_run_id_is_refused_at_decoration():
    def nightly(scheduled_at: str) -> str:  # nested: its default name holds "<locals>"
        return scheduled_at

    with pytest.raises(ValueError, match="name="):
        durable.scheduled("0 3 * * *")(nightly)
    with pytest.raises(ValueError, match="name="):
        durable.scheduled("0 3 * * *", name="nightly report")(nightly)
    assert "nightly report" not in declared_schedules._schedules


@pytest.fixture
def broken_schedule(monkeypatch, transactional_db):
    """A due schedule whose runs cannot be started (declared past the decorator's check)."""
    broken = schedules.ScheduleDefinition(sum_three, "tests.broken <locals>", "* * * * *", "latest")
    monkeypatch.setattr(declared_schedules, "_schedules", {broken.name: broken})
    Schedule.objects.create(
        name=broken.name, workflow=broken.name, cron=broken.cron, missed_policy="latest",
        last_tick_at=timezone.now() - timedelta(minutes=5), missed_ticks=0,
    )  # fmt: skip
    return broken


def every_minute(scheduled_at: str) -> str:
    return scheduled_at


def test_a_failing_schedule_does_not_hold_back_the_others(broken_schedule, settings):
    settings.DURABLE_EXECUTOR = "external"
    durable.scheduled("* * * * *", name="tests.fine_minutely")(every_minute)
    Schedule.objects.create(
        name="tests.fine_minutely", workflow="tests.fine_minutely", cron="* * * * *",
        missed_policy="latest",
        last_tick_at=timezone.now() - timedelta(minutes=5), missed_ticks=0,
    )  # fmt: skip
    started = ticker.fire_due()
    assert len(started) == 1 and started[0].startswith("tests.fine_minutely@")


@durable.workflow(name="tests.duties.napper")
def napper(seconds: float) -> str:
    durable.sleep(seconds)
    return "awake"


def test_a_failing_schedule_never_stalls_the_wake_up_of_parked_runs(broken_schedule, settings):
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.1
    settings.DURABLE_POLL_SECONDS = 0.1
    handle = durable.start(napper, 0.5, run_id="duties-napper")
    assert handle.result(timeout=5) == "awake"
    assert Run.objects.filter(workflow="tests.sum_three").count() == 0


def test_a_celery_sweep_runs_each_engine_duty_at_its_own_interval(transactional_db):
    """Sweeps come every second; an hourly duty (the history's partitions) runs once."""
    ran: list[str] = []
    hourly = duties.Duty("tests.hourly", lambda: ran.append("hourly"), 3600, kinds=("celery",))
    duties.register(hourly)
    try:
        for _ in range(3):
            sweeper.sweep_once(Dispatched())
    finally:
        duties._engine_duties.pop(hourly.name)
    assert ran == ["hourly"]


class Dispatched:
    """Keeps what the sweep would send to the broker."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def dispatch(self, run_id: str) -> None:
        self.sent.append(run_id)
