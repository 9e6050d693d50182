"""Schedules refuse what cannot work, clearly and on the record: a cron that never fires
(31 February), one that fires more often than DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS, a
backfill window from year 1; each refused create, update or backfill leaves an audit entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import durable
from durable.core import _clock as clock
from durable.errors import InvalidArgumentError
from durable.models import AuditEntry, Run, Schedule
from tests.engine.test_dynamic_schedules import ping, quiet  # noqa: F401 - fixture


@pytest.mark.parametrize(
    "expression", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *", "0 0 1 1 * 0 2020"]
)
def test_a_cron_that_never_fires_is_refused_at_create(quiet, expression):  # noqa: F811
    with pytest.raises(InvalidArgumentError, match="never fires") as refused:
        durable.schedules.create("feb-31", ping, cron=expression)
    assert "cron" in str(refused.value)
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("expression", ["* * * * * *", "* * * * * */10", "* * * * * 0,30"])
def test_a_cron_more_often_than_the_minimum_interval_is_refused(quiet, expression):  # noqa: F811
    with pytest.raises(InvalidArgumentError, match="DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS"):
        durable.schedules.create("too-often", ping, cron=expression)
    assert not Schedule.objects.exists()


def test_the_minimum_interval_is_a_setting(quiet, settings):  # noqa: F811
    settings.DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS = 10
    durable.schedules.create("every-30s", ping, cron="* * * * * 0,30")
    with pytest.raises(InvalidArgumentError, match="every 5s"):
        durable.schedules.create("every-5s", ping, cron="* * * * * */5")


def test_every_minute_is_allowed_by_default(quiet):  # noqa: F811
    assert durable.schedules.create("minutely", ping, cron="* * * * *").cron == "* * * * *"


def test_an_update_to_an_impossible_cron_is_refused_and_keeps_the_old_one(quiet):  # noqa: F811
    durable.schedules.create("nightly", ping, cron="0 3 * * *")
    with pytest.raises(InvalidArgumentError, match="never fires"):
        durable.schedules.update("nightly", cron="0 0 31 2 *")
    assert Schedule.objects.get(name="nightly").cron == "0 3 * * *"


@pytest.mark.parametrize(
    "start",
    [datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
     datetime(1969, 12, 31, tzinfo=UTC)],
)  # fmt: skip
def test_a_backfill_from_before_1970_is_refused_clearly(quiet, start):  # noqa: F811
    durable.schedules.create("daily", ping, cron="0 0 * * *")
    with pytest.raises(InvalidArgumentError, match="start"):
        durable.schedules.backfill("daily", start, clock.now() - timedelta(days=1))
    assert not Run.objects.exists()


def test_a_backfill_with_too_many_ticks_is_refused_naming_the_limit(quiet):  # noqa: F811
    durable.schedules.create("minutely", ping, cron="* * * * *")
    now = clock.now()
    with pytest.raises(InvalidArgumentError, match="over 1000 ticks"):
        durable.schedules.backfill("minutely", datetime(1970, 1, 1, tzinfo=UTC), now)
    assert not Run.objects.exists()


def test_refused_creates_updates_and_backfills_are_audited(quiet):  # noqa: F811
    durable.schedules.create("nightly", ping, cron="0 3 * * *")
    AuditEntry.objects.all().delete()
    refusals = [
        lambda: durable.schedules.create("feb-31", ping, cron="0 0 31 2 *", actor="alice"),
        lambda: durable.schedules.update("nightly", cron="* * * * * *", actor="bob"),
        lambda: durable.schedules.backfill(
            "nightly", datetime(1, 1, 1, tzinfo=UTC), clock.now(), actor="carol"
        ),
        lambda: durable.schedules.create("nightly", ping, cron="0 4 * * *", actor="dave"),
    ]
    for refuse in refusals:
        with pytest.raises(durable.errors.DurableError):
            refuse()
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.actor, e.action) for e in entries] == [
        ("alice", "schedule.create"),
        ("bob", "schedule.update"),
        ("carol", "schedule.backfill"),
        ("dave", "schedule.create"),
    ]
    assert entries[0].detail["schedule"] == "feb-31"
    assert "never fires" in entries[0].detail["refused"]["feb-31"]
    assert "exists" in entries[3].detail["refused"]["nightly"]
    assert all(not e.detail.get("done") for e in entries)


def test_refused_pauses_deletes_and_triggers_are_audited_too(quiet):  # noqa: F811
    for refuse in (
        lambda: durable.schedules.pause("missing", actor="erin"),
        lambda: durable.schedules.delete("missing", actor="erin"),
        lambda: durable.schedules.trigger("missing", actor="erin"),
    ):
        with pytest.raises(durable.errors.ScheduleNotFoundError):
            refuse()
    entries = AuditEntry.objects.order_by("id")
    assert [e.action for e in entries] == ["schedule.pause", "schedule.delete", "schedule.trigger"]
    assert all("no schedule named 'missing'" in e.detail["refused"]["missing"] for e in entries)
