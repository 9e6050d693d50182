"""Delayed starts: `durable.start(…, delay=…)` or `at=…` keeps a run ENQUEUED until then."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

import durable
from durable import executors, operations
from durable.core import _clock as clock
from durable.core import _runtime as runtime
from durable.errors import InvalidArgumentError
from durable.executors import _sweeper as sweeper
from durable.executors import celery as celery_executor
from durable.models import Run
from tests.engine.celery_workflows import LIMITED, limited
from tests.engine.test_celery_inprocess import memory_worker  # noqa: F401 - a fixture
from tests.engine.workflows import ledger


@pytest.fixture
def fast_polls(settings):
    settings.DURABLE_POLL_SECONDS = 0.05


@pytest.fixture
def external(transactional_db, settings):
    """Nothing executes in this process: runs wait for the test to claim or sweep them."""
    settings.DURABLE_EXECUTOR = "external"


class Recorder:
    """A dispatcher that keeps the run ids the sweep would send to the broker."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def dispatch(self, run_id: str) -> None:
        self.sent.append(run_id)


def _due(run_id: str) -> datetime:
    return Run.objects.values_list("available_at", flat=True).get(id=run_id)


def test_a_delayed_run_does_not_start_before_its_due_time_and_starts_after(
    side_effects, fast_polls
):
    handle = durable.start(ledger, "d-late", ["a"], run_id="d-late", delay=timedelta(seconds=1.5))
    time.sleep(0.8)
    assert handle.status() == "ENQUEUED"
    assert side_effects("d-late") == {}
    assert handle.result(timeout=15) == ["a"]
    run = Run.objects.get(id="d-late")
    assert run.started_at >= run.available_at >= run.created_at + timedelta(seconds=1.4)


def test_delay_accepts_seconds_and_is_measured_on_the_database_clock(external):
    before = clock.now()
    durable.start(ledger, "d-secs", [], run_id="d-secs", delay=90)
    due = _due("d-secs")
    assert before + timedelta(seconds=89) < due < clock.now() + timedelta(seconds=91)


def test_at_in_the_past_starts_at_once(side_effects, fast_polls):
    past = datetime(2001, 1, 1, tzinfo=UTC)
    handle = durable.start(ledger, "d-past", ["a"], run_id="d-past", at=past)
    assert handle.result(timeout=10) == ["a"]
    run = Run.objects.get(id="d-past")
    assert run.available_at >= run.created_at  # not put ahead of runs already waiting


def test_at_names_the_moment_the_run_becomes_due(external):
    moment = clock.now() + timedelta(hours=2)
    durable.start(ledger, "d-at", [], run_id="d-at", at=moment)
    assert _due("d-at") == moment
    assert runtime.claim("d-at", "executor-a", ["tests.ledger"]) is None


def test_a_naive_at_is_refused_with_what_to_pass_instead(external):
    with pytest.raises(InvalidArgumentError, match="no time zone.*aware datetime"):
        durable.start(ledger, "d-naive", [], run_id="d-naive", at=datetime(2030, 1, 1))
    assert not Run.objects.filter(id="d-naive").exists()


def test_delay_and_at_together_are_refused(external):
    with pytest.raises(InvalidArgumentError, match="not both"):
        durable.start(ledger, "d-both", [], delay=5, at=clock.now())


@pytest.mark.parametrize("delay", [-1, float("nan"), float("inf"), True, "5", timedelta(days=-1)])
def test_a_delay_that_is_not_a_duration_is_refused(external, delay):
    with pytest.raises(InvalidArgumentError, match="delay"):
        durable.start(ledger, "d-bad", [], run_id="d-bad", delay=delay)
    assert not Run.objects.filter(id="d-bad").exists()


def test_a_delayed_runs_timeout_counts_from_its_due_time(external):
    durable.start(ledger, "d-timeout", [], run_id="d-timeout", delay=600, timeout=60)
    run = Run.objects.get(id="d-timeout")
    assert run.deadline_at - run.available_at == timedelta(seconds=60)


def test_a_delayed_run_survives_a_restart_of_the_executor(side_effects, fast_polls):
    handle = durable.start(ledger, "d-restart", ["a"], run_id="d-restart", delay=1.5)
    executors.get_executor()  # the first executor knows the run …
    executors.shutdown()  # … and goes away before it is due
    assert handle.status() == "ENQUEUED"
    executors.get_executor()  # a new one (a new process, a deploy) takes it when due
    assert handle.result(timeout=15) == ["a"]
    assert side_effects("d-restart") == {"a": 1}


def test_a_delayed_start_sends_no_message_until_it_is_due(external, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(executors, "dispatch", recorder.dispatch)
    durable.start(ledger, "d-quiet", [], run_id="d-quiet", delay=60)
    durable.start(ledger, "d-now", [], run_id="d-now")
    assert recorder.sent == ["d-now"]


def test_the_sweep_dispatches_a_delayed_run_once_when_it_comes_due(external):
    durable.start(ledger, "d-sweep", [], run_id="d-sweep", delay=1.0)
    recorder = Recorder()
    sweeper.sweep_once(recorder)
    assert "d-sweep" not in recorder.sent  # no message to sit in the broker
    time.sleep(1.1)
    sweeper.sweep_once(recorder)
    sweeper.sweep_once(recorder)
    assert recorder.sent.count("d-sweep") == 1


def test_a_delayed_run_of_a_limited_queue_waits_for_a_free_slot_when_due(external):
    busy = [durable.start(limited, f"d-busy-{i}", 0, run_id=f"d-busy-{i}").run_id for i in range(3)]
    durable.start(limited, "d-queued", 0, run_id="d-queued", delay=0.5)
    workflows = ["tests.celery.limited"]
    assert runtime.claim("d-queued", "executor-b", workflows) is None  # not due yet
    assert [runtime.claim(run_id, "executor-a", workflows) for run_id in busy].count(None) == 0
    time.sleep(0.6)
    assert runtime.claim("d-queued", "executor-b", workflows) is None  # due, queue full
    Run.objects.filter(id=busy[0]).update(status="SUCCESS")
    assert runtime.claim("d-queued", "executor-b", workflows).run_id == "d-queued"
    assert Run.objects.filter(queue=LIMITED.name, status="RUNNING").count() == LIMITED.concurrency


def test_durable_show_says_when_a_delayed_run_starts(external):
    durable.start(ledger, "d-show", [], run_id="d-show", at=datetime(2099, 5, 1, 9, tzinfo=UTC))
    out = io.StringIO()
    call_command("durable", "show", "d-show", stdout=out)
    assert "starts    2099-05-01 09:00:00 UTC (delayed start)" in out.getvalue()


def test_a_delayed_run_can_be_cancelled_before_it_starts(side_effects, fast_polls):
    handle = durable.start(ledger, "d-cancel", ["a"], run_id="d-cancel", delay=1.0)
    operations.cancel("d-cancel", reason="not needed")
    time.sleep(1.3)
    assert handle.status() == "CANCELLED"
    assert side_effects("d-cancel") == {}


def test_resuming_a_cancelled_delayed_run_starts_it_at_once(side_effects, fast_polls):
    handle = durable.start(ledger, "d-resume", ["a"], run_id="d-resume", delay=3600)
    operations.cancel("d-resume")
    operations.resume("d-resume")
    assert handle.result(timeout=10) == ["a"]


def test_a_resumed_delayed_run_gets_its_whole_timeout_again(external):
    durable.start(ledger, "d-timed", [], run_id="d-timed", delay=3600, timeout=60)
    operations.cancel("d-timed")
    operations.resume("d-timed")
    run = Run.objects.get(id="d-timed")
    assert timedelta(seconds=55) < run.deadline_at - clock.now() <= timedelta(seconds=60)


def test_a_delayed_child_starts_when_due(side_effects, fast_polls):
    handle = durable.start(delayed_parent, "d-parent", run_id="d-parent")
    assert handle.result(timeout=15) == "child done"
    child = Run.objects.get(parent_id="d-parent")
    assert child.available_at >= child.created_at + timedelta(seconds=0.9)


@durable.workflow(name="tests.delayed_parent")
def delayed_parent(run_id: str) -> str:
    child = durable.start(ledger, run_id, ["child"], delay=1.0)
    child.result(timeout=30)
    return "child done"


@pytest.mark.slow
def test_a_delayed_run_on_celery_is_dispatched_by_the_sweep_when_due(memory_worker):  # noqa: F811
    celery_executor.current_worker()  # what worker_ready does in a real worker: sweeps begin
    handle = durable.start(ledger, "d-celery", ["a"], run_id="d-celery", delay=1.5)
    time.sleep(0.7)
    assert handle.status() == "ENQUEUED"
    assert handle.result(timeout=20) == ["a"]
    run = Run.objects.get(id="d-celery")
    assert run.executor_id.startswith("celery:")
    assert run.started_at >= run.available_at
