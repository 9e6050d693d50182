"""Cron schedules managed at run time: created, changed, paused, resumed, deleted, triggered
and backfilled through `durable.schedules`, each tick still starting exactly one run."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

import durable
from durable import executors
from durable.core import _clock as clock
from durable.core import _registry as registry
from durable.core import store
from durable.core.store import _schedules as store_schedules
from durable.errors import (
    InvalidArgumentError,
    ScheduleConflictError,
    ScheduleNotFoundError,
    SerializationError,
    UnknownWorkflowError,
)
from durable.models import AuditEntry, Run, Schedule
from durable.schedules import _cron as cron
from durable.schedules import _declared as declared_schedules
from durable.schedules import _ticker as ticker
from tests.tiers import examples


@durable.workflow(name="tests.dyn.report")
def report(scheduled_at: str, region: str, *, fmt: str = "pdf") -> str:
    return f"{region}:{fmt}:{scheduled_at}"


@durable.workflow(name="tests.dyn.ping")
def ping(scheduled_at: str) -> str:
    return scheduled_at


@pytest.fixture
def quiet(monkeypatch, settings, transactional_db):
    """No code schedules from other test modules, and no executor running the runs: each
    test fires the ticker itself at chosen times."""
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    settings.DURABLE_EXECUTOR = "external"


def minute_after(moment: datetime, minutes: int) -> datetime:
    """`minutes` whole minutes after the minute that holds `moment`, plus one second."""
    return moment.replace(second=1, microsecond=0) + timedelta(minutes=minutes)


def fire(minutes: int) -> list[str]:
    return ticker.fire_due(minute_after(clock.now(), minutes))


def tick_id(name: str, minutes: int) -> str:
    return cron.run_id_for(name, minute_after(clock.now(), minutes).replace(second=0))


def test_a_created_schedule_starts_one_run_per_tick_with_its_input(quiet):
    durable.schedules.create(
        "emea-report", report, cron="* * * * *", args=["emea"], kwargs={"fmt": "csv"}
    )
    assert fire(0) == []  # created now: its first tick is the next one
    started = fire(1)
    assert started == [tick_id("emea-report", 1)]
    run = Run.objects.get(id=started[0])
    tick = minute_after(clock.now(), 1).replace(second=0)
    assert run.workflow == "tests.dyn.report"
    assert run.input == {"args": [tick.isoformat(), "emea"], "kwargs": {"fmt": "csv"}}
    assert fire(1) == []  # the same tick again starts nothing


def test_created_schedules_run_to_completion_on_a_live_executor(
    monkeypatch, settings, transactional_db
):
    monkeypatch.setattr(declared_schedules, "_schedules", {})
    settings.DURABLE_SCHEDULE_MIN_INTERVAL_SECONDS = 1  # a per-second cron, to be quick
    durable.schedules.create("every-second", ping, cron="* * * * * *")
    executors.get_executor()  # the thread executor: its ticker fires the schedule
    deadline = time.monotonic() + 20
    while not Run.objects.filter(workflow="tests.dyn.ping", status="SUCCESS").exists():
        assert time.monotonic() < deadline, "no tick ran within 20 s"
        time.sleep(0.2)
    run = Run.objects.filter(workflow="tests.dyn.ping", status="SUCCESS").first()
    assert run.id.startswith("every-second@") and run.output == run.input["args"][0]


def test_updating_the_cron_takes_effect_from_the_next_tick(quiet, monkeypatch):
    durable.schedules.create("hourly", ping, cron="0 * * * *")
    hour = _next_hour()
    assert ticker.fire_due(hour + timedelta(seconds=5)) == [cron.run_id_for("hourly", hour)]
    monkeypatch.setattr(clock, "now", lambda: hour + timedelta(minutes=30, seconds=5))
    durable.schedules.update("hourly", cron="* * * * *")  # at half past
    assert Schedule.objects.get().revision == 1
    after = ticker.fire_due(hour + timedelta(minutes=31, seconds=5))
    assert after == [cron.run_id_for("hourly", hour + timedelta(minutes=31))]  # no catch-up
    assert Schedule.objects.get().missed_ticks == 0


def _next_hour() -> datetime:
    return clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


@pytest.mark.parametrize(
    "change",
    [lambda: durable.schedules.update("edited", cron="*/2 * * * *"),
     lambda: durable.schedules.pause("edited")],
    ids=["updated", "paused"],
)  # fmt: skip
def test_an_executor_that_read_the_schedule_before_a_change_claims_nothing(quiet, change):
    durable.schedules.create("edited", ping, cron="* * * * *")
    (stale,) = store_schedules.all_schedules()
    change()
    tick = minute_after(clock.now(), 1).replace(second=0)
    assert not store_schedules.claim_tick(stale, "* * * * *", "latest", tick, 0)
    assert Schedule.objects.get().last_tick_at < tick


def test_a_paused_schedule_starts_nothing(quiet):
    durable.schedules.create("paused-one", ping, cron="* * * * *")
    info = durable.schedules.pause("paused-one")
    assert info.paused and info.next_tick_at is None
    assert fire(1) == [] and fire(5) == []
    assert not Run.objects.exists()


def test_resume_continues_without_running_the_ticks_missed_while_paused(quiet, monkeypatch):
    durable.schedules.create("resumed", ping, cron="* * * * *", paused=True)
    later = minute_after(clock.now(), 10)
    monkeypatch.setattr(clock, "now", lambda: later)  # resumed ten minutes on
    info = durable.schedules.resume("resumed")
    assert not info.paused
    assert ticker.fire_due(later + timedelta(seconds=30)) == []  # the paused window stays dark
    assert ticker.fire_due(later + timedelta(minutes=1)) == [
        cron.run_id_for("resumed", later.replace(second=0) + timedelta(minutes=1))
    ]
    assert Schedule.objects.get().missed_ticks == 0  # paused ticks are not "missed"


def test_a_deleted_schedule_stops_and_its_runs_stay(quiet):
    durable.schedules.create("doomed", ping, cron="* * * * *")
    first = fire(1)
    durable.schedules.delete("doomed")
    assert fire(2) == []
    assert [run.id for run in Run.objects.all()] == first
    with pytest.raises(ScheduleNotFoundError, match="schedules list"):
        durable.schedules.get("doomed")


def test_trigger_starts_one_run_now_with_its_own_id_even_when_paused(quiet):
    durable.schedules.create("on-demand", report, cron="0 3 * * *", args=["apac"], paused=True)
    handle = durable.schedules.trigger("on-demand")
    assert handle.run_id.startswith("on-demand@manual-")
    run = Run.objects.get()
    assert run.input["args"][1:] == ["apac"]
    assert abs(datetime.fromisoformat(run.input["args"][0]) - clock.now()) < timedelta(seconds=5)
    again = durable.schedules.trigger("on-demand", run_id="on-demand@ops-1")
    assert durable.schedules.trigger("on-demand", run_id="on-demand@ops-1") == again
    assert Run.objects.count() == 2


def test_backfill_starts_each_tick_of_the_window_once(quiet):
    durable.schedules.create("daily", ping, cron="0 3 * * *")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    result = durable.schedules.backfill("daily", start, start + timedelta(days=5))
    assert result.started == [f"daily@202601{day:02d}T030000Z" for day in range(1, 6)]
    again = durable.schedules.backfill("daily", start, start + timedelta(days=7))
    assert again.started == ["daily@20260106T030000Z", "daily@20260107T030000Z"]
    assert again.existing == result.started
    assert Run.objects.count() == 7


def test_two_concurrent_backfills_start_each_tick_once(quiet):
    durable.schedules.create("concurrent", ping, cron="0 * * * *")
    start = datetime(2026, 2, 1, tzinfo=UTC)
    results = in_threads(2, lambda: durable.schedules.backfill(
        "concurrent", start, start + timedelta(days=1)))  # fmt: skip
    assert Run.objects.count() == 24
    assert sorted(len(result.started) for result in results) == [0, 24]


def test_two_executors_firing_together_start_one_run_per_tick(quiet):
    durable.schedules.create("raced", ping, cron="* * * * *", missed="all")
    moment = minute_after(clock.now(), 3)
    results = in_threads(4, lambda: ticker.fire_due(moment))
    assert sorted(map(len, results)) == [0, 0, 0, 3]
    assert Run.objects.count() == 3


def test_only_executors_that_serve_the_workflow_start_its_ticks(quiet, monkeypatch):
    durable.schedules.create("elsewhere", ping, cron="* * * * *")
    before = Schedule.objects.get().last_tick_at
    monkeypatch.setattr(registry, "is_registered", lambda name: name != "tests.dyn.ping")
    assert fire(2) == []
    assert Schedule.objects.get().last_tick_at == before  # left for an executor that has it


def test_a_code_schedule_is_a_row_whose_pause_holds(quiet):
    durable.scheduled("* * * * *", name="tests.dyn.code_ping")(ping.__wrapped__)
    fire(0)
    info = durable.schedules.get("tests.dyn.code_ping")
    assert (info.source, info.workflow) == ("code", "tests.dyn.code_ping")
    durable.schedules.pause("tests.dyn.code_ping")
    assert fire(2) == []  # and a redeploy declaring it again keeps the row, paused
    assert Schedule.objects.get().paused
    with pytest.raises(ScheduleConflictError, match="declared in code"):
        durable.schedules.update("tests.dyn.code_ping", cron="0 * * * *")
    with pytest.raises(ScheduleConflictError, match="declared in code"):
        durable.schedules.delete("tests.dyn.code_ping")
    durable.schedules.resume("tests.dyn.code_ping")
    assert fire(3) == [tick_id("tests.dyn.code_ping", 3)]


def test_a_process_that_never_imported_a_code_schedule_cannot_delete_or_edit_it(quiet):
    """`manage.py durable schedules delete` does not import the decorator; the row and the
    executors on record still say the schedule is code, so the operator's pause holds."""
    durable.scheduled("* * * * *", name="tests.dyn.code_kept")(ping.__wrapped__)
    fire(0)
    durable.schedules.pause("tests.dyn.code_kept")
    store.heartbeat(executor_id="worker-1", kind="thread", hostname="w", pid=1,
                    workflows=["tests.dyn.code_kept@v1"])  # fmt: skip
    declared_schedules._schedules.clear()  # this process (a CLI) never imported the decorator
    with pytest.raises(ScheduleConflictError, match="remove the decorator.*pause"):
        durable.schedules.delete("tests.dyn.code_kept")
    with pytest.raises(ScheduleConflictError, match="declared in code"):
        durable.schedules.update("tests.dyn.code_kept", cron="0 * * * *")
    row = Schedule.objects.get(name="tests.dyn.code_kept")
    assert (row.source, row.paused, row.cron) == ("code", True, "* * * * *")


def test_a_code_schedule_whose_decorator_is_gone_everywhere_can_be_deleted(quiet):
    durable.scheduled("* * * * *", name="tests.dyn.code_gone")(ping.__wrapped__)
    fire(0)
    declared_schedules._schedules.clear()  # the decorator was removed and no executor declares it
    durable.schedules.delete("tests.dyn.code_gone")
    assert not Schedule.objects.filter(name="tests.dyn.code_gone").exists()


def test_every_change_is_audited_with_its_actor(quiet):
    durable.schedules.create("audited", ping, cron="* * * * *", actor="alice", reason="new")
    durable.schedules.pause("audited", actor="bob", reason="INC-9")
    handle = durable.schedules.trigger("audited", actor="bob")
    entries = AuditEntry.objects.order_by("id")
    assert [(e.actor, e.action) for e in entries] == [
        ("alice", "schedule.create"), ("bob", "schedule.pause"), ("bob", "schedule.trigger"),
    ]  # fmt: skip
    assert entries[1].detail["reason"] == "INC-9" and entries[2].run_ids == [handle.run_id]


def test_list_shows_every_schedule_by_name(quiet):
    durable.schedules.create("b-second", ping, cron="0 * * * *")
    durable.schedules.create("a-first", ping, cron="* * * * *", paused=True)
    listed = durable.schedules.list()
    assert [info.name for info in listed] == ["a-first", "b-second"]
    assert listed[1].next_tick_at == _next_hour()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: durable.schedules.create("x", ping, cron="every day"), InvalidArgumentError,
         r"\*/5"),
        (lambda: durable.schedules.create("x", "no.such.workflow", cron="* * * * *"),
         UnknownWorkflowError, "no workflow named 'no.such.workflow'"),
        (lambda: durable.schedules.create("x", len, cron="* * * * *"), InvalidArgumentError,
         "not a durable workflow"),
        (lambda: durable.schedules.create("bad name", ping, cron="* * * * *"),
         InvalidArgumentError, "cannot name runs"),
        (lambda: durable.schedules.create("x~1", ping, cron="* * * * *"),
         InvalidArgumentError, "cannot name runs"),
        (lambda: durable.schedules.create("x", report, cron="* * * * *"), InvalidArgumentError,
         r"does not fit tests.dyn.report\(scheduled_at"),
        (lambda: durable.schedules.create("x", report, cron="* * * * *", args=["a"],
                                          kwargs={"size": 1}), InvalidArgumentError, "size"),
        (lambda: durable.schedules.create("x", report, cron="* * * * *", args=["a"],
                                          kwargs={"queue": "q"}), InvalidArgumentError,
         "start\\(\\)'s own options"),
        (lambda: durable.schedules.create("x", report, cron="* * * * *", args=[float("nan")]),
         SerializationError, "schedule args of tests.dyn.report"),
        (lambda: durable.schedules.create("x", ping, cron="* * * * *", missed="some"),
         InvalidArgumentError, "missed"),
        (lambda: durable.schedules.pause("missing"), ScheduleNotFoundError, "no schedule"),
        (lambda: durable.schedules.backfill("x", datetime(2026, 1, 1), datetime(2026, 1, 2)),
         InvalidArgumentError, "aware"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_clear_error_and_nothing_written(quiet, call, error, message):
    with pytest.raises(error, match=message):
        call()
    assert not Schedule.objects.exists()
    # only the refusal is on the record (test_schedule_refusals.py)
    assert all(entry.detail.get("refused") for entry in AuditEntry.objects.all())


def test_a_second_schedule_of_the_same_name_is_refused(quiet):
    durable.schedules.create("twice", ping, cron="* * * * *")
    with pytest.raises(ScheduleConflictError, match="exists"):
        durable.schedules.create("twice", ping, cron="0 * * * *")
    assert Schedule.objects.get().cron == "* * * * *"


def test_backfill_refuses_future_and_oversized_windows(quiet):
    durable.schedules.create("minutely", ping, cron="* * * * *")
    now = clock.now()
    with pytest.raises(InvalidArgumentError, match="future"):
        durable.schedules.backfill("minutely", now - timedelta(hours=1), now + timedelta(hours=1))
    with pytest.raises(InvalidArgumentError, match="in parts"):
        durable.schedules.backfill("minutely", now - timedelta(days=2), now - timedelta(days=1))
    assert not Run.objects.exists()


@settings(max_examples=examples(40), deadline=None)
@given(
    start=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    hours=st.integers(1, 200),
    expression=st.sampled_from(["0 * * * *", "*/15 * * * *", "0 3 * * *", "30 2 * * 1-5"]),
)
def test_a_window_holds_every_tick_of_the_cron_inside_it_once(start, hours, expression):
    end = start + timedelta(hours=hours)
    ticks = cron.ticks_between(expression, start, end, limit=10_000)
    previous = start - timedelta(microseconds=1)
    for tick in ticks:  # each tick is the cron's next one: none skipped, none twice
        assert cron.next_tick(expression, previous) == tick and start <= tick < end
        previous = tick
    assert cron.next_tick(expression, previous) >= end


def in_threads(count: int, call) -> list:
    """Run `call` in `count` threads at once, each on its own database connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
