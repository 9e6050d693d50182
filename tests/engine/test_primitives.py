"""Durable sleep, messages, events, child workflows and timeouts, in one process."""

from __future__ import annotations

import time

import pytest

import durable
from durable import operations
from durable.errors import DurableError, RunCancelledError, RunNotFoundError
from durable.models import Run, RunStatus, Step
from tests.engine.processes import wait_for
from tests.engine.workflows import child, note


@durable.workflow(name="tests.sleeper")
def sleeper(seconds: float) -> str:
    durable.sleep(seconds)
    return "awake"


def test_a_short_sleep_waits_in_place_and_is_recorded_with_its_wake_time(transactional_db):
    started = time.monotonic()
    assert durable.run(sleeper, 0.3, run_id="sleep-1") == "awake"
    assert time.monotonic() - started >= 0.3
    step = Step.objects.get(run_id="sleep-1")
    assert (step.kind, step.name) == ("sleep", "durable.sleep")
    assert step.output["seconds"] == 0.3
    assert step.duration_ms == pytest.approx(300, abs=5)


def test_a_long_sleep_gives_its_thread_back_until_it_is_due(transactional_db, settings):
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.1
    settings.DURABLE_POLL_SECONDS = 0.1
    handle = durable.start(sleeper, 1.0, run_id="sleep-2")
    wait_for(lambda: Step.objects.filter(run_id="sleep-2").exists(), 10, "the sleep checkpoint")
    wait_for(lambda: handle.status() == "ENQUEUED", 5, "the run to park while it sleeps")
    run = Run.objects.get(id="sleep-2")
    assert run.executor_id is None and run.available_at > run.created_at
    assert handle.result(timeout=10) == "awake"


@durable.workflow(name="tests.receiver")
def receiver(timeout: float) -> list:
    return [durable.recv(timeout=timeout), durable.recv("other", timeout=timeout)]


def test_messages_are_delivered_once_into_the_history_and_a_timeout_is_recorded(
    transactional_db,
):
    handle = durable.start(receiver, 0.5, run_id="recv-1")
    durable.send("recv-1", {"approved": True})
    assert handle.result(timeout=10) == [{"approved": True}, None]
    outputs = list(
        Step.objects.filter(run_id="recv-1").order_by("position").values_list("kind", "output")
    )
    assert outputs == [("recv", {"approved": True}), ("recv", None)]


def test_sending_to_an_unknown_run_is_refused(transactional_db):
    with pytest.raises(RunNotFoundError):
        durable.send("no-such-run", "hi")


def test_recv_outside_a_workflow_says_where_it_works(transactional_db):
    with pytest.raises(DurableError, match="only inside a workflow"):
        durable.recv()


@durable.workflow(name="tests.publisher")
def publisher() -> str:
    durable.set_event("progress", 50)
    answer = durable.recv("approval", timeout=10)
    durable.set_event("progress", 100)
    return answer


def test_events_let_callers_follow_a_run_and_approve_it(transactional_db):
    handle = durable.start(publisher, run_id="event-1")
    assert durable.get_event("event-1", "progress", timeout=10) == 50
    durable.send("event-1", "yes", topic="approval")
    assert handle.result(timeout=10) == "yes"
    assert durable.get_event("event-1", "progress", timeout=0) == 100
    assert durable.get_event("event-1", "missing", timeout=0.1) is None


@durable.workflow(name="tests.parent")
def parent(run_id: str, fail: bool) -> str:
    child_handle = durable.start(child, run_id)
    result = child_handle.result(timeout=10)
    if fail and not Run.objects.filter(id=f"{run_id}-fixed").exists():
        raise RuntimeError("parent fails after its child")
    return result


def test_a_child_is_recorded_so_a_replay_never_starts_a_second(side_effects):
    handle = durable.start(parent, "parent-1", True, run_id="parent-1")
    with pytest.raises(RuntimeError):
        handle.result(timeout=10)
    Run.objects.create(id="parent-1-fixed", workflow="marker", input={})
    operations.resume("parent-1")
    assert handle.result(timeout=10) == "child-done"
    children = handle.children()
    assert [c.run_id for c in children] == ["parent-1~0"]
    assert Step.objects.get(run_id="parent-1", position=0).kind == "child"
    assert side_effects("parent-1") == {"child-ran": 1}


@durable.workflow(name="tests.slow_parent")
def slow_parent(run_id: str) -> str:
    durable.start(slow_child, run_id)
    durable.sleep(30)
    return "finished"


@durable.workflow(name="tests.slow_child")
def slow_child(run_id: str) -> str:
    durable.sleep(30)
    return note(run_id, "child-finished")


def test_cancelling_a_parent_cancels_its_children(side_effects):
    handle = durable.start(slow_parent, "tree-1", run_id="tree-1")
    wait_for(lambda: Run.objects.filter(parent_id="tree-1").exists(), 10, "the child")
    operations.cancel("tree-1", reason="not needed")
    with pytest.raises(RunCancelledError):
        handle.result(timeout=10)
    child_run = Run.objects.get(parent_id="tree-1")
    assert (child_run.status, child_run.cancel_reason) == (RunStatus.CANCELLED, "not needed")


@durable.workflow(name="tests.timed", timeout=0.5)
def timed(run_id: str) -> str:
    for index in range(20):
        note(run_id, f"tick-{index}")
        time.sleep(0.1)
    return "too slow to get here"


def test_a_run_past_its_timeout_ends_cancelled_at_a_step_boundary(side_effects):
    """The deadline counts from the start call, so how many ticks fit before it depends on
    how soon a loaded machine claims the run; what holds on any machine is that each tick
    that ran finished with its checkpoint and none started long after the deadline."""
    handle = durable.start(timed, "timed-1", run_id="timed-1")
    with pytest.raises(RunCancelledError, match="timed out"):
        handle.result(timeout=10)
    ticks = side_effects("timed-1")
    assert set(ticks.values()) <= {1}, ticks  # no tick ran twice
    assert len(ticks) == Step.objects.filter(run_id="timed-1").count() <= 8


def test_a_timeout_given_at_start_overrides_the_default(side_effects):
    handle = durable.start(sleeper, 5, run_id="timed-2", timeout=0.3)
    with pytest.raises(RunCancelledError, match="timed out"):
        handle.result(timeout=10)


@durable.workflow(name="tests.waits_for_child")
def waits_for_child(run_id: str) -> str:
    return durable.start(slow_child_short, run_id).result()


@durable.workflow(name="tests.slow_child_short")
def slow_child_short(run_id: str) -> str:
    time.sleep(0.3)
    return "child-done"


def test_parents_waiting_for_children_do_not_starve_them_of_threads(transactional_db, settings):
    settings.DURABLE_THREADS = 2
    settings.DURABLE_SLEEP_INLINE_SECONDS = 0.1
    settings.DURABLE_POLL_SECONDS = 0.1
    handles = [durable.start(waits_for_child, f"p{i}", run_id=f"starve-{i}") for i in range(4)]
    assert [h.result(timeout=30) for h in handles] == ["child-done"] * 4
    assert Run.objects.filter(parent__isnull=False).count() == 4
