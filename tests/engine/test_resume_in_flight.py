"""Resuming a cancelled run whose step is still in flight: the cancelled attempt's thread
has not returned yet. The step must not run twice: the resume waits for that attempt to
return (its checkpoint stands and is replayed), or refuses while it still runs; an
executor that died holds nothing up."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

import durable
from durable import operations
from durable.core import _runtime as runtime
from durable.core import store
from durable.errors import OperationRefused
from durable.executors import liveness
from durable.executors.thread import ThreadExecutor
from durable.models import Run, RunStatus, Step
from tests.conftest import record_side_effect
from tests.engine.test_drain import pair, wait_for  # noqa: F401 - a fixture
from tests.engine.workflows import note

_gates: dict[str, tuple[threading.Event, threading.Event]] = {}  # run -> (reached, open)


def _gate(run_id: str) -> tuple[threading.Event, threading.Event]:
    return _gates.setdefault(run_id, (threading.Event(), threading.Event()))


def _charge_when_let_through(run_id: str) -> str:
    reached, opened = _gate(run_id)
    reached.set()
    opened.wait(30)  # the cancel and the resume come while the body runs
    record_side_effect(run_id, "charge")
    return "charged"


@durable.step()
def slow_charge(run_id: str) -> str:
    return _charge_when_let_through(run_id)


@durable.workflow(name="tests.resume_in_flight.charged")
def charged(run_id: str) -> str:
    slow_charge(run_id)
    note(run_id, "after")
    return "done"


@durable.step(timeout=60)
def slow_charge_under_a_timeout(run_id: str) -> str:
    return _charge_when_let_through(run_id)


@durable.workflow(name="tests.resume_in_flight.charged_under_a_timeout")
def charged_under_a_timeout(run_id: str) -> str:
    slow_charge_under_a_timeout(run_id)
    note(run_id, "after")
    return "done"


def _cancelled_in_flight(pair, run_id: str, workflow=charged):  # noqa: F811 - the fixture
    """A run cancelled while its step runs on executor `first`; `second` takes new runs."""
    first = pair()
    durable.start(workflow, run_id, run_id=run_id)
    assert _gate(run_id)[0].wait(20), "the step never started"
    second = pair()
    operations.drain_executor(first.executor_id)  # the resumed run goes to `second`
    wait_for(first._operator_drain.is_set, 5, "the drain notice")
    operations.cancel(run_id)
    assert Run.objects.get(id=run_id).status == RunStatus.CANCELLED
    return first, second


def _finished(run_id: str) -> Run:
    wait_for(lambda: Run.objects.get(id=run_id).status == RunStatus.SUCCESS, 30, "the end")
    return Run.objects.get(id=run_id)


def test_a_resume_waits_for_the_step_in_flight_and_another_executor_replays_it(
    pair,  # noqa: F811
    side_effects,
):
    first, second = _cancelled_in_flight(pair, "in-flight-1")
    threading.Timer(1.0, _gate("in-flight-1")[1].set).start()  # the step returns in 1 s
    operations.resume("in-flight-1")
    run = _finished("in-flight-1")
    assert run.executor_id == second.executor_id
    assert side_effects("in-flight-1") == {"charge": 1, "after": 1}
    assert Step.objects.get(run_id="in-flight-1", position=0).output == "charged"


def test_a_resume_is_refused_while_the_step_still_runs_and_succeeds_after(
    pair,  # noqa: F811
    side_effects,
    settings,
):
    settings.DURABLE_CANCEL_CONFIRM_SECONDS = 0.5
    first, second = _cancelled_in_flight(pair, "in-flight-2")
    with pytest.raises(OperationRefused, match=f"still running on executor {first.executor_id}"):
        operations.resume("in-flight-2")
    assert Run.objects.get(id="in-flight-2").status == RunStatus.CANCELLED
    _gate("in-flight-2")[1].set()
    wait_for(lambda: Step.objects.filter(run_id="in-flight-2").exists(), 10, "its checkpoint")
    operations.resume("in-flight-2")
    assert _finished("in-flight-2").executor_id == second.executor_id
    assert side_effects("in-flight-2") == {"charge": 1, "after": 1}


def test_a_step_under_a_timeout_holds_the_resume_until_its_body_returns_too(
    pair,  # noqa: F811
    side_effects,
    settings,
):
    """Its body runs on a helper thread: the cancel must not let the resume run the step
    again beside it; the body's return is checkpointed and replayed, as for any step."""
    settings.DURABLE_CANCEL_CONFIRM_SECONDS = 0.5
    first, second = _cancelled_in_flight(pair, "in-flight-3", charged_under_a_timeout)
    with pytest.raises(OperationRefused, match=f"still running on executor {first.executor_id}"):
        operations.resume("in-flight-3")
    _gate("in-flight-3")[1].set()
    wait_for(lambda: Step.objects.filter(run_id="in-flight-3").exists(), 10, "its checkpoint")
    operations.resume("in-flight-3")
    assert _finished("in-flight-3").executor_id == second.executor_id
    assert side_effects("in-flight-3") == {"charge": 1, "after": 1}


def _cancelled_on(executor_id: str, run_id: str) -> None:
    """A run RUNNING on `executor_id` (no live executor behind it) cancelled with no one
    listening: its lease is kept as the hold, and no notice reaches anyone."""
    Run.objects.create(
        id=run_id, workflow="tests.resume_in_flight.charged", status=RunStatus.RUNNING,
        input={"args": [run_id]}, executor_id=executor_id, started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    operations.cancel(run_id)


@pytest.fixture
def nobody_listens(transactional_db, settings):
    settings.DURABLE_EXECUTOR = "external"
    settings.DURABLE_CANCEL_CONFIRM_SECONDS = 0.2


def test_a_cancelled_run_whose_executor_died_resumes_at_once(nobody_listens):
    _cancelled_on("thread:gone", "in-flight-dead")
    assert operations.resume("in-flight-dead") == "in-flight-dead"  # no lifeline: nothing runs
    assert Run.objects.get(id="in-flight-dead").status == RunStatus.ENQUEUED


def test_a_heartbeat_read_before_the_hold_ended_does_not_renew_it(nobody_listens):
    """The executor's heartbeat may carry a run whose thread ended (and ended its hold) since
    the heartbeat read its runs: renewing must not bring the hold back for a whole lease."""
    _cancelled_on("thread:here", "in-flight-late")
    renewed = store.renew_leases("thread:here", ["in-flight-late"], 30)
    assert renewed == {"in-flight-late": "CANCELLED"}
    store.end_holds("thread:here", ["in-flight-late"])
    store.renew_leases("thread:here", ["in-flight-late"], 30)  # the stale heartbeat
    assert Run.objects.get(id="in-flight-late").lease_expires_at is None


def test_a_missed_cancel_notice_still_stops_the_run_at_the_next_heartbeat(nobody_listens):
    """The lease heartbeat is the fallback when an executor misses a cancel's notice: the
    cancelled run's lease is renewed (it is the executor's hold), and its thread is told to
    stop, so a step waiting out a retry backoff or running under a timeout stops now."""
    _cancelled_on("thread:deaf", "in-flight-missed")
    stop = threading.Event()
    liveness.heartbeat("thread:deaf", "thread", [], {"in-flight-missed": stop}, 30)
    assert stop.is_set(), "the heartbeat did not tell the cancelled run's thread to stop"
    assert Run.objects.get(id="in-flight-missed").lease_expires_at is not None  # still held


# A run's own thread may learn of its cancel before the cancel's notice reaches its executor
# (its checkpoint is refused, or it times itself out): as it returns, no step of it is in
# flight any more, so its hold must end then, not when a late notice (or the lease) says so.

_between_steps: dict[str, threading.Event] = {}


@durable.workflow(name="tests.resume_in_flight.paused_between_steps")
def paused_between_steps(run_id: str) -> str:
    note(run_id, "first")
    _between_steps.setdefault(run_id, threading.Event()).wait(30)
    note(run_id, "second")
    return "done"


@durable.workflow(name="tests.resume_in_flight.times_itself_out", timeout=0.5)
def times_itself_out(run_id: str) -> str:
    note(run_id, "first")
    time.sleep(1.0)  # past the deadline between two steps: the next one times the run out
    note(run_id, "second")
    return "done"


@pytest.fixture
def deaf(monkeypatch):
    """Thread executors started from now on never hear a cancel's notice (lost or late)."""
    monkeypatch.setattr(ThreadExecutor, "_heard_cancel", lambda self, run_id: False)


def _hold_ended(run_id: str) -> bool:
    run = Run.objects.get(id=run_id)
    return run.status == RunStatus.CANCELLED and run.lease_expires_at is None


def test_a_run_told_of_its_cancel_by_a_refused_checkpoint_ends_its_hold_as_it_returns(
    deaf,
    pair,  # noqa: F811 - the fixture
    side_effects,
    settings,
):
    settings.DURABLE_CANCEL_CONFIRM_SECONDS = 0.2
    pair()
    durable.start(paused_between_steps, "told-by-checkpoint", run_id="told-by-checkpoint")
    wait_for(lambda: side_effects("told-by-checkpoint") == {"first": 1}, 10, "the first step")
    operations.cancel("told-by-checkpoint")
    _between_steps["told-by-checkpoint"].set()  # its next checkpoint is refused: it stops
    wait_for(lambda: _hold_ended("told-by-checkpoint"), 5, "the hold to end as the run stops")
    assert operations.resume("told-by-checkpoint") == "told-by-checkpoint"


def test_a_run_that_times_itself_out_ends_its_hold_as_it_returns(
    deaf,
    pair,  # noqa: F811 - the fixture
    side_effects,
    settings,
    monkeypatch,
):
    """Its own thread reaches the deadline first (the executor's deadline watch, which would
    also tell the thread, is left out)."""
    settings.DURABLE_CANCEL_CONFIRM_SECONDS = 0.2
    monkeypatch.setattr(runtime, "enforce_deadlines", lambda: [])
    pair()
    durable.start(times_itself_out, "timed-itself-out", run_id="timed-itself-out")
    wait_for(lambda: _hold_ended("timed-itself-out"), 10, "the hold to end as the run stops")
    assert "timed out" in Run.objects.get(id="timed-itself-out").cancel_reason
    assert side_effects("timed-itself-out") == {"first": 1}
